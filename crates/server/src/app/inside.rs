//! Calls that reach the operation table without a request signature, for a caller already
//! known: a runbook's `aws:executeAwsApi` step (as its execution's principal) and the web
//! console's pages (as the signed-in user). Each takes the same path as a signed call after
//! authentication — model validation, IAM, the handler — and leaves one audit event, whose
//! source address and user agent say who made it: for automation the service, as CloudTrail
//! shows calls AWS services make for a role; for the console the browser.

use std::sync::Arc;

use serde_json::Value;
use steward_api::model::{Model, Service};
use steward_api::query::{json_from_xml, params_from_json};
use steward_api::ApiError;

use super::query::Api;
use super::{call, App};
use crate::base::audit::Draft;
use crate::base::Ctx;

/// Where a call made from inside came from, for its audit event.
pub struct Origin {
    /// `sourceIPAddress`.
    pub source_ip: String,
    /// `userAgent`.
    pub user_agent: String,
}

/// What audit events of automation's calls give as their source and user agent.
const AUTOMATION: &str = "ssm.amazonaws.com";

fn json_service(name: &str) -> Option<Service> {
    [Service::Ssm, Service::Kms, Service::ResourceGroups, Service::CloudTrail]
        .into_iter()
        .find(|s| s.signing_name() == name)
}

/// Runs operation `api` of `service` (a signing name) as `ctx`'s principal with `input`
/// (PascalCase JSON, for the query APIs too); the answer as JSON.
pub async fn call_as(
    app: &App,
    ctx: &Ctx,
    service: &str,
    api: &str,
    input: Value,
    origin: Origin,
) -> Result<Value, ApiError> {
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut draft = Draft {
        source: format!("{service}.amazonaws.com"),
        name: api.to_owned(),
        region: ctx.principal.region.clone(),
        principal: Some(ctx.principal.clone()),
        access_key_id: ctx.principal.access_key_id.clone(),
        source_ip: origin.source_ip,
        user_agent: origin.user_agent,
        ..Default::default()
    };
    let outcome = if let Some(service) = json_service(service) {
        draft.source = service.event_source().into();
        if !Model::get(service).has_operation(api) {
            Err(ApiError::new("InvalidAction", format!("{} has no operation {api}.", service.signing_name())))
        } else {
            call::run_checked(app, ctx.clone(), service, api, input, &mut draft)
                .await
                .and_then(|body| serde_json::from_slice(&body).map_err(|_| ApiError::internal()))
        }
    } else if let Some(query_api) = Api::named(service) {
        let params = params_from_json(api, &input);
        draft.parameters = input;
        draft.resources = query_api.resources(ctx, &params).await;
        super::query::run_action(ctx, query_api, api, &params)
            .await
            .map(|xml| xml.map(|x| json_from_xml(&x)).unwrap_or_else(|| Value::Object(Default::default())))
    } else {
        Err(ApiError::new("InvalidAction", format!("This server does not serve {service}.")))
    };
    let error = outcome.as_ref().err().map(|e| (e.code(), e.message()));
    let event = draft.finish(&request_id, error, app.env.now(), &app.env.fallback_account);
    app.env.audit.record(event).await;
    outcome
}

/// The operation table, for runbook steps.
#[derive(Clone)]
pub struct Inside {
    app: Arc<App>,
}

impl Inside {
    /// Calls into `app`.
    pub fn new(app: Arc<App>) -> Inside {
        Inside { app }
    }
}

impl crate::automation::OwnApi for Inside {
    async fn call(&self, ctx: &Ctx, service: &str, api: &str, input: Value) -> Result<Value, ApiError> {
        let origin = Origin { source_ip: AUTOMATION.into(), user_agent: AUTOMATION.into() };
        call_as(&self.app, ctx, service, api, input, origin).await
    }
}

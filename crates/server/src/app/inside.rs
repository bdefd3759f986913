//! Calls made from inside the server on someone's behalf (a runbook's `aws:executeAwsApi`
//! step, as its execution's principal): the same path as a signed call after
//! authentication — model validation, IAM, the handler — and one audit event each, whose
//! source address and user agent say the service made it, as CloudTrail shows calls AWS
//! services make for a role.

use std::sync::Arc;

use serde_json::Value;
use steward_api::model::Service;
use steward_api::query::{json_from_xml, params_from_json};
use steward_api::ApiError;

use super::query::Api;
use super::{call, App};
use crate::base::audit::Draft;
use crate::base::Ctx;

/// What audit events of such calls give as their source and user agent.
const CALLER: &str = "ssm.amazonaws.com";

/// The operation table, for work the server does for someone.
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

fn json_service(name: &str) -> Option<Service> {
    [Service::Ssm, Service::Kms, Service::ResourceGroups].into_iter().find(|s| s.signing_name() == name)
}

impl crate::automation::OwnApi for Inside {
    async fn call(&self, ctx: &Ctx, service: &str, api: &str, input: Value) -> Result<Value, ApiError> {
        let request_id = uuid::Uuid::new_v4().to_string();
        let mut draft = Draft {
            source: format!("{service}.amazonaws.com"),
            name: api.to_owned(),
            region: ctx.principal.region.clone(),
            principal: Some(ctx.principal.clone()),
            access_key_id: ctx.principal.access_key_id.clone(),
            source_ip: CALLER.into(),
            user_agent: CALLER.into(),
            ..Default::default()
        };
        let outcome = if let Some(service) = json_service(service) {
            draft.source = service.event_source().into();
            if !steward_api::model::Model::get(service).has_operation(api) {
                Err(ApiError::new("InvalidAction", format!("{} has no operation {api}.", service.signing_name())))
            } else {
                call::run_checked(&self.app, ctx.clone(), service, api, input, &mut draft)
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
        let event = draft.finish(&request_id, error, self.app.env.now(), &self.app.env.fallback_account);
        self.app.env.audit.record(event).await;
        outcome
    }
}

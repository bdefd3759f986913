//! SNS, the part SSM's notifications need: topics, `http`/`https` subscriptions that their
//! endpoint must confirm before anything else is sent, Publish, and deliveries shaped and
//! signed as SNS's (verifiable with the certificate at `SigningCertURL`, which this server
//! serves). Every delivery goes through the server's outbound rules and retries in the
//! background; nothing waits on an endpoint.
//!
//! Keys: `snstopic/…`, `snssub/…`, `snstoken/…` (see `records`).

mod api;
mod deliver;
mod records;

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use steward_api::query::{Params, Xml};
use steward_api::ApiError;

use crate::base::{Ctx, Env};

pub use api::{call, publish, resource_of};
pub use records::{parse_topic_arn, TopicName};

/// The signing certificate, at the path every message's `SigningCertURL` names.
pub fn routes(env: Arc<Env>) -> Router {
    Router::new().route("/sns/{file}", get(certificate)).with_state(env)
}

async fn certificate(State(env): State<Arc<Env>>, Path(file): Path<String>) -> Response {
    let wanted = file.strip_prefix("SimpleNotificationService-").and_then(|f| f.strip_suffix(".pem"));
    let Ok(key) = env.kms.signing_key().await else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    if wanted != Some(key.id.as_str()) {
        return (StatusCode::NOT_FOUND, "No such certificate.\n").into_response();
    }
    let mut response = key.certificate_pem.clone().into_response();
    response.headers_mut().insert("content-type", HeaderValue::from_static("application/x-pem-file"));
    response
}

/// The two actions SNS serves to anyone holding the URL it sent (`GET /?Action=…`): the
/// SubscribeURL's ConfirmSubscription (the token is the proof) and a notification's
/// UnsubscribeURL (refused for subscriptions confirmed with AuthenticateOnUnsubscribe).
pub async fn by_url(env: &Arc<Env>, action: &str, params: &Params) -> Result<Option<String>, ApiError> {
    match action {
        "ConfirmSubscription" => {
            let topic =
                records::parse_topic_arn(params.req("TopicArn")?).ok_or_else(|| records::invalid("TopicArn"))?;
            let ctx = Ctx::system(env, &topic.account, &topic.region);
            let arn = api::confirm(&ctx, &topic, params.req("Token")?, false).await?;
            Ok(Some(Xml::element("SubscriptionArn", &arn)))
        }
        "Unsubscribe" => {
            let arn = params.req("SubscriptionArn")?;
            let (topic, _) = records::parse_subscription_arn(arn).ok_or_else(|| records::invalid("SubscriptionArn"))?;
            let ctx = Ctx::system(env, &topic.account, &topic.region);
            api::unsubscribe(&ctx, arn, false).await?;
            Ok(None)
        }
        _ => Err(ApiError::new(
            "InvalidAction",
            "Only ConfirmSubscription and Unsubscribe are served without a signature.",
        )
        .with_status(400)),
    }
}

//! `POST /console/api/call`: the one door the console's pages call the API through.
//! `{"service": "ssm", "operation": "DescribeInstanceInformation", "input": {…}}` runs as the
//! signed-in user on the same path as a signed call (model, IAM, handler, audit), so every
//! policy applies unchanged and a denial reaches the page as the CLI would show it.

use std::net::IpAddr;

use axum::body::Bytes;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use super::super::inside::{call_as, Origin};
use super::super::App;
use super::session::{api_refusal, current, refusal};

/// The largest call body read (SSM's largest inputs, documents, are 64 KB of content).
const MAX_CALL: usize = 1 << 20;

/// What the console may call.
const SERVICES: &[&str] = &["ssm", "kms", "iam", "sts", "sns", "resource-groups", "cloudtrail"];

#[derive(Deserialize)]
struct ConsoleCall {
    service: String,
    operation: String,
    #[serde(default)]
    input: Value,
}

/// Runs one call of a page.
pub async fn call(app: &App, peer: IpAddr, headers: &HeaderMap, body: &Bytes) -> Response {
    let mut ctx = match current(app, headers, true).await {
        Ok(ctx) => ctx,
        Err(response) => return response,
    };
    // IAM conditions on aws:SourceIp see the browser's address; StartSession's stream URL
    // names the host the browser reached.
    ctx.principal.source_ip = Some(peer);
    ctx.principal.request_host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_owned);
    if body.len() > MAX_CALL {
        return refusal(StatusCode::PAYLOAD_TOO_LARGE, "ValidationException", "The call is too large.");
    }
    let Ok(request) = serde_json::from_slice::<ConsoleCall>(body) else {
        return refusal(
            StatusCode::BAD_REQUEST,
            "SerializationException",
            "Call with {\"service\", \"operation\", \"input\"}.",
        );
    };
    if !SERVICES.contains(&request.service.as_str()) {
        return refusal(StatusCode::BAD_REQUEST, "ValidationException", "The console does not call that service.");
    }
    let valid_name = !request.operation.is_empty()
        && request.operation.len() <= 64
        && request.operation.bytes().all(|b| b.is_ascii_alphanumeric());
    if !valid_name {
        return refusal(StatusCode::BAD_REQUEST, "ValidationException", "The operation is not an operation name.");
    }
    let input = if request.input.is_null() { Value::Object(Default::default()) } else { request.input };
    if !input.is_object() {
        return refusal(StatusCode::BAD_REQUEST, "SerializationException", "The input must be a JSON object.");
    }
    let user_agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let origin = Origin { source_ip: peer.to_string(), user_agent: format!("Steward console ({user_agent})") };
    match call_as(app, &ctx, &request.service, &request.operation, input, origin).await {
        Ok(answer) => {
            (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], answer.to_string()).into_response()
        }
        Err(e) => api_refusal(&e),
    }
}

//! The HTTP surface: `POST /` for the AWS JSON 1.1 APIs, `GET /healthz`.
//!
//! Every API call takes the same path: request id → target → SigV4 → JSON → model
//! validation → capability handler → JSON or SSM error. Errors are rendered in one place
//! ([`error_response`]); internal detail is logged, never sent.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use steward_api::model::{Model, Service};
use steward_api::sigv4::Request;
use steward_api::ApiError;

use crate::dispatch;
use crate::state::AppState;

/// Builds the router; tests drive it without a socket.
pub fn app(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", post(api))
        .route("/healthz", get(healthz))
        .route(steward_protocol::REGISTER_PATH, post(crate::fleet::registration::register))
        .route(steward_protocol::CONNECT_PATH, get(crate::fleet::gateway::connect))
        .with_state(state)
}

async fn healthz() -> &'static str {
    "ok"
}

fn json_response(status: StatusCode, request_id: &str, body: Vec<u8>, error_code: Option<&str>) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("application/x-amz-json-1.1"));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", v);
    }
    if let Some(code) = error_code.and_then(|c| HeaderValue::from_str(c).ok()) {
        headers.insert("x-amzn-errortype", code);
    }
    response
}

/// Renders an API error as AWS JSON 1.1 does.
pub fn error_response(error: &ApiError, request_id: &str) -> Response {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    json_response(status, request_id, error.to_body(), Some(error.code()))
}

fn target(headers: &HeaderMap) -> Result<(Service, String), ApiError> {
    let unknown = || ApiError::new("UnknownOperationException", "The X-Amz-Target header names no known operation.");
    let raw = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).ok_or_else(unknown)?;
    let (prefix, op) = raw.split_once('.').ok_or_else(unknown)?;
    let service = Service::from_target_prefix(prefix).ok_or_else(unknown)?;
    if !Model::get(service).has_operation(op) {
        return Err(ApiError::new("UnknownOperationException", format!("Unknown operation {raw}")));
    }
    Ok((service, op.to_owned()))
}

async fn api(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    // From the thread's RNG: a getrandom syscall per request is measurable at 20k req/s.
    let request_id = uuid::Builder::from_random_bytes(rand::random()).into_uuid().to_string();
    let outcome = handle(&state, &method, &uri, &headers, &body).await;
    let elapsed_us = started.elapsed().as_micros() as u64;
    match outcome {
        Ok((op, body)) => {
            tracing::debug!(request_id, operation = op, elapsed_us, "Request served.");
            json_response(StatusCode::OK, &request_id, body, None)
        }
        Err((op, error)) => {
            if error.status() >= 500 {
                tracing::error!(request_id, operation = op, code = error.code(), elapsed_us, "Request failed.");
            } else {
                tracing::info!(request_id, operation = op, code = error.code(), elapsed_us, "Request refused.");
            }
            error_response(&error, &request_id)
        }
    }
}

async fn handle(
    state: &Arc<AppState>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(String, Vec<u8>), (String, ApiError)> {
    let (service, op) = target(headers).map_err(|e| (String::from("-"), e))?;
    let fail = |e: ApiError| (op.clone(), e);
    let header_pairs: Vec<(&str, &str)> =
        headers.iter().filter_map(|(n, v)| v.to_str().ok().map(|v| (n.as_str(), v))).collect();
    let request = Request {
        method: method.as_str(),
        path: uri.path(),
        query: uri.query().unwrap_or(""),
        headers: &header_pairs,
        body,
    };
    let now_secs = state.now() / 1000;
    let principal = state.credentials.authenticate(&request, service, now_secs).await.map_err(fail)?;
    let input: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Default::default())
    } else {
        serde_json::from_slice(body)
            .map_err(|_| fail(ApiError::serialization("The request body is not valid JSON.")))?
    };
    Model::get(service).validate(&op, &input).map_err(fail)?;
    let ctx = dispatch::Ctx { state: state.clone(), principal };
    let out = dispatch::call(ctx, service, &op, input).await.map_err(fail)?;
    Ok((op, out))
}

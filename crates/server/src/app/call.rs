//! One signed API call, whichever door it came through (JSON 1.1 or REST-JSON): request
//! id → SigV4 → input → model validation → IAM → capability handler, audited once.

use std::net::SocketAddr;
use std::time::Instant;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use steward_api::model::{Model, Service};
use steward_api::ApiError;

use super::{ops, App};
use crate::base::Ctx;

/// The body of a JSON request (an empty body is an empty object).
pub fn json_input(body: &[u8]) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_slice(body).map_err(|_| ApiError::serialization("The request body is not valid JSON."))
}

/// One signed API call as it arrived, whichever door it came through.
pub struct Call<'a> {
    /// The HTTP method.
    pub method: &'a Method,
    /// The path and query string, as sent.
    pub uri: &'a Uri,
    /// The headers.
    pub headers: &'a HeaderMap,
    /// The body.
    pub body: &'a Bytes,
    /// Who sent it.
    pub peer: SocketAddr,
}

impl Call<'_> {
    /// Authenticates, audits and runs the operation `route` names, with the input
    /// `input_of` reads (only once the caller is known). `vocabulary` renames errors into
    /// the door's protocol before the audit trail records them. Returns the request id and
    /// the response body or the error, for the door to render.
    pub async fn run(
        &self,
        app: &App,
        route: Result<(Service, String), ApiError>,
        input_of: impl FnOnce() -> Result<Value, ApiError>,
        vocabulary: impl Fn(ApiError) -> ApiError,
    ) -> (String, Result<Vec<u8>, ApiError>) {
        let started = Instant::now();
        // From the thread's RNG: a getrandom syscall per request is measurable at 20k req/s.
        let request_id = uuid::Builder::from_random_bytes(rand::random()).into_uuid().to_string();
        let mut draft = crate::base::audit::Draft {
            source_ip: self.peer.ip().to_string(),
            user_agent: self.headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned(),
            ..Default::default()
        };
        let outcome = handle(app, self, route, input_of, &mut draft).await.map_err(|(op, e)| (op, vocabulary(e)));
        let elapsed_us = started.elapsed().as_micros() as u64;
        let authenticated = draft.principal.is_some();
        if !draft.name.is_empty() {
            let error = outcome.as_ref().err().map(|(_, e)| (e.code(), e.message()));
            let event = draft.finish(&request_id, error, app.env.now(), &app.env.fallback_account);
            if authenticated {
                app.env.audit.record(event).await;
            } else {
                app.env.audit.record_unauthenticated(event).await;
            }
        }
        let outcome = match outcome {
            Ok((op, body)) => {
                tracing::debug!(request_id, operation = op, elapsed_us, "Request served.");
                Ok(body)
            }
            Err((op, error)) => {
                if error.status() >= 500 {
                    tracing::error!(request_id, operation = op, code = error.code(), elapsed_us, "Request failed.");
                } else if authenticated {
                    tracing::info!(request_id, operation = op, code = error.code(), elapsed_us, "Request refused.");
                } else {
                    // Anyone can send these, as fast as they like: the audit trail counts them.
                    tracing::debug!(request_id, operation = op, code = error.code(), elapsed_us, "Request refused.");
                }
                Err(error)
            }
        };
        (request_id, outcome)
    }
}

async fn handle(
    app: &App,
    call: &Call<'_>,
    route: Result<(Service, String), ApiError>,
    input_of: impl FnOnce() -> Result<Value, ApiError>,
    draft: &mut crate::base::audit::Draft,
) -> Result<(String, Vec<u8>), (String, ApiError)> {
    let (service, op) = route.map_err(|e| (String::from("-"), e))?;
    let fail = |e: ApiError| (op.clone(), e);
    draft.source = service.event_source().into();
    draft.name = op.clone();
    let header_pairs = super::request::header_pairs(call.headers);
    let request = super::request::signed_request(call.method, call.uri, &header_pairs, call.body);
    // Signatures are dated by the client's clock, which is the machine's, even when tests
    // move the server's clock forward.
    let now_secs = crate::base::credentials::wall_clock_secs();
    if let Ok(auth) = steward_api::sigv4::parse_authorization(&request) {
        draft.access_key_id = auth.access_key_id;
        draft.region = auth.region;
    }
    let mut principal =
        app.env.credentials.authenticate(&request, service.signing_name(), now_secs).await.map_err(fail)?;
    principal.source_ip = Some(call.peer.ip());
    principal.request_host = call.headers.get("host").and_then(|h| h.to_str().ok()).map(str::to_owned);
    draft.principal = Some(principal.clone());
    let input = input_of().map_err(fail)?;
    let ctx = Ctx { env: app.env.clone(), principal };
    let out = run_checked(app, ctx, service, &op, input, draft).await.map_err(fail)?;
    Ok((op, out))
}

/// The part of a call after its caller is known, shared with calls made from inside
/// (`app::inside`): the input, secrets redacted, and the resources go in the audit draft;
/// then model validation, IAM and the handler.
pub async fn run_checked(
    app: &App,
    ctx: Ctx,
    service: Service,
    op: &str,
    input: Value,
    draft: &mut crate::base::audit::Draft,
) -> Result<Vec<u8>, ApiError> {
    let model = Model::get(service);
    let mut shown = input.clone();
    model.redact(op, &mut shown);
    ops::audit_view(service, op, &mut shown);
    draft.parameters = shown;
    draft.resources = ops::resources(&ctx.principal, service, op, &input);
    model.validate(op, &input)?;
    ops::check_operation(&ctx, service, op, &input).await?;
    ops::call(app, ctx, service, op, input).await
}

/// A JSON answer with the headers every AWS JSON protocol sends: its content type, the
/// request id, and on failure the error code (`x-amzn-ErrorType`).
pub fn json_response(
    status: StatusCode,
    content_type: &'static str,
    request_id: &str,
    body: Vec<u8>,
    error_code: Option<&str>,
) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", v);
    }
    if let Some(code) = error_code.and_then(|c| HeaderValue::from_str(c).ok()) {
        headers.insert("x-amzn-errortype", code);
    }
    response
}

//! The HTTP surface: `POST /` for the AWS JSON 1.1 APIs, `GET /healthz`.
//!
//! Every API call takes the same path: request id → target → SigV4 → JSON → model
//! validation → capability handler → JSON or SSM error. Errors are rendered in one place
//! ([`error_response`]); internal detail is logged, never sent.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use steward_api::model::{Model, Service};
use steward_api::ApiError;

use super::{ops, App};
use crate::base::Ctx;

pub use crate::base::peer::Peer;

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, NodelayListener>> for Peer {
    fn connect_info(stream: axum::serve::IncomingStream<'_, NodelayListener>) -> Self {
        Peer(*stream.remote_addr())
    }
}

/// Plain TCP connections with Nagle's algorithm off: session frames, acknowledgements and
/// keystrokes are small and must not wait for more to send.
pub struct NodelayListener(pub tokio::net::TcpListener);

impl axum::serve::Listener for NodelayListener {
    type Io = tokio::net::TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (tcp, addr) = axum::serve::Listener::accept(&mut self.0).await;
        let _ = tcp.set_nodelay(true);
        (tcp, addr)
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, crate::tls::TlsListener>> for Peer {
    fn connect_info(stream: axum::serve::IncomingStream<'_, crate::tls::TlsListener>) -> Self {
        Peer(*stream.remote_addr())
    }
}

/// Builds the router; tests drive it without a socket.
pub fn router(app: Arc<App>) -> Router {
    let agents = Router::new()
        .route(steward_protocol::REGISTER_PATH, post(crate::fleet::register))
        .route(steward_protocol::CONNECT_PATH, get(super::agent::connect))
        .with_state(app.env.clone());
    Router::new()
        .route("/", post(api).get(unsigned))
        .route("/healthz", get(healthz))
        .with_state(app.clone())
        .merge(agents)
        .merge(crate::sessions::routes(app.sessions.clone()))
        .merge(crate::sns::routes(app.env.clone()))
        .merge(super::testclock::routes(app.env.clone()))
}

/// `GET /?Action=…`: the URLs SNS messages carry (confirm, unsubscribe).
async fn unsigned(
    State(app): State<Arc<App>>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    super::query::serve_unsigned(&app.env, &uri, &headers, Some(peer.ip()), &request_id).await
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
    let (prefix, op) = raw.rsplit_once('.').ok_or_else(unknown)?;
    let service = Service::from_target_prefix(prefix).ok_or_else(unknown)?;
    if !Model::get(service).has_operation(op) {
        return Err(ApiError::new("UnknownOperationException", format!("Unknown operation {raw}")));
    }
    Ok((service, op.to_owned()))
}

async fn api(
    State(app): State<Arc<App>>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    // From the thread's RNG: a getrandom syscall per request is measurable at 20k req/s.
    let request_id = uuid::Builder::from_random_bytes(rand::random()).into_uuid().to_string();
    let form = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if form && !headers.contains_key("x-amz-target") {
        // The query protocol (IAM, STS): form-encoded, answered in XML.
        return super::query::serve(&app.env, &method, &uri, &headers, &body, Some(peer.ip()), &request_id).await;
    }
    let mut draft = crate::base::audit::Draft {
        source_ip: peer.ip().to_string(),
        user_agent: headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned(),
        ..Default::default()
    };
    let outcome = handle(&app, &method, &uri, &headers, &body, peer, &mut draft).await;
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
    match outcome {
        Ok((op, body)) => {
            tracing::debug!(request_id, operation = op, elapsed_us, "Request served.");
            json_response(StatusCode::OK, &request_id, body, None)
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
            error_response(&error, &request_id)
        }
    }
}

async fn handle(
    app: &App,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
    peer: SocketAddr,
    draft: &mut crate::base::audit::Draft,
) -> Result<(String, Vec<u8>), (String, ApiError)> {
    let (service, op) = target(headers).map_err(|e| (String::from("-"), e))?;
    let fail = |e: ApiError| (op.clone(), e);
    draft.source = service.event_source().into();
    draft.name = op.clone();
    let header_pairs = super::request::header_pairs(headers);
    let request = super::request::signed_request(method, uri, &header_pairs, body);
    // Signatures are dated by the client's clock, which is the machine's, even when tests
    // move the server's clock forward.
    let now_secs = crate::base::credentials::wall_clock_secs();
    if let Ok(auth) = steward_api::sigv4::parse_authorization(&request) {
        draft.access_key_id = auth.access_key_id;
        draft.region = auth.region;
    }
    let mut principal =
        app.env.credentials.authenticate(&request, service.signing_name(), now_secs).await.map_err(fail)?;
    principal.source_ip = Some(peer.ip());
    principal.request_host = headers.get("host").and_then(|h| h.to_str().ok()).map(str::to_owned);
    draft.principal = Some(principal.clone());
    let input: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Default::default())
    } else {
        serde_json::from_slice(body)
            .map_err(|_| fail(ApiError::serialization("The request body is not valid JSON.")))?
    };
    let model = Model::get(service);
    let mut shown = input.clone();
    model.redact(&op, &mut shown);
    ops::audit_view(service, &op, &mut shown);
    draft.parameters = shown;
    draft.resources = ops::resources(&principal, service, &op, &input);
    model.validate(&op, &input).map_err(fail)?;
    let ctx = Ctx { env: app.env.clone(), principal };
    ops::check_operation(&ctx, service, &op, &input).await.map_err(fail)?;
    let out = ops::call(app, ctx, service, &op, input).await.map_err(fail)?;
    Ok((op, out))
}

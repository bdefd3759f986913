//! The HTTP surface: `POST /` for the AWS JSON 1.1 APIs (routed by `X-Amz-Target`), the
//! REST-JSON routes of [`super::rest`], the agent and session routes, the web console
//! (`/console`), `GET /healthz`.
//!
//! Every API call takes the same path ([`super::call::Call`]): request id → target →
//! SigV4 → JSON → model validation → capability handler → JSON or SSM error. JSON 1.1
//! errors are rendered in one place ([`error_response`]); internal detail is logged, never
//! sent.

use std::sync::Arc;

use axum::body::Bytes;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use steward_api::model::{Model, Service};
use steward_api::ApiError;

use super::App;

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

const JSON_1_1: &str = "application/x-amz-json-1.1";

/// Builds the router; tests drive it without a socket. `region` is the one the console
/// signs in to unless told otherwise.
pub fn router(app: Arc<App>, region: String) -> Router {
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
        .merge(super::rest::routes(app.clone()))
        .merge(crate::sns::routes(app.env.clone()))
        .merge(crate::patch::routes(app.env.clone()))
        .merge(super::testclock::routes(app.env.clone()))
        .merge(super::uploads::routes(app.clone()))
        .merge(super::console::routes(app.clone(), region))
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

/// Renders an API error as AWS JSON 1.1 does.
pub fn error_response(error: &ApiError, request_id: &str) -> Response {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    super::call::json_response(status, JSON_1_1, request_id, error.to_body(), Some(error.code()))
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
    let form = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if form && !headers.contains_key("x-amz-target") {
        // The query protocol (IAM, STS): form-encoded, answered in XML.
        let request_id = uuid::Uuid::new_v4().to_string();
        return super::query::serve(&app.env, &method, &uri, &headers, &body, Some(peer.ip()), &request_id).await;
    }
    let call = super::call::Call { method: &method, uri: &uri, headers: &headers, body: &body, peer };
    let (request_id, outcome) = call.run(&app, target(&headers), || super::call::json_input(&body), |e| e).await;
    match outcome {
        Ok(body) => super::call::json_response(StatusCode::OK, JSON_1_1, &request_id, body, None),
        Err(error) => error_response(&error, &request_id),
    }
}

//! The web console at `/console`: the embedded single-page app ([`assets`]), its sessions
//! ([`session`]: sign-in with an access key pair, an HttpOnly SameSite=Strict cookie, a
//! CSRF token on writes), the door its pages call the API through ([`proxy`], as the
//! signed-in user, every IAM policy applying unchanged), live command progress
//! ([`live`], server-sent events: a snapshot, then changes), recorded sessions' transcripts
//! for replay, and the audit trail's verification.

mod assets;
mod live;
mod proxy;
mod session;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

use super::App;
use crate::base::peer::Peer;

/// What the console's routes share.
#[derive(Clone)]
struct Console {
    app: Arc<App>,
    /// The region a sign-in acts in unless it names one.
    region: String,
}

/// The console's routes.
pub fn routes(app: Arc<App>, region: String) -> Router {
    Router::new()
        .route("/console", get(assets::index))
        .route("/console/", get(assets::index))
        .route("/console/api/signin", post(sign_in))
        .route("/console/api/signout", post(sign_out))
        .route("/console/api/session", get(describe))
        .route("/console/api/call", post(call))
        .route("/console/api/commands/{id}/events", get(events))
        .route("/console/api/sessions/{id}/transcript", get(transcript))
        .route("/console/api/audit/verify", post(verify_audit))
        .route("/console/{*path}", get(assets::asset))
        .with_state(Console { app, region })
}

async fn sign_in(
    State(c): State<Console>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    session::sign_in(&c.app, &c.region, &peer.ip().to_string(), &headers, &body).await
}

async fn sign_out(State(c): State<Console>, headers: HeaderMap) -> Response {
    session::sign_out(&c.app, &headers).await
}

async fn describe(State(c): State<Console>, headers: HeaderMap) -> Response {
    session::describe(&c.app, &headers).await
}

async fn call(
    State(c): State<Console>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    proxy::call(&c.app, peer.ip(), &headers, &body).await
}

/// `GET /console/api/sessions/{id}/transcript`: a recorded session, for replay.
async fn transcript(State(c): State<Console>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    use axum::response::IntoResponse;
    let ctx = match session::current(&c.app, &headers, false).await {
        Ok(ctx) => ctx,
        Err(refused) => return refused,
    };
    match crate::sessions::session_transcript(&ctx, &id).await {
        Ok(cast) => ([(axum::http::header::CONTENT_TYPE, "application/x-asciicast")], cast).into_response(),
        Err(e) => session::api_refusal(&e),
    }
}

/// `POST /console/api/audit/verify`: the audit chain and its digests verified, as
/// `steward audit verify` does. A write in form (it takes a CSRF token): it reads the whole
/// trail, so only the console's own pages may ask for it.
async fn verify_audit(State(c): State<Console>, headers: HeaderMap) -> Response {
    use axum::response::IntoResponse;
    let ctx = match session::current(&c.app, &headers, true).await {
        Ok(ctx) => ctx,
        Err(refused) => return refused,
    };
    match crate::cloudtrail::verify_trail(&ctx).await {
        Ok(verdict) => ([(axum::http::header::CONTENT_TYPE, "application/json")], verdict.to_string()).into_response(),
        Err(e) => session::api_refusal(&e),
    }
}

async fn events(State(c): State<Console>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    live::events(c.app.clone(), &headers, id).await
}

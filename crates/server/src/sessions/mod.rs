//! Session Manager: shells and streams to nodes through the server, compatible with
//! `aws ssm start-session` and `session-manager-plugin`.
//!
//! StartSession ([`api`]) records the session and hands the client a one-time token and
//! the URL of its data channel. When the client opens it ([`relay`]), the node is told over
//! its control channel to open its own data channel with a token of its own; the relay then
//! carries frames between the two unchanged (sequence numbers and acknowledgements are
//! end to end), records the node's output as an asciicast transcript in the blob store, and
//! turns the node's "Terminating" into `channel_closed` for the client. A client whose
//! socket drops comes back with ResumeSession: the node resends what was not acknowledged.
//!
//! A web page reaches a shell through [`terminal`], where the server itself is the client.
//!
//! Keys: `session/<account>/<region>/<id>` and the index `sessionidx/<id>`.

mod api;
mod expiry;
mod queue;
mod relay;
mod terminal;

pub use api::{
    describe_sessions, get_connection_status, load_session, resume_session, session_transcript, start_session,
    terminate_session, DEFAULT_DOCUMENT,
};
pub use expiry::{run as run_expiry, sweep as sweep_expired, HISTORY_MILLIS};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Digest;

use crate::base::Env;
use queue::FrameSender;

/// A stored session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionRecord {
    /// `<owner name>-<17 hex>`.
    pub id: String,
    /// Account.
    pub account: String,
    /// Region.
    pub region: String,
    /// The node.
    pub target: String,
    /// The principal that started it.
    pub owner: String,
    /// The session document.
    pub document: String,
    /// Reason given.
    pub reason: Option<String>,
    /// Connecting, Connected, Disconnected, Terminating, Terminated, Failed.
    pub status: String,
    /// Epoch ms.
    pub start: i64,
    /// Epoch ms.
    pub end: Option<i64>,
    /// SHA-256 (hex) of the client's one-time token; empty once used.
    pub client_token: String,
    /// What the node runs.
    pub start_message: steward_protocol::SessionStart,
    /// Where the transcript is.
    pub output_url: Option<String>,
    /// Why it ended.
    #[serde(default)]
    pub details: String,
}

/// Store key of a session.
pub fn session_key(account: &str, region: &str, id: &str) -> String {
    format!("session/{account}/{region}/{id}")
}

/// Store key of the session index (id → account and region).
pub fn session_index(id: &str) -> String {
    format!("sessionidx/{id}")
}

/// SHA-256 of a token, hex.
pub fn token_hash(token: &str) -> String {
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// A new random token.
pub fn new_token() -> String {
    use base64::Engine;
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What the relay knows of a live session.
#[derive(Default)]
pub struct Link {
    /// Frames to the client's socket.
    pub to_client: Option<FrameSender>,
    /// Frames to the node's socket.
    pub to_agent: Option<FrameSender>,
    /// Client frames that arrived before the node connected.
    pub waiting: Vec<Bytes>,
    /// Their size in bytes (at most [`queue::QUEUE_BYTES`]).
    pub waiting_bytes: usize,
    /// The node's one-time token (hash) for its data channel.
    pub agent_token: String,
    /// Whether the node was told to connect.
    pub agent_asked: bool,
}

/// The live sessions of this server, by id.
#[derive(Default)]
pub struct Hub {
    links: Mutex<HashMap<String, Arc<Mutex<Link>>>>,
}

impl Hub {
    /// The link of a session, made on first use.
    pub fn link(&self, id: &str) -> Arc<Mutex<Link>> {
        self.links.lock().expect("hub lock").entry(id.to_owned()).or_default().clone()
    }

    /// The link of a session if it is live here.
    pub fn get(&self, id: &str) -> Option<Arc<Mutex<Link>>> {
        self.links.lock().expect("hub lock").get(id).cloned()
    }

    /// Forgets a session.
    pub fn remove(&self, id: &str) -> Option<Arc<Mutex<Link>>> {
        self.links.lock().expect("hub lock").remove(id)
    }
}

/// Session Manager's runtime on this server: the shared context and the live sessions.
/// Its handlers read the context through it, so they take one thing, not two.
pub struct Sessions {
    /// Shared by every handler and worker.
    pub env: Arc<Env>,
    hub: Hub,
}

impl Sessions {
    /// No live session yet.
    pub fn new(env: Arc<Env>) -> Sessions {
        Sessions { env, hub: Hub::default() }
    }
}

impl std::ops::Deref for Sessions {
    type Target = Env;

    fn deref(&self) -> &Env {
        &self.env
    }
}

/// The routes of the data channels: clients' and nodes' sockets, and the browser terminal.
pub fn routes(sessions: Arc<Sessions>) -> Router {
    Router::new()
        .route("/v1/data-channel/{id}", get(relay::client_channel))
        .route("/v1/terminal/{id}", get(terminal::browser_terminal))
        .route(&format!("{}{{id}}", steward_protocol::SESSION_PATH), get(relay::agent_channel))
        .with_state(sessions)
}

/// A preference that is on: `true` or `"true"`.
pub fn truthy(value: &Value) -> bool {
    value.as_bool().unwrap_or(false) || value.as_str().is_some_and(|s| s.eq_ignore_ascii_case("true"))
}

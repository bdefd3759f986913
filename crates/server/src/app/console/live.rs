//! `GET /console/api/commands/{id}/events`: a command's per-node progress as server-sent
//! events, so the Run Command page shows each node's status and output as it changes
//! without polling the API.
//!
//! The first event (`snapshot`) carries the command and every invocation; each later one
//! only what changed since (invocations are keyed by InstanceId, the page merges them), so a
//! 1,000-node command sends each node's record once per change instead of the whole list on
//! every change. The last event (`end`) carries the final changes. The stream is checked
//! when it opens, as `ssm:ListCommandInvocations` (and `ssm:ListCommands` for the command's
//! own summary, left out without it) for the signed-in user, and again every 10 seconds: it
//! ends when the user's session or right to it does.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use steward_api::model::Service;

use super::super::{ops, App};
use super::session::{api_refusal, current, refusal};
use crate::base::Ctx;
use crate::commands::{command_changes, CommandChanges};

/// How often the stream looks for news.
const TICK: Duration = Duration::from_millis(400);
/// How often (in ticks) the user's session and rights are checked again while the stream is open.
const SESSION_CHECK_TICKS: u32 = 25;
/// The longest a stream stays open (a page reopens it if it still cares).
const MAX_OPEN: Duration = Duration::from_secs(3600);

/// What one stream remembers between ticks.
struct Watch {
    app: Arc<App>,
    headers: HeaderMap,
    ctx: Ctx,
    command_id: String,
    /// What was already sent: stored revisions and content hashes, by InstanceId (and the
    /// command's under its id).
    seen: HashMap<String, (i64, u64)>,
    /// Whether the user may see the command's own summary.
    summary: bool,
    ticks: u32,
    started: tokio::time::Instant,
    /// What was read when the stream opened: the first frame, once sent.
    snapshot: Option<CommandChanges>,
    done: bool,
}

/// One frame: `event` (none for a plain change) and the changes as JSON.
fn frame(event: Option<&str>, changes: &CommandChanges, summary: bool) -> String {
    let mut body = json!({ "CommandInvocations": changes.invocations });
    if let (true, Some(command)) = (summary, &changes.command) {
        body["Command"] = serde_json::to_value(command).unwrap_or(Value::Null);
    }
    match event {
        Some(name) => format!("event: {name}\ndata: {body}\n\n"),
        None => format!("data: {body}\n\n"),
    }
}

impl Watch {
    /// Whether the user's session still holds and their policies still let them follow the
    /// command: a sign-out, a deactivated key or a revoked right ends the stream.
    async fn still_allowed(&self) -> bool {
        let Ok(ctx) = current(&self.app, &self.headers, false).await else { return false };
        let input = json!({"CommandId": self.command_id, "Details": true});
        ops::check_operation(&ctx, Service::Ssm, "ListCommandInvocations", &input).await.is_ok()
    }

    /// Waits for the next frame to send; `None` ends the stream.
    async fn next_frame(&mut self) -> Option<String> {
        if self.done {
            return None;
        }
        if let Some(snapshot) = self.snapshot.take() {
            let text = frame(Some("snapshot"), &snapshot, self.summary);
            if snapshot.finished {
                // An ended command: the snapshot is all there is.
                self.done = true;
                return Some(text + "event: end\ndata: {\"CommandInvocations\":[]}\n\n");
            }
            return Some(text);
        }
        loop {
            tokio::time::sleep(TICK).await;
            self.ticks += 1;
            if self.ticks.is_multiple_of(SESSION_CHECK_TICKS) && !self.still_allowed().await {
                return None;
            }
            let changes = match command_changes(&self.ctx, &self.command_id, &mut self.seen).await {
                Ok(changes) => changes,
                // The command expired or the store failed: the page keeps what it has.
                Err(_) => return None,
            };
            let ended = changes.finished || self.started.elapsed() > MAX_OPEN;
            let news = !changes.invocations.is_empty() || (self.summary && changes.command.is_some());
            if ended || news {
                self.done = ended;
                return Some(frame(ended.then_some("end"), &changes, self.summary));
            }
        }
    }
}

/// Opens the stream.
pub async fn events(app: Arc<App>, headers: &HeaderMap, command_id: String) -> Response {
    let ctx = match current(&app, headers, false).await {
        Ok(ctx) => ctx,
        Err(response) => return response,
    };
    let valid = command_id.len() == 36 && command_id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    if !valid {
        return refusal(StatusCode::BAD_REQUEST, "InvalidCommandId", "The command id is not valid.");
    }
    let input = json!({"CommandId": command_id, "Details": true});
    if let Err(e) = ops::check_operation(&ctx, Service::Ssm, "ListCommandInvocations", &input).await {
        return api_refusal(&e);
    }
    let summary =
        ops::check_operation(&ctx, Service::Ssm, "ListCommands", &json!({"CommandId": command_id})).await.is_ok();
    let mut seen = HashMap::new();
    // A command that does not exist is refused now, not streamed as nothing for an hour.
    let snapshot = match command_changes(&ctx, &command_id, &mut seen).await {
        Ok(snapshot) => snapshot,
        Err(e) => return api_refusal(&e),
    };
    let watch = Watch {
        app,
        headers: headers.clone(),
        ctx,
        command_id,
        seen,
        summary,
        ticks: 0,
        started: tokio::time::Instant::now(),
        snapshot: Some(snapshot),
        done: false,
    };
    let stream = futures_util::stream::unfold(watch, |mut watch| async move {
        let text = watch.next_frame().await?;
        Some((Ok::<_, std::io::Error>(text), watch))
    });
    let mut response = Body::from_stream(stream).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, header::HeaderValue::from_static("text/event-stream"));
    h.insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-cache"));
    response
}

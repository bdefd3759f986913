//! `GET /console/api/commands/{id}/events`: a command's per-node progress as server-sent
//! events, so the Run Command page shows each node's status and output as it changes
//! without polling the API. The stream is checked once, when it opens, as
//! `ssm:ListCommandInvocations` for the signed-in user; it sends the invocations whenever
//! they change and ends once the command has.

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

/// How often the stream looks for news.
const TICK: Duration = Duration::from_millis(400);
/// The longest a stream stays open (a page reopens it if it still cares).
const MAX_OPEN: Duration = Duration::from_secs(3600);

/// A command's invocations with their output, as ListCommandInvocations answers.
async fn snapshot(app: &App, ctx: &Ctx, command_id: &str) -> Option<Value> {
    let input = json!({"CommandId": command_id, "Details": true});
    let body = ops::call(app, ctx.clone(), Service::Ssm, "ListCommandInvocations", input).await.ok()?;
    serde_json::from_slice(&body).ok()
}

fn finished(invocations: &Value) -> bool {
    let list = invocations["CommandInvocations"].as_array();
    list.is_some_and(|l| {
        !l.is_empty()
            && l.iter().all(|i| {
                matches!(
                    i["Status"].as_str().unwrap_or_default(),
                    "Success" | "Failed" | "TimedOut" | "Cancelled" | "Undeliverable" | "Terminated"
                )
            })
    })
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
    // A command that does not exist is refused now, not streamed as nothing for an hour.
    if let Err(e) = ops::call(&app, ctx.clone(), Service::Ssm, "ListCommandInvocations", input).await {
        return api_refusal(&e);
    }
    let started = tokio::time::Instant::now();
    let state = (app, ctx, command_id, String::new(), false);
    let stream = futures_util::stream::unfold(state, move |(app, ctx, id, last, done)| async move {
        if done {
            return None;
        }
        loop {
            let now = snapshot(&app, &ctx, &id).await.unwrap_or(Value::Null);
            let text = now.to_string();
            let ended = finished(&now) || started.elapsed() > MAX_OPEN;
            if text != last || ended {
                let frame = if ended { format!("event: end\ndata: {text}\n\n") } else { format!("data: {text}\n\n") };
                return Some((Ok::<_, std::io::Error>(frame), (app, ctx, id, text, ended)));
            }
            tokio::time::sleep(TICK).await;
        }
    });
    let mut response = Body::from_stream(stream).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, header::HeaderValue::from_static("text/event-stream"));
    h.insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-cache"));
    response
}

//! The browser terminal: `GET /v1/terminal/<session id>`, a WebSocket a web page (xterm.js
//! or the like) can speak without the data channel's binary framing.
//!
//! The server is the session's client here: it answers the node's handshake, numbers,
//! acknowledges and resends frames, and hands the page plain bytes. The page opens with
//! `{"TokenValue": "<token from StartSession>"}`, then sends keystrokes as binary messages
//! (or `{"type":"input","data":"…"}`), `{"type":"resize","cols":C,"rows":R}` and
//! `{"type":"terminate"}`. It receives the terminal's output as binary messages and
//! `{"type":"ready"}`, `{"type":"exit","code":N}` (only where the node reports an exit
//! code: a non-interactive command with its streams apart; a shell's end is just
//! `closed`, as the SSM agent reports none) and `{"type":"closed","reason":"…"}`.
//! The stream's state lives in this task, so the session ends when the page goes.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use steward_session::frame::{self, payload_type};
use steward_session::payload::{HandshakeResponse, Size};
use steward_session::stream::{Accepted, Channel};

use tokio_tungstenite::tungstenite::Message;

use super::relay::{attach, channel_config, end, locate, read_opener, refuse, to_agent, Attached};
use super::Sessions;
use crate::base::ws::{busy, Pass, Pending, PreAuthUpgrade};

/// How the terminal presents itself in the handshake.
const TERMINAL_VERSION: &str = "1.2.707.0";
/// Largest message a page may send.
const MAX_MESSAGE: usize = 64 * 1024;
/// Frames resent at once.
const RESEND_BURST: usize = 64;

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(1)
}

/// The upgrade handler.
pub async fn browser_terminal(
    State(env): State<Arc<Sessions>>,
    Path(id): Path<String>,
    upgrade: PreAuthUpgrade,
) -> Response {
    let Some(pass) = env.pre_auth.enter(upgrade.source()) else { return busy() };
    upgrade.on_upgrade(pass, move |pending, pass| serve(env, id, pending, pass))
}

fn notice(value: Value) -> Message {
    Message::Text(value.to_string().into())
}

/// What the page asked for in a text message.
enum Request {
    Input(Vec<u8>),
    Resize(Size),
    Terminate,
    Unknown,
}

fn parse_request(text: &str) -> Request {
    let Ok(value) = serde_json::from_str::<Value>(text) else { return Request::Unknown };
    match value["type"].as_str() {
        Some("input") => Request::Input(value["data"].as_str().unwrap_or_default().as_bytes().to_vec()),
        Some("resize") => match (value["cols"].as_u64(), value["rows"].as_u64()) {
            (Some(cols), Some(rows)) if (1..=1000).contains(&cols) && (1..=1000).contains(&rows) => {
                Request::Resize(Size { cols: cols as u32, rows: rows as u32 })
            }
            _ => Request::Unknown,
        },
        Some("terminate") => Request::Terminate,
        _ => Request::Unknown,
    }
}

async fn serve(env: Arc<Sessions>, id: String, mut pending: Pending, pass: Pass) {
    let Some(token) = read_opener(&mut pending).await else { return refuse(pending, &id, "No opening frame.").await };
    if locate(&env, &id).await.is_some_and(|(r, _, _)| r.start_message.session_type == "Port") {
        return refuse(pending, &id, "A port forwarding session has no terminal.").await;
    }
    let Attached { link, tx: _, mut rx } = match attach(&env, &id, &token).await {
        Ok(attached) => attached,
        Err(why) => {
            let _ = pending.send_text(&json!({"type": "closed", "reason": why}).to_string()).await;
            return refuse(pending, &id, why).await;
        }
    };
    drop(pass);
    let mut socket = pending.authenticated(channel_config(MAX_MESSAGE)).await;
    let mut channel = Channel::new(frame::INPUT, frame::OUTPUT);
    let mut ticker = tokio::time::interval(Duration::from_millis(100));
    let mut size: Option<Size> = None;
    let mut ready = false;
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                for again in channel.sender.due_burst(now_ms(), RESEND_BURST) {
                    to_agent(&link, again.into()).await;
                }
            }
            from_node = rx.recv() => {
                let Some(bytes) = from_node else {
                    let _ = socket.close(None).await;
                    return;
                };
                match channel.accept(&bytes, now_ms()) {
                    Accepted::Control(f) if f.message_type == frame::CHANNEL_CLOSED => {
                        let body = serde_json::from_slice::<Value>(&f.payload).unwrap_or_default();
                        let reason = body["Output"].as_str().unwrap_or_default().to_owned();
                        let _ = socket.send(notice(json!({"type": "closed", "reason": reason}))).await;
                        let _ = socket.close(None).await;
                        return;
                    }
                    Accepted::Data { ack, frames } => {
                        if let Some(ack) = ack {
                            to_agent(&link, ack.into()).await;
                        }
                        for f in frames {
                            let shown = match f.payload_type {
                                payload_type::HANDSHAKE_REQUEST => {
                                    let answer = HandshakeResponse::accepting(TERMINAL_VERSION);
                                    let body = serde_json::to_vec(&answer).expect("json");
                                    let bytes = channel.sender.send(payload_type::HANDSHAKE_RESPONSE, body, 0, now_ms());
                                    to_agent(&link, bytes.into()).await;
                                    continue;
                                }
                                payload_type::HANDSHAKE_COMPLETE => {
                                    ready = true;
                                    if let Some(s) = size.take() {
                                        send_size(&mut channel, &link, s).await;
                                    }
                                    notice(json!({"type": "ready", "sessionId": id}))
                                }
                                payload_type::OUTPUT | payload_type::STDERR => Message::Binary(f.payload.into()),
                                payload_type::EXIT_CODE => {
                                    let code = steward_session::payload::parse_exit_code(&f.payload);
                                    notice(json!({"type": "exit", "code": code}))
                                }
                                _ => continue,
                            };
                            if socket.send(shown).await.is_err() {
                                return page_left(&env, &id).await;
                            }
                        }
                    }
                    _ => {}
                }
            }
            from_page = socket.next() => {
                let request = match from_page {
                    Some(Ok(Message::Binary(b))) => Request::Input(b.to_vec()),
                    Some(Ok(Message::Text(t))) => parse_request(&t),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    _ => return page_left(&env, &id).await,
                };
                match request {
                    Request::Input(bytes) if !bytes.is_empty() => {
                        let frame = channel.sender.send(payload_type::OUTPUT, bytes, 0, now_ms());
                        to_agent(&link, frame.into()).await;
                    }
                    // The node's terminal gets its size once it is there to take it.
                    Request::Resize(s) if ready => send_size(&mut channel, &link, s).await,
                    Request::Resize(s) => size = Some(s),
                    Request::Terminate => {
                        end(&env, &id, "Terminated", "Terminated from the browser terminal.").await;
                    }
                    Request::Input(_) | Request::Unknown => {
                        let why = "Expected binary keystrokes or a JSON message of type input, resize or terminate.";
                        let _ = socket.send(notice(json!({"type": "error", "message": why}))).await;
                    }
                }
            }
        }
    }
}

async fn send_size(channel: &mut Channel, link: &Arc<std::sync::Mutex<super::Link>>, size: Size) {
    let body = serde_json::to_vec(&size).expect("json");
    let frame = channel.sender.send(payload_type::SIZE, body, 0, now_ms());
    to_agent(link, frame.into()).await;
}

/// The page closed: nothing can resume its stream, so the session ends.
async fn page_left(env: &Sessions, id: &str) {
    end(env, id, "Terminated", "The browser terminal closed.").await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_requests_are_read_and_bad_ones_are_unknown() {
        assert!(matches!(parse_request(r#"{"type":"input","data":"ls\r"}"#), Request::Input(b) if b == b"ls\r"));
        assert!(matches!(
            parse_request(r#"{"type":"resize","cols":120,"rows":40}"#),
            Request::Resize(Size { cols: 120, rows: 40 })
        ));
        assert!(matches!(parse_request(r#"{"type":"terminate"}"#), Request::Terminate));
        for bad in [
            "",
            "nope",
            r#"{"type":"resize","cols":0,"rows":40}"#,
            r#"{"type":"resize","cols":"9"}"#,
            r#"{"type":"launch"}"#,
            "[1,2]",
        ] {
            assert!(matches!(parse_request(bad), Request::Unknown), "{bad}");
        }
    }
}

//! The data channels: `GET /v1/data-channel/<id>` for clients and
//! `GET /agent/v1/session/<id>` for nodes, each opened with a one-time token, and the relay
//! between them. Frames pass unchanged; the relay reads only their headers, to record the
//! node's output and to see the node's session state.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::Response;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use steward_session::frame::{self, payload_type, Frame};
use steward_session::payload::{AgentSessionState, ChannelClosed, Size};
use steward_store::Op;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

use super::queue::{self, FrameReceiver, FrameSender, QUEUE_BYTES};
use super::*;
use crate::base::ws::{busy, Pass, Pending, PreAuthUpgrade};
use crate::base::{decode, encode};

/// How long an opener has to send its token.
const OPEN_TIMEOUT: Duration = Duration::from_secs(10);
/// The bucket transcripts go to.
pub const TRANSCRIPT_BUCKET: &str = "steward-sessions";
/// Every this many seconds the relay reads its session's record, to see an end another
/// server wrote.
const ENDED_ELSEWHERE_EVERY: u32 = 2;
/// Largest frame accepted.
const MAX_FRAME: usize = 1 << 20;

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(1)
}

/// Reads a session through its index.
pub(super) async fn locate(env: &Sessions, id: &str) -> Option<(SessionRecord, i64, String)> {
    let index = env.store.get(&session_index(id)).await.ok()??;
    let locator: serde_json::Value = serde_json::from_slice(&index.value).ok()?;
    let key = session_key(locator["account"].as_str()?, locator["region"].as_str()?, id);
    let item = env.store.get(&key).await.ok()??;
    Some((decode(&key, &item.value).ok()?, item.revision, key))
}

/// The token of a data channel's opening frame (`OpenDataChannelInput`; a browser
/// terminal may send `{"TokenValue": …}` alone), read before the peer is known.
pub(super) async fn read_opener(pending: &mut Pending) -> Option<String> {
    let body = tokio::time::timeout(OPEN_TIMEOUT, pending.first_message()).await.ok()?.ok()?;
    let opener: serde_json::Value = serde_json::from_slice(&body).ok()?;
    opener["TokenValue"].as_str().map(str::to_owned)
}

pub(super) fn closed_frame(id: &str, output: &str) -> Bytes {
    let body = ChannelClosed {
        message_id: uuid::Uuid::new_v4().to_string(),
        created_date: steward_api::time::format_iso8601((now_ms() / 1000) as i64),
        destination_id: String::new(),
        session_id: id.to_owned(),
        message_type: frame::CHANNEL_CLOSED.into(),
        schema_version: 1,
        output: output.to_owned(),
    };
    let payload = serde_json::to_vec(&body).expect("serialises");
    Frame::new(frame::CHANNEL_CLOSED, 0, 0, payload_type::OUTPUT, payload, now_ms()).encode().into()
}

/// How a data channel's socket is set up: frames up to [`MAX_FRAME`].
pub(super) fn channel_config(max_message: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(steward_session::WS_READ_BUFFER)
        .max_message_size(Some(max_message))
        .max_frame_size(Some(max_message))
}

/// The client's upgrade handler.
pub async fn client_channel(
    State(env): State<Arc<Sessions>>,
    Path(id): Path<String>,
    upgrade: PreAuthUpgrade,
) -> Response {
    let Some(pass) = env.pre_auth.enter(upgrade.source()) else { return busy() };
    upgrade.on_upgrade(pass, move |pending, pass| serve_client(env, id, pending, pass))
}

/// The node's upgrade handler.
pub async fn agent_channel(
    State(env): State<Arc<Sessions>>,
    Path(id): Path<String>,
    upgrade: PreAuthUpgrade,
) -> Response {
    let Some(pass) = env.pre_auth.enter(upgrade.source()) else { return busy() };
    upgrade.on_upgrade(pass, move |pending, pass| serve_agent(env, id, pending, pass))
}

pub(super) async fn refuse(mut pending: Pending, id: &str, why: &str) {
    tracing::info!(session_id = id, why, "Data channel refused.");
    let _ = pending.send_binary(&closed_frame(id, why)).await;
    pending.close().await;
}

/// Hands a client frame to the node, or holds it until the node is there.
pub(super) async fn to_agent(link: &Arc<Mutex<Link>>, bytes: Bytes) {
    let sender = {
        let mut l = link.lock().expect("link lock");
        match &l.to_agent {
            Some(s) => s.clone(),
            None => {
                // Held while the node connects, up to a queue's worth; the client resends
                // what is never acknowledged.
                if l.waiting_bytes + bytes.len() <= QUEUE_BYTES {
                    l.waiting_bytes += bytes.len();
                    l.waiting.push(bytes);
                }
                return;
            }
        }
    };
    let _ = sender.send(bytes).await;
}

/// Hands a node frame to the client; dropped when no client is attached (the node resends
/// whatever is not acknowledged).
async fn to_client(link: &Arc<Mutex<Link>>, bytes: Bytes) {
    let sender = link.lock().expect("link lock").to_client.clone();
    if let Some(s) = sender {
        let _ = s.send(bytes).await;
    }
}

/// A client end attached to a live session: frames for it arrive on `rx`.
pub(super) struct Attached {
    pub link: Arc<Mutex<Link>>,
    pub tx: FrameSender,
    pub rx: FrameReceiver,
}

/// Spends the client's one-time `token` and attaches a client end to the session; the
/// node is asked to connect the first time. The error says why the token was refused.
pub(super) async fn attach(env: &Arc<Sessions>, id: &str, token: &str) -> Result<Attached, &'static str> {
    let Some((mut record, revision, key)) = locate(env, id).await else {
        return Err("The session does not exist.");
    };
    if record.client_token.is_empty() || token_hash(token) != record.client_token || record.end.is_some() {
        return Err("The token is not valid for this session.");
    }
    // The token is spent: a replay (or a second client) is refused.
    record.client_token.clear();
    record.status = "Connected".into();
    if env.store.write(vec![Op::put(&key, encode(&record)).if_revision(revision)]).await.is_err() {
        return Err("The session changed; resume it again.");
    }
    let link = env.hub.link(id);
    let (tx, rx) = queue::channel(QUEUE_BYTES);
    let ask = {
        let mut l = link.lock().expect("link lock");
        l.to_client = Some(tx.clone());
        if l.agent_asked {
            None
        } else {
            let token = new_token();
            l.agent_token = token_hash(&token);
            l.agent_asked = true;
            Some(token)
        }
    };
    // Ended while this client was attaching: end again, now that the link exists.
    if locate(env, id).await.is_none_or(|(r, _, _)| r.end.is_some()) {
        end(env, id, "Terminated", "Terminated before the client attached.").await;
    } else if let Some(token) = ask {
        let start = steward_protocol::SessionStart { token, ..record.start_message.clone() };
        if !env.agents.send(&record.target, steward_protocol::ServerMessage::StartSession(start)) {
            end(env, id, "Failed", "The node is not connected.").await;
        }
    }
    tracing::info!(session_id = id, target = record.target, "Session client connected.");
    Ok(Attached { link, tx, rx })
}

async fn serve_client(env: Arc<Sessions>, id: String, mut pending: Pending, pass: Pass) {
    let Some(token) = read_opener(&mut pending).await else { return refuse(pending, &id, "No opening frame.").await };
    let Attached { link, tx, mut rx } = match attach(&env, &id, &token).await {
        Ok(attached) => attached,
        Err(why) => return refuse(pending, &id, why).await,
    };
    drop(pass);
    let mut socket = pending.authenticated(channel_config(MAX_FRAME)).await;
    loop {
        tokio::select! {
            incoming = socket.next() => match incoming {
                Some(Ok(Message::Binary(b))) => to_agent(&link, b).await,
                Some(Ok(Message::Text(t))) => to_agent(&link, Bytes::copy_from_slice(t.as_bytes())).await,
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                _ => {
                    client_left(&env, &id, &link, &tx).await;
                    return;
                }
            },
            outgoing = rx.recv() => match outgoing {
                Some(bytes) => {
                    if socket.send(Message::Binary(bytes)).await.is_err() {
                        client_left(&env, &id, &link, &tx).await;
                        return;
                    }
                }
                None => {
                    let _ = socket.close(None).await;
                    return;
                }
            },
        }
    }
}

/// The client's socket is gone: the session waits (Disconnected) for ResumeSession.
async fn client_left(env: &Sessions, id: &str, link: &Arc<Mutex<Link>>, mine: &FrameSender) {
    {
        let mut l = link.lock().expect("link lock");
        if l.to_client.as_ref().is_some_and(|s| s.same_channel(mine)) {
            l.to_client = None;
        } else {
            return; // Already replaced by a resumed client, or ended.
        }
    }
    set_status(env, id, |r| {
        if r.end.is_none() {
            r.status = "Disconnected".into();
        }
    })
    .await;
    tracing::info!(session_id = id, "Session client disconnected; the session can be resumed.");
}

async fn set_status(env: &Sessions, id: &str, change: impl Fn(&mut SessionRecord)) {
    for _ in 0..5 {
        let Some((mut record, revision, key)) = locate(env, id).await else { return };
        change(&mut record);
        if env.store.write(vec![Op::put(&key, encode(&record)).if_revision(revision)]).await.is_ok() {
            return;
        }
    }
}

async fn serve_agent(env: Arc<Sessions>, id: String, mut pending: Pending, pass: Pass) {
    let Some(token) = read_opener(&mut pending).await else { return refuse(pending, &id, "No opening frame.").await };
    let Some(link) = env.hub.get(&id) else {
        return refuse(pending, &id, "The session is not waiting for a node.").await;
    };
    let (tx, mut rx) = queue::channel(QUEUE_BYTES);
    let waiting = {
        let mut l = link.lock().expect("link lock");
        if l.agent_token.is_empty() || token_hash(&token) != l.agent_token {
            None
        } else {
            l.agent_token.clear();
            l.to_agent = Some(tx);
            l.waiting_bytes = 0;
            Some(std::mem::take(&mut l.waiting))
        }
    };
    let Some(waiting) = waiting else {
        return refuse(pending, &id, "The token is not valid for this session.").await;
    };
    drop(pass);
    let mut socket = pending.authenticated(channel_config(MAX_FRAME)).await;
    for bytes in waiting {
        if socket.send(Message::Binary(bytes)).await.is_err() {
            break;
        }
    }
    let Some((record, _, _)) = locate(&env, &id).await else { return };
    let recorder = Recorder::start(&env, &record);
    set_status(&env, &id, |r| r.output_url = Some(recorder.url.clone())).await;
    let mut limits = Limits::of(&record, env.now());
    // What the user types goes in the transcript only when the preferences ask for it
    // (`recordInput`, a Steward addition): it may hold passwords typed at prompts.
    let record_input = record.start_message.session_type != "Port"
        && truthy(&record.start_message.properties["inputs"]["recordInput"]);
    let mut clock = tokio::time::interval(Duration::from_secs(1));
    let mut ticks = 0u32;
    loop {
        tokio::select! {
            _ = clock.tick() => {
                ticks += 1;
                // Another server sharing the store may have ended it (TerminateSession there).
                if ticks.is_multiple_of(ENDED_ELSEWHERE_EVERY) && locate(&env, &id).await.is_some_and(|(r, _, _)| r.end.is_some()) {
                    end(&env, &id, "Terminated", "Terminated by another server.").await;
                    return;
                }
                match limits.check(env.now()) {
                    Check::Fine => {}
                    Check::Warn(text) => {
                        let notice = steward_protocol::ServerMessage::SessionNotice { session_id: id.clone(), text };
                        env.agents.send(&record.target, notice);
                    }
                    Check::End(why) => {
                        end(&env, &id, "Terminated", &why).await;
                        return;
                    }
                }
            }
            incoming = socket.next() => match incoming {
                Some(Ok(Message::Binary(b))) => {
                    let bytes = b;
                    // Read in place: the client checks the digest of what it takes.
                    let Some(f) = Frame::peek(&bytes) else {
                        tracing::debug!(session_id = id, "Dropped a bad frame from the node.");
                        continue;
                    };
                    if f.message_type == frame::AGENT_SESSION_STATE {
                        let state_now = serde_json::from_slice::<AgentSessionState>(f.payload).ok();
                        if state_now.is_some_and(|s| s.session_state == "Terminating") {
                            end(&env, &id, "Terminated", "The session ended on the node.").await;
                        }
                        continue;
                    }
                    if f.message_type == frame::OUTPUT && f.payload_type == payload_type::OUTPUT {
                        // A tunnel's bytes are not a transcript; it idles while no data flows.
                        // A shell idles until its user types.
                        if record.start_message.session_type == "Port" {
                            limits.active(env.now());
                        } else {
                            recorder.output(f.payload).await;
                        }
                    }
                    to_client(&link, bytes).await;
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Text(_))) => {}
                _ => {
                    end(&env, &id, "Terminated", "The node's data channel closed.").await;
                    return;
                }
            },
            outgoing = rx.recv() => match outgoing {
                Some(bytes) => {
                    if let Some(f) = Frame::peek(&bytes) {
                        if f.message_type == frame::INPUT && f.payload_type == payload_type::OUTPUT {
                            limits.active(env.now());
                            if record_input {
                                recorder.input(f.payload).await;
                            }
                        }
                        if f.message_type == frame::INPUT && f.payload_type == payload_type::SIZE {
                            if let Ok(size) = serde_json::from_slice::<Size>(f.payload) {
                                recorder.resize(size).await;
                            }
                        }
                    }
                    if socket.send(Message::Binary(bytes)).await.is_err() {
                        end(&env, &id, "Terminated", "The node's data channel closed.").await;
                        return;
                    }
                }
                None => {
                    let _ = socket.close(None).await;
                    return;
                }
            },
        }
    }
}

/// Ends a session: the record final, `channel_closed` to the client, the node told to stop,
/// both channels closed. The record is written first: a client attaching meanwhile either
/// sees it ended or is attached when the link is torn down. Called again on the server
/// relaying a session another server ended, it tears down what is here; only the call that
/// ended the record writes the audit event.
pub async fn end(env: &Sessions, id: &str, status: &str, details: &str) {
    let now = env.now();
    let ended_here = std::sync::atomic::AtomicBool::new(false);
    set_status(env, id, |r| {
        // Set on every attempt: the attempt that is written decides.
        ended_here.store(r.end.is_none(), std::sync::atomic::Ordering::SeqCst);
        if r.end.is_none() {
            r.status = status.into();
            r.end = Some(now);
            r.details = details.into();
        }
    })
    .await;
    let record = locate(env, id).await.map(|(r, _, _)| r);
    if let Some(link) = env.hub.remove(id) {
        let (client, agent) = {
            let mut l = link.lock().expect("link lock");
            (l.to_client.take(), l.to_agent.take())
        };
        if let Some(client) = client {
            // An orderly end shows the client's own "Exiting session" line, as with SSM.
            let final_status = record.as_ref().map_or(status, |r| r.status.as_str());
            let final_details = record.as_ref().map_or(details, |r| r.details.as_str());
            let shown = if final_status == "Terminated" { "" } else { final_details };
            // Never waits on a client that stopped reading: then it goes without.
            client.try_send(closed_frame(id, shown));
        }
        drop(agent);
    }
    let Some(record) = record else { return };
    // A node connected elsewhere is told by the server relaying its session.
    env.agents.send(&record.target, steward_protocol::ServerMessage::EndSession { session_id: id.to_owned() });
    if !ended_here.load(std::sync::atomic::Ordering::SeqCst) {
        return;
    }
    let node = format!("arn:aws:ssm:{}:{}:managed-instance/{}", record.region, record.account, record.target);
    let event = json!({"sessionId": id, "status": status, "details": details});
    env.audit
        .record(crate::base::audit::service_event(&record.account, &record.region, "SessionEnded", &[node], event, now))
        .await;
    tracing::info!(session_id = id, status, details, "Session ended.");
}

/// How long a session may idle and last, from its session document (`idleSessionTimeout`,
/// default 20 minutes, 1–60; `maxSessionDuration`, 1–1,440 minutes, none by default),
/// with a warning one minute before either ends it.
struct Limits {
    idle_ms: i64,
    max_end: Option<i64>,
    last_active: i64,
    warned: bool,
}

enum Check {
    Fine,
    Warn(String),
    End(String),
}

fn minutes(value: &serde_json::Value) -> Option<i64> {
    value.as_str().and_then(|s| s.trim().parse().ok()).or_else(|| value.as_i64())
}

impl Limits {
    fn of(record: &SessionRecord, now: i64) -> Limits {
        let inputs = &record.start_message.properties["inputs"];
        let idle = minutes(&inputs["idleSessionTimeout"]).unwrap_or(20).clamp(1, 60);
        let max = minutes(&inputs["maxSessionDuration"]).map(|m| m.clamp(1, 1440));
        Limits {
            idle_ms: idle * 60_000,
            max_end: max.map(|m| record.start + m * 60_000),
            last_active: now,
            warned: false,
        }
    }

    fn active(&mut self, now: i64) {
        self.last_active = now;
        self.warned = false;
    }

    fn check(&mut self, now: i64) -> Check {
        let idle_end = self.last_active + self.idle_ms;
        if now >= idle_end {
            return Check::End(format!("The session was idle for {} minutes.", self.idle_ms / 60_000));
        }
        if self.max_end.is_some_and(|m| now >= m) {
            return Check::End("The session reached its maximum duration.".into());
        }
        let first_end = self.max_end.map_or(idle_end, |m| m.min(idle_end));
        if !self.warned && first_end - now <= 60_000 {
            self.warned = true;
            let why = if first_end == idle_end { "idle" } else { "at its maximum duration" };
            return Check::Warn(format!("\r\nThis session ends in one minute ({why}).\r\n"));
        }
        Check::Fine
    }
}

/// Writes a session's output to the blob store as it flows, as an asciicast v2 transcript
/// (a header line, then `[seconds, "o", text]`, `[seconds, "r", "COLSxROWS"]` and, when
/// asked for, `[seconds, "i", typed]` events). At most [`RECORDER_QUEUE`] events wait for
/// the blob store; beyond that the session waits for its transcript (never the reverse:
/// what a transcript misses is lost to the audit).
struct Recorder {
    url: String,
    started: std::time::Instant,
    lines: mpsc::Sender<String>,
}

/// Transcript events (each one frame's payload at most) waiting to be written.
const RECORDER_QUEUE: usize = 256;

impl Recorder {
    fn start(env: &Arc<Sessions>, record: &SessionRecord) -> Recorder {
        let key = format!("{}/{}.cast", record.account, record.id);
        let url = env.blobs.url(TRANSCRIPT_BUCKET, &key);
        let (lines, mut rx) = mpsc::channel::<String>(RECORDER_QUEUE);
        let header = json!({"version": 2, "width": 80, "height": 24, "timestamp": record.start / 1000,
                            "env": {"TERM": "xterm-256color"}, "title": record.id});
        let _ = lines.try_send(header.to_string());
        let blobs = env.blobs.clone();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                // Whatever else is queued goes in the same write.
                let mut chunk = first + "\n";
                while let Ok(line) = rx.try_recv() {
                    chunk.push_str(&line);
                    chunk.push('\n');
                }
                if let Err(e) = blobs.append(TRANSCRIPT_BUCKET, &key, chunk.into_bytes()).await {
                    tracing::warn!(error = %e, key, "Could not write the session transcript.");
                }
            }
        });
        Recorder { url, started: std::time::Instant::now(), lines }
    }

    async fn event(&self, kind: &str, data: &str) {
        let at = (self.started.elapsed().as_secs_f64() * 1e6).round() / 1e6;
        let _ = self.lines.send(json!([at, kind, data]).to_string()).await;
    }

    async fn output(&self, bytes: &[u8]) {
        self.event("o", &String::from_utf8_lossy(bytes)).await;
    }

    async fn input(&self, bytes: &[u8]) {
        self.event("i", &String::from_utf8_lossy(bytes)).await;
    }

    async fn resize(&self, size: Size) {
        self.event("r", &format!("{}x{}", size.cols, size.rows)).await;
    }
}

//! The control channel: connect out to the server, prove identity, heartbeat, take
//! invocations, report results; reconnect with exponential backoff and jitter.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use ed25519_dalek::{Signer, SigningKey};
use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use steward_protocol::{hello_payload, AgentMessage, ServerMessage, CONNECT_PATH, VERSION};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::calls::Calls;
use crate::executor::{self, Running};
use crate::identity::{self, Identity};
use crate::platform;
use crate::records::{Arrival, Records};
use crate::tls::{self, Endpoint};

/// Longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The outgoing queue of the live session, if any: results of invocations that outlive
/// the session they arrived on go out on whichever session is live when they finish.
type Outbox = std::sync::Arc<std::sync::Mutex<Option<mpsc::Sender<AgentMessage>>>>;

/// How a session ended.
enum End {
    /// The server closed or the network failed: reconnect.
    Lost,
    /// The server refused this identity for good.
    Refused(String),
}

/// Runs until the identity is refused.
pub async fn run(state_dir: &Path, identity: Identity, session_user: &str, reboot_command: &str) -> anyhow::Result<()> {
    let key = identity::signing_key(state_dir)?;
    let endpoint = Endpoint::parse(&identity.server)?;
    let tls = tls::for_endpoint(&endpoint, state_dir, None)?;
    let records = Records::open(state_dir)?;
    let work_dir = state_dir.join("work");
    let reaped = executor::reap_orphans(&work_dir);
    if reaped > 0 {
        tracing::warn!(reaped, "Ended the scripts a previous agent process left running.");
    }
    let running = Running::for_node(&identity.instance_id, &identity.region).with_reboot_command(reboot_command);
    // Invocations that rebooted the node go on, once, when the first connection is up.
    let resumes = Mutex::new(crate::reboot::take(state_dir));
    let sessions = crate::session::Sessions::new(session_user);
    let outbox = Outbox::default();
    let mut backoff = Duration::from_millis(500);
    loop {
        let link = Link { endpoint: &endpoint, tls: tls.as_ref() };
        let ended = session(link, &identity, &key, &records, &work_dir, &running, &outbox, &sessions, &resumes).await;
        *outbox.lock().expect("outbox lock") = None;
        match ended {
            Ok(End::Refused(reason)) => anyhow::bail!("the server refused this node: {reason}"),
            Ok(End::Lost) => {
                tracing::warn!("Connection to the server lost; reconnecting.");
                backoff = Duration::from_millis(500);
            }
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "Cannot connect to the server."),
        }
        let jitter = rand::thread_rng().gen_range(0..=backoff.as_millis() as u64 / 2);
        tokio::time::sleep(backoff + Duration::from_millis(jitter)).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

fn text(message: &AgentMessage) -> Message {
    Message::Text(serde_json::to_string(message).expect("messages serialise").into())
}

/// Where and how to connect.
#[derive(Clone, Copy)]
struct Link<'a> {
    endpoint: &'a Endpoint,
    tls: Option<&'a Arc<rustls::ClientConfig>>,
}

#[allow(clippy::too_many_arguments)]
async fn session(
    link: Link<'_>,
    identity: &Identity,
    key: &SigningKey,
    records: &Records,
    work_dir: &Path,
    running: &Running,
    outbox: &Outbox,
    sessions: &crate::session::Sessions,
    resumes: &Mutex<Vec<(String, Vec<steward_protocol::PluginResult>)>>,
) -> anyhow::Result<End> {
    let tcp = link.endpoint.connect_tcp().await?;
    // The address the server sees this node from is the one worth reporting.
    let local_ip = tcp.local_addr().ok().map(|a| a.ip().to_string());
    let connector = link.tls.map(|c| tokio_tungstenite::Connector::Rustls(c.clone()));
    let url = link.endpoint.ws_url(CONNECT_PATH);
    let (mut socket, _) = tokio_tungstenite::client_async_tls_with_config(url, tcp, None, connector).await?;
    let challenge = socket.next().await.context("the server closed before challenging")??;
    let nonce = match serde_json::from_str::<ServerMessage>(challenge.to_text()?)? {
        ServerMessage::Challenge { nonce, .. } => nonce,
        other => anyhow::bail!("expected a challenge, got {other:?}"),
    };
    let signature = key.sign(&hello_payload(&identity.instance_id, &nonce));
    let hello = AgentMessage::Hello {
        instance_id: identity.instance_id.clone(),
        signature: hex::encode(signature.to_bytes()),
        version: VERSION,
        platform: platform::detect_with_ip(local_ip.clone()),
    };
    socket.send(text(&hello)).await?;
    let answer = socket.next().await.context("the server closed after the hello")??;
    let heartbeat = match serde_json::from_str::<ServerMessage>(answer.to_text()?)? {
        ServerMessage::Welcome { heartbeat_seconds, release_key } => {
            crate::update::on_welcome(work_dir.parent().unwrap_or(work_dir), release_key.as_deref());
            Duration::from_secs(heartbeat_seconds.max(1))
        }
        ServerMessage::Goodbye { reason } => return Ok(End::Refused(reason)),
        other => anyhow::bail!("expected a welcome, got {other:?}"),
    };
    tracing::info!(instance_id = identity.instance_id, "Connected to the server.");

    let (mut sink, mut stream) = socket.split();
    let (out_tx, mut out_rx) = mpsc::channel::<AgentMessage>(256);
    let writer = tokio::spawn(async move {
        while let Some(message) = out_rx.recv().await {
            if sink.send(text(&message)).await.is_err() {
                break;
            }
        }
    });
    let calls = Calls::new(out_tx.clone());
    // Live first, then catch up: a result finishing in between goes out twice at worst,
    // and the server ignores a result for an invocation already final.
    *outbox.lock().expect("outbox lock") = Some(out_tx.clone());
    for result in records.unreported() {
        let _ = out_tx.send(AgentMessage::Result(result)).await;
    }
    let resuming = std::mem::take(&mut *resumes.lock().expect("resumes lock"));
    for (invocation_id, done) in resuming {
        let Some(invocation) = records.unfinished(&invocation_id) else { continue };
        tracing::info!(invocation_id, "Back from a reboot: resuming an invocation.");
        spawn_run(invocation, done, records, work_dir, running, &calls, outbox);
    }
    let mut ticker = tokio::time::interval(heartbeat);
    ticker.tick().await;
    let end = loop {
        tokio::select! {
            _ = ticker.tick() => {
                let platform = platform::detect_with_ip(local_ip.clone());
                if out_tx.send(AgentMessage::Heartbeat { platform }).await.is_err() {
                    break End::Lost;
                }
            }
            // The server pings every heartbeat: three heartbeats of silence mean it is gone.
            next = tokio::time::timeout(3 * heartbeat, stream.next()) => {
                let Ok(Some(Ok(message))) = next else { break End::Lost };
                // Pings and pongs only prove the server is there.
                if !message.is_text() {
                    continue;
                }
                let Ok(body) = message.to_text() else { continue };
                match serde_json::from_str::<ServerMessage>(body) {
                    Ok(ServerMessage::Invoke(invocation)) => {
                        accept(invocation, records, work_dir, running, &calls, &out_tx, outbox).await;
                    }
                    Ok(ServerMessage::ResultAck { invocation_id }) => records.reported(&invocation_id),
                    Ok(answer @ ServerMessage::SecureValues { request_id, .. })
                    | Ok(answer @ ServerMessage::InventoryStored { request_id, .. })
                    | Ok(answer @ ServerMessage::PatchSnapshot { request_id, .. })
                    | Ok(answer @ ServerMessage::PatchStateStored { request_id, .. })
                    | Ok(answer @ ServerMessage::FileChunk { request_id, .. }) => calls.answer(request_id, answer),
                    Ok(ServerMessage::Cancel { invocation_id }) => running.cancel(&invocation_id),
                    Ok(ServerMessage::Goodbye { reason }) => break End::Refused(reason),
                    Ok(ServerMessage::StartSession(start)) => {
                        let tls = link.tls.cloned();
                        sessions.start(link.endpoint.clone(), tls, start, identity.instance_id.clone());
                    }
                    Ok(ServerMessage::EndSession { session_id }) => sessions.end(&session_id),
                    Ok(ServerMessage::SessionNotice { session_id, text }) => sessions.notice(&session_id, text),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "The server sent a message this agent does not understand."),
                }
            }
        }
    };
    writer.abort();
    Ok(end)
}

/// Runs an invocation (after the steps in `done`) in the background; its result is recorded,
/// then sent on whichever connection is live.
fn spawn_run(
    invocation: steward_protocol::Invocation,
    done: Vec<steward_protocol::PluginResult>,
    records: &Records,
    work_dir: &Path,
    running: &Running,
    calls: &Calls,
    outbox: &Outbox,
) {
    let (records, work_dir, running, outbox) = (records.clone(), work_dir.to_owned(), running.clone(), outbox.clone());
    let calls = calls.clone();
    tokio::spawn(async move {
        let result = executor::resume(invocation, &work_dir, running, calls, done).await;
        if let Err(e) = records.finish(&result) {
            tracing::error!(error = %e, "Cannot record a result; it may be lost.");
        }
        let live = outbox.lock().expect("outbox lock").clone();
        match live {
            Some(out) => {
                let _ = out.send(AgentMessage::Result(result)).await;
            }
            None => tracing::info!("Result kept until the server is reachable again."),
        }
    });
}

async fn accept(
    invocation: steward_protocol::Invocation,
    records: &Records,
    work_dir: &Path,
    running: &Running,
    calls: &Calls,
    out: &mpsc::Sender<AgentMessage>,
    outbox: &Outbox,
) {
    let id = invocation.invocation_id.clone();
    match records.accept(&invocation) {
        Ok(Arrival::New) => {
            let _ = out.send(AgentMessage::Ack { invocation_id: id.clone() }).await;
            tracing::info!(invocation_id = id, "Running an invocation.");
            spawn_run(invocation, Vec::new(), records, work_dir, running, calls, outbox);
        }
        Ok(Arrival::Running) => {
            let _ = out.send(AgentMessage::Ack { invocation_id: id }).await;
        }
        Ok(Arrival::Finished(result)) => {
            let _ = out.send(AgentMessage::Ack { invocation_id: id }).await;
            let _ = out.send(AgentMessage::Result(result)).await;
        }
        Err(e) => tracing::error!(invocation_id = id, error = %e, "Cannot record an invocation; not running it."),
    }
}

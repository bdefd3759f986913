//! `GET /agent/v1/connect`: the agents' control channel.
//!
//! The server challenges, the agent signs, and only a node whose identity is registered
//! (and not deregistered) gets in. Then a writer task drains the connection's queue into
//! the socket while this task reads heartbeats and results; when either side ends, the
//! other is stopped and the node is marked disconnected.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use ed25519_dalek::Verifier;
use futures_util::{SinkExt, StreamExt};
use rand::RngCore;
use steward_protocol::{hello_payload, AgentMessage, Platform, ServerMessage, VERSION};
use tokio::sync::mpsc;

use crate::base::iam_records::role_session;
use crate::base::{Ctx, Env};

/// How long an agent has to answer the challenge.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// The upgrade handler.
pub async fn connect(State(env): State<Arc<Env>>, ws: WebSocketUpgrade) -> Response {
    // Agents are many and mostly idle: small buffers keep each connection cheap (the
    // defaults reserve 128 KiB per direction per connection).
    ws.read_buffer_size(4096).write_buffer_size(0).on_upgrade(move |socket| channel(socket, env))
}

fn text(message: &ServerMessage) -> Message {
    Message::Text(serde_json::to_string(message).expect("messages serialise").into())
}

async fn authenticate(socket: &mut WebSocket, env: &Env) -> Result<(String, Platform), String> {
    let mut nonce = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut nonce);
    let nonce = hex::encode(nonce);
    socket
        .send(text(&ServerMessage::Challenge { nonce: nonce.clone(), version: VERSION }))
        .await
        .map_err(|e| format!("send failed: {e}"))?;
    let first = tokio::time::timeout(HELLO_TIMEOUT, socket.recv()).await.map_err(|_| "no hello in time".to_owned())?;
    let Some(Ok(Message::Text(body))) = first else { return Err("expected a hello".into()) };
    let Ok(AgentMessage::Hello { instance_id, signature, version, platform }) = serde_json::from_str(body.as_str())
    else {
        return Err("expected a hello".into());
    };
    if version != VERSION {
        return Err(format!("protocol version {version} is not supported; the server speaks {VERSION}"));
    }
    let Some((node, _, _)) = crate::fleet::locate(env, &instance_id).await else {
        return Err(format!("{instance_id} is not a registered node"));
    };
    let key = crate::fleet::parse_public_key(&node.public_key).ok_or("the stored key is unusable")?;
    let signature: [u8; 64] =
        hex::decode(&signature).ok().and_then(|b| b.try_into().ok()).ok_or("malformed signature")?;
    key.verify(&hello_payload(&instance_id, &nonce), &ed25519_dalek::Signature::from_bytes(&signature))
        .map_err(|_| format!("the signature of {instance_id} does not verify"))?;
    Ok((instance_id, platform))
}

async fn channel(mut socket: WebSocket, env: Arc<Env>) {
    let (instance_id, platform) = match authenticate(&mut socket, &env).await {
        Ok(who) => who,
        Err(reason) => {
            tracing::warn!(reason, "Agent connection refused.");
            let _ = socket.send(text(&ServerMessage::Goodbye { reason })).await;
            let _ = socket.close().await;
            return;
        }
    };
    let (tx, mut rx) = mpsc::channel::<ServerMessage>(1024);
    let serial = env.agents.attach(&instance_id, tx);
    crate::fleet::touch(&env, &instance_id, true, Some(&platform)).await;
    let heartbeat = env.agents.heartbeat_seconds;
    let _ = socket.send(text(&ServerMessage::Welcome { heartbeat_seconds: heartbeat })).await;
    tracing::info!(instance_id, "Agent connected.");
    env.wake.dispatcher();

    let (mut sink, mut stream) = socket.split();
    let writer = tokio::spawn(async move {
        // Pings let the agent notice a server that went silent (a dead peer, a NAT timeout).
        let mut pings = tokio::time::interval(Duration::from_secs(heartbeat));
        loop {
            tokio::select! {
                message = rx.recv() => {
                    let Some(message) = message else { break };
                    let last = matches!(message, ServerMessage::Goodbye { .. });
                    if sink.send(text(&message)).await.is_err() || last {
                        let _ = sink.close().await;
                        break;
                    }
                }
                _ = pings.tick() => {
                    if sink.send(Message::Ping(Default::default())).await.is_err() {
                        break;
                    }
                }
            }
        }
    });
    // Three missed heartbeats and the connection is considered lost.
    let silence = Duration::from_secs(3 * heartbeat);
    loop {
        tokio::select! {
            next = tokio::time::timeout(silence, stream.next()) => {
                let Ok(Some(Ok(message))) = next else { break };
                let Message::Text(body) = message else { continue };
                match serde_json::from_str::<AgentMessage>(body.as_str()) {
                    Ok(AgentMessage::Heartbeat { platform }) => crate::fleet::touch(&env, &instance_id, true, Some(&platform)).await,
                    Ok(AgentMessage::Ack { invocation_id }) => {
                        crate::commands::on_ack(&env, &instance_id, &invocation_id).await;
                    }
                    Ok(AgentMessage::Result(result)) => {
                        let invocation_id = result.invocation_id.clone();
                        if crate::commands::on_result(&env, &instance_id, result).await {
                            env.agents.send(&instance_id, ServerMessage::ResultAck { invocation_id });
                        }
                    }
                    Ok(AgentMessage::ResolveSecure { request_id, names }) => {
                        let answer = resolve_secure(&env, &instance_id, request_id, names).await;
                        env.agents.send(&instance_id, answer);
                    }
                    Ok(AgentMessage::Hello { .. }) | Err(_) => {
                        tracing::warn!(instance_id, "Agent sent an unexpected message.");
                    }
                }
            }
            _ = wait_finished(&writer) => break,
        }
    }
    writer.abort();
    if env.agents.detach(&instance_id, serial) {
        crate::fleet::touch(&env, &instance_id, false, None).await;
        tracing::info!(instance_id, "Agent disconnected.");
    }
}

/// Reads SecureString values for a node, as the node's account and region.
async fn resolve_secure(env: &Arc<Env>, instance_id: &str, request_id: u64, names: Vec<String>) -> ServerMessage {
    let mut values = std::collections::BTreeMap::new();
    let mut missing = Vec::new();
    let Some((node, _, _)) = crate::fleet::locate(env, instance_id).await else {
        return ServerMessage::SecureValues { request_id, values, missing: names };
    };
    // The node reads as its activation's role: that role's policies must allow
    // ssm:GetParameters on each parameter and kms:Decrypt on its key, as for an SSM node.
    let system = Ctx::system(env, &node.account, &node.region);
    let ctx = match role_session(&node.account, &node.region, &node.iam_role, instance_id) {
        Some(role) => system.acting_as(role),
        None => system,
    };
    for name in names {
        let found = crate::parameters::find(&ctx, &name).await.ok().flatten();
        let value = match found {
            Some((record, _)) => {
                let arn = steward_core::parameters::names::arn(&node.region, &node.account, &record.name);
                match crate::base::access::authorize(&ctx, "ssm:GetParameters", &[arn], |r| r).await {
                    Ok(()) => crate::parameters::reveal(&ctx, &record, true).await.ok(),
                    Err(e) => {
                        tracing::info!(
                            instance_id,
                            parameter = record.name,
                            reason = e.message(),
                            "Node refused a parameter."
                        );
                        None
                    }
                }
            }
            None => None,
        };
        match value {
            Some(v) => {
                values.insert(name, v);
            }
            None => missing.push(name),
        }
    }
    tracing::info!(instance_id, resolved = values.len(), missing = missing.len(), "Node resolved secure parameters.");
    ServerMessage::SecureValues { request_id, values, missing }
}

async fn wait_finished(task: &tokio::task::JoinHandle<()>) {
    while !task.is_finished() {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

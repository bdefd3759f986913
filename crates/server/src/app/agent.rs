//! `GET /agent/v1/connect`: the agents' control channel.
//!
//! The server challenges, the agent signs, and only a node whose identity is registered
//! (and not deregistered) gets in. Until it has, the server reads one message of at most
//! 16 KiB itself, the agent must answer within [`HELLO_TIMEOUT`], and the connection holds
//! a place under the cap on unauthenticated connections (`base::ws`). Then a writer task drains the connection's queue into the
//! socket while this task reads heartbeats and results; when either side ends, the other
//! is stopped and the node is marked disconnected.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::Response;
use ed25519_dalek::Verifier;
use futures_util::{SinkExt, StreamExt};
use rand::RngCore;
use steward_api::ApiError;
use steward_protocol::{hello_payload, AgentMessage, Platform, ServerMessage, VERSION};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

use crate::base::iam_records::role_session;
use crate::base::ws::{busy, Pass, Pending, PreAuthUpgrade};
use crate::base::{Ctx, Env};

/// How long an agent has to answer the challenge.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest message an authenticated agent may send (a result carries up to 8 MiB of
/// each output stream, escaped as JSON).
const MAX_MESSAGE: usize = 64 << 20;

/// The upgrade handler.
pub async fn connect(State(env): State<Arc<Env>>, upgrade: PreAuthUpgrade) -> Response {
    let Some(pass) = env.pre_auth.enter(upgrade.source()) else { return busy() };
    upgrade.on_upgrade(pass, move |pending, pass| channel(pending, pass, env))
}

/// How an authenticated agent's socket is set up. Agents are many and mostly idle: small
/// buffers keep each connection cheap (the defaults reserve 128 KiB per direction).
fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE))
}

fn text(message: &ServerMessage) -> Message {
    Message::Text(serde_json::to_string(message).expect("messages serialise").into())
}

fn json(message: &ServerMessage) -> String {
    serde_json::to_string(message).expect("messages serialise")
}

async fn authenticate(pending: &mut Pending, env: &Env) -> Result<(String, Platform), String> {
    let mut nonce = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut nonce);
    let nonce = hex::encode(nonce);
    let challenge = ServerMessage::Challenge { nonce: nonce.clone(), version: VERSION };
    pending.send_text(&json(&challenge)).await.map_err(|e| format!("send failed: {e}"))?;
    let body = pending.first_message().await?;
    let Ok(AgentMessage::Hello { instance_id, signature, version, platform }) = serde_json::from_slice(&body) else {
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

async fn channel(mut pending: Pending, pass: Pass, env: Arc<Env>) {
    let outcome = tokio::time::timeout(HELLO_TIMEOUT, authenticate(&mut pending, &env))
        .await
        .unwrap_or_else(|_| Err("no hello in time".into()));
    let (instance_id, platform) = match outcome {
        Ok(who) => who,
        Err(reason) => {
            // Anyone who reaches the port can cause this: not worth a line each at the
            // default level (the agent logs the reason it is sent).
            tracing::debug!(reason, "Agent connection refused.");
            let _ = pending.send_text(&json(&ServerMessage::Goodbye { reason })).await;
            pending.close().await;
            return;
        }
    };
    drop(pass);
    let mut socket = pending.authenticated(config()).await;
    let (tx, mut rx) = mpsc::channel::<ServerMessage>(1024);
    let serial = env.agents.attach(&instance_id, tx);
    crate::fleet::touch(&env, &instance_id, true, Some(&platform)).await;
    let heartbeat = env.agents.heartbeat_seconds;
    // Agents pin the release key they are first told; a store without one tells nothing yet.
    let release_key = crate::base::release_key::public(env.store.as_ref()).await.ok().flatten();
    let _ = socket.send(text(&ServerMessage::Welcome { heartbeat_seconds: heartbeat, release_key })).await;
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
                    Ok(AgentMessage::PutInventory { request_id, items }) => {
                        let error = put_inventory(&env, &instance_id, items).await.err();
                        env.agents.send(&instance_id, ServerMessage::InventoryStored { request_id, error });
                    }
                    Ok(AgentMessage::GetPatchSnapshot { request_id, snapshot_id, operating_system, product }) => {
                        let answer = patch_snapshot(&env, &instance_id, &snapshot_id, &operating_system, &product).await;
                        let (snapshot, error) = match answer {
                            Ok(s) => (Some(Box::new(s)), None),
                            Err(e) => (None, Some(e)),
                        };
                        env.agents.send(&instance_id, ServerMessage::PatchSnapshot { request_id, snapshot, error });
                    }
                    Ok(AgentMessage::GetFileChunk { request_id, command_id, sha256, offset }) => {
                        let answer = file_chunk(&env, &instance_id, &command_id, &sha256, offset).await;
                        let message = match answer {
                            Ok((data, size)) => ServerMessage::FileChunk { request_id, data, size, error: None },
                            Err(e) => ServerMessage::FileChunk { request_id, data: String::new(), size: 0, error: Some(e) },
                        };
                        env.agents.send(&instance_id, message);
                    }
                    Ok(AgentMessage::PutPatchState { request_id, report }) => {
                        let error = put_patch_state(&env, &instance_id, *report).await.err();
                        env.agents.send(&instance_id, ServerMessage::PatchStateStored { request_id, error });
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

/// Stores a node's inventory in its account and region. The node writes its own inventory
/// only, as itself: no role is needed for that (SSM's nodes need `ssm:PutInventory` on
/// their instance profile; here the node's key is the proof).
async fn put_inventory(
    env: &Arc<Env>,
    instance_id: &str,
    items: Vec<steward_protocol::InventoryItem>,
) -> Result<(), steward_protocol::ErrorBody> {
    let Some((node, _, _)) = crate::fleet::locate(env, instance_id).await else {
        return Err(steward_protocol::ErrorBody {
            code: "InvalidInstanceId".into(),
            message: "not a registered node".into(),
        });
    };
    let ctx = Ctx::system(env, &node.account, &node.region);
    // A gathering's first batch carries AWS:InstanceInformation: the node's tags go with it.
    let gathering = items.iter().any(|i| i.type_name == "AWS:InstanceInformation");
    let stored = crate::inventory::put_from_node(&ctx, instance_id, items).await;
    if stored.is_ok() && gathering {
        if let Err(e) = crate::inventory::put_tags(&ctx, instance_id, &node.tags).await {
            tracing::info!(instance_id, code = e.code(), "Could not store the node's AWS:Tag inventory.");
        }
    }
    stored.map_err(|e| steward_protocol::ErrorBody { code: e.code().to_owned(), message: e.message().to_owned() })
}

fn error_body(e: &ApiError) -> steward_protocol::ErrorBody {
    steward_protocol::ErrorBody { code: e.code().to_owned(), message: e.message().to_owned() }
}

fn not_registered() -> steward_protocol::ErrorBody {
    steward_protocol::ErrorBody { code: "InvalidInstanceId".into(), message: "not a registered node".into() }
}

/// The patch baseline snapshot a node applies: its patch group's baseline for its OS, else
/// the OS's default, in the node's account and region.
async fn patch_snapshot(
    env: &Arc<Env>,
    instance_id: &str,
    snapshot_id: &str,
    operating_system: &str,
    product: &str,
) -> Result<steward_patching::Snapshot, steward_protocol::ErrorBody> {
    let Some((node, _, _)) = crate::fleet::locate(env, instance_id).await else { return Err(not_registered()) };
    let ctx = Ctx::system(env, &node.account, &node.region);
    crate::patch::snapshot_for_node(&ctx, &node.tags, snapshot_id, operating_system, product)
        .await
        .map_err(|e| error_body(&e))
}

/// A chunk of a package file or agent build for a node: only one that a running invocation
/// of the node names; base64 and the file's size.
async fn file_chunk(
    env: &Arc<Env>,
    instance_id: &str,
    command_id: &str,
    sha256: &str,
    offset: u64,
) -> Result<(String, u64), steward_protocol::ErrorBody> {
    use base64::Engine;
    let Some((node, _, _)) = crate::fleet::locate(env, instance_id).await else { return Err(not_registered()) };
    let location = crate::commands::file_location(env, &node.account, &node.region, instance_id, command_id, sha256)
        .await
        .map_err(|e| error_body(&e))?;
    let (bucket, key) = match location {
        crate::commands::FileLocation::Package { owner } => {
            (crate::documents::PACKAGE_BUCKET, crate::documents::file_key(&owner, sha256))
        }
        crate::commands::FileLocation::AgentRelease => {
            (crate::fleet::RELEASE_BUCKET, crate::fleet::release_blob_key(sha256))
        }
    };
    let read = env.blobs.read_range(bucket, &key, offset, crate::documents::PACKAGE_CHUNK).await;
    match read {
        Ok(Some((bytes, size))) => Ok((base64::engine::general_purpose::STANDARD.encode(bytes), size)),
        Ok(None) => Err(steward_protocol::ErrorBody {
            code: "InvalidDocument".into(),
            message: "The package file is no longer stored.".into(),
        }),
        Err(e) => {
            tracing::warn!(instance_id, error = %e, "Could not read a package file.");
            Err(steward_protocol::ErrorBody { code: "InternalServerError".into(), message: "read failed".into() })
        }
    }
}

/// Stores what a node reported of its patches. Like its inventory, a node writes only its
/// own patch state; its key is the proof.
async fn put_patch_state(
    env: &Arc<Env>,
    instance_id: &str,
    report: steward_patching::NodeReport,
) -> Result<(), steward_protocol::ErrorBody> {
    let Some((node, _, _)) = crate::fleet::locate(env, instance_id).await else { return Err(not_registered()) };
    let ctx = Ctx::system(env, &node.account, &node.region);
    crate::patch::store_report(&ctx, instance_id, report).await.map_err(|e| error_body(&e))
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
    // A node without a role (or with SSM's service-linked role, which has no policies here)
    // reads nothing: never as the server itself.
    let system = Ctx::system(env, &node.account, &node.region);
    let role = Some(node.iam_role.as_str()).filter(|r| !r.is_empty());
    let Some(ctx) =
        role.and_then(|r| role_session(&node.account, &node.region, r, instance_id)).map(|p| system.acting_as(p))
    else {
        tracing::info!(instance_id, "A node without an IAM role asked for SecureString parameters; refused.");
        return ServerMessage::SecureValues { request_id, values, missing: names };
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

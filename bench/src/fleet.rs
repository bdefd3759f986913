//! The fleet simulator: N virtual agents in this process, each registered with its own
//! key and connected over its own WebSocket, completing invocations without spawning
//! processes, so the server's side of a large fan-out can be measured. An
//! `aws:runPatchBaseline` step asks for the node's snapshot and reports a simulated scan
//! (see `crate::patch::simulated_report`) before the result, as the real agent does.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use ed25519_dalek::{Signer, SigningKey};
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use steward_protocol::{
    hello_payload, AgentMessage, InvocationResult, Platform, PluginResult, RegisterRequest, RegisterResponse,
    ServerMessage, CONNECT_PATH, REGISTER_PATH, VERSION,
};
use tokio_tungstenite::tungstenite::Message;

/// Counts what the virtual agents saw.
#[derive(Default)]
pub struct Counters {
    /// Agents past the welcome.
    pub connected: AtomicUsize,
    /// Invocations completed.
    pub completed: AtomicUsize,
}

fn platform(i: usize) -> Platform {
    Platform {
        platform_name: "Simulated Linux".into(),
        platform_version: "1".into(),
        platform_type: "Linux".into(),
        agent_version: "0.1.0-sim".into(),
        ip_address: format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255),
        computer_name: format!("sim-{i}"),
    }
}

async fn register(addr: &str, id: &str, code: &str, key: &SigningKey, i: usize) -> anyhow::Result<String> {
    let client =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http::<Full<Bytes>>();
    let body = serde_json::to_vec(&RegisterRequest {
        activation_id: id.into(),
        activation_code: code.into(),
        public_key: hex::encode(key.verifying_key().as_bytes()),
        platform: platform(i),
    })?;
    let request = http::Request::post(format!("http://{addr}{REGISTER_PATH}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))?;
    let response = client.request(request).await?;
    let status = response.status();
    let bytes = response.into_body().collect().await?.to_bytes();
    anyhow::ensure!(status.is_success(), "registration refused: {}", String::from_utf8_lossy(&bytes));
    Ok(serde_json::from_slice::<RegisterResponse>(&bytes)?.instance_id)
}

fn text(m: &AgentMessage) -> Message {
    Message::Text(serde_json::to_string(m).expect("serialises").into())
}

async fn live(
    addr: String,
    instance_id: String,
    key: SigningKey,
    i: usize,
    counters: Arc<Counters>,
    work: Duration,
) -> anyhow::Result<()> {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}{CONNECT_PATH}")).await?;
    let challenge = ws.next().await.context("closed")??;
    let ServerMessage::Challenge { nonce, .. } = serde_json::from_str(challenge.to_text()?)? else {
        anyhow::bail!("no challenge");
    };
    let signature = hex::encode(key.sign(&hello_payload(&instance_id, &nonce)).to_bytes());
    ws.send(text(&AgentMessage::Hello { instance_id, signature, version: VERSION, platform: platform(i) })).await?;
    let welcome = ws.next().await.context("closed")??;
    let ServerMessage::Welcome { heartbeat_seconds, .. } = serde_json::from_str(welcome.to_text()?)? else {
        anyhow::bail!("no welcome");
    };
    counters.connected.fetch_add(1, Ordering::Relaxed);
    let mut ticker = tokio::time::interval(Duration::from_secs(heartbeat_seconds));
    ticker.tick().await;
    // Patching invocations waiting for their snapshot, then for their report to be stored.
    let mut patching: std::collections::HashMap<u64, steward_protocol::Invocation> = Default::default();
    let mut next_request = 0u64;
    // Results of invocations that take a while, sent when their time is up.
    let (finished_tx, mut finished_rx) = tokio::sync::mpsc::unbounded_channel::<AgentMessage>();
    loop {
        tokio::select! {
            _ = ticker.tick() => ws.send(text(&AgentMessage::Heartbeat { platform: platform(i) })).await?,
            Some(result) = finished_rx.recv() => {
                ws.send(text(&result)).await?;
                counters.completed.fetch_add(1, Ordering::Relaxed);
            }
            next = ws.next() => {
                let Some(Ok(message)) = next else { return Ok(()) };
                let Ok(body) = message.to_text() else { continue };
                match serde_json::from_str::<ServerMessage>(body) {
                    Ok(ServerMessage::Invoke(inv)) => {
                        ws.send(text(&AgentMessage::Ack { invocation_id: inv.invocation_id.clone() })).await?;
                        if inv.plugins.iter().any(|p| p.action == "aws:runPatchBaseline") {
                            next_request += 1;
                            patching.insert(next_request, inv);
                            ws.send(text(&AgentMessage::GetPatchSnapshot {
                                request_id: next_request, snapshot_id: String::new(),
                                operating_system: "DEBIAN".into(), product: "Debian12".into(),
                            })).await?;
                            continue;
                        }
                        if !work.is_zero() {
                            // Up to `work`, spread evenly: a fleet whose nodes finish over time.
                            let pause = Duration::from_millis(rand::random::<u64>() % work.as_millis().max(1) as u64);
                            let finished = finished_tx.clone();
                            tokio::spawn(async move {
                                tokio::time::sleep(pause).await;
                                let _ = finished.send(succeeded(inv));
                            });
                            continue;
                        }
                        ws.send(text(&succeeded(inv))).await?;
                        counters.completed.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(ServerMessage::PatchSnapshot { request_id, snapshot, .. }) => {
                        let snapshot = snapshot.map(|s| *s).unwrap_or_default();
                        let report = crate::patch::simulated_report(i, &snapshot);
                        ws.send(text(&AgentMessage::PutPatchState { request_id, report: Box::new(report) })).await?;
                    }
                    Ok(ServerMessage::PatchStateStored { request_id, .. }) => {
                        if let Some(inv) = patching.remove(&request_id) {
                            ws.send(text(&succeeded(inv))).await?;
                            counters.completed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

/// A Success result for every step of an invocation.
fn succeeded(inv: steward_protocol::Invocation) -> AgentMessage {
    let plugins = inv
        .plugins
        .iter()
        .map(|p| PluginResult {
            name: p.name.clone(),
            status: "Success".into(),
            response_code: 0,
            stdout: "ok\n".into(),
            stderr: String::new(),
            started: 0,
            ended: 0,
        })
        .collect();
    AgentMessage::Result(InvocationResult { invocation_id: inv.invocation_id, status: "Success".into(), plugins })
}

/// Registers (agent `i` with activation `i / per_activation`) and connects `count`
/// virtual agents that complete invocations at once; returns once all are connected.
pub async fn start(
    addr: &str,
    activations: &[(String, String)],
    count: usize,
    per_activation: usize,
) -> anyhow::Result<(Arc<Counters>, Duration)> {
    start_working(addr, activations, count, per_activation, Duration::ZERO).await
}

/// As [`start`], but each invocation takes a random time up to `work` to complete.
pub async fn start_working(
    addr: &str,
    activations: &[(String, String)],
    count: usize,
    per_activation: usize,
    work: Duration,
) -> anyhow::Result<(Arc<Counters>, Duration)> {
    let counters = Arc::new(Counters::default());
    let started = Instant::now();
    let mut registrations = Vec::new();
    let gate = Arc::new(tokio::sync::Semaphore::new(64));
    for i in 0..count {
        let (id, code) = activations[i / per_activation].clone();
        let (addr, gate) = (addr.to_owned(), gate.clone());
        registrations.push(tokio::spawn(async move {
            let _permit = gate.acquire().await;
            let key = SigningKey::generate(&mut rand::rngs::OsRng);
            let instance_id = register(&addr, &id, &code, &key, i).await?;
            anyhow::Ok((instance_id, key, i))
        }));
    }
    let mut agents = Vec::new();
    for r in registrations {
        agents.push(r.await??);
    }
    for (instance_id, key, i) in agents {
        let (addr, counters) = (addr.to_owned(), counters.clone());
        tokio::spawn(async move {
            // The server admits a bounded number of unauthenticated connections from one
            // address (every virtual agent shares one) and answers 503 beyond it: back off
            // and try again, as the real agent does.
            loop {
                match live(addr.clone(), instance_id.clone(), key.clone(), i, counters.clone(), work).await {
                    Err(e) if e.to_string().contains("503") => {
                        let pause = 20 + rand::random::<u64>() % 200;
                        tokio::time::sleep(Duration::from_millis(pause)).await;
                    }
                    Err(e) => {
                        eprintln!("virtual agent {i} stopped: {e:#}");
                        return;
                    }
                    Ok(()) => return,
                }
            }
        });
    }
    while counters.connected.load(Ordering::Relaxed) < count {
        tokio::time::sleep(Duration::from_millis(50)).await;
        anyhow::ensure!(started.elapsed() < Duration::from_secs(600), "agents did not all connect in time");
    }
    Ok((counters, started.elapsed()))
}

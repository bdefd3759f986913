//! What an attacker without a key can cost the server (`--only edges`):
//! - memory held by many WebSocket upgrades to the agent endpoint that never authenticate,
//!   each sending as much as it may before the challenge is answered;
//! - how much the store grows under a flood of badly signed requests (the audit trail
//!   records the first of each source and error per window in full, the rest as counts).

use std::time::{Duration, Instant};

use serde_json::json;
use steward_api::sigv4::Credentials;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{rss_kb, start_server, Args, Client};

/// How each unauthenticated attempt behaves after its upgrade.
#[derive(Clone, Copy)]
enum Attempt {
    /// Says nothing: it holds its place until the challenge deadline.
    Silent,
    /// Announces a 16 MiB frame and sends 15 KiB of it.
    Oversized,
}

/// Opens a WebSocket upgrade to the agent endpoint; the status line's code, and the socket.
async fn upgrade(addr: &str) -> anyhow::Result<(u16, TcpStream)> {
    let mut stream = TcpStream::connect(addr).await?;
    let request = format!(
        "GET /agent/v1/connect HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 4096 {
        if stream.read(&mut byte).await? == 0 {
            break;
        }
        head.push(byte[0]);
    }
    let code = String::from_utf8_lossy(&head).split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    Ok((code, stream))
}

async fn pending_connections(args: &Args, count: usize, attempt: Attempt) -> anyhow::Result<()> {
    let server = start_server(args)?;
    let pid = server.child.id();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rss_kb(pid, "VmRSS:");
    let started = Instant::now();
    let mut held = Vec::new();
    let (mut upgraded, mut refused, mut failed) = (0, 0, 0);
    for _ in 0..count {
        match upgrade(&server.addr).await {
            Ok((101, mut stream)) => {
                upgraded += 1;
                if let Attempt::Oversized = attempt {
                    let mut frame = vec![0x82, 0x80 | 127];
                    frame.extend_from_slice(&(16u64 << 20).to_be_bytes());
                    frame.extend_from_slice(&[1, 2, 3, 4]);
                    frame.resize(15 * 1024, 0x55);
                    let _ = stream.write_all(&frame).await;
                }
                held.push(stream);
            }
            Ok((503, stream)) => {
                refused += 1;
                held.push(stream);
            }
            _ => failed += 1,
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let during = rss_kb(pid, "VmRSS:");
    let what = match attempt {
        Attempt::Silent => "silent (each holds its place until the 10 s hello deadline)",
        Attempt::Oversized => "announcing a 16 MiB frame and sending 15 KiB of it",
    };
    println!(
        "{count} unauthenticated agent WebSocket attempts from one address, {what}: {upgraded} upgraded, \
         {refused} answered 503, {failed} failed, in {:.1} s; server RSS {before} KB before, {during} KB while \
         held (+{} KB, {:.2} KB per attempt), peak {} KB",
        started.elapsed().as_secs_f64(),
        during.saturating_sub(before),
        during.saturating_sub(before) as f64 / count as f64,
        rss_kb(pid, "VmHWM:"),
    );
    drop(held);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut client = Client::connect(&server).await?;
    client.call("DescribeParameters", &json!({})).await?;
    Ok(())
}

fn dir_bytes(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

async fn bad_signature_flood(args: &Args, seconds: u64) -> anyhow::Result<()> {
    let server = start_server(args)?;
    let wrong = Credentials { access_key_id: server.creds.access_key_id.clone(), secret_access_key: "wrong".into() };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = dir_bytes(&server.data_dir);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..args.clients {
        let mut client = Client::connect_as(&server, wrong.clone(), "ssm").await?;
        tasks.push(tokio::spawn(async move {
            let mut refused = 0u64;
            while Instant::now() < deadline {
                if client.call_raw("DescribeParameters", &json!({})).await.is_err() {
                    refused += 1;
                }
            }
            refused
        }));
    }
    let mut refused = 0;
    for t in tasks {
        refused += t.await?;
    }
    // The summaries of the last windows are written when those close.
    tokio::time::sleep(Duration::from_secs(65)).await;
    let after = dir_bytes(&server.data_dir);
    println!(
        "{refused} badly signed requests in {seconds} s ({:.0}/s, {} clients): store grew {} KB \
         ({:.2} bytes per refused request; every one is counted in the audit trail)",
        refused as f64 / seconds as f64,
        args.clients,
        after.saturating_sub(before) / 1024,
        after.saturating_sub(before) as f64 / refused.max(1) as f64,
    );
    Ok(())
}

/// `--only edges`.
pub async fn edges_figures(args: &Args) -> anyhow::Result<()> {
    println!("Edges (no key held):");
    pending_connections(args, 10_000, Attempt::Silent).await?;
    pending_connections(args, 10_000, Attempt::Oversized).await?;
    bad_signature_flood(args, 60).await
}

//! Shell sessions: keystroke echo through `steward session start` on a pseudo-terminal
//! (a key typed, the shell's echo seen, through client, relay, agent and PTY), and many
//! idle shell sessions held open at once with the server's memory per session.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use steward_session::frame::{self, payload_type};
use steward_session::payload::HandshakeResponse;
use steward_session::stream::{Accepted, Channel};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;

use crate::{Client, Server};

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(1)
}

/// Reads from a terminal's master side until `done(seen)` or the timeout.
fn read_until(master: &mut std::fs::File, seen: &mut Vec<u8>, timeout: Duration, done: impl Fn(&[u8]) -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; 4096];
    while !done(seen) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        let mut poll = libc::pollfd { fd: master.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd.
        let ready = unsafe { libc::poll(&mut poll, 1, left.as_millis().min(1000) as i32) };
        if ready > 0 {
            match master.read(&mut buf) {
                Ok(n) if n > 0 => seen.extend_from_slice(&buf[..n]),
                _ => return false,
            }
        }
    }
    true
}

/// p50 and p99 (ms) of one key's echo in an interactive shell, typed into `client` (a real
/// `steward session start`, or `aws ssm start-session` with a plugin) on a pseudo-terminal of
/// our own.
pub fn keystroke_echo(mut client: std::process::Command, keys: usize) -> anyhow::Result<(f64, f64)> {
    let (mut master_fd, mut slave_fd) = (-1, -1);
    let size = libc::winsize { ws_row: 24, ws_col: 200, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: openpty writes two descriptors; name and termios may be null.
    let rc = unsafe { libc::openpty(&mut master_fd, &mut slave_fd, std::ptr::null_mut(), std::ptr::null(), &size) };
    anyhow::ensure!(rc == 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both were just opened and are owned here alone.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master_fd), OwnedFd::from_raw_fd(slave_fd)) };
    let mut child = client
        .stdin(slave.try_clone()?)
        .stdout(slave.try_clone()?)
        .stderr(slave)
        .process_group(0) // the aws CLI's plugin ends with it
        .spawn()
        .context("cannot start the session client")?;
    let mut term = std::fs::File::from(master);
    let mut seen = Vec::new();
    // The prompt, then a marker echoed back once the profile has run.
    term.write_all(b"echo bench-$((1+1))\r")?;
    anyhow::ensure!(
        read_until(&mut term, &mut seen, Duration::from_secs(30), |s| s.windows(7).any(|w| w == b"bench-2")),
        "the shell did not answer: {}",
        String::from_utf8_lossy(&seen)
    );
    std::thread::sleep(Duration::from_millis(300));
    let mut times = Vec::with_capacity(keys);
    for i in 0..keys {
        seen.clear();
        let key = [b'a' + (i % 26) as u8];
        let started = Instant::now();
        term.write_all(&key)?;
        anyhow::ensure!(read_until(&mut term, &mut seen, Duration::from_secs(5), |s| s.contains(&key[0])), "no echo");
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        // Erase it again (and wait for the erase), so the line stays short.
        seen.clear();
        term.write_all(b"\x7f")?;
        read_until(&mut term, &mut seen, Duration::from_secs(5), |s| !s.is_empty());
        std::thread::sleep(Duration::from_millis(2));
    }
    term.write_all(b"exit\r")?;
    let _ = read_until(&mut term, &mut seen, Duration::from_secs(5), |_| false);
    // SAFETY: plain kill(2) on the group the client leads.
    unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
    let _ = child.wait();
    times.sort_by(f64::total_cmp);
    Ok((times[keys / 2], times[keys * 99 / 100]))
}

/// One idle shell session held open: the handshake answered, then every output frame
/// acknowledged until `stop`.
async fn hold(started: Value, ready: mpsc::Sender<anyhow::Result<()>>, mut stop: watch::Receiver<bool>) {
    let result = async {
        let url = started["StreamUrl"].as_str().context("StreamUrl")?.to_owned();
        let (socket, _) = tokio_tungstenite::connect_async(url).await?;
        let (mut sink, mut stream) = socket.split();
        let open = json!({"MessageSchemaVersion": "1.0", "RequestId": "bench", "TokenValue": started["TokenValue"],
                          "ClientId": "bench", "ClientVersion": "1.2.707.0"});
        sink.send(Message::Text(open.to_string().into())).await?;
        let mut channel = Channel::new(frame::INPUT, frame::OUTPUT);
        let mut told = false;
        loop {
            tokio::select! {
                _ = stop.changed() => return anyhow::Ok(()),
                incoming = stream.next() => {
                    let Some(Ok(Message::Binary(bytes))) = incoming else {
                        anyhow::ensure!(told, "the session closed before it was ready");
                        return Ok(());
                    };
                    if let Accepted::Data { ack, frames } = channel.accept(&bytes, now_ms()) {
                        if let Some(ack) = ack {
                            sink.send(Message::Binary(ack.into())).await?;
                        }
                        for f in frames {
                            if f.payload_type == payload_type::HANDSHAKE_REQUEST {
                                let body = serde_json::to_vec(&HandshakeResponse::accepting("1.2.707.0"))?;
                                let bytes = channel.sender.send(payload_type::HANDSHAKE_RESPONSE, body, 0, now_ms());
                                sink.send(Message::Binary(bytes.into())).await?;
                            }
                            if f.payload_type == payload_type::OUTPUT && !told {
                                // The shell's first output: it is up.
                                told = true;
                                let _ = ready.send(Ok(())).await;
                            }
                        }
                    }
                }
            }
        }
    }
    .await;
    if let Err(e) = result {
        let _ = ready.send(Err(e)).await;
    }
}

/// What holding many idle shells cost.
pub struct Idle {
    /// Sessions open at once.
    pub sessions: usize,
    /// Time to open them all (shell up on the node).
    pub open: Duration,
    /// Server RSS growth per session, KB.
    pub server_kb_per_session: f64,
    /// Agent RSS growth per session, KB (its PTYs and tasks; the shells are not in it).
    pub agent_kb_per_session: f64,
    /// The server's CPU share while they idle.
    pub server_cpu: f64,
    /// Time for TerminateSession on all of them.
    pub terminate: Duration,
}

/// Opens `count` shell sessions to `node` (64 at a time), holds them idle, measures, and
/// terminates them.
pub async fn idle_sessions(server: &Server, node: &str, agent_pid: u32, count: usize) -> anyhow::Result<Idle> {
    let server_pid = server.child.id();
    let server_before = crate::rss_kb(server_pid, "VmRSS:");
    let agent_before = crate::rss_kb(agent_pid, "VmRSS:");
    let (stop_tx, stop) = watch::channel(false);
    let (ready_tx, mut ready) = mpsc::channel(count);
    let mut client = Client::connect(server).await?;
    let began = Instant::now();
    let mut ids = Vec::with_capacity(count);
    let mut up = 0;
    for _ in 0..count {
        let started = client.call("StartSession", &json!({"Target": node})).await?;
        ids.push(started["SessionId"].as_str().unwrap_or_default().to_owned());
        tokio::spawn(hold(started, ready_tx.clone(), stop.clone()));
        // At most 64 shells starting at once.
        while ids.len() - up >= 64 {
            ready.recv().await.context("a session task vanished")??;
            up += 1;
        }
    }
    while up < count {
        tokio::time::timeout(Duration::from_secs(120), ready.recv()).await?.context("a session task vanished")??;
        up += 1;
    }
    let open = began.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let server_after = crate::rss_kb(server_pid, "VmRSS:");
    let agent_after = crate::rss_kb(agent_pid, "VmRSS:");
    let server_cpu = crate::scheduler::cpu_share(server_pid, Duration::from_secs(10)).await;
    let began = Instant::now();
    for id in &ids {
        client.call("TerminateSession", &json!({"SessionId": id})).await?;
    }
    let terminate = began.elapsed();
    let _ = stop_tx.send(true);
    Ok(Idle {
        sessions: count,
        open,
        server_kb_per_session: server_after.saturating_sub(server_before) as f64 / count as f64,
        agent_kb_per_session: agent_after.saturating_sub(agent_before) as f64 / count as f64,
        server_cpu,
        terminate,
    })
}

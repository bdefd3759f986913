//! Sessions from the client's side, over [`crate::channel::DataChannel`]: a shell (raw
//! terminal, keystrokes and sizes out, output in), a command (stdin as is, output as text,
//! its exit code returned), and port forwarding (each local connection a stream of the
//! tunnel).

use std::io::Write;
use std::time::Duration;

use serde_json::{json, Value};
use steward_session::frame::payload_type;
use steward_session::payload::Size;
use tokio::sync::mpsc;

use crate::api;
use crate::channel::{Arrived, DataChannel};
use crate::config::ClientConfig;
use crate::terminal::{self, RawMode};

pub use crate::channel::{Started, CLIENT_VERSION};

/// How the session is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A terminal: raw keystrokes, resizes.
    Interactive,
    /// A command: stdin as is, output as text, its exit code returned.
    Exec,
}

/// Reads standard input on a thread of its own.
fn stdin_reader() -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel(64);
    std::thread::spawn(move || {
        use std::io::Read;
        let mut buf = [0u8; 4096];
        let mut stdin = std::io::stdin();
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if tx.blocking_send(buf[..n].to_vec()).is_err() {
                        return;
                    }
                }
            }
        }
    });
    rx
}

/// Runs the session to its end; returns the exit code to leave with. A port session (the
/// node's handshake says which) forwards `local_port` on this machine (0: any free port),
/// or standard input and output for a plain stream.
pub async fn run(config: &ClientConfig, started: Started, mode: Mode, local_port: u16) -> anyhow::Result<i32> {
    let mut link = DataChannel::open(config, started).await?;
    let mut stdin = stdin_reader();
    let mut stdin_open = true;
    let mut raw: Option<RawMode> = None;
    let mut ready = false;
    let mut last_size: Option<(u32, u32)> = None;
    let mut exit_code = 0;
    let mut stdout = std::io::stdout();
    let mut stderr = std::io::stderr();
    let mut ticker = tokio::time::interval(Duration::from_millis(100));
    let mut size_ticks = 0u32;
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                link.resend_due().await;
                size_ticks += 1;
                if ready && mode == Mode::Interactive && size_ticks.is_multiple_of(5) {
                    let now = terminal::size();
                    if now.is_some() && now != last_size {
                        last_size = now;
                        let (cols, rows) = now.unwrap_or((80, 24));
                        link.send(payload_type::SIZE, serde_json::to_vec(&Size { cols, rows })?).await;
                    }
                }
            }
            keys = stdin.recv(), if ready && stdin_open => match keys {
                Some(bytes) => link.send(payload_type::OUTPUT, bytes).await,
                None => {
                    stdin_open = false;
                    // A command reading piped input sees its end: a lone Ctrl-D closes its
                    // input on the node (as a terminal would read it).
                    if mode == Mode::Exec && !terminal::stdin_is_tty() {
                        link.send(payload_type::OUTPUT, vec![0x04]).await;
                    }
                }
            },
            incoming = link.incoming() => match link.take(incoming).await? {
                Arrived::Frames(frames) => {
                    for f in frames {
                        match f.payload_type {
                            payload_type::HANDSHAKE_COMPLETE => {
                                match link.port_type() {
                                    Some("LocalPortForwarding") => return serve_ports(link, local_port).await,
                                    Some(_) => return serve_stream(link, stdin).await,
                                    None => {}
                                }
                                ready = true;
                                if mode == Mode::Interactive {
                                    raw = Some(RawMode::enable());
                                    size_ticks = 4; // Send the size on the next tick.
                                }
                            }
                            payload_type::OUTPUT => {
                                ready = true;
                                let _ = stdout.write_all(&f.payload);
                                let _ = stdout.flush();
                            }
                            payload_type::STDERR => {
                                ready = true;
                                let _ = stderr.write_all(&f.payload);
                                let _ = stderr.flush();
                            }
                            payload_type::EXIT_CODE => exit_code = steward_session::payload::parse_exit_code(&f.payload),
                            _ => {}
                        }
                    }
                }
                Arrived::Closed(output) => {
                    drop(raw.take());
                    if mode == Mode::Interactive {
                        if output.is_empty() {
                            eprintln!("\n\nExiting session with sessionId: {}.\n", link.session_id());
                        } else {
                            eprintln!("\n\n{output}\n");
                        }
                    }
                    link.close().await;
                    return Ok(exit_code);
                }
                Arrived::TimedOut => {
                    drop(raw.take());
                    eprintln!("\nSession {} timed out.", link.session_id());
                    return Ok(1);
                }
                Arrived::Nothing => {}
            },
        }
    }
}

/// StartSession for `target` with `document` and `parameters`, then the session.
pub async fn start(
    config: &ClientConfig,
    target: &str,
    document: Option<&str>,
    parameters: Value,
    mode: Mode,
) -> anyhow::Result<i32> {
    let mut body = json!({"Target": target, "Parameters": parameters});
    if let Some(d) = document {
        body["DocumentName"] = json!(d);
    }
    let answer = api::call(config, "StartSession", &body).await?;
    let started = Started::from_json(&answer)?;
    if mode == Mode::Interactive {
        eprintln!("\nStarting session with SessionId: {}\n", started.session_id);
    }
    run(config, started, mode, 0).await
}

/// Port forwarding: StartSession with a port-forwarding document, then every connection
/// to `local_port` on this machine becomes a stream to `remote_port` on the node (or on
/// `host`, reached from it). Runs until interrupted or the session ends.
pub async fn port_forward(
    config: &ClientConfig,
    target: &str,
    remote_port: u16,
    local_port: u16,
    host: Option<&str>,
) -> anyhow::Result<i32> {
    let (document, mut parameters) = match host {
        Some(h) => ("AWS-StartPortForwardingSessionToRemoteHost", json!({"host": [h]})),
        None => ("AWS-StartPortForwardingSession", json!({})),
    };
    parameters["portNumber"] = json!([remote_port.to_string()]);
    parameters["localPortNumber"] = json!([local_port.to_string()]);
    let answer = api::call(
        config,
        "StartSession",
        &json!({"Target": target, "DocumentName": document, "Parameters": parameters}),
    )
    .await?;
    let started = Started::from_json(&answer)?;
    eprintln!("\nStarting session with SessionId: {}", started.session_id);
    run(config, started, Mode::Interactive, local_port).await
}

/// A multiplexed port session after its handshake: every connection to `local_port` on
/// this machine becomes a stream to the node's target. Runs until interrupted or the
/// session ends.
async fn serve_ports(mut link: DataChannel<'_>, local_port: u16) -> anyhow::Result<i32> {
    let (out, mut outgoing) = mpsc::channel::<Vec<u8>>(256);
    let mut tunnel = steward_session::tunnel::Tunnel::new(out, None);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", local_port)).await?;
    let port = listener.local_addr()?.port();
    eprintln!("Port {port} opened for sessionId {}.\nWaiting for connections...", link.session_id());
    let mut ticker = tokio::time::interval(Duration::from_millis(100));
    let interrupt = tokio::signal::ctrl_c();
    tokio::pin!(interrupt);
    loop {
        tokio::select! {
            _ = &mut interrupt => {
                link.terminate().await;
                return Ok(0);
            }
            _ = ticker.tick() => link.resend_due().await,
            accepted = listener.accept() => {
                if let Ok((tcp, _)) = accepted {
                    let _ = tcp.set_nodelay(true);
                    tunnel.open(tcp).await;
                }
            }
            Some(bytes) = outgoing.recv() => link.send(payload_type::OUTPUT, bytes).await,
            incoming = link.incoming() => match link.take(incoming).await? {
                Arrived::Frames(frames) => {
                    for f in frames.into_iter().filter(|f| f.payload_type == payload_type::OUTPUT) {
                        if let Err(e) = tunnel.incoming(&f.payload).await {
                            anyhow::bail!("bad stream data from the node: {e}");
                        }
                    }
                }
                Arrived::Closed(_) => {
                    eprintln!("\nExiting session with sessionId: {}.\n", link.session_id());
                    return Ok(0);
                }
                Arrived::TimedOut => anyhow::bail!("session {} timed out", link.session_id()),
                Arrived::Nothing => {}
            },
        }
    }
}

/// A plain-stream port session after its handshake (AWS-StartSSHSession: ssh's
/// ProxyCommand): standard input goes to the node's target, what it sends back to standard
/// output, until the node ends the session.
async fn serve_stream(mut link: DataChannel<'_>, mut stdin: mpsc::Receiver<Vec<u8>>) -> anyhow::Result<i32> {
    let mut stdout = std::io::stdout();
    let mut stdin_open = true;
    let mut ticker = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            _ = ticker.tick() => link.resend_due().await,
            bytes = stdin.recv(), if stdin_open => match bytes {
                Some(bytes) => link.send(payload_type::OUTPUT, bytes).await,
                // As AWS's plugin: the end of input is not the end of the session; the
                // target's hanging up is.
                None => stdin_open = false,
            },
            incoming = link.incoming() => match link.take(incoming).await? {
                Arrived::Frames(frames) => {
                    for f in frames.into_iter().filter(|f| f.payload_type == payload_type::OUTPUT) {
                        stdout.write_all(&f.payload)?;
                    }
                    stdout.flush()?;
                }
                Arrived::Closed(_) => {
                    link.close().await;
                    return Ok(0);
                }
                Arrived::TimedOut => anyhow::bail!("session {} timed out", link.session_id()),
                Arrived::Nothing => {}
            },
        }
    }
}

//! One session over its data channel, from the client's side: the opening token, the
//! handshake, then keystrokes and terminal sizes out and output in, every data frame
//! acknowledged and resent until acknowledged; when the socket drops, ResumeSession and
//! a new socket carry on where the old one stopped.

use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use steward_session::frame::{self, payload_type};
use steward_session::payload::{HandshakeResponse, OpenDataChannelInput, Size};
use steward_session::stream::{Accepted, Channel};
use steward_session::WS_READ_BUFFER;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

use crate::api::{self, Url};
use crate::config::ClientConfig;
use crate::terminal::{self, RawMode};

/// The client's version as `session-manager-plugin` reports it (above 1.2.497.0, so the
/// aws CLI passes the StartSession answer in an environment variable).
pub const CLIENT_VERSION: &str = "1.2.707.0";

/// What StartSession (or ResumeSession) answered.
#[derive(Debug, Clone)]
pub struct Started {
    /// Id.
    pub session_id: String,
    /// One-time token.
    pub token_value: String,
    /// Data channel URL.
    pub stream_url: String,
}

impl Started {
    /// From a StartSession/ResumeSession answer.
    pub fn from_json(v: &Value) -> anyhow::Result<Started> {
        Ok(Started {
            session_id: v["SessionId"].as_str().context("no SessionId")?.to_owned(),
            token_value: v["TokenValue"].as_str().unwrap_or_default().to_owned(),
            stream_url: v["StreamUrl"].as_str().unwrap_or_default().to_owned(),
        })
    }
}

/// How the session is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A terminal: raw keystrokes, resizes.
    Interactive,
    /// A command: stdin as is, output as text, its exit code returned.
    Exec,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(1)
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open(config: &ClientConfig, started: &Started, client_id: &str) -> anyhow::Result<Socket> {
    let url = Url::parse(&started.stream_url)?;
    let tcp = tokio::net::TcpStream::connect((url.host.as_str(), url.port))
        .await
        .with_context(|| format!("cannot reach {}", url.authority()))?;
    // Acknowledgements and keystrokes are tiny: send them at once.
    tcp.set_nodelay(true)?;
    let connector =
        if url.secure { Some(tokio_tungstenite::Connector::Rustls(api::tls_config(config)?)) } else { None };
    let (mut socket, _) = tokio_tungstenite::client_async_tls_with_config(
        started.stream_url.as_str(),
        tcp,
        Some(WebSocketConfig::default().read_buffer_size(WS_READ_BUFFER)),
        connector,
    )
    .await?;
    let opener = OpenDataChannelInput {
        message_schema_version: "1.0".into(),
        request_id: uuid::Uuid::new_v4().to_string(),
        token_value: started.token_value.clone(),
        client_id: client_id.to_owned(),
        client_version: CLIENT_VERSION.into(),
    };
    socket.send(Message::Text(serde_json::to_string(&opener)?.into())).await?;
    Ok(socket)
}

/// After the socket dropped: ResumeSession, a new socket, and every unacknowledged frame
/// sent again. `None` when the session is over (an empty token).
async fn resume(
    config: &ClientConfig,
    started: &mut Started,
    client_id: &str,
    channel: &Channel,
) -> anyhow::Result<Option<Socket>> {
    let resumed = api::call(config, "ResumeSession", &json!({"SessionId": started.session_id})).await?;
    *started = Started::from_json(&resumed)?;
    if started.token_value.is_empty() {
        return Ok(None);
    }
    let mut socket = open(config, started, client_id).await?;
    for again in channel.sender.unacked_frames() {
        socket.send(Message::Binary(again.into())).await?;
    }
    Ok(Some(socket))
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

/// Turns a terminal's `\r\n` back into `\n` across frames (a frame may end between them).
#[derive(Default)]
struct Newlines {
    held_cr: bool,
}

impl Newlines {
    fn convert(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(bytes.len() + 1);
        let mut input = bytes.iter().peekable();
        if std::mem::take(&mut self.held_cr) && input.peek() != Some(&&b'\n') {
            out.push(b'\r');
        }
        while let Some(&b) = input.next() {
            if b == b'\r' {
                match input.peek() {
                    Some(b'\n') => continue,
                    None => {
                        self.held_cr = true;
                        continue;
                    }
                    _ => {}
                }
            }
            out.push(b);
        }
        out
    }
}

/// Runs the session to its end; returns the exit code to leave with.
pub async fn run(config: &ClientConfig, mut started: Started, mode: Mode) -> anyhow::Result<i32> {
    let client_id = uuid::Uuid::new_v4().to_string();
    let mut socket = open(config, &started, &client_id).await?;
    let mut channel = Channel::new(frame::INPUT, frame::OUTPUT);
    let mut stdin = stdin_reader();
    let mut stdin_open = true;
    let mut raw: Option<RawMode> = None;
    let mut ready = false;
    let mut last_size: Option<(u32, u32)> = None;
    let mut exit_code = 0;
    let mut stdout = std::io::stdout();
    let mut newlines = Newlines::default();
    let mut ticker = tokio::time::interval(Duration::from_millis(100));
    let mut size_ticks = 0u32;
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                if let Some(again) = channel.sender.due(now_ms()) {
                    let _ = socket.send(Message::Binary(again.into())).await;
                }
                size_ticks += 1;
                if ready && mode == Mode::Interactive && size_ticks.is_multiple_of(5) {
                    let now = terminal::size();
                    if now.is_some() && now != last_size {
                        last_size = now;
                        let (cols, rows) = now.unwrap_or((80, 24));
                        let body = serde_json::to_vec(&Size { cols, rows })?;
                        let bytes = channel.sender.send(payload_type::SIZE, body, 0, now_ms());
                        let _ = socket.send(Message::Binary(bytes.into())).await;
                    }
                }
            }
            keys = stdin.recv(), if ready && stdin_open => match keys {
                Some(bytes) => {
                    let frame = channel.sender.send(payload_type::OUTPUT, bytes, 0, now_ms());
                    let _ = socket.send(Message::Binary(frame.into())).await;
                }
                None => {
                    stdin_open = false;
                    // A command reading piped input sees its end as a terminal would show
                    // it: Ctrl-D (the node runs it on a pseudo-terminal).
                    if mode == Mode::Exec && !terminal::stdin_is_tty() {
                        let frame = channel.sender.send(payload_type::OUTPUT, vec![0x04], 0, now_ms());
                        let _ = socket.send(Message::Binary(frame.into())).await;
                    }
                }
            },
            incoming = socket.next() => {
                let bytes = match incoming {
                    Some(Ok(Message::Binary(b))) => b.to_vec(),
                    Some(Ok(Message::Text(t))) => t.as_bytes().to_vec(),
                    Some(Ok(_)) => continue,
                    _ => match resume(config, &mut started, &client_id, &channel).await? {
                        Some(again) => {
                            socket = again;
                            continue;
                        }
                        None => {
                            drop(raw.take());
                            eprintln!("\nSession {} timed out.", started.session_id);
                            return Ok(1);
                        }
                    },
                };
                match channel.accept(&bytes, now_ms()) {
                    Accepted::Control(f) if f.message_type == frame::CHANNEL_CLOSED => {
                        drop(raw.take());
                        if mode == Mode::Interactive {
                            let text = serde_json::from_slice::<Value>(&f.payload).ok();
                            let output = text.as_ref().and_then(|v| v["Output"].as_str()).unwrap_or_default();
                            if output.is_empty() {
                                eprintln!("\n\nExiting session with sessionId: {}.\n", started.session_id);
                            } else {
                                eprintln!("\n\n{output}\n");
                            }
                        }
                        let _ = socket.close(None).await;
                        return Ok(exit_code);
                    }
                    Accepted::Data { ack, frames } => {
                        if let Some(ack) = ack {
                            let _ = socket.send(Message::Binary(ack.into())).await;
                        }
                        for f in frames {
                            match f.payload_type {
                                payload_type::HANDSHAKE_REQUEST => {
                                    let body = serde_json::to_vec(&HandshakeResponse::accepting(CLIENT_VERSION))?;
                                    let bytes = channel.sender.send(payload_type::HANDSHAKE_RESPONSE, body, 0, now_ms());
                                    socket.send(Message::Binary(bytes.into())).await?;
                                }
                                payload_type::HANDSHAKE_COMPLETE => {
                                    ready = true;
                                    if mode == Mode::Interactive {
                                        raw = Some(RawMode::enable());
                                        size_ticks = 4; // Send the size on the next tick.
                                    }
                                }
                                payload_type::OUTPUT | payload_type::STDERR => {
                                    ready = true;
                                    let text = if mode == Mode::Exec && !terminal::stdin_is_tty() {
                                        newlines.convert(&f.payload)
                                    } else {
                                        f.payload.clone()
                                    };
                                    let _ = stdout.write_all(&text);
                                    let _ = stdout.flush();
                                }
                                payload_type::EXIT_CODE => {
                                    exit_code = String::from_utf8_lossy(&f.payload).trim().parse().unwrap_or(1);
                                }
                                _ => {}
                            }
                        }
                    }
                    _ => {}
                }
            }
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
    run(config, started, mode).await
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
    let mut started = Started::from_json(&answer)?;
    eprintln!("\nStarting session with SessionId: {}", started.session_id);
    let client_id = uuid::Uuid::new_v4().to_string();
    let mut socket = open(config, &started, &client_id).await?;
    let mut channel = Channel::new(frame::INPUT, frame::OUTPUT);
    let (out, mut outgoing) = mpsc::channel::<Vec<u8>>(256);
    let mut tunnel = steward_session::tunnel::Tunnel::new(out, None);
    let mut listener: Option<tokio::net::TcpListener> = None;
    let mut ticker = tokio::time::interval(Duration::from_millis(100));
    let interrupt = tokio::signal::ctrl_c();
    tokio::pin!(interrupt);
    loop {
        tokio::select! {
            _ = &mut interrupt => {
                let flag = channel.sender.send(payload_type::FLAG, 2u32.to_be_bytes().to_vec(), 0, now_ms());
                let _ = socket.send(Message::Binary(flag.into())).await;
                let _ = api::call(config, "TerminateSession", &json!({"SessionId": started.session_id})).await;
                return Ok(0);
            }
            _ = ticker.tick() => {
                if let Some(again) = channel.sender.due(now_ms()) {
                    let _ = socket.send(Message::Binary(again.into())).await;
                }
            }
            accepted = async { listener.as_ref().expect("guarded").accept().await }, if listener.is_some() => {
                if let Ok((tcp, _)) = accepted {
                    let _ = tcp.set_nodelay(true);
                    tunnel.open(tcp).await;
                }
            }
            Some(bytes) = outgoing.recv() => {
                let frame = channel.sender.send(payload_type::OUTPUT, bytes, 0, now_ms());
                let _ = socket.send(Message::Binary(frame.into())).await;
            }
            incoming = socket.next() => {
                let bytes = match incoming {
                    Some(Ok(Message::Binary(b))) => b.to_vec(),
                    Some(Ok(Message::Text(t))) => t.as_bytes().to_vec(),
                    Some(Ok(_)) => continue,
                    _ => match resume(config, &mut started, &client_id, &channel).await? {
                        Some(again) => {
                            socket = again;
                            continue;
                        }
                        None => anyhow::bail!("session {} timed out", started.session_id),
                    },
                };
                match channel.accept(&bytes, now_ms()) {
                    Accepted::Control(f) if f.message_type == frame::CHANNEL_CLOSED => {
                        eprintln!("\nExiting session with sessionId: {}.\n", started.session_id);
                        return Ok(0);
                    }
                    Accepted::Data { ack, frames } => {
                        if let Some(ack) = ack {
                            let _ = socket.send(Message::Binary(ack.into())).await;
                        }
                        for f in frames {
                            match f.payload_type {
                                payload_type::HANDSHAKE_REQUEST => {
                                    let body = serde_json::to_vec(&HandshakeResponse::accepting(CLIENT_VERSION))?;
                                    let bytes = channel.sender.send(payload_type::HANDSHAKE_RESPONSE, body, 0, now_ms());
                                    socket.send(Message::Binary(bytes.into())).await?;
                                }
                                payload_type::HANDSHAKE_COMPLETE => {
                                    let bound = tokio::net::TcpListener::bind(("127.0.0.1", local_port)).await?;
                                    let port = bound.local_addr()?.port();
                                    eprintln!("Port {port} opened for sessionId {}.\nWaiting for connections...", started.session_id);
                                    listener = Some(bound);
                                }
                                payload_type::OUTPUT => {
                                    if let Err(e) = tunnel.incoming(&f.payload).await {
                                        anyhow::bail!("bad stream data from the node: {e}");
                                    }
                                }
                                _ => {}
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Newlines;

    #[test]
    fn crlf_becomes_lf_even_when_split_between_frames() {
        let mut n = Newlines::default();
        let mut out = n.convert(b"a\r");
        out.extend(n.convert(b"\nb\r"));
        out.extend(n.convert(b"c\r\n"));
        assert_eq!(out, b"a\nb\rc\n");
    }
}

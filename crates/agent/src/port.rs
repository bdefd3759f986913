//! Port sessions on the node, in the two ways the SSM agent serves them:
//!
//! - multiplexed (smux over the session's Output payloads), one TCP connection per stream the
//!   client opens — for `LocalPortForwarding` documents and clients from 1.1.70 on;
//! - a plain byte stream, one TCP connection whose bytes are the payloads — for any other
//!   port document (`AWS-StartSSHSession`: the client pipes ssh's ProxyCommand through it)
//!   and for older clients. For `LocalPortForwarding` a connection the target closes (or the
//!   client's DisconnectToPort flag ends) is dialled again when the client next sends data;
//!   otherwise its end is the session's end.

use futures_util::{SinkExt, StreamExt};
use steward_protocol::SessionStart;
use steward_session::frame::payload_type;
use steward_session::stream::Accepted;
use steward_session::tunnel::Tunnel;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::session::{now_ms, resend_due, session_state, Parts, LINGER, MAX_UNACKED};

/// The first client version that multiplexes port forwarding (the SSM agent's threshold).
const MUX_CLIENT_VERSION: [u64; 4] = [1, 1, 70, 0];
/// The Flag payload's values.
const FLAG_DISCONNECT_TO_PORT: u32 = 1;
const FLAG_TERMINATE_SESSION: u32 = 2;
/// Bytes read from the target per Output payload (the SSM agent's stream payload size).
const CHUNK: usize = 1024;

/// Whether a client of `version` multiplexes (`1.2.707.0` does, `1.1.54.0` does not).
fn client_multiplexes(version: &str) -> bool {
    let mut parts = [0u64; 4];
    for (slot, part) in parts.iter_mut().zip(version.trim().split('.')) {
        *slot = part.parse().unwrap_or(0);
    }
    parts >= MUX_CLIENT_VERSION
}

/// The plain stream: one connection to the target at a time.
struct PlainStream {
    target: (String, u16),
    /// A connection that ended is dialled again on the next data (LocalPortForwarding).
    redial: bool,
    writer: Option<OwnedWriteHalf>,
    /// Bumped per connection, so a reader's end notice names the connection it read.
    generation: u64,
    out: mpsc::Sender<Vec<u8>>,
    ended: mpsc::UnboundedSender<u64>,
}

impl PlainStream {
    async fn connect(&mut self) -> std::io::Result<()> {
        let tcp = TcpStream::connect((self.target.0.as_str(), self.target.1)).await?;
        let _ = tcp.set_nodelay(true);
        let (mut reader, writer) = tcp.into_split();
        self.generation += 1;
        let (generation, out, ended) = (self.generation, self.out.clone(), self.ended.clone());
        tokio::spawn(async move {
            let mut buf = vec![0u8; CHUNK];
            loop {
                match reader.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if out.send(buf[..n].to_vec()).await.is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = ended.send(generation);
        });
        self.writer = Some(writer);
        Ok(())
    }

    async fn incoming(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if self.writer.is_none() {
            self.connect().await?;
        }
        match self.writer.as_mut() {
            Some(w) => w.write_all(bytes).await,
            None => Ok(()),
        }
    }

    fn disconnect(&mut self) {
        // Dropping the write half shuts the socket's writing side; the reader sees the
        // target's answer to that and ends on its own.
        self.writer = None;
    }
}

enum Forwarding {
    Mux(Tunnel),
    Plain(PlainStream),
}

/// The target closed the plain stream's connection `generation`: a redialling stream dials
/// again on the next data; otherwise the session ends once the client has what the target
/// wrote last (ssh ended).
fn target_hung_up(forwarding: &mut Forwarding, generation: u64, target_gone: &mut Option<std::time::Instant>) {
    if let Forwarding::Plain(plain) = forwarding {
        if generation == plain.generation {
            if plain.redial {
                plain.disconnect();
            } else if target_gone.is_none() {
                *target_gone = Some(std::time::Instant::now());
            }
        }
    }
}

/// Serves a port session after its handshake with a client of `client_version`.
pub(crate) async fn forward(id: &str, start: &SessionStart, client_version: &str, parts: Parts) {
    let Parts { mut sink, mut stream, mut channel, early, mut stopped, mut notices } = parts;
    let properties = &start.properties["properties"];
    let host = properties["host"].as_str().filter(|h| !h.is_empty()).unwrap_or("localhost").to_owned();
    let port = properties["portNumber"]
        .as_str()
        .and_then(|p| p.parse().ok())
        .or(properties["portNumber"].as_u64().map(|p| p as u16));
    let local_forwarding = properties["type"].as_str() == Some("LocalPortForwarding");
    let (out, mut outgoing) = mpsc::channel::<Vec<u8>>(256);
    let (ended, mut target_ended) = mpsc::unbounded_channel::<u64>();
    let mut forwarding = if local_forwarding && client_multiplexes(client_version) {
        Forwarding::Mux(Tunnel::new(out, port.map(|p| (host.clone(), p))))
    } else {
        let Some(port) = port else {
            tracing::warn!(session_id = id, "A port session without a port number.");
            let _ = sink.send(Message::Binary(session_state(id, "Terminating").into())).await;
            return;
        };
        let mut plain = PlainStream {
            target: (host.clone(), port),
            redial: local_forwarding,
            writer: None,
            generation: 0,
            out,
            ended,
        };
        if let Err(e) = plain.connect().await {
            tracing::warn!(session_id = id, host, port, error = %e, "Cannot reach the session's port.");
            let _ = sink.send(Message::Binary(session_state(id, "Terminating").into())).await;
            return;
        }
        Forwarding::Plain(plain)
    };
    let mode = if matches!(forwarding, Forwarding::Mux(_)) { "multiplexed" } else { "plain stream" };
    tracing::info!(session_id = id, host, port, mode, "Port forwarding session ready.");
    let mut ticker = tokio::time::interval(std::time::Duration::from_millis(100));
    let mut pending = early;
    // When the target hung up on a plain stream that ends with it: the session ends once
    // the client has acknowledged everything (the relay closes the client's side at once).
    let mut target_gone: Option<std::time::Instant> = None;
    'serving: loop {
        if let Some(since) = target_gone {
            if (channel.sender.unacked() == 0 && outgoing.is_empty()) || since.elapsed() > LINGER {
                break;
            }
        }
        // A hang-up the target's reader already noticed counts before the client's next data
        // (both may be ready at once, and data written to the closed connection is lost).
        while let Ok(generation) = target_ended.try_recv() {
            target_hung_up(&mut forwarding, generation, &mut target_gone);
        }
        for f in pending.drain(..) {
            let flag = (f.payload_type == payload_type::FLAG)
                .then(|| f.payload.get(..4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]])))
                .flatten();
            match (&mut forwarding, f.payload_type, flag) {
                (_, _, Some(FLAG_TERMINATE_SESSION)) => break 'serving,
                (Forwarding::Plain(plain), _, Some(FLAG_DISCONNECT_TO_PORT)) => plain.disconnect(),
                (Forwarding::Mux(tunnel), payload_type::OUTPUT, _) => {
                    if let Err(e) = tunnel.incoming(&f.payload).await {
                        tracing::warn!(session_id = id, error = e, "Bad stream data from the client.");
                    }
                }
                (Forwarding::Plain(plain), payload_type::OUTPUT, _) => {
                    if let Err(e) = plain.incoming(&f.payload).await {
                        tracing::info!(session_id = id, error = %e, "The session's port connection failed.");
                        if !plain.redial {
                            break 'serving;
                        }
                        plain.disconnect();
                    }
                }
                _ => {}
            }
        }
        tokio::select! {
            _ = ticker.tick() => {
                if !resend_due(&mut sink, &mut channel).await {
                    break;
                }
            }
            Some(bytes) = outgoing.recv(), if channel.sender.unacked() < MAX_UNACKED => {
                let frame = channel.sender.send(payload_type::OUTPUT, bytes, 0, now_ms());
                if sink.send(Message::Binary(frame.into())).await.is_err() {
                    break;
                }
            }
            Some(generation) = target_ended.recv() => target_hung_up(&mut forwarding, generation, &mut target_gone),
            _ = stopped.changed() => break,
            Some(_) = notices.recv() => {}
            incoming = stream.next() => {
                let Some(Ok(message)) = incoming else { break };
                let Message::Binary(bytes) = message else { continue };
                if let Accepted::Data { ack, frames } = channel.accept(&bytes, now_ms()) {
                    if let Some(ack) = ack {
                        let _ = sink.send(Message::Binary(ack.into())).await;
                    }
                    pending.extend(frames);
                }
            }
        }
    }
    let _ = sink.send(Message::Binary(session_state(id, "Terminating").into())).await;
    let _ = sink.close().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_from_1_1_70_multiplex() {
        for (version, mux) in [
            ("1.2.707.0", true),
            ("1.1.70", true),
            ("1.1.70.0", true),
            ("1.1.69.0", false),
            ("1.0.0.0", false),
            ("", false),
        ] {
            assert_eq!(client_multiplexes(version), mux, "{version}");
        }
    }
}

//! WebSockets whose peer has not proved who it is yet. Until it has, the server reads
//! exactly one message of at most [`PRE_AUTH_BYTES`] itself, frame header first — no
//! WebSocket library buffers or reserves anything for it, whatever length a frame claims —
//! within the caller's deadline, and the connection counts against a cap on such
//! connections (in all and per source address). Whoever can reach the port cannot make the
//! server hold more than a bounded amount of memory for them.
//!
//! [`Gate`] is the cap; [`PreAuthUpgrade`] answers the upgrade and hands over a
//! [`Pending`] connection, which becomes a full [`Socket`] once the peer has authenticated.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;

use super::peer::Peer;

/// The largest first message a peer may send before it is authenticated (a hello, an
/// opening frame): far more than either needs.
pub const PRE_AUTH_BYTES: usize = 16 * 1024;

/// The cap on connections that have not authenticated yet.
pub struct Gate {
    max_total: usize,
    max_per_source: usize,
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// A place under the [`Gate`]'s cap, given back when dropped (authenticated or gone).
pub struct Pass {
    gate: Arc<Gate>,
    source: IpAddr,
}

impl Gate {
    /// At most `max_total` unauthenticated connections, `max_per_source` from one address.
    pub fn new(max_total: usize, max_per_source: usize) -> Gate {
        Gate { max_total, max_per_source, open: Mutex::new((0, HashMap::new())) }
    }

    /// A place for a connection from `source`, or None when either cap is reached.
    pub fn enter(self: &Arc<Self>, source: IpAddr) -> Option<Pass> {
        let mut open = self.open.lock().expect("gate lock");
        let (total, by_source) = &mut *open;
        let mine = by_source.get(&source).copied().unwrap_or(0);
        if *total >= self.max_total || mine >= self.max_per_source {
            return None;
        }
        *total += 1;
        by_source.insert(source, mine + 1);
        Some(Pass { gate: self.clone(), source })
    }

    /// How many unauthenticated connections are open.
    pub fn open(&self) -> usize {
        self.open.lock().expect("gate lock").0
    }
}

impl Drop for Pass {
    fn drop(&mut self) {
        let mut open = self.gate.open.lock().expect("gate lock");
        let (total, by_source) = &mut *open;
        *total -= 1;
        if let Some(count) = by_source.get_mut(&self.source) {
            *count -= 1;
            if *count == 0 {
                by_source.remove(&self.source);
            }
        }
    }
}

/// 503 for a connection over the cap: clients retry with backoff, as they do after a
/// restart. The connection is closed after the answer, so a refused attempt holds nothing.
pub fn busy() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::CONNECTION, "close")],
        "Too many connections are authenticating; try again shortly.\n",
    )
        .into_response()
}

/// The upgraded connection, as bytes.
type Io = TokioIo<hyper::upgrade::Upgraded>;

/// The socket of an authenticated peer.
pub type Socket = WebSocketStream<Io>;

/// A connection whose peer has not authenticated: it may send one message, read here
/// without a WebSocket library, and is sent plain frames.
pub struct Pending {
    io: Io,
}

const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

impl Pending {
    /// The peer's first message: one unfragmented, masked text or binary frame of at most
    /// [`PRE_AUTH_BYTES`]. Anything else — a control frame, a fragment, a larger length
    /// announced — is refused before its payload is read.
    pub async fn first_message(&mut self) -> Result<Vec<u8>, &'static str> {
        read_first_message(&mut self.io).await
    }

    async fn send_frame(&mut self, opcode: u8, payload: &[u8]) -> io::Result<()> {
        // Server frames are not masked.
        let mut frame = Vec::with_capacity(payload.len() + 10);
        frame.push(0x80 | opcode);
        match payload.len() {
            n if n < 126 => frame.push(n as u8),
            n if n <= u16::MAX as usize => {
                frame.push(126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(payload);
        self.io.write_all(&frame).await?;
        self.io.flush().await
    }

    /// Sends a text message.
    pub async fn send_text(&mut self, text: &str) -> io::Result<()> {
        self.send_frame(OP_TEXT, text.as_bytes()).await
    }

    /// Sends a binary message.
    pub async fn send_binary(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.send_frame(OP_BINARY, bytes).await
    }

    /// Closes the connection (normal closure) without waiting for the peer.
    pub async fn close(mut self) {
        let _ = self.send_frame(OP_CLOSE, &1000u16.to_be_bytes()).await;
        let _ = self.io.shutdown().await;
    }

    /// The peer authenticated: the connection as a full WebSocket under `config`. Nothing
    /// the peer sent after its first message has been read, so nothing is lost.
    pub async fn authenticated(self, config: WebSocketConfig) -> Socket {
        WebSocketStream::from_raw_socket(self.io, Role::Server, Some(config)).await
    }
}

/// Reads one unfragmented, masked text or binary frame of at most [`PRE_AUTH_BYTES`] from
/// `io`, and nothing after it. Pings and pongs before it are read and dropped (AWS's
/// plugin may ping before it sends its token), at most [`PRE_AUTH_CONTROL_FRAMES`] of them.
async fn read_first_message<R: AsyncRead + Unpin>(io: &mut R) -> Result<Vec<u8>, &'static str> {
    for _ in 0..=PRE_AUTH_CONTROL_FRAMES {
        let (opcode, payload) = read_frame(io).await?;
        match opcode {
            OP_TEXT | OP_BINARY => return Ok(payload),
            OP_PING | OP_PONG => continue,
            _ => return Err("the first message must be one text or binary frame"),
        }
    }
    Err("too many control frames before the first message")
}

/// Pings or pongs a client may send before its first message.
const PRE_AUTH_CONTROL_FRAMES: usize = 4;

/// One unfragmented, masked frame: its opcode and unmasked payload (a data frame of at most
/// [`PRE_AUTH_BYTES`], a control frame of at most 125 bytes, as RFC 6455 allows).
async fn read_frame<R: AsyncRead + Unpin>(io: &mut R) -> Result<(u8, Vec<u8>), &'static str> {
    let closed = |_| "the connection closed";
    let mut head = [0u8; 2];
    io.read_exact(&mut head).await.map_err(closed)?;
    let (fin, reserved, opcode) = (head[0] & 0x80 != 0, head[0] & 0x70, head[0] & 0x0f);
    if !fin || reserved != 0 || !matches!(opcode, OP_TEXT | OP_BINARY | OP_PING | OP_PONG) {
        return Err("the first message must be one text or binary frame");
    }
    if head[1] & 0x80 == 0 {
        return Err("a client's frames must be masked");
    }
    let len = match head[1] & 0x7f {
        126 => io.read_u16().await.map_err(closed)? as u64,
        127 => io.read_u64().await.map_err(closed)?,
        short => short as u64,
    };
    let control = matches!(opcode, OP_PING | OP_PONG);
    if (control && len > 125) || len > PRE_AUTH_BYTES as u64 {
        return Err("the first message is too large");
    }
    let mut mask = [0u8; 4];
    io.read_exact(&mut mask).await.map_err(closed)?;
    let mut payload = vec![0u8; len as usize];
    io.read_exact(&mut payload).await.map_err(closed)?;
    for (i, byte) in payload.iter_mut().enumerate() {
        *byte ^= mask[i % 4];
    }
    Ok((opcode, payload))
}

/// An HTTP/1.1 WebSocket upgrade whose peer has not authenticated yet.
pub struct PreAuthUpgrade {
    key: axum::http::HeaderValue,
    on_upgrade: hyper::upgrade::OnUpgrade,
    source: IpAddr,
}

fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

impl<S: Send + Sync> FromRequestParts<S> for PreAuthUpgrade {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        let bad = |why: &'static str| (StatusCode::BAD_REQUEST, why).into_response();
        if parts.method != Method::GET {
            return Err((StatusCode::METHOD_NOT_ALLOWED, "A WebSocket upgrade is a GET.").into_response());
        }
        if !has_token(&parts.headers, header::CONNECTION, "upgrade")
            || !has_token(&parts.headers, header::UPGRADE, "websocket")
        {
            return Err(bad("This endpoint speaks WebSocket only."));
        }
        if parts.headers.get(header::SEC_WEBSOCKET_VERSION).is_none_or(|v| v != "13") {
            return Err(bad("WebSocket version 13 is required."));
        }
        let key = parts
            .headers
            .get(header::SEC_WEBSOCKET_KEY)
            .cloned()
            .ok_or_else(|| bad("Sec-WebSocket-Key is missing."))?;
        let on_upgrade = parts
            .extensions
            .remove::<hyper::upgrade::OnUpgrade>()
            .ok_or_else(|| bad("This connection cannot be upgraded."))?;
        // Every listener records its peer; a router served without one (tests) is one source.
        let source = parts
            .extensions
            .get::<axum::extract::ConnectInfo<Peer>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |info| info.0 .0.ip());
        Ok(PreAuthUpgrade { key, on_upgrade, source })
    }
}

impl PreAuthUpgrade {
    /// The address the upgrade came from.
    pub fn source(&self) -> IpAddr {
        self.source
    }

    /// Answers 101 and runs `serve` on the [`Pending`] connection. `pass` (its place under
    /// the gate) is handed on, to be dropped once the peer has authenticated.
    pub fn on_upgrade<F, Fut>(self, pass: Pass, serve: F) -> Response
    where
        F: FnOnce(Pending, Pass) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let on_upgrade = self.on_upgrade;
        tokio::spawn(async move {
            let Ok(upgraded) = on_upgrade.await else { return };
            serve(Pending { io: TokioIo::new(upgraded) }, pass).await;
        });
        let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(self.key.as_bytes());
        Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header(header::CONNECTION, "upgrade")
            .header(header::UPGRADE, "websocket")
            .header(header::SEC_WEBSOCKET_ACCEPT, accept)
            .body(Body::empty())
            .expect("a valid response")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_caps_in_all_and_per_source() {
        let gate = Arc::new(Gate::new(3, 2));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let first = gate.enter(a).expect("room");
        let _second = gate.enter(a).expect("room");
        assert!(gate.enter(a).is_none(), "per-source cap");
        let _third = gate.enter(b).expect("room for another source");
        assert!(gate.enter(b).is_none(), "total cap");
        drop(first);
        let _again = gate.enter(a).expect("a place given back is free again");
        assert_eq!(gate.open(), 3);
    }

    fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [0x11, 0x22, 0x33, 0x44];
        let mut frame = vec![0x80 | opcode];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n <= u16::MAX as usize => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        frame
    }

    #[tokio::test]
    async fn reads_exactly_one_first_message() {
        for payload in [&b"{}"[..], &[7u8; 200][..], &vec![b'x'; PRE_AUTH_BYTES][..]] {
            let mut bytes = client_frame(OP_TEXT, payload);
            bytes.extend_from_slice(b"the rest, unread");
            let mut input = &bytes[..];
            assert_eq!(read_first_message(&mut input).await.unwrap(), payload);
            assert_eq!(input, b"the rest, unread", "nothing after the message is consumed");
        }
    }

    #[tokio::test]
    async fn pings_before_the_first_message_are_passed_over() {
        // AWS's session-manager-plugin may ping before it sends its token.
        let mut bytes = client_frame(OP_PING, b"");
        bytes.extend(client_frame(OP_PONG, b"x"));
        bytes.extend(client_frame(OP_TEXT, b"{\"TokenValue\":\"t\"}"));
        let mut input = &bytes[..];
        assert_eq!(read_first_message(&mut input).await.unwrap(), b"{\"TokenValue\":\"t\"}");
    }

    #[tokio::test]
    async fn refuses_what_is_not_one_small_message() {
        let too_big = client_frame(OP_BINARY, &vec![0u8; PRE_AUTH_BYTES + 1]);
        let big_ping = client_frame(OP_PING, &[0u8; 126]);
        let mut pings: Vec<u8> = (0..=PRE_AUTH_CONTROL_FRAMES).flat_map(|_| client_frame(OP_PING, b"p")).collect();
        pings.extend(client_frame(OP_TEXT, b"{}"));
        let close = client_frame(OP_CLOSE, b"");
        let mut fragment = client_frame(OP_TEXT, b"{");
        fragment[0] &= 0x7f;
        let mut unmasked = client_frame(OP_TEXT, b"{}");
        unmasked[1] &= 0x7f;
        let huge_claim = [0x82, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        let cases = [
            &too_big[..],
            &big_ping[..],
            &pings[..],
            &close[..],
            &fragment[..],
            &unmasked[..],
            &huge_claim[..],
            &[0x81][..],
            &[][..],
        ];
        for bad in cases {
            let mut input = bad;
            assert!(read_first_message(&mut input).await.is_err());
        }
    }

    #[tokio::test]
    async fn random_bytes_never_panic_and_never_read_past_the_limit() {
        // A small fuzzer: random, truncated and oversized inputs, from a fixed seed.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..20_000 {
            let len = (next() % 64) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if round % 3 == 0 && bytes.len() >= 2 {
                bytes[0] = 0x81; // a plausible header, random length and payload
                bytes[1] |= 0x80;
            }
            let mut input = &bytes[..];
            if let Ok(message) = read_first_message(&mut input).await {
                assert!(message.len() <= PRE_AUTH_BYTES);
            }
        }
    }
}

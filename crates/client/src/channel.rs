//! The client's end of one session's data channel, shared by shells, commands and port
//! forwarding: the socket opened with the one-time token, the numbered and acknowledged
//! stream, the handshake answer, and ResumeSession with every unacknowledged frame sent
//! again when the socket drops.
//!
//! Callers wait on [`DataChannel::incoming`] in their `select!` and hand what it gave to
//! [`DataChannel::take`] in the branch's body: reading a message is cancel-safe, while
//! taking it (acknowledging, answering, resuming) must not be cut short by another branch.

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use steward_session::frame::{self, payload_type, Frame};
use steward_session::payload::{HandshakeRequest, HandshakeResponse, OpenDataChannelInput};
use steward_session::stream::{Accepted, Channel};
use steward_session::WS_READ_BUFFER;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::api::{self, Url};
use crate::config::ClientConfig;

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

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(1)
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A message read from the socket, not yet taken.
pub type Incoming = Option<Result<Message, WsError>>;

/// What a message from the node amounted to.
pub enum Arrived {
    /// Data frames in order (handshake requests already answered).
    Frames(Vec<Frame>),
    /// The session ended; the server's words about it (empty for an orderly end).
    Closed(String),
    /// The socket dropped and the session can no longer be resumed.
    TimedOut,
    /// Nothing for the caller (an acknowledgement, a duplicate, a resumed socket).
    Nothing,
}

/// One session's data channel.
pub struct DataChannel<'a> {
    config: &'a ClientConfig,
    started: Started,
    client_id: String,
    socket: Socket,
    channel: Channel,
    /// What the node's handshake asked for: the session type and its properties.
    requested: Option<(String, Value)>,
}

async fn connect(config: &ClientConfig, started: &Started, client_id: &str) -> anyhow::Result<Socket> {
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

impl<'a> DataChannel<'a> {
    /// Opens the data channel of a session StartSession answered.
    pub async fn open(config: &'a ClientConfig, started: Started) -> anyhow::Result<DataChannel<'a>> {
        let client_id = uuid::Uuid::new_v4().to_string();
        let socket = connect(config, &started, &client_id).await?;
        let channel = Channel::new(frame::INPUT, frame::OUTPUT);
        Ok(DataChannel { config, started, client_id, socket, channel, requested: None })
    }

    /// The session's id.
    pub fn session_id(&self) -> &str {
        &self.started.session_id
    }

    /// For a port session once the node's handshake asked for one, the document's
    /// `properties.type` (`LocalPortForwarding`, or empty for a plain stream such as
    /// AWS-StartSSHSession's).
    pub fn port_type(&self) -> Option<&str> {
        let (session_type, properties) = self.requested.as_ref()?;
        (session_type == "Port").then(|| properties["type"].as_str().unwrap_or_default())
    }

    /// The next message from the server (cancel-safe: for a `select!` branch).
    pub async fn incoming(&mut self) -> Incoming {
        self.socket.next().await
    }

    /// Sends a data frame; a lost socket is noticed (and resumed) on the reading side.
    pub async fn send(&mut self, payload_type: u32, payload: Vec<u8>) {
        let frame = self.channel.sender.send(payload_type, payload, 0, now_ms());
        let _ = self.socket.send(Message::Binary(frame.into())).await;
    }

    /// Sends again the oldest frame whose acknowledgement is overdue.
    pub async fn resend_due(&mut self) {
        if let Some(again) = self.channel.sender.due(now_ms()) {
            let _ = self.socket.send(Message::Binary(again.into())).await;
        }
    }

    /// Takes what [`Self::incoming`] read: acknowledges data, answers the handshake,
    /// resumes a dropped socket.
    pub async fn take(&mut self, incoming: Incoming) -> anyhow::Result<Arrived> {
        let bytes = match incoming {
            Some(Ok(Message::Binary(b))) => b.to_vec(),
            Some(Ok(Message::Text(t))) => t.as_bytes().to_vec(),
            Some(Ok(_)) => return Ok(Arrived::Nothing),
            _ => return self.resume().await,
        };
        match self.channel.accept(&bytes, now_ms()) {
            Accepted::Control(f) if f.message_type == frame::CHANNEL_CLOSED => {
                let body = serde_json::from_slice::<Value>(&f.payload).unwrap_or_default();
                Ok(Arrived::Closed(body["Output"].as_str().unwrap_or_default().to_owned()))
            }
            Accepted::Data { ack, frames } => {
                if let Some(ack) = ack {
                    let _ = self.socket.send(Message::Binary(ack.into())).await;
                }
                let mut data = Vec::with_capacity(frames.len());
                for f in frames {
                    if f.payload_type == payload_type::HANDSHAKE_REQUEST {
                        if let Ok(request) = serde_json::from_slice::<HandshakeRequest>(&f.payload) {
                            let asked =
                                request.requested_client_actions.iter().find(|a| a.action_type == "SessionType");
                            self.requested = asked.map(|a| {
                                let p = &a.action_parameters;
                                (p["SessionType"].as_str().unwrap_or_default().to_owned(), p["Properties"].clone())
                            });
                        }
                        let body = serde_json::to_vec(&HandshakeResponse::accepting(CLIENT_VERSION))?;
                        let bytes = self.channel.sender.send(payload_type::HANDSHAKE_RESPONSE, body, 0, now_ms());
                        self.socket.send(Message::Binary(bytes.into())).await?;
                    } else {
                        data.push(f);
                    }
                }
                Ok(Arrived::Frames(data))
            }
            _ => Ok(Arrived::Nothing),
        }
    }

    /// After the socket dropped: ResumeSession, a new socket, and every unacknowledged frame
    /// sent again.
    async fn resume(&mut self) -> anyhow::Result<Arrived> {
        let resumed = api::call(self.config, "ResumeSession", &json!({"SessionId": self.started.session_id})).await?;
        self.started = Started::from_json(&resumed)?;
        if self.started.token_value.is_empty() {
            return Ok(Arrived::TimedOut);
        }
        self.socket = connect(self.config, &self.started, &self.client_id).await?;
        for again in self.channel.sender.unacked_frames() {
            self.socket.send(Message::Binary(again.into())).await?;
        }
        Ok(Arrived::Nothing)
    }

    /// Ends the session from this side (the TerminateSession flag, then the API call).
    pub async fn terminate(&mut self) {
        self.send(payload_type::FLAG, 2u32.to_be_bytes().to_vec()).await;
        let _ = api::call(self.config, "TerminateSession", &json!({"SessionId": self.started.session_id})).await;
    }

    /// Closes the socket.
    pub async fn close(&mut self) {
        let _ = self.socket.close(None).await;
    }
}

//! Session Manager on the node: for each session the server asks for, a data channel of
//! its own, the handshake `session-manager-plugin` expects, and the shell (or command) on
//! a pseudo-terminal, with every frame numbered, acknowledged and resent until
//! acknowledged — so a client that drops and resumes loses nothing.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use steward_protocol::{SessionStart, SESSION_PATH};
use steward_session::frame::{self, payload_type, Frame};
use steward_session::payload::{
    AgentSessionState, HandshakeComplete, HandshakeRequest, HandshakeResponse, OpenDataChannelInput,
    RequestedClientAction, Size,
};
use steward_session::stream::{Accepted, Channel};
use steward_session::WS_READ_BUFFER;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

use crate::piped::Piped;
use crate::pty::Pty;
use crate::runas::Launch;
use crate::tls::Endpoint;

/// The agent version the handshake reports: what clients of the SSM agent gate features
/// on. AWS's plugin multiplexes port forwarding (smux) only after 3.0.196.0 and turns smux
/// keep-alives off after 3.1.1511.0; Steward's node does both, as a 3.3 agent does.
const SSM_COMPATIBLE_AGENT_VERSION: &str = "3.3.0.0";
/// How long the client has to answer the handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);
/// Frames resent at once when acknowledgements stopped (a client away and back).
const RESEND_BURST: usize = 64;
/// How long a finished session waits for the client to acknowledge its last output.
pub(crate) const LINGER: Duration = Duration::from_secs(30);
/// Unacknowledged output frames after which the shell's output is no longer read (the
/// client is away; the shell blocks instead of the agent buffering without end).
pub(crate) const MAX_UNACKED: usize = 4096;

/// How the control channel reaches a running session.
struct Control {
    stop: watch::Sender<bool>,
    notices: mpsc::UnboundedSender<String>,
}

/// The sessions running on this node, by id.
#[derive(Clone)]
pub struct Sessions {
    live: Arc<Mutex<HashMap<String, Control>>>,
    /// Who shells run as when the session names no user (when the agent is root).
    default_user: Arc<str>,
}

impl Sessions {
    /// No sessions yet; shells run as `default_user` unless a session names its own.
    pub fn new(default_user: &str) -> Sessions {
        Sessions { live: Arc::default(), default_user: default_user.into() }
    }

    /// Serves a session in the background.
    pub fn start(&self, endpoint: Endpoint, tls: Option<Arc<rustls::ClientConfig>>, start: SessionStart, node: String) {
        let (stop, stopped) = watch::channel(false);
        let (notices, notes) = mpsc::unbounded_channel();
        self.live.lock().expect("sessions lock").insert(start.session_id.clone(), Control { stop, notices });
        let sessions = self.clone();
        tokio::spawn(async move {
            let id = start.session_id.clone();
            tracing::info!(session_id = id, session_type = start.session_type, "Session starting.");
            let given = Given { start, node, default_user: sessions.default_user.to_string() };
            if let Err(e) = serve(endpoint, tls, given, stopped, notes).await {
                tracing::warn!(session_id = id, error = %format!("{e:#}"), "Session failed.");
            }
            sessions.live.lock().expect("sessions lock").remove(&id);
            tracing::info!(session_id = id, "Session over.");
        });
    }

    /// Ends a session (its shell is killed).
    pub fn end(&self, session_id: &str) {
        if let Some(control) = self.live.lock().expect("sessions lock").get(session_id) {
            let _ = control.stop.send(true);
        }
    }

    /// Shows a notice in a session's output.
    pub fn notice(&self, session_id: &str, text: String) {
        if let Some(control) = self.live.lock().expect("sessions lock").get(session_id) {
            let _ = control.notices.send(text);
        }
    }
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A session's channel and stream state, handed from the handshake to what serves it.
pub(crate) struct Parts {
    pub sink: futures_util::stream::SplitSink<Socket, Message>,
    pub stream: futures_util::stream::SplitStream<Socket>,
    pub channel: Channel,
    pub early: Vec<Frame>,
    pub stopped: watch::Receiver<bool>,
    pub notices: mpsc::UnboundedReceiver<String>,
}

/// Sends again the frames whose acknowledgement is overdue; false when the socket is gone.
pub(crate) async fn resend_due(
    sink: &mut futures_util::stream::SplitSink<Socket, Message>,
    channel: &mut Channel,
) -> bool {
    let mut lost = false;
    for again in channel.sender.due_burst(now_ms(), RESEND_BURST) {
        lost |= sink.send(Message::Binary(again.into())).await.is_err();
    }
    !lost
}

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(1)
}

pub(crate) fn session_state(id: &str, state: &str) -> Vec<u8> {
    let body = AgentSessionState { schema_version: 1, session_state: state.into(), session_id: id.into() };
    Frame::new(
        frame::AGENT_SESSION_STATE,
        0,
        0,
        payload_type::OUTPUT,
        serde_json::to_vec(&body).expect("json"),
        now_ms(),
    )
    .encode()
}

/// The login shell to run.
fn shell() -> String {
    for candidate in ["/bin/bash", "/bin/sh"] {
        if std::path::Path::new(candidate).exists() {
            return candidate.into();
        }
    }
    "sh".into()
}

/// What runs on the terminal: the login shell, or the document's command.
fn program(start: &SessionStart) -> (String, Vec<String>) {
    let properties = &start.properties["properties"];
    let command = properties["linux"]["commands"].as_str().or(properties["commands"].as_str()).unwrap_or_default();
    match start.session_type.as_str() {
        "InteractiveCommands" | "NonInteractiveCommands" if !command.is_empty() => {
            ("/bin/sh".into(), vec!["-c".into(), command.to_owned()])
        }
        _ => (shell(), vec!["-l".into()]),
    }
}

/// What the server asked for, and who this node is.
struct Given {
    start: SessionStart,
    node: String,
    default_user: String,
}

async fn serve(
    endpoint: Endpoint,
    tls: Option<Arc<rustls::ClientConfig>>,
    given: Given,
    mut stopped: watch::Receiver<bool>,
    mut notices: mpsc::UnboundedReceiver<String>,
) -> anyhow::Result<()> {
    let Given { start, node, default_user } = given;
    let id = start.session_id.clone();
    let tcp = endpoint.connect_tcp().await?;
    let connector = tls.map(tokio_tungstenite::Connector::Rustls);
    let url = endpoint.ws_url(&format!("{SESSION_PATH}{id}"));
    let (socket, _) = tokio_tungstenite::client_async_tls_with_config(
        url,
        tcp,
        Some(WebSocketConfig::default().read_buffer_size(WS_READ_BUFFER)),
        connector,
    )
    .await?;
    let (mut sink, mut stream) = socket.split();
    let open = OpenDataChannelInput {
        message_schema_version: "1.0".into(),
        request_id: uuid::Uuid::new_v4().to_string(),
        token_value: start.token.clone(),
        client_id: node,
        client_version: env!("CARGO_PKG_VERSION").into(),
    };
    sink.send(Message::Text(serde_json::to_string(&open)?.into())).await?;
    sink.send(Message::Binary(session_state(&id, "Connected").into())).await?;

    let mut channel = Channel::new(frame::OUTPUT, frame::INPUT);
    let began = Instant::now();
    let request = HandshakeRequest {
        agent_version: SSM_COMPATIBLE_AGENT_VERSION.into(),
        requested_client_actions: vec![RequestedClientAction {
            action_type: "SessionType".into(),
            action_parameters: json!({"SessionType": start.session_type, "Properties": start.properties["properties"]}),
        }],
    };
    let bytes = channel.sender.send(payload_type::HANDSHAKE_REQUEST, serde_json::to_vec(&request)?, 1, now_ms());
    sink.send(Message::Binary(bytes.into())).await?;

    // Until the client answers: acknowledge, resend, and keep anything else for later.
    let mut early = Vec::new();
    let deadline = tokio::time::Instant::now() + HANDSHAKE_TIMEOUT;
    let mut ticker = tokio::time::interval(Duration::from_millis(100));
    let answered = loop {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => break None,
            _ = ticker.tick() => {
                if let Some(again) = channel.sender.due(now_ms()) {
                    sink.send(Message::Binary(again.into())).await?;
                }
            }
            incoming = stream.next() => {
                let Some(Ok(message)) = incoming else { anyhow::bail!("the data channel closed during the handshake") };
                let Message::Binary(bytes) = message else { continue };
                if let Accepted::Data { ack, frames } = channel.accept(&bytes, now_ms()) {
                    if let Some(ack) = ack {
                        sink.send(Message::Binary(ack.into())).await?;
                    }
                    let mut answer = None;
                    for f in frames {
                        if f.payload_type == payload_type::HANDSHAKE_RESPONSE && answer.is_none() {
                            answer = serde_json::from_slice::<HandshakeResponse>(&f.payload).ok();
                        } else {
                            early.push(f);
                        }
                    }
                    if answer.is_some() {
                        break answer;
                    }
                }
            }
        }
    };
    let Some(answer) = answered else {
        let _ = sink.send(Message::Binary(session_state(&id, "Terminating").into())).await;
        anyhow::bail!("the client did not complete the handshake in time");
    };
    let accepted =
        answer.processed_client_actions.iter().any(|a| a.action_type == "SessionType" && a.action_status == 1);
    if !accepted {
        let _ = sink.send(Message::Binary(session_state(&id, "Terminating").into())).await;
        anyhow::bail!("the client refused the session type {}", start.session_type);
    }
    let complete = HandshakeComplete {
        handshake_time_to_complete: began.elapsed().as_nanos() as i64,
        customer_message: String::new(),
    };
    let bytes = channel.sender.send(payload_type::HANDSHAKE_COMPLETE, serde_json::to_vec(&complete)?, 0, now_ms());
    sink.send(Message::Binary(bytes.into())).await?;

    if start.session_type == "Port" {
        let parts = Parts { sink, stream, channel, early, stopped, notices };
        crate::port::forward(&id, &start, &answer.client_version, parts).await;
        return Ok(());
    }

    // A session that cannot start says why on its error stream, as the SSM agent does,
    // with a failing exit code where exit codes are reported.
    let refuse = |why: String, separate: bool| {
        let mut frames = vec![(payload_type::STDERR, format!("{why}\r\n"))];
        if separate {
            frames.push((payload_type::EXIT_CODE, "EXIT_CODE: 1".to_owned()));
        }
        frames
    };
    let (output, user) = match OutputMode::of(&start).map_err(|why| (why, false)).and_then(|mode| {
        match crate::runas::choose(&start.run_as, &default_user) {
            Ok(user) => Ok((mode, user)),
            Err(why) => Err((why.to_string(), mode.separate)),
        }
    }) {
        Ok(found) => found,
        Err((why, separate)) => {
            for (kind, body) in refuse(why.clone(), separate) {
                let frame = channel.sender.send(kind, body.into_bytes(), 0, now_ms());
                sink.send(Message::Binary(frame.into())).await?;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            let _ = sink.send(Message::Binary(session_state(&id, "Terminating").into())).await;
            let _ = sink.close().await;
            anyhow::bail!("{why}");
        }
    };
    let (program, args) = program(&start);
    let home = match &user {
        Some(u) if std::path::Path::new(&u.home).is_dir() => u.home.clone(),
        Some(_) => "/".into(),
        None => std::env::var("HOME").unwrap_or_else(|_| "/".into()),
    };
    let mut env = vec![("TERM", "xterm-256color".to_owned()), ("SSM_SESSION_ID", id.clone())];
    if let Some(u) = &user {
        env.extend([("HOME", home.clone()), ("USER", u.name.clone()), ("LOGNAME", u.name.clone())]);
    }
    let (output_tx, mut output_rx) = mpsc::channel::<(u32, Vec<u8>)>(64);
    let launch = Launch { program: &program, args: &args, cwd: &home, env: &env, user: user.as_ref() };
    let (mut process, mut exited) = Process::start(&launch, &output, output_tx).context("cannot start the shell")?;
    if let Some(profile) = start.properties["inputs"]["shellProfile"]["linux"].as_str().filter(|p| !p.trim().is_empty())
    {
        process.input(format!("{profile}\n").as_bytes());
    }
    // False when the client asks to end the session (Flag TerminateSession).
    let deliver = |f: Frame, process: &mut Process| -> bool {
        match f.payload_type {
            payload_type::OUTPUT => process.input(&f.payload),
            payload_type::SIZE => {
                if let Ok(size) = serde_json::from_slice::<Size>(&f.payload) {
                    process.resize(size.cols.min(u16::MAX as u32) as u16, size.rows.min(u16::MAX as u32) as u16);
                }
            }
            payload_type::FLAG => {
                let flag = f.payload.get(..4).map(|b| u32::from_be_bytes(b.try_into().expect("4 bytes")));
                if flag == Some(2) {
                    return false;
                }
            }
            _ => {}
        }
        true
    };
    for f in early {
        deliver(f, &mut process);
    }
    let mut exit_status = None;
    let mut finished = false;
    let mut exited_at: Option<Instant> = None;
    let mut output_done = false;
    loop {
        let reading = !output_done && channel.sender.unacked() < MAX_UNACKED;
        tokio::select! {
            _ = ticker.tick() => {
                if !resend_due(&mut sink, &mut channel).await {
                    break;
                }
            }
            chunk = output_rx.recv(), if reading => match chunk {
                Some((kind, bytes)) => {
                    let frame = channel.sender.send(kind, bytes, 0, now_ms());
                    if sink.send(Message::Binary(frame.into())).await.is_err() {
                        break;
                    }
                }
                None => output_done = true,
            },
            code = &mut exited, if exit_status.is_none() => {
                exit_status = Some(code.unwrap_or(-1));
                exited_at = Some(Instant::now());
            }
            _ = stopped.changed() => break,
            Some(text) = notices.recv() => {
                let frame = channel.sender.send(payload_type::OUTPUT, text.into_bytes(), 0, now_ms());
                let _ = sink.send(Message::Binary(frame.into())).await;
            }
            incoming = stream.next() => {
                let Some(Ok(message)) = incoming else { break };
                let Message::Binary(bytes) = message else { continue };
                if let Accepted::Data { ack, frames } = channel.accept(&bytes, now_ms()) {
                    if let Some(ack) = ack {
                        let _ = sink.send(Message::Binary(ack.into())).await;
                    }
                    let mut go_on = true;
                    for f in frames {
                        go_on &= deliver(f, &mut process);
                    }
                    if !go_on {
                        break;
                    }
                }
            }
        }
        // Once the process is gone and its output is all read and sent, wait for the
        // acknowledgements only a little: the client may be away for good.
        if let (true, Some(code), false) = (output_done, exit_status, finished) {
            finished = true;
            // As the SSM agent: the exit code is sent only to a non-interactive command
            // whose output streams are kept apart, as `EXIT_CODE: <n>` after all output.
            if output.separate {
                let text = format!("EXIT_CODE: {code}").into_bytes();
                let frame = channel.sender.send(payload_type::EXIT_CODE, text, 0, now_ms());
                let _ = sink.send(Message::Binary(frame.into())).await;
            }
        }
        let lingered = exited_at.is_some_and(|t| t.elapsed() > LINGER);
        if finished && (channel.sender.unacked() == 0 || lingered) {
            break;
        }
    }
    process.signal_group(libc::SIGHUP);
    tokio::time::sleep(Duration::from_millis(50)).await;
    process.signal_group(libc::SIGKILL);
    let _ = sink.send(Message::Binary(session_state(&id, "Terminating").into())).await;
    let _ = sink.close().await;
    Ok(())
}

/// How a session's process writes: on a terminal (shells and interactive commands), or on
/// pipes for `NonInteractiveCommands` — stdout and stderr together, or apart with the
/// document's `separateOutputStream` (each with its prefix, then the exit code).
struct OutputMode {
    terminal: bool,
    separate: bool,
    stdout_prefix: String,
    stderr_prefix: String,
}

impl OutputMode {
    fn of(start: &SessionStart) -> Result<OutputMode, String> {
        let linux = &start.properties["properties"]["linux"];
        let terminal = start.session_type != "NonInteractiveCommands";
        let separate = match &linux["separateOutputStream"] {
            serde_json::Value::Bool(b) => *b,
            serde_json::Value::String(s) if s.eq_ignore_ascii_case("true") => true,
            serde_json::Value::String(s) if s.is_empty() || s.eq_ignore_ascii_case("false") => false,
            serde_json::Value::Null => false,
            other => return Err(format!("separateOutputStream must be true or false, not {other}")),
        };
        let prefix = |name: &str| -> Result<String, String> {
            let text = linux[name].as_str().unwrap_or_default();
            let fine = text.chars().count() <= 30
                && text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '\r' | '\n' | '_' | ':' | '-'));
            if fine {
                Ok(text.to_owned())
            } else {
                Err(format!("invalid {name} {text:?}"))
            }
        };
        let (stdout_prefix, stderr_prefix) = if separate {
            (prefix("stdOutSeparatorPrefix")?, prefix("stdErrSeparatorPrefix")?)
        } else {
            Default::default()
        };
        Ok(OutputMode { terminal, separate: separate && !terminal, stdout_prefix, stderr_prefix })
    }
}

/// The session's process and its input.
enum Process {
    Terminal { pty: Pty, input: std::fs::File },
    Piped(Piped),
}

impl Process {
    /// Starts the process; its output arrives on `output` as (payload type, bytes); the
    /// receiver gives its exit code.
    fn start(
        launch: &Launch,
        mode: &OutputMode,
        output: mpsc::Sender<(u32, Vec<u8>)>,
    ) -> std::io::Result<(Process, tokio::sync::oneshot::Receiver<i32>)> {
        if mode.terminal {
            let (tell, exited) = tokio::sync::oneshot::channel::<i32>();
            let (pty, mut child) = Pty::spawn(launch, (80, 24))?;
            let input = pty.writer()?;
            pump(pty.reader()?, payload_type::OUTPUT, String::new(), output);
            tokio::spawn(async move {
                let code = child.wait().await.ok().and_then(|s| s.code()).unwrap_or(-1);
                let _ = tell.send(code);
            });
            return Ok((Process::Terminal { pty, input }, exited));
        }
        let mut piped = Piped::spawn(launch, mode.separate)?;
        if let Some(out) = piped.stdout.take() {
            pump(out, payload_type::OUTPUT, mode.stdout_prefix.clone(), output.clone());
        }
        if let Some(err) = piped.stderr.take() {
            pump(err, payload_type::STDERR, mode.stderr_prefix.clone(), output);
        }
        let exited = std::mem::replace(&mut piped.exited, tokio::sync::oneshot::channel().1);
        Ok((Process::Piped(piped), exited))
    }

    /// Writes what the client typed or piped. On pipes, a lone Ctrl-D ends the input (what
    /// a terminal would make of it).
    fn input(&mut self, bytes: &[u8]) {
        match self {
            Process::Terminal { input, .. } => {
                let _ = input.write_all(bytes);
            }
            Process::Piped(piped) => {
                if bytes == [0x04] {
                    piped.stdin = None;
                } else if let Some(stdin) = piped.stdin.as_mut() {
                    if stdin.write_all(bytes).is_err() {
                        piped.stdin = None;
                    }
                }
            }
        }
    }

    fn resize(&self, cols: u16, rows: u16) {
        if let Process::Terminal { pty, .. } = self {
            pty.resize(cols, rows);
        }
    }

    fn signal_group(&self, signal: i32) {
        match self {
            Process::Terminal { pty, .. } => pty.signal_group(signal),
            Process::Piped(piped) => piped.signal_group(signal),
        }
    }
}

/// Reads `source` on a thread of its own until it ends, sending each chunk as `kind`; with
/// a `prefix`, each chunk that starts a line carries it first (as the SSM agent marks
/// separated streams).
fn pump(mut source: impl Read + Send + 'static, kind: u32, prefix: String, output: mpsc::Sender<(u32, Vec<u8>)>) {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 16 * 1024];
        let mut line_start = true;
        loop {
            match source.read(&mut buf) {
                Ok(0) | Err(_) => return, // EIO on a terminal once the shell and its children are gone.
                Ok(n) => {
                    let mut chunk = Vec::with_capacity(prefix.len() + n);
                    if line_start && !prefix.is_empty() {
                        chunk.extend_from_slice(prefix.as_bytes());
                    }
                    chunk.extend_from_slice(&buf[..n]);
                    line_start = buf[n - 1] == b'\n';
                    if output.blocking_send((kind, chunk)).is_err() {
                        return;
                    }
                }
            }
        }
    });
}

//! The agent ⇄ server protocol, version 1.
//!
//! Two parts. Registration is one HTTP call (`POST /agent/v1/register`, [`RegisterRequest`]
//! → [`RegisterResponse`]) authorised by an activation code. After it, the agent opens one
//! WebSocket (`GET /agent/v1/connect`) and proves its identity: the server sends a
//! [`ServerMessage::Challenge`], the agent answers [`AgentMessage::Hello`] signed with the
//! Ed25519 key it generated at registration ([`hello_payload`] is what it signs). Then
//! heartbeats, invocations, acknowledgements and results flow as JSON text frames.
//!
//! Every message carries its kind in `"type"`; unknown kinds are an error, so a version
//! bump is explicit ([`VERSION`]).
#![deny(missing_docs)]

use serde::{Deserialize, Serialize};

pub mod archive;

/// The protocol version both sides speak.
pub const VERSION: u32 = 1;
/// Path of the registration call.
pub const REGISTER_PATH: &str = "/agent/v1/register";
/// Path of the control channel.
pub const CONNECT_PATH: &str = "/agent/v1/connect";

/// What a node reports about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// e.g. `Debian GNU/Linux`.
    pub platform_name: String,
    /// e.g. `12`.
    pub platform_version: String,
    /// `Linux`, `Windows` or `MacOS`.
    pub platform_type: String,
    /// The agent's version.
    pub agent_version: String,
    /// The node's primary IPv4 address.
    pub ip_address: String,
    /// The node's host name.
    pub computer_name: String,
}

/// Registration request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegisterRequest {
    /// The activation id.
    pub activation_id: String,
    /// The activation code (the secret).
    pub activation_code: String,
    /// The node's Ed25519 public key, hex.
    pub public_key: String,
    /// What the node is.
    pub platform: Platform,
}

/// Registration answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegisterResponse {
    /// The node's id, `mi-` and 17 hex digits.
    pub instance_id: String,
    /// The account it belongs to.
    pub account: String,
    /// The region it is registered in.
    pub region: String,
    /// The certificate authority that signed the server's certificate, when the server is
    /// its own authority: the node trusts it for every later connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
}

/// A refused registration or connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// A stable code, e.g. `ActivationExpired`.
    pub code: String,
    /// For people.
    pub message: String,
}

/// Server → agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// Sign this to prove who you are.
    Challenge {
        /// Random, hex.
        nonce: String,
        /// The server's protocol version.
        version: u32,
    },
    /// Identity accepted.
    Welcome {
        /// Seconds between heartbeats.
        heartbeat_seconds: u64,
        /// The server's release key (Ed25519, base64): the agent keeps the first it is told
        /// and installs only agent builds signed with it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        release_key: Option<String>,
    },
    /// Run this.
    Invoke(Invocation),
    /// Stop this invocation (kill its processes).
    Cancel {
        /// The invocation.
        invocation_id: String,
    },
    /// The result of this invocation is stored; the agent need not send it again.
    ResultAck {
        /// The invocation.
        invocation_id: String,
    },
    /// The answer to [`AgentMessage::ResolveSecure`].
    SecureValues {
        /// The request answered.
        request_id: u64,
        /// Parameter name (as asked) → plaintext value.
        values: std::collections::BTreeMap<String, String>,
        /// Names that do not exist or may not be read.
        missing: Vec<String>,
    },
    /// The server is closing the channel for good (e.g. the node was deregistered).
    Goodbye {
        /// Why.
        reason: String,
    },
    /// Open a data channel for a Session Manager session and start its shell or stream.
    StartSession(SessionStart),
    /// End a session: its shell is killed and its data channel closed.
    EndSession {
        /// The session.
        session_id: String,
    },
    /// Show the session's user a notice (its end is near), in the session's output.
    SessionNotice {
        /// The session.
        session_id: String,
        /// What to show.
        text: String,
    },
    /// The answer to [`AgentMessage::PutInventory`].
    InventoryStored {
        /// The request answered.
        request_id: u64,
        /// Why nothing was stored (`ItemContentMismatchException` when an item sent by hash
        /// alone no longer matches what the server holds: send it again with its content).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<ErrorBody>,
    },
    /// The answer to [`AgentMessage::GetPatchSnapshot`]: the baseline to apply, or why not.
    PatchSnapshot {
        /// The request answered.
        request_id: u64,
        /// The snapshot.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        snapshot: Option<Box<steward_patching::Snapshot>>,
        /// Why there is none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<ErrorBody>,
    },
    /// The answer to [`AgentMessage::GetFileChunk`]: up to 1 MiB of the file from the
    /// offset asked for, base64, with the file's whole size; or why not.
    FileChunk {
        /// The request answered.
        request_id: u64,
        /// The bytes, base64 (empty at or past the end).
        #[serde(default)]
        data: String,
        /// The file's whole size.
        #[serde(default)]
        size: u64,
        /// Why nothing was read.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<ErrorBody>,
    },
    /// The answer to [`AgentMessage::PutPatchState`].
    PatchStateStored {
        /// The request answered.
        request_id: u64,
        /// Why nothing was stored.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<ErrorBody>,
    },
}

/// Path prefix of a node's session data channels (`/agent/v1/session/<session id>`).
pub const SESSION_PATH: &str = "/agent/v1/session/";

/// A session for the node to serve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionStart {
    /// The session.
    pub session_id: String,
    /// The one-time token its data channel opens with.
    pub token: String,
    /// `Standard_Stream`, `InteractiveCommands`, `NonInteractiveCommands` or `Port`.
    pub session_type: String,
    /// The session document's inputs and properties: `shellProfile`, `commands`,
    /// `portNumber`, `host`, …
    pub properties: serde_json::Value,
    /// The OS user to run as (empty: the agent's choice).
    #[serde(default)]
    pub run_as: String,
}

/// Agent → server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentMessage {
    /// The answer to a challenge.
    Hello {
        /// The node's id.
        instance_id: String,
        /// Ed25519 signature of [`hello_payload`], hex.
        signature: String,
        /// The agent's protocol version.
        version: u32,
        /// What the node is now.
        platform: Platform,
    },
    /// Still here.
    Heartbeat {
        /// What the node is now.
        platform: Platform,
    },
    /// The invocation arrived and is recorded; it will run (or has run) exactly once.
    Ack {
        /// The invocation.
        invocation_id: String,
    },
    /// The invocation finished.
    Result(InvocationResult),
    /// Asks for the plaintext of `{{ssm-secure:NAME}}` references, at run time, so that
    /// secrets never sit in command history.
    ResolveSecure {
        /// Echoed in the answer.
        request_id: u64,
        /// Parameter names, optionally with `:version` or `:label`.
        names: Vec<String>,
    },
    /// The node's inventory, as PutInventory for itself: all types or none are stored.
    PutInventory {
        /// Echoed in the answer.
        request_id: u64,
        /// One per type gathered.
        items: Vec<InventoryItem>,
    },
    /// Asks for the patch baseline snapshot this node applies (`aws:runPatchBaseline`).
    GetPatchSnapshot {
        /// Echoed in the answer.
        request_id: u64,
        /// The snapshot id the command gave, or empty for a new one.
        snapshot_id: String,
        /// The node's operating system as patch baselines name it (`DEBIAN`, `UBUNTU`, …).
        operating_system: String,
        /// The node's product (`Debian12`, `Ubuntu22.04`, …).
        product: String,
    },
    /// Reads part of a package file a running invocation of this node names (by its
    /// SHA-256): downloads resume from any offset.
    GetFileChunk {
        /// Echoed in the answer.
        request_id: u64,
        /// The command whose step names the file.
        command_id: String,
        /// The file's SHA-256, hex.
        sha256: String,
        /// Where to read from.
        offset: u64,
    },
    /// The outcome of a scan or an install: the node's patch states.
    PutPatchState {
        /// Echoed in the answer.
        request_id: u64,
        /// The report.
        report: Box<steward_patching::NodeReport>,
    },
}

/// One inventory type of a node, as SSM's `InventoryItem`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InventoryItem {
    /// `AWS:Application`, `Custom:Rack`, …
    pub type_name: String,
    /// e.g. `1.0`.
    pub schema_version: String,
    /// When it was gathered, `2026-12-07T10:00:00Z`.
    pub capture_time: String,
    /// SHA-256 (hex) of the content as the agent serialises it.
    pub content_hash: String,
    /// The entries; absent when unchanged since the content with this hash was stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Vec<std::collections::BTreeMap<String, String>>>,
}

/// One step to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PluginRun {
    /// The step name (`0.aws:runShellScript` for 1.2 documents).
    pub name: String,
    /// The plugin, e.g. `aws:runShellScript`.
    pub action: String,
    /// Inputs with parameters already substituted.
    pub inputs: serde_json::Value,
    /// `platformType` precondition, if any.
    pub precondition_platform: Option<String>,
}

/// A command for one node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invocation {
    /// Unique per command and node.
    pub invocation_id: String,
    /// The command.
    pub command_id: String,
    /// The document run.
    pub document_name: String,
    /// The steps, in order.
    pub plugins: Vec<PluginRun>,
    /// Seconds the whole invocation may run.
    pub execution_timeout_seconds: u64,
}

/// How one step ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PluginResult {
    /// Step name.
    pub name: String,
    /// Success, Failed, TimedOut, Cancelled, Skipped.
    pub status: String,
    /// Exit code (-1 when none).
    pub response_code: i64,
    /// Standard output (whole).
    pub stdout: String,
    /// Standard error (whole).
    pub stderr: String,
    /// Epoch ms.
    pub started: i64,
    /// Epoch ms.
    pub ended: i64,
}

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvocationResult {
    /// The invocation.
    pub invocation_id: String,
    /// Success, Failed, TimedOut, Cancelled.
    pub status: String,
    /// Per step.
    pub plugins: Vec<PluginResult>,
}

/// Agent versions compared as the server and agents both order them: dotted parts, numbers
/// as numbers (`1.10.0 > 1.9.2`), other parts as text.
pub fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    let parts = |v: &str| -> Vec<(u64, String)> {
        v.split(['.', '-', '+'])
            .map(|p| match p.parse::<u64>() {
                Ok(n) => (n, String::new()),
                Err(_) => (0, p.to_owned()),
            })
            .collect()
    };
    parts(a).cmp(&parts(b))
}

/// The bytes the release key signs for an agent build: its version, architecture and
/// SHA-256 (hex).
pub fn release_payload(version: &str, arch: &str, sha256: &str) -> Vec<u8> {
    format!("steward-agent-release/v1\n{version}\n{arch}\n{sha256}").into_bytes()
}

/// The bytes an agent signs to answer a challenge.
pub fn hello_payload(instance_id: &str, nonce: &str) -> Vec<u8> {
    format!("steward-agent-hello/v{VERSION}\n{instance_id}\n{nonce}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_tagged_json() {
        let m = ServerMessage::Challenge { nonce: "ab".into(), version: VERSION };
        let text = serde_json::to_string(&m).unwrap();
        assert_eq!(text, r#"{"type":"challenge","nonce":"ab","version":1}"#);
        assert_eq!(serde_json::from_str::<ServerMessage>(&text).unwrap(), m);
        assert!(serde_json::from_str::<AgentMessage>(r#"{"type":"bogus"}"#).is_err());
    }
}

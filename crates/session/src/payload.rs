//! The JSON payloads of the data channel.

use serde::{Deserialize, Serialize};

/// The first (text) frame a client or node sends on a data channel.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OpenDataChannelInput {
    /// "1.0".
    pub message_schema_version: String,
    /// UUID.
    pub request_id: String,
    /// The one-time token from StartSession or ResumeSession.
    pub token_value: String,
    /// The client's id.
    #[serde(default)]
    pub client_id: String,
    /// The client's version.
    #[serde(default)]
    pub client_version: String,
}

/// The body of an `acknowledge` frame.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Acknowledge {
    /// The type of the message acknowledged.
    #[serde(rename = "AcknowledgedMessageType")]
    pub message_type: String,
    /// Its id, hyphenated.
    #[serde(rename = "AcknowledgedMessageId")]
    pub message_id: String,
    /// Its sequence number.
    #[serde(rename = "AcknowledgedMessageSequenceNumber")]
    pub sequence: i64,
    /// Always true.
    #[serde(rename = "IsSequentialMessage")]
    pub sequential: bool,
}

/// A terminal size.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Size {
    /// Columns.
    pub cols: u32,
    /// Rows.
    pub rows: u32,
}

/// One action the node asks the client to take in the handshake.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RequestedClientAction {
    /// `SessionType` (Steward never asks for KMSEncryption).
    pub action_type: String,
    /// `{"SessionType": "Standard_Stream" | "Port" | …, "Properties": {…}}`.
    pub action_parameters: serde_json::Value,
}

/// Handshake request, node to client.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HandshakeRequest {
    /// The node's agent version.
    pub agent_version: String,
    /// What the client must do.
    pub requested_client_actions: Vec<RequestedClientAction>,
}

/// One action the client took.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProcessedClientAction {
    /// The action.
    pub action_type: String,
    /// 1 Success, 2 Failed, 3 Unsupported.
    pub action_status: i64,
    /// Result.
    #[serde(default)]
    pub action_result: serde_json::Value,
    /// Error text.
    #[serde(default)]
    pub error: String,
}

/// Handshake response, client to node.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HandshakeResponse {
    /// The client's version.
    pub client_version: String,
    /// What it did.
    #[serde(default, deserialize_with = "null_is_empty")]
    pub processed_client_actions: Vec<ProcessedClientAction>,
    /// Errors. AWS's plugin (Go) sends `null` when there are none.
    #[serde(default, deserialize_with = "null_is_empty")]
    pub errors: Vec<String>,
}

/// A list that may arrive as JSON `null` (a Go nil slice): empty.
fn null_is_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

impl HandshakeResponse {
    /// The answer of a client that takes the session type offered (and never encryption).
    pub fn accepting(client_version: &str) -> HandshakeResponse {
        HandshakeResponse {
            client_version: client_version.into(),
            processed_client_actions: vec![ProcessedClientAction {
                action_type: "SessionType".into(),
                action_status: 1,
                action_result: serde_json::Value::Null,
                error: String::new(),
            }],
            errors: Vec::new(),
        }
    }
}

/// Handshake complete, node to client.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HandshakeComplete {
    /// Nanoseconds the handshake took.
    pub handshake_time_to_complete: i64,
    /// Printed by the client.
    pub customer_message: String,
}

/// `agent_session_state`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AgentSessionState {
    /// 1.
    pub schema_version: i64,
    /// `Connected` or `Terminating`.
    pub session_state: String,
    /// The session.
    pub session_id: String,
}

/// `channel_closed`, service to client.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelClosed {
    /// UUID.
    pub message_id: String,
    /// Creation time as text.
    pub created_date: String,
    /// The client.
    pub destination_id: String,
    /// The session.
    pub session_id: String,
    /// `channel_closed`.
    pub message_type: String,
    /// 1.
    pub schema_version: i64,
    /// Printed by the client.
    pub output: String,
}

/// The exit code a node reports after a non-interactive command's output: `EXIT_CODE: <n>`
/// as the SSM agent writes it (a bare number from older Steward agents); 1 if unreadable.
pub fn parse_exit_code(payload: &[u8]) -> i32 {
    let text = String::from_utf8_lossy(payload);
    let text = text.trim();
    text.strip_prefix("EXIT_CODE:").unwrap_or(text).trim().parse().unwrap_or(1)
}

#[cfg(test)]
mod exit_code_tests {
    use super::parse_exit_code;

    #[test]
    fn exit_codes_as_the_ssm_agent_writes_them() {
        assert_eq!(parse_exit_code(b"EXIT_CODE: 0"), 0);
        assert_eq!(parse_exit_code(b"EXIT_CODE: 42"), 42);
        assert_eq!(parse_exit_code(b"EXIT_CODE: -1"), -1);
        assert_eq!(parse_exit_code(b"7"), 7);
        assert_eq!(parse_exit_code(b"garbage"), 1);
    }

    #[test]
    fn a_go_nil_list_is_an_empty_one() {
        let answer: super::HandshakeResponse = serde_json::from_str(
            r#"{"ClientVersion":"1.2.0","ProcessedClientActions":[{"ActionType":"SessionType","ActionStatus":1,"ActionResult":null,"Error":""}],"Errors":null}"#,
        )
        .unwrap();
        assert!(answer.errors.is_empty());
        assert_eq!(answer.processed_client_actions[0].action_status, 1);
    }
}

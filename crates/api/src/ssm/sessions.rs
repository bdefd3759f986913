//! Session Manager operations.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// StartSession input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartSessionRequest {
    /// The node.
    pub target: String,
    /// The session document (default `SSM-SessionManagerRunShell`).
    pub document_name: Option<String>,
    /// Why.
    pub reason: Option<String>,
    /// Document parameters.
    pub parameters: Option<BTreeMap<String, Vec<String>>>,
}

/// StartSession and ResumeSession output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartSessionResponse {
    /// Id.
    pub session_id: String,
    /// One-time token for the data channel.
    pub token_value: String,
    /// The data channel's WebSocket URL.
    pub stream_url: String,
}

/// A request naming one session.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SessionIdRequest {
    /// Id.
    pub session_id: String,
}

/// TerminateSession output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SessionIdResponse {
    /// Id.
    pub session_id: String,
}

/// A DescribeSessions filter.
#[derive(Debug, Clone, Deserialize)]
pub struct SessionFilter {
    /// InvokedAfter, InvokedBefore, Target, Owner, Status, SessionId.
    pub key: String,
    /// Value.
    pub value: String,
}

/// DescribeSessions input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeSessionsRequest {
    /// Active or History.
    pub state: String,
    /// Filters.
    pub filters: Option<Vec<SessionFilter>>,
    /// Page size.
    pub max_results: Option<i64>,
    /// Paging.
    pub next_token: Option<String>,
}

/// Where a transcript is.
#[derive(Debug, Clone, Serialize)]
pub struct SessionOutputUrl {
    /// Blob URL.
    #[serde(rename = "S3OutputUrl")]
    pub s3_output_url: String,
}

/// A session as described.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Session {
    /// Id.
    pub session_id: String,
    /// Node.
    pub target: String,
    /// Status.
    pub status: String,
    /// Epoch seconds.
    pub start_date: f64,
    /// Epoch seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_date: Option<f64>,
    /// Document.
    pub document_name: String,
    /// Principal ARN.
    pub owner: String,
    /// Why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// How it ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    /// Transcript.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_url: Option<SessionOutputUrl>,
}

/// DescribeSessions output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeSessionsResponse {
    /// Page.
    pub sessions: Vec<Session>,
    /// More.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// GetConnectionStatus input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConnectionStatusRequest {
    /// The node.
    pub target: String,
}

/// GetConnectionStatus output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConnectionStatusResponse {
    /// The node.
    pub target: String,
    /// connected or notconnected.
    pub status: String,
}

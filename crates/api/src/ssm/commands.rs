//! Run Command operations.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A target selector: `InstanceIds`, `tag:KEY`, `tag-key`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Target {
    /// Key.
    pub key: Option<String>,
    /// Values.
    pub values: Option<Vec<String>>,
}

/// Where status changes are announced: a webhook URL in place of an SNS topic.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NotificationConfig {
    /// An http:// URL.
    pub notification_arn: Option<String>,
    /// All, InProgress, Success, TimedOut, Cancelled, Failed.
    pub notification_events: Option<Vec<String>>,
    /// Command or Invocation.
    pub notification_type: Option<String>,
}

/// SendCommand input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendCommandRequest {
    /// Up to 50 node ids.
    pub instance_ids: Option<Vec<String>>,
    /// Or targets.
    pub targets: Option<Vec<Target>>,
    /// Document name or ARN.
    pub document_name: String,
    /// Version.
    pub document_version: Option<String>,
    /// Expected content hash.
    pub document_hash: Option<String>,
    /// Sha256.
    pub document_hash_type: Option<String>,
    /// Seconds the command may wait for delivery.
    pub timeout_seconds: Option<i64>,
    /// Comment.
    pub comment: Option<String>,
    /// Parameters.
    pub parameters: Option<BTreeMap<String, Vec<String>>>,
    /// Output bucket (blob store).
    pub output_s3_bucket_name: Option<String>,
    /// Output prefix.
    pub output_s3_key_prefix: Option<String>,
    /// Number or percentage.
    pub max_concurrency: Option<String>,
    /// Number or percentage.
    pub max_errors: Option<String>,
    /// Service role.
    pub service_role_arn: Option<String>,
    /// Status notifications.
    pub notification_config: Option<NotificationConfig>,
}

/// A command as listed.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Command {
    /// Id.
    pub command_id: String,
    /// Document.
    pub document_name: String,
    /// Version asked for.
    pub document_version: String,
    /// Comment.
    pub comment: String,
    /// Epoch seconds.
    pub expires_after: f64,
    /// Parameters as given.
    pub parameters: BTreeMap<String, Vec<String>>,
    /// Node ids given.
    pub instance_ids: Vec<String>,
    /// Targets given.
    pub targets: Vec<Target>,
    /// Epoch seconds.
    pub requested_date_time: f64,
    /// Status.
    pub status: String,
    /// Status details.
    pub status_details: String,
    /// Bucket.
    #[serde(rename = "OutputS3BucketName")]
    pub output_s3_bucket_name: String,
    /// Prefix.
    #[serde(rename = "OutputS3KeyPrefix")]
    pub output_s3_key_prefix: String,
    /// MaxConcurrency.
    pub max_concurrency: String,
    /// MaxErrors.
    pub max_errors: String,
    /// Number of targets.
    pub target_count: i64,
    /// Finished invocations.
    pub completed_count: i64,
    /// Failed invocations.
    pub error_count: i64,
    /// Undelivered in time.
    pub delivery_timed_out_count: i64,
    /// Service role.
    pub service_role: String,
    /// Delivery timeout.
    pub timeout_seconds: i64,
}

/// SendCommand output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendCommandResponse {
    /// The command.
    pub command: Command,
}

/// GetCommandInvocation input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetCommandInvocationRequest {
    /// Command.
    pub command_id: String,
    /// Node.
    pub instance_id: String,
    /// One step.
    pub plugin_name: Option<String>,
}

/// GetCommandInvocation output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetCommandInvocationResponse {
    /// Command.
    pub command_id: String,
    /// Node.
    pub instance_id: String,
    /// Comment.
    pub comment: String,
    /// Document.
    pub document_name: String,
    /// Version.
    pub document_version: String,
    /// Step shown.
    pub plugin_name: String,
    /// Exit code.
    pub response_code: i64,
    /// e.g. "2026-01-01T00:00:00.000Z".
    pub execution_start_date_time: String,
    /// Elapsed, "PT1.5S".
    pub execution_elapsed_time: String,
    /// End.
    pub execution_end_date_time: String,
    /// Status.
    pub status: String,
    /// Details.
    pub status_details: String,
    /// First 24,000 characters of stdout.
    pub standard_output_content: String,
    /// Where the whole output is.
    pub standard_output_url: String,
    /// First 8,000 characters of stderr.
    pub standard_error_content: String,
    /// Where the whole error output is.
    pub standard_error_url: String,
}

/// A command filter.
#[derive(Debug, Clone, Deserialize)]
pub struct CommandFilter {
    /// InvokedAfter, InvokedBefore, Status, ExecutionStage, DocumentName.
    pub key: String,
    /// Value.
    pub value: String,
}

/// ListCommands / ListCommandInvocations input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListCommandsRequest {
    /// One command.
    pub command_id: Option<String>,
    /// One node.
    pub instance_id: Option<String>,
    /// Filters.
    pub filters: Option<Vec<CommandFilter>>,
    /// Include plugin details (invocations only).
    pub details: Option<bool>,
    /// Page size.
    pub max_results: Option<i64>,
    /// Continuation.
    pub next_token: Option<String>,
}

/// ListCommands output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListCommandsResponse {
    /// Commands, newest first.
    pub commands: Vec<Command>,
    /// Continuation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// One step's outcome on one node.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CommandPlugin {
    /// Step name.
    pub name: String,
    /// Status.
    pub status: String,
    /// Details.
    pub status_details: String,
    /// Exit code.
    pub response_code: i64,
    /// Epoch seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_start_date_time: Option<f64>,
    /// Epoch seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_finish_date_time: Option<f64>,
    /// First 2,500 characters of output.
    pub output: String,
    /// Where the whole output is.
    pub standard_output_url: String,
    /// Where the whole error output is.
    pub standard_error_url: String,
}

/// One invocation as listed.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CommandInvocation {
    /// Command.
    pub command_id: String,
    /// Node.
    pub instance_id: String,
    /// Node name.
    pub instance_name: String,
    /// Comment.
    pub comment: String,
    /// Document.
    pub document_name: String,
    /// Version.
    pub document_version: String,
    /// Epoch seconds.
    pub requested_date_time: f64,
    /// Status.
    pub status: String,
    /// Details.
    pub status_details: String,
    /// Output (with Details).
    pub trace_output: String,
    /// URL.
    pub standard_output_url: String,
    /// URL.
    pub standard_error_url: String,
    /// Steps (with Details).
    pub command_plugins: Vec<CommandPlugin>,
    /// Service role.
    pub service_role: String,
}

/// ListCommandInvocations output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListCommandInvocationsResponse {
    /// Invocations.
    pub command_invocations: Vec<CommandInvocation>,
    /// Continuation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// CancelCommand input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CancelCommandRequest {
    /// Command.
    pub command_id: String,
    /// Only these nodes.
    pub instance_ids: Option<Vec<String>>,
}

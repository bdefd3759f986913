//! Maintenance windows. The window, target and task shapes serve as request and answer
//! (every member optional on the wire, absent ones left out).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::commands::{NotificationConfig, Target};
use super::Tag;

/// A window as created, updated and described.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MaintenanceWindow {
    /// `mw-…`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_id: Option<String>,
    /// Name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// ISO-8601: not before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_date: Option<String>,
    /// ISO-8601: not after.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_date: Option<String>,
    /// cron(…), rate(…) or at(…).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// IANA zone of the schedule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_timezone: Option<String>,
    /// Days after the cron time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_offset: Option<i64>,
    /// Hours (1–24).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<i64>,
    /// Hours before the end when no task may start (0–23).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cutoff: Option<i64>,
    /// Whether tasks may name nodes that are not registered targets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_unassociated_targets: Option<bool>,
    /// Whether it runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Next run (answers only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_execution_time: Option<String>,
    /// Epoch seconds (answers only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_date: Option<f64>,
    /// Epoch seconds (answers only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_date: Option<f64>,
    /// UpdateMaintenanceWindow: unset members are cleared, not kept.
    #[serde(skip_serializing)]
    pub replace: Option<bool>,
    /// Idempotency token (CreateMaintenanceWindow).
    #[serde(skip_serializing)]
    pub client_token: Option<String>,
    /// Tags (CreateMaintenanceWindow).
    #[serde(skip_serializing)]
    pub tags: Option<Vec<Tag>>,
}

/// A registered target.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WindowTarget {
    /// Window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_id: Option<String>,
    /// Id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_target_id: Option<String>,
    /// INSTANCE or RESOURCE_GROUP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    /// Targets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub targets: Option<Vec<Target>>,
    /// Passed to tasks as `{{OWNER_INFORMATION}}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_information: Option<String>,
    /// Name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Update: clear unset members.
    #[serde(skip_serializing)]
    pub replace: Option<bool>,
    /// Deregister: refuse while a task uses it.
    #[serde(skip_serializing)]
    pub safe: Option<bool>,
    /// Idempotency token.
    #[serde(skip_serializing)]
    pub client_token: Option<String>,
}

/// Run Command settings of a task.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RunCommandParameters {
    /// Comment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Hash of the document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_hash: Option<String>,
    /// Sha256.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_hash_type: Option<String>,
    /// Version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_version: Option<String>,
    /// Status notifications.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification_config: Option<NotificationConfig>,
    /// Bucket.
    #[serde(rename = "OutputS3BucketName", skip_serializing_if = "Option::is_none")]
    pub output_s3_bucket_name: Option<String>,
    /// Prefix.
    #[serde(rename = "OutputS3KeyPrefix", skip_serializing_if = "Option::is_none")]
    pub output_s3_key_prefix: Option<String>,
    /// Document parameters (pseudo-parameters such as `{{RESOURCE_ID}}` allowed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<BTreeMap<String, Vec<String>>>,
    /// Role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_role_arn: Option<String>,
    /// Delivery timeout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i64>,
    /// Not supported (no CloudWatch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud_watch_output_config: Option<serde_json::Value>,
}

/// Automation settings of a task.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AutomationParameters {
    /// The runbook's version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_version: Option<String>,
    /// The runbook's parameters (pseudo-parameters such as `{{RESOURCE_ID}}` allowed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<BTreeMap<String, Vec<String>>>,
}

/// A task's invocation parameters by task type.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskInvocationParameters {
    /// RUN_COMMAND.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_command: Option<RunCommandParameters>,
    /// AUTOMATION.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub automation: Option<AutomationParameters>,
    /// STEP_FUNCTIONS (not available).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_functions: Option<serde_json::Value>,
    /// LAMBDA (not available).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lambda: Option<serde_json::Value>,
}

/// A registered task.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WindowTask {
    /// Window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_id: Option<String>,
    /// Id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_task_id: Option<String>,
    /// Targets: `WindowTargetIds` or `InstanceIds`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub targets: Option<Vec<Target>>,
    /// The document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_arn: Option<String>,
    /// Role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_role_arn: Option<String>,
    /// RUN_COMMAND, AUTOMATION, STEP_FUNCTIONS, LAMBDA (request) …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_type: Option<String>,
    /// … and the same as `Type` in DescribeMaintenanceWindowTasks.
    #[serde(rename = "Type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Deprecated parameters (kept).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_parameters: Option<serde_json::Value>,
    /// Per type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_invocation_parameters: Option<TaskInvocationParameters>,
    /// Lower first; equal in parallel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    /// Limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<String>,
    /// Limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_errors: Option<String>,
    /// Output logging (kept).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logging_info: Option<serde_json::Value>,
    /// Name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// CONTINUE_TASK or CANCEL_TASK at the cutoff.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cutoff_behavior: Option<String>,
    /// Not supported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alarm_configuration: Option<serde_json::Value>,
    /// Update: clear unset members.
    #[serde(skip_serializing)]
    pub replace: Option<bool>,
    /// Idempotency token.
    #[serde(skip_serializing)]
    pub client_token: Option<String>,
}

/// A list filter.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WindowFilter {
    /// Key.
    pub key: Option<String>,
    /// Values.
    pub values: Option<Vec<String>>,
}

/// Every maintenance-window read: which ids it names, filters and paging.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WindowQuery {
    /// Window.
    pub window_id: Option<String>,
    /// Execution.
    pub window_execution_id: Option<String>,
    /// Task execution.
    pub task_id: Option<String>,
    /// Invocation.
    pub invocation_id: Option<String>,
    /// Registered target.
    pub window_target_id: Option<String>,
    /// Registered task.
    pub window_task_id: Option<String>,
    /// Targets (schedule and windows-for-target).
    pub targets: Option<Vec<Target>>,
    /// INSTANCE or RESOURCE_GROUP.
    pub resource_type: Option<String>,
    /// Filters.
    pub filters: Option<Vec<WindowFilter>>,
    /// Page size.
    pub max_results: Option<i64>,
    /// Paging.
    pub next_token: Option<String>,
    /// Deregister target: refuse while in use.
    pub safe: Option<bool>,
}

/// One run of a window.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct WindowExecution {
    /// Window.
    pub window_id: String,
    /// Id.
    pub window_execution_id: String,
    /// Status.
    pub status: String,
    /// Why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_details: Option<String>,
    /// Epoch seconds.
    pub start_time: f64,
    /// Epoch seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<f64>,
    /// GetMaintenanceWindowExecution: its task executions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_ids: Option<Vec<String>>,
}

/// One task of one run.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct WindowExecutionTask {
    /// Run.
    pub window_execution_id: String,
    /// Id.
    pub task_execution_id: String,
    /// Status.
    pub status: String,
    /// Why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_details: Option<String>,
    /// Epoch seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<f64>,
    /// Epoch seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<f64>,
    /// The document.
    pub task_arn: String,
    /// RUN_COMMAND (DescribeMaintenanceWindowExecutionTasks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_type: Option<String>,
    /// RUN_COMMAND (GetMaintenanceWindowExecutionTask).
    #[serde(rename = "Type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_role: Option<String>,
    /// Priority.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    /// Limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<String>,
    /// Limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_errors: Option<String>,
}

/// One node's command within a task of a run.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct WindowExecutionTaskInvocation {
    /// Run.
    pub window_execution_id: String,
    /// Task execution.
    pub task_execution_id: String,
    /// Id.
    pub invocation_id: String,
    /// The command id.
    pub execution_id: String,
    /// RUN_COMMAND.
    pub task_type: String,
    /// What was sent, as JSON text.
    pub parameters: String,
    /// Status.
    pub status: String,
    /// Why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_details: Option<String>,
    /// Epoch seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<f64>,
    /// Epoch seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<f64>,
    /// From the window target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_information: Option<String>,
    /// The window target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_target_id: Option<String>,
}

/// A coming run.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduledWindowExecution {
    /// Window.
    pub window_id: String,
    /// Name.
    pub name: String,
    /// ISO-8601.
    pub execution_time: String,
}

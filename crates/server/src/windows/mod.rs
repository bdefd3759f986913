//! Maintenance windows: a schedule, a duration and a cutoff, registered targets and
//! prioritised tasks; each run executes the tasks in priority order (equal priorities
//! together), one Run Command command per target node, within the task's MaxConcurrency
//! and MaxErrors, and starts nothing after the cutoff.
//!
//! Runs start from the scheduler's due entries and advance on each scheduler pass
//! ([`run::advance_all`]): the leader alone drives them. Keys (under
//! `<account>/<region>/`): `mw/…/<window>`, `mwtarget/…/<window>/<target>`,
//! `mwtask/…/<window>/<task>`, executions `mwexec/…/<window>/<inverted ms>-<execution>`
//! with the index `mwexecidx/…/<execution>` (execution id → key), the running ones in
//! `mwactive/…/<execution>`, and `mwtoken/…/<token>` for idempotent creation.

mod api;
mod history;
mod run;

pub use api::{
    all_windows, create_maintenance_window, delete_maintenance_window, deregister_target, deregister_task,
    describe_maintenance_windows, describe_schedule, describe_targets, describe_tasks, describe_windows_for_target,
    get_maintenance_window, get_task, register_target, register_task, update_maintenance_window, update_target,
    update_task,
};
pub use history::{
    cancel_execution, describe_execution_tasks, describe_executions, describe_invocations, get_execution,
    get_execution_task, get_invocation,
};
pub use run::{advance_all, on_due};

use serde::{Deserialize, Serialize};
use steward_api::ssm::windows::{MaintenanceWindow, RunCommandParameters};
use steward_api::ApiError;

/// A maintenance window opening; must match the window's `next_due`.
pub const KIND_WINDOW: &str = "window";

/// A stored window.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WindowRecord {
    /// Account.
    pub account: String,
    /// Region.
    pub region: String,
    /// The window as configured (answer-only members empty).
    pub window: MaintenanceWindow,
    /// Epoch ms.
    pub created: i64,
    /// Epoch ms.
    pub modified: i64,
    /// Epoch ms of the next run booked with the scheduler.
    pub next_due: Option<i64>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    /// Who created it.
    #[serde(default)]
    pub run_as: Option<crate::base::RunAs>,
}

/// A registered task as stored: the task, and who registered or last updated it — the
/// principal its commands run as when it names no service role (see `base::run_as`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskRecord {
    /// The task as configured.
    #[serde(flatten)]
    pub task: steward_api::ssm::windows::WindowTask,
    /// Who registered or last updated it.
    #[serde(default, rename = "StewardRunAs", skip_serializing_if = "Option::is_none")]
    pub run_as: Option<crate::base::RunAs>,
}

impl WindowRecord {
    /// The id.
    pub fn id(&self) -> &str {
        self.window.window_id.as_deref().unwrap_or_default()
    }
}

/// One run of a window.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecutionRecord {
    /// UUID.
    pub id: String,
    /// Window.
    pub window_id: String,
    /// Account.
    pub account: String,
    /// Region.
    pub region: String,
    /// PENDING, IN_PROGRESS, SUCCESS, FAILED, TIMED_OUT, CANCELLING, CANCELLED, SKIPPED_OVERLAPPING.
    pub status: String,
    /// Why.
    pub status_details: String,
    /// Epoch ms.
    pub start: i64,
    /// Epoch ms.
    pub end: Option<i64>,
    /// No task starts from this time (epoch ms).
    pub cutoff_at: i64,
    /// The window closes (epoch ms).
    pub end_at: i64,
    /// The tasks, in priority order.
    pub tasks: Vec<TaskRun>,
}

/// One task within a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskRun {
    /// UUID.
    pub id: String,
    /// The registered task.
    pub window_task_id: String,
    /// The document.
    pub task_arn: String,
    /// Priority.
    pub priority: i64,
    /// Role.
    pub service_role: Option<String>,
    /// Who the task's commands run as without a role (see `base::run_as`).
    #[serde(default)]
    pub run_as: Option<crate::base::RunAs>,
    /// Limit.
    pub max_concurrency: String,
    /// Limit.
    pub max_errors: String,
    /// CONTINUE_TASK or CANCEL_TASK.
    pub cutoff_behavior: String,
    /// Run Command settings.
    pub run_command: RunCommandParameters,
    /// `RUN_COMMAND` (also when empty, as runs recorded before other types were) or `AUTOMATION`.
    #[serde(default)]
    pub task_type: String,
    /// Automation settings.
    #[serde(default)]
    pub automation: Option<steward_api::ssm::windows::AutomationParameters>,
    /// Status.
    pub status: String,
    /// Why.
    pub status_details: String,
    /// Epoch ms.
    pub start: Option<i64>,
    /// Epoch ms.
    pub end: Option<i64>,
    /// Nodes not started yet.
    pub pending: Vec<PendingTarget>,
    /// Nodes started.
    pub invocations: Vec<InvocationRun>,
}

impl TaskRun {
    /// Whether it starts automation executions rather than commands.
    pub fn is_automation(&self) -> bool {
        self.task_type == "AUTOMATION"
    }

    /// Its type as SSM names it.
    pub fn kind(&self) -> &str {
        if self.task_type.is_empty() {
            "RUN_COMMAND"
        } else {
            &self.task_type
        }
    }
}

/// A node a task still has to run on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingTarget {
    /// Node.
    pub node_id: String,
    /// Window target it came from.
    pub window_target_id: Option<String>,
    /// Its owner information.
    pub owner_information: Option<String>,
}

/// One node's command within a task run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InvocationRun {
    /// UUID.
    pub id: String,
    /// The command, or the automation execution of an AUTOMATION task.
    pub command_id: String,
    /// Node.
    pub node_id: String,
    /// Window target.
    pub window_target_id: Option<String>,
    /// Owner information.
    pub owner_information: Option<String>,
    /// What was sent, as JSON.
    pub parameters: String,
    /// Status.
    pub status: String,
    /// Why.
    pub status_details: String,
    /// Epoch ms.
    pub start: i64,
    /// Epoch ms.
    pub end: Option<i64>,
}

/// Store key of a window.
pub fn window_key(account: &str, region: &str, id: &str) -> String {
    format!("mw/{account}/{region}/{id}")
}

/// Store key of a registered target.
pub fn target_key(account: &str, region: &str, window: &str, id: &str) -> String {
    format!("mwtarget/{account}/{region}/{window}/{id}")
}

/// Store key of a registered task.
pub fn task_key(account: &str, region: &str, window: &str, id: &str) -> String {
    format!("mwtask/{account}/{region}/{window}/{id}")
}

/// Store key of an execution: newest first under its window.
pub fn execution_key(account: &str, region: &str, window: &str, start: i64, id: &str) -> String {
    format!("mwexec/{account}/{region}/{window}/{:013}-{id}", 9_999_999_999_999 - start)
}

/// Store key of the execution index.
pub fn execution_index(account: &str, region: &str, id: &str) -> String {
    format!("mwexecidx/{account}/{region}/{id}")
}

/// Store key of a running execution.
pub fn active_key(account: &str, region: &str, id: &str) -> String {
    format!("mwactive/{account}/{region}/{id}")
}

/// DoesNotExistException.
pub fn missing(what: &str, id: &str) -> ApiError {
    ApiError::new("DoesNotExistException", format!("{what} {id} does not exist."))
}

/// Whether a status is final.
pub fn is_final(status: &str) -> bool {
    matches!(status, "SUCCESS" | "FAILED" | "TIMED_OUT" | "CANCELLED" | "SKIPPED_OVERLAPPING")
}

/// A list answer: `{name: items, NextToken}` with the token left out on the last page.
pub fn listing<T: Serialize>(name: &str, items: Vec<T>, next: Option<String>) -> serde_json::Value {
    let mut body = serde_json::Map::new();
    body.insert(name.to_owned(), serde_json::to_value(items).unwrap_or_default());
    if let Some(next) = next {
        body.insert("NextToken".into(), next.into());
    }
    serde_json::Value::Object(body)
}

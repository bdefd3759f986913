//! Automation: runbooks (documents of type Automation) executed step by step on the
//! server, as whoever started them. An execution is one record holding its copy of the
//! runbook, its parameters, and a record per step run; every step boundary is one write of
//! that record, in the same batch as the step's effect (the command an `aws:runCommand`
//! step sends), so a server killed at any moment resumes each execution where its record
//! says, on any server sharing the store, without running a finished step again.
//!
//! Keys: `autoexec/<acct>/<region>/<id>` (the execution), `autoactive/<acct>/<region>/<id>`
//! (the executions running: the scheduler's leader advances them each pass),
//! `autoqueue/<acct>/<region>/<start>-<id>` (executions started while the account ran its
//! limit, as SSM queues them; each pass moves the oldest in as running ones end),
//! `autotoken/<acct>/<region>/<ClientToken>` (the execution a ClientToken started),
//! `autopreview/<acct>/<region>/<id>` (an execution preview, kept 30 days).

mod actions;
mod api;
mod aws_api;
mod branch;
mod change;
mod engine;
mod fan_out;
mod looping;
mod outcome;
mod preview;
mod runbook;
mod script;
mod selector;
mod start;
mod webhook;

use std::collections::BTreeMap;
use std::future::Future;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use steward_api::ssm::automation::ParameterMap;
use steward_api::ApiError;

pub use api::{
    describe_automation_executions, describe_automation_step_executions, get_automation_execution,
    send_automation_signal, start_automation_execution, stop_automation_execution,
};
pub use change::start_change_request_execution;
pub use engine::advance_all;
pub use preview::{get_execution_preview, on_preview_expiry, start_execution_preview, KIND_PREVIEW_EXPIRY};
pub use start::{check_start, execution_status, start_for};

use crate::base::{Ctx, RunAs};

/// Steward's own API as runbook steps call it (`aws:executeAwsApi`,
/// `aws:waitForAwsResourceProperty`, `aws:assertAwsResourceProperty`): the operation runs
/// as the execution's principal, validated, authorised and audited as a signed call from
/// it would be. The operation table lives above this rank; `app` implements this hook.
pub trait OwnApi: Send + Sync + 'static {
    /// Runs operation `api` of `service` (its signing name: `ssm`, `kms`, `iam`, `sts`,
    /// `sns`, `resource-groups`) with `input` (PascalCase JSON, as SDKs take it); the
    /// answer as JSON.
    fn call(
        &self,
        ctx: &Ctx,
        service: &str,
        api: &str,
        input: Value,
    ) -> impl Future<Output = Result<Value, ApiError>> + Send;
}

/// One run of a step.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepRecord {
    /// A UUID.
    pub id: String,
    /// Which step of the runbook.
    pub index: usize,
    /// Pending, InProgress, Waiting, Success, Failed, TimedOut, Cancelled.
    pub status: String,
    /// Epoch ms.
    pub start: i64,
    /// Epoch ms.
    pub end: Option<i64>,
    /// Its inputs with every reference resolved.
    pub inputs: Value,
    /// Its outputs.
    pub outputs: ParameterMap,
    /// Why it failed.
    pub failure_message: Option<String>,
    /// Which attempt (from 1).
    pub attempt: u32,
    /// `aws:sleep`: when it wakes (epoch ms).
    pub wake_at: Option<i64>,
    /// `aws:runCommand`: the command it sent.
    pub command_id: Option<String>,
    /// `aws:approve`: who approved.
    pub approvals: Vec<String>,
    /// Where it goes next, when it decided (`aws:branch`, onFailure).
    pub next: Option<String>,
    /// `aws:executeAutomation`: the execution it started.
    #[serde(default)]
    pub child: Option<String>,
    /// `aws:executeScript` and changing `aws:executeAwsApi` calls: the server process that
    /// started the script or the call.
    #[serde(default)]
    pub launched_by: Option<String>,
}

/// One execution.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecutionRecord {
    /// A UUID.
    pub id: String,
    /// Account.
    pub account: String,
    /// Region.
    pub region: String,
    /// The runbook's name.
    pub document_name: String,
    /// The version it runs.
    pub document_version: String,
    /// Parameters as given, defaults filled in, as text lists.
    pub parameters: ParameterMap,
    /// Parameters typed as the runbook declares them.
    pub values: BTreeMap<String, Value>,
    /// `Auto` or `Interactive`.
    pub mode: String,
    /// Pending, InProgress, Waiting, Success, Failed, TimedOut, Cancelling, Cancelled.
    pub status: String,
    /// Epoch ms.
    pub start: i64,
    /// Epoch ms.
    pub end: Option<i64>,
    /// The caller's ARN.
    pub executed_by: String,
    /// Who its steps act as.
    pub run_as: RunAs,
    /// Its copy of the runbook.
    pub runbook: runbook::Runbook,
    /// The step to run (an index into the runbook), none once it ended.
    pub current: Option<usize>,
    /// The steps run so far, in order.
    pub steps: Vec<StepRecord>,
    /// The runbook's outputs, once it ended.
    pub outputs: ParameterMap,
    /// Why it failed.
    pub failure_message: Option<String>,
    /// The ClientToken it was started with.
    pub client_token: Option<String>,
    /// StopAutomationExecution asked for this (`Cancel`).
    pub stop: Option<String>,
    /// While it waits for a free slot (the account runs its limit): its queue entry.
    #[serde(default)]
    pub queued: Option<String>,
    /// A rate-controlled execution: its targets and the children it runs for them.
    #[serde(default)]
    pub fan_out: Option<FanOut>,
    /// A child: the rate-controlled execution that started it, and the value it runs for.
    #[serde(default)]
    pub parent: Option<(String, String)>,
    /// Interactive mode: the step a StartStep signal let start (each waits for one).
    #[serde(default)]
    pub granted: Option<usize>,
    /// How deep `aws:executeAutomation` steps nest it (0: started otherwise).
    #[serde(default)]
    pub depth: u32,
    /// A change request (StartChangeRequestExecution): what was asked for.
    #[serde(default)]
    pub change: Option<ChangeRequest>,
    /// Cancelled during a step with an `onCancel` step: until when (epoch ms) that step may
    /// run before the execution ends Cancelled.
    #[serde(default)]
    pub cleanup_until: Option<i64>,
}

/// What a change request asked for, besides its template's steps.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChangeRequest {
    /// ChangeRequestName.
    pub name: Option<String>,
    /// When its runbook may run (epoch ms).
    pub scheduled_time: Option<i64>,
    /// The runbook it runs.
    pub runbooks: Vec<steward_api::ssm::automation::ChangeRunbook>,
    /// ChangeDetails.
    pub details: Option<String>,
}

/// One run a rate-controlled execution makes: the target value it is for, its parameters
/// (as given and typed, checked when the execution started).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlannedRun {
    /// The value of the target parameter (or the target map, as text).
    pub target: String,
    /// Its parameters as text lists.
    pub parameters: ParameterMap,
    /// Its parameters typed.
    pub values: BTreeMap<String, Value>,
}

/// A child execution as its parent last saw it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Child {
    /// Its execution id.
    pub id: String,
    /// Its status when last looked at.
    pub status: String,
    /// Epoch ms.
    pub start: i64,
    /// Epoch ms, once it ended.
    pub end: Option<i64>,
}

/// Rate control: one child execution per target, at most MaxConcurrency at once, none
/// started once more than MaxErrors failed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FanOut {
    /// The parameter target values go into.
    pub target_parameter_name: Option<String>,
    /// Targets as given.
    pub targets: Vec<steward_api::ssm::commands::Target>,
    /// Target maps as given.
    pub target_maps: Vec<steward_api::ssm::automation::TargetMap>,
    /// As given (or the default).
    pub max_concurrency: String,
    /// As given (or the default).
    pub max_errors: String,
    /// Every run, in order.
    pub runs: Vec<PlannedRun>,
    /// The children started, in the order of `runs`.
    pub children: Vec<Child>,
}

impl ExecutionRecord {
    /// Whether it ended.
    pub fn finished(&self) -> bool {
        is_final(&self.status)
    }
}

/// Final statuses of executions and steps.
pub fn is_final(status: &str) -> bool {
    matches!(status, "Success" | "Failed" | "TimedOut" | "Cancelled" | "CompletedWithSuccess" | "CompletedWithFailure")
}

fn execution_key(account: &str, region: &str, id: &str) -> String {
    format!("autoexec/{account}/{region}/{id}")
}

fn active_key(account: &str, region: &str, id: &str) -> String {
    format!("autoactive/{account}/{region}/{id}")
}

fn queue_key(account: &str, region: &str, start: i64, id: &str) -> String {
    format!("autoqueue/{account}/{region}/{start:015}-{id}")
}

/// How deep runbooks may start runbooks (`aws:executeAutomation`): a runbook starting
/// itself stops there rather than fill the account's slots.
pub const MAX_NESTING: u32 = 5;

/// How long an `onCancel` step may run, as SSM allows a cancellation workflow.
pub const CLEANUP_MS: i64 = 120_000;

/// Executions an account may run at once in a region, as SSM's quota.
pub const MAX_RUNNING: usize = 100;
/// Executions that may wait for a slot, as SSM's queue.
pub const MAX_QUEUED: usize = 1_000;

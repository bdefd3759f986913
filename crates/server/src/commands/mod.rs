//! Run Command: send a document to many nodes, deliver within rate limits, collect results.
//!
//! SendCommand writes the command, one invocation per node and an entry in the active index
//! in one batch before it answers. The [`dispatch`] worker delivers pending invocations to
//! agents connected to this server, within MaxConcurrency, stops new deliveries past
//! MaxErrors, and times out those not delivered in time. Agents acknowledge and report
//! results ([`results`]). Keys: `cmd/<account>/<region>/<id>`,
//! `inv/<account>/<region>/<id>/<mi-id>`, `cmdactive/<account>/<region>/<id>`. Finished
//! commands expire after 30 days ([`expiry`]).

mod dispatch;
mod expiry;
mod packages;
mod query;
mod results;
mod send;

pub use dispatch::{notify_invocation, pass as dispatch_pass, run as run_dispatcher};
pub use expiry::{run as run_expiry, sweep as sweep_expired, HISTORY_MILLIS};
pub use packages::{file_location, FileLocation};
pub use query::{
    cancel_command, command_changes, get_command_invocation, list_command_invocations, list_commands, to_wire,
    CommandChanges,
};
pub use results::{on_ack, on_result};
pub use send::{check_document, plan, send_command, Planned};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use std::future::Future;
use steward_api::ssm::commands::Target;

use steward_api::ApiError;
use steward_protocol::PluginRun;
use steward_store::{prefix_end, Op, Start};

use crate::base::{decode, store_fault, Ctx, Env};

/// A stored command.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommandRecord {
    /// UUID.
    pub command_id: String,
    /// Account.
    pub account: String,
    /// Region.
    pub region: String,
    /// Document name as given.
    pub document_name: String,
    /// Version as given (`$DEFAULT` when none).
    pub document_version: String,
    /// Comment.
    pub comment: String,
    /// Parameters as given.
    pub parameters: BTreeMap<String, Vec<String>>,
    /// Node ids given.
    pub instance_ids: Vec<String>,
    /// Targets given.
    pub targets: Vec<Target>,
    /// Epoch ms.
    pub requested: i64,
    /// Delivery timeout, seconds.
    pub timeout_seconds: i64,
    /// Status notifications.
    #[serde(default)]
    pub notification: Option<steward_api::ssm::commands::NotificationConfig>,
    /// Text as given.
    pub max_concurrency: String,
    /// Text as given.
    pub max_errors: String,
    /// Steps to run, parameters substituted.
    pub plugins: Vec<PluginRun>,
    /// Seconds each invocation may run.
    pub execution_timeout_seconds: u64,
    /// Bucket for output.
    pub output_bucket: String,
    /// Prefix for output.
    pub output_prefix: String,
    /// Service role: notifications are published as it, when it is an account role.
    pub service_role: String,
    /// Who the notifications are published as without a usable service role: whoever sent
    /// the command (or the principal the scheduled work ran as).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_as: Option<crate::base::RunAs>,
    /// Status.
    pub status: String,
    /// Number of nodes.
    pub target_count: i64,
    /// Finished.
    pub completed_count: i64,
    /// Errors.
    pub error_count: i64,
    /// Undelivered.
    pub delivery_timed_out_count: i64,
    /// What started it, when not SendCommand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
}

/// The work a command was started for: an association run or a maintenance window task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// `Association` or `MaintenanceWindow`.
    pub kind: String,
    /// The association or window id.
    pub id: String,
    /// The execution of it.
    pub execution_id: String,
}

impl Origin {
    /// Association runs are State Manager's, not Run Command history.
    pub fn hidden_from_run_command(&self) -> bool {
        self.kind == "Association"
    }
}

/// One step's outcome.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PluginOutcome {
    /// Step name.
    pub name: String,
    /// Status.
    pub status: String,
    /// Exit code.
    pub response_code: i64,
    /// Stdout (first 24,000 characters).
    pub stdout: String,
    /// Stderr (first 8,000 characters).
    pub stderr: String,
    /// Epoch ms.
    pub started: Option<i64>,
    /// Epoch ms.
    pub ended: Option<i64>,
    /// Where the whole stdout is.
    #[serde(default)]
    pub stdout_url: String,
    /// Where the whole stderr is.
    #[serde(default)]
    pub stderr_url: String,
}

pub use crate::base::buckets::DEFAULT_OUTPUT_BUCKET;

/// A stored invocation: one command on one node.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InvocationRecord {
    /// Command.
    pub command_id: String,
    /// Node.
    pub instance_id: String,
    /// Node name.
    pub instance_name: String,
    /// Pending, InProgress, Success, Failed, TimedOut, Cancelled, Cancelling.
    pub status: String,
    /// SSM's finer status: Pending, InProgress, Delayed, Success, DeliveryTimedOut, …
    pub status_details: String,
    /// The connection it was last sent on (0: never sent): a serial of the server that
    /// sent it (`sent_via`), meaningless on any other.
    pub sent_on: u64,
    /// The advertised URL of the server that last sent it (empty in records from before
    /// servers shared a store: then this one).
    #[serde(default)]
    pub sent_via: String,
    /// Epoch ms of the first delivery.
    #[serde(default)]
    pub sent_at: i64,
    /// Whether the agent acknowledged it.
    pub acked: bool,
    /// Per step, in order.
    pub plugins: Vec<PluginOutcome>,
}

/// Largest stdout kept inline, in characters.
pub const STDOUT_LIMIT: usize = 24_000;
/// Largest stderr kept inline, in characters.
pub const STDERR_LIMIT: usize = 8_000;

/// The id an agent sees for an invocation.
pub fn invocation_id(command_id: &str, instance_id: &str) -> String {
    format!("{command_id}/{instance_id}")
}

/// Store key of a command.
pub fn command_key(account: &str, region: &str, id: &str) -> String {
    format!("cmd/{account}/{region}/{id}")
}

/// Store key of an invocation.
pub fn invocation_key(account: &str, region: &str, command_id: &str, instance_id: &str) -> String {
    format!("inv/{account}/{region}/{command_id}/{instance_id}")
}

/// Store key of the active-command index entry.
pub fn active_key(account: &str, region: &str, id: &str) -> String {
    format!("cmdactive/{account}/{region}/{id}")
}

/// The first `limit` characters of `text`.
pub fn truncate(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((i, _)) => text[..i].to_owned(),
        None => text.to_owned(),
    }
}

/// The invocations of a command, one per node.
pub async fn invocations(ctx: &Ctx, command_id: &str) -> Result<Vec<InvocationRecord>, ApiError> {
    let p = &ctx.principal;
    let prefix = format!("inv/{}/{}/{command_id}/", p.account, p.region);
    let items = ctx.env.store.range(Start::At(&prefix), &prefix_end(&prefix), 1_000_000).await.map_err(store_fault)?;
    items.iter().map(|i| decode(&i.key, &i.value)).collect()
}

/// Work started for others follows its command: whenever a command's status or counts
/// change, the dispatcher asks for the writes that record that progress (State Manager's
/// node statuses and compliance) and commits them in the command's own batch. The side
/// that starts such work implements this; Run Command never names it.
pub trait Follow: Send + Sync + 'static {
    /// The writes that follow `command` (with its invocations: key, revision, record);
    /// `finished` once every invocation is final.
    fn progress(
        &self,
        env: &Env,
        command: &CommandRecord,
        invocations: &[(String, i64, InvocationRecord)],
        finished: bool,
    ) -> impl Future<Output = anyhow::Result<Vec<Op>>> + Send;
}

/// No work follows commands.
impl Follow for () {
    async fn progress(
        &self,
        _: &Env,
        _: &CommandRecord,
        _: &[(String, i64, InvocationRecord)],
        _: bool,
    ) -> anyhow::Result<Vec<Op>> {
        Ok(Vec::new())
    }
}

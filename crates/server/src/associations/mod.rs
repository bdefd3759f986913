//! State Manager: associations keep nodes in a defined state by running a document on their
//! targets when created or updated, on a schedule, and on every node that later comes to
//! match the targets.
//!
//! Each run is an execution backed by one internal command (origin `Association`, hidden
//! from Run Command history); the command dispatcher reports progress back through
//! [`Follower`] (Run Command's `Follow` hook), which keeps per-node status, the execution,
//! the overview and the node's compliance in step. Runs start only from the scheduler
//! (`app::workers` over `base::schedule`), whether due on the schedule or asked for now, so
//! one server starts each run exactly once.
//!
//! Keys (all under `<account>/<region>/`): `assoc/…/<id>` (the association),
//! `assocv/…/<id>/<version>` (every version), `assocexec/…/<id>/<inverted ms>-<execution>`
//! (executions, newest first), `assocst/…/<id>/<node>` (the last result on each node),
//! `assocnode/…/<node>/<id>` (the same, indexed by node). Nodes whose registration or tags
//! changed carry `fleet`'s change marker and are checked against every association.

mod api;
mod run;
mod status;

pub use api::{
    create_association, create_association_batch, delete_association, describe_association, list_association_versions,
    list_associations, start_associations_once, update_association,
};
pub use run::{follow_runbooks, on_due, reconcile_dirty, NodeCache};
pub use status::{
    describe_association_execution_targets, describe_association_executions, describe_effective_instance_associations,
    describe_instance_associations_status, update_association_status,
};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use steward_api::ssm::associations::{
    AssociationDescription, AssociationOverview, AssociationSummary, AssociationVersionInfo, OutputLocation,
};
use steward_api::ssm::commands::Target;
use steward_api::ApiError;
use steward_store::{prefix_end, Op, Start};

use crate::base::{store_fault, Ctx, Env};
use crate::commands::{CommandRecord, InvocationRecord};

/// A scheduled association run; must match the association's `next_due`.
pub const KIND_ASSOCIATION: &str = "assoc";
/// An association run asked for now (creation, update, StartAssociationsOnce).
pub const KIND_ASSOCIATION_NOW: &str = "assocnow";

/// A stored association (one version of it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AssociationRecord {
    /// UUID.
    pub id: String,
    /// Account.
    pub account: String,
    /// Region.
    pub region: String,
    /// 1, 2, …
    pub version: u32,
    /// Document name.
    pub name: String,
    /// Document version as given.
    pub document_version: Option<String>,
    /// Legacy single-node form.
    pub instance_id: Option<String>,
    /// Parameters.
    pub parameters: BTreeMap<String, Vec<String>>,
    /// Targets (the legacy form is stored as `InstanceIds=[id]`).
    pub targets: Vec<Target>,
    /// cron(…) or rate(…).
    pub schedule_expression: Option<String>,
    /// Days after the cron time.
    pub schedule_offset: Option<i64>,
    /// Only on the schedule.
    pub apply_only_at_cron_interval: bool,
    /// Limit.
    pub max_concurrency: Option<String>,
    /// Limit.
    pub max_errors: Option<String>,
    /// Severity of a failure.
    pub compliance_severity: Option<String>,
    /// AUTO or MANUAL.
    pub sync_compliance: String,
    /// Output.
    pub output_location: Option<OutputLocation>,
    /// Name.
    pub association_name: Option<String>,
    /// Hours.
    pub duration: Option<i64>,
    /// Calendars (kept).
    pub calendar_names: Vec<String>,
    /// Automation target parameter (kept).
    pub automation_target_parameter_name: Option<String>,
    /// Whether its document is a runbook (type Automation): a run is then an automation
    /// execution, rate-controlled over the targets when AutomationTargetParameterName names
    /// the parameter they go into.
    #[serde(default)]
    pub runbook: bool,
    /// Epoch ms of creation.
    pub created: i64,
    /// Epoch ms of this version.
    pub updated: i64,
    /// Epoch ms of the last run.
    pub last_execution: Option<i64>,
    /// Epoch ms of the last run that succeeded everywhere.
    pub last_success: Option<i64>,
    /// Counts of node statuses.
    pub overview: Overview,
    /// Epoch ms of the next scheduled run.
    pub next_due: Option<i64>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    /// A run on every target is booked for now (creation, update, StartAssociationsOnce):
    /// nodes that join meanwhile get it from that run, not from a run of their own.
    #[serde(default)]
    pub run_booked: bool,
    /// Who created or last updated it: every run acts as them (see `base::run_as`).
    #[serde(default)]
    pub run_as: Option<crate::base::RunAs>,
}

/// The overview kept with the association.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Overview {
    /// Pending, Success, Failed.
    pub status: String,
    /// Finer.
    pub detailed_status: String,
    /// Nodes per status.
    pub counts: BTreeMap<String, i64>,
}

/// One run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecutionRecord {
    /// UUID.
    pub id: String,
    /// Association.
    pub association_id: String,
    /// Its version then.
    pub association_version: u32,
    /// Pending, InProgress, Success, Failed.
    pub status: String,
    /// Finer.
    pub detailed_status: String,
    /// Epoch ms.
    pub created: i64,
    /// Epoch ms it finished.
    pub finished: Option<i64>,
    /// The command behind it (empty when it could not start).
    pub command_id: String,
    /// Nodes per final status.
    pub counts: BTreeMap<String, i64>,
    /// Why it could not start.
    #[serde(default)]
    pub message: String,
    /// The automation execution behind it, for a runbook's association.
    #[serde(default)]
    pub automation_execution_id: Option<String>,
}

/// An association's last result on one node.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeStatus {
    /// Association.
    pub association_id: String,
    /// Association version.
    pub association_version: u32,
    /// Node.
    pub instance_id: String,
    /// Execution.
    pub execution_id: String,
    /// Command.
    pub command_id: String,
    /// Epoch ms.
    pub date: i64,
    /// Pending, Success, Failed.
    pub status: String,
    /// Finer.
    pub detailed_status: String,
    /// SSM's summary sentence.
    pub summary: String,
    /// Exit code of the failing step.
    pub error_code: Option<String>,
    /// Where the output is.
    pub output_url: Option<String>,
}

/// Store key of an association.
pub fn association_key(account: &str, region: &str, id: &str) -> String {
    format!("assoc/{account}/{region}/{id}")
}

/// Store key of one version.
pub fn version_key(account: &str, region: &str, id: &str, version: u32) -> String {
    format!("assocv/{account}/{region}/{id}/{version:010}")
}

/// Store key of an execution: newest first under the association.
pub fn execution_key(account: &str, region: &str, id: &str, created: i64, execution: &str) -> String {
    format!("assocexec/{account}/{region}/{id}/{:013}-{execution}", 9_999_999_999_999 - created)
}

/// Store key of a runbook association's run still followed: its value is the execution's key.
pub fn following_key(account: &str, region: &str, id: &str, execution: &str) -> String {
    format!("assocauto/{account}/{region}/{id}/{execution}")
}

/// Store key of an association's result on a node.
pub fn node_status_key(account: &str, region: &str, id: &str, node: &str) -> String {
    format!("assocst/{account}/{region}/{id}/{node}")
}

/// Store key of the by-node index of results.
pub fn node_index_key(account: &str, region: &str, node: &str, id: &str) -> String {
    format!("assocnode/{account}/{region}/{node}/{id}")
}

/// AssociationDoesNotExist.
pub fn does_not_exist() -> ApiError {
    ApiError::new("AssociationDoesNotExist", "The specified association does not exist.")
}

fn secs(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

impl Overview {
    /// The overview of a new association: nothing has run yet.
    pub fn creating() -> Self {
        Overview { status: "Pending".into(), detailed_status: "Creating".into(), counts: BTreeMap::new() }
    }

    /// The overview for these per-node statuses.
    pub fn of<'a>(statuses: impl Iterator<Item = &'a str>) -> Self {
        let mut counts = BTreeMap::new();
        for s in statuses {
            *counts.entry(s.to_owned()).or_insert(0) += 1;
        }
        let status = if counts.contains_key("Failed") {
            "Failed"
        } else if counts.contains_key("Pending") || counts.is_empty() {
            "Pending"
        } else {
            "Success"
        };
        Overview { status: status.into(), detailed_status: status.into(), counts }
    }

    fn to_wire(&self) -> AssociationOverview {
        AssociationOverview {
            status: self.status.clone(),
            detailed_status: self.detailed_status.clone(),
            association_status_aggregated_count: self.counts.clone(),
        }
    }
}

impl AssociationRecord {
    /// DescribeAssociation's form.
    pub fn description(&self) -> AssociationDescription {
        AssociationDescription {
            name: self.name.clone(),
            instance_id: self.instance_id.clone(),
            association_version: self.version.to_string(),
            date: secs(self.created),
            last_update_association_date: secs(self.updated),
            overview: self.overview.to_wire(),
            document_version: self.document_version.clone(),
            parameters: self.parameters.clone(),
            association_id: self.id.clone(),
            targets: self.targets.clone(),
            schedule_expression: self.schedule_expression.clone(),
            output_location: self.output_location.clone(),
            last_execution_date: self.last_execution.map(secs),
            last_successful_execution_date: self.last_success.map(secs),
            association_name: self.association_name.clone(),
            max_errors: self.max_errors.clone(),
            max_concurrency: self.max_concurrency.clone(),
            compliance_severity: self.compliance_severity.clone(),
            sync_compliance: self.sync_compliance.clone(),
            apply_only_at_cron_interval: self.apply_only_at_cron_interval,
            calendar_names: self.calendar_names.clone(),
            schedule_offset: self.schedule_offset,
            duration: self.duration,
            automation_target_parameter_name: self.automation_target_parameter_name.clone(),
        }
    }

    /// ListAssociations' form.
    pub fn summary(&self) -> AssociationSummary {
        AssociationSummary {
            name: self.name.clone(),
            instance_id: self.instance_id.clone(),
            association_id: self.id.clone(),
            association_version: self.version.to_string(),
            document_version: self.document_version.clone(),
            targets: self.targets.clone(),
            last_execution_date: self.last_execution.map(secs),
            overview: self.overview.to_wire(),
            schedule_expression: self.schedule_expression.clone(),
            association_name: self.association_name.clone(),
            schedule_offset: self.schedule_offset,
            duration: self.duration,
        }
    }

    /// ListAssociationVersions' form.
    pub fn version_info(&self) -> AssociationVersionInfo {
        AssociationVersionInfo {
            association_id: self.id.clone(),
            association_version: self.version.to_string(),
            created_date: secs(self.updated),
            name: self.name.clone(),
            document_version: self.document_version.clone(),
            parameters: self.parameters.clone(),
            targets: self.targets.clone(),
            schedule_expression: self.schedule_expression.clone(),
            output_location: self.output_location.clone(),
            association_name: self.association_name.clone(),
            max_errors: self.max_errors.clone(),
            max_concurrency: self.max_concurrency.clone(),
            compliance_severity: self.compliance_severity.clone(),
            sync_compliance: self.sync_compliance.clone(),
            apply_only_at_cron_interval: self.apply_only_at_cron_interval,
            schedule_offset: self.schedule_offset,
            duration: self.duration,
        }
    }
}

/// What State Manager keeps about a node (its results and their by-node index), to go
/// when the node is deregistered.
pub async fn node_leftovers(ctx: &Ctx, id: &str) -> Result<Vec<Op>, ApiError> {
    let p = &ctx.principal;
    let mut ops = Vec::new();
    let index = format!("assocnode/{}/{}/{id}/", p.account, p.region);
    for item in ctx.env.store.range(Start::At(&index), &prefix_end(&index), 100_000).await.map_err(store_fault)? {
        let association = &item.key[index.len()..];
        ops.push(Op::delete(node_status_key(&p.account, &p.region, association, id)));
        ops.push(Op::delete(item.key));
    }
    Ok(ops)
}

/// State Manager follows the commands its runs started: each node's result becomes its
/// association status (and compliance item) in the command's own batch.
pub struct Follower;

impl crate::commands::Follow for Follower {
    fn progress(
        &self,
        env: &Env,
        command: &CommandRecord,
        invocations: &[(String, i64, InvocationRecord)],
        finished: bool,
    ) -> impl std::future::Future<Output = anyhow::Result<Vec<Op>>> + Send {
        run::on_command_progress(env, command, invocations, finished)
    }
}

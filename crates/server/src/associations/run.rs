//! Starting association runs and following them to the end.
//!
//! A run starts when the scheduler finds its due entry: the entry is deleted in the same
//! batch that writes the execution, its command and the association, so a run starts once
//! even if two servers both act. Progress comes back from the command dispatcher.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use steward_api::ssm::automation::StartAutomationExecutionRequest;
use steward_api::ssm::commands::SendCommandRequest;
use steward_core::schedule::Schedule;
use steward_store::{prefix_end, Op, Start};

use super::*;
use crate::base::schedule::{self, Due};
use crate::base::{decode, encode, Env};
use crate::commands::plan;
use crate::commands::{CommandRecord, InvocationRecord, Origin};
use crate::compliance;
use crate::fleet::node_matches;
use crate::fleet::NodeRecord;
use crate::groups::as_node_targets;

/// The nodes of each account and region, read once per scheduler pass.
#[derive(Default)]
pub struct NodeCache(tokio::sync::Mutex<HashMap<Scope, Arc<Vec<NodeRecord>>>>);

/// An account and region.
type Scope = (String, String);

impl NodeCache {
    async fn of(&self, env: &Env, account: &str, region: &str) -> anyhow::Result<Arc<Vec<NodeRecord>>> {
        let id = (account.to_owned(), region.to_owned());
        let mut cache = self.0.lock().await;
        if let Some(nodes) = cache.get(&id) {
            return Ok(nodes.clone());
        }
        let nodes = Arc::new(crate::fleet::readable_nodes(env, account, region).await?);
        cache.insert(id, nodes.clone());
        Ok(nodes)
    }
}

/// The next scheduled run strictly after `after` (rates count from the version's time).
pub fn next_due(assoc: &AssociationRecord, after: i64) -> Option<i64> {
    let schedule = Schedule::parse(assoc.schedule_expression.as_deref()?).ok()?;
    let utc = steward_core::schedule::zone(None)?;
    schedule.next_run_millis(after, assoc.updated, &utc, assoc.schedule_offset.unwrap_or(0))
}

/// Per-node statuses of an association, by node.
async fn node_statuses(env: &Env, assoc: &AssociationRecord) -> anyhow::Result<BTreeMap<String, NodeStatus>> {
    let prefix = format!("assocst/{}/{}/{}/", assoc.account, assoc.region, assoc.id);
    let items = env.store.range(Start::At(&prefix), &prefix_end(&prefix), 10_000_000).await?;
    Ok(items
        .iter()
        .filter_map(|i| decode::<NodeStatus>(&i.key, &i.value).ok())
        .map(|s| (s.instance_id.clone(), s))
        .collect())
}

fn put_node_status(assoc: &AssociationRecord, status: &NodeStatus, batch: &mut Vec<Op>) {
    let (a, r) = (&assoc.account, &assoc.region);
    batch.push(Op::put(node_status_key(a, r, &assoc.id, &status.instance_id), encode(status)));
    batch.push(Op::put(node_index_key(a, r, &status.instance_id, &assoc.id), b"{}".to_vec()));
}

impl ExecutionRecord {
    /// A run of `assoc` starting now.
    fn starting(assoc: &AssociationRecord, id: &str, now: i64) -> ExecutionRecord {
        ExecutionRecord {
            id: id.to_owned(),
            association_id: assoc.id.clone(),
            association_version: assoc.version,
            status: "InProgress".into(),
            detailed_status: "InProgress".into(),
            created: now,
            finished: None,
            command_id: String::new(),
            counts: BTreeMap::new(),
            message: String::new(),
            automation_execution_id: None,
        }
    }
}

/// The writes that start a run: `ahead` (invocations and per-node statuses, one or more per
/// node) may go before `commit` (the execution and its command) when they do not fit one
/// store batch together; see `base::write_staged`.
#[derive(Default)]
pub struct Launch {
    /// Writes per node.
    pub ahead: Vec<Op>,
    /// The execution, the command and its index.
    pub commit: Vec<Op>,
}

/// Starts a run of `assoc` on `nodes`: the execution, its command and invocations, and
/// Pending on each node. Updates `assoc` (last run, overview); the caller writes it.
pub async fn start_execution(
    env: &Arc<Env>,
    assoc: &mut AssociationRecord,
    nodes: Vec<NodeRecord>,
    now: i64,
) -> anyhow::Result<Launch> {
    if nodes.is_empty() {
        return Ok(Launch::default());
    }
    // The run acts as whoever set the association up, as they are allowed now.
    let ctx = crate::base::run_as::resume(env, &assoc.account, &assoc.region, assoc.run_as.as_ref()).await;
    if let Err(e) = &ctx {
        if e.status() >= 500 {
            anyhow::bail!("{}", e.message()); // The store failed: the next pass tries again.
        }
    }
    let execution_id = uuid::Uuid::new_v4().to_string();
    let s3 = assoc.output_location.as_ref().and_then(|o| o.s3_location.clone()).unwrap_or_default();
    let request = SendCommandRequest {
        instance_ids: None,
        targets: Some(assoc.targets.clone()),
        document_name: assoc.name.clone(),
        document_version: assoc.document_version.clone(),
        document_hash: None,
        document_hash_type: None,
        timeout_seconds: None,
        comment: Some(format!("State Manager association {}", assoc.id)),
        parameters: Some(assoc.parameters.clone()),
        output_s3_bucket_name: s3.bucket,
        output_s3_key_prefix: s3.prefix,
        max_concurrency: assoc.max_concurrency.clone(),
        max_errors: assoc.max_errors.clone(),
        service_role_arn: None,
        notification_config: None,
    };
    let origin = Origin { kind: "Association".into(), id: assoc.id.clone(), execution_id: execution_id.clone() };
    let mut launch = Launch::default();
    let mut execution = ExecutionRecord::starting(assoc, &execution_id, now);
    let planned = match &ctx {
        Ok(ctx) => plan(ctx, &request, Some(origin), Some(nodes.clone())).await,
        Err(e) => Err(e.clone()),
    };
    let (node_status, detail, summary) = match planned {
        Ok(planned) => {
            execution.command_id = planned.command.command_id;
            // The execution's key carries the command's time, which is how progress finds it.
            execution.created = planned.command.requested;
            launch.ahead.extend(planned.invocations);
            launch.commit.extend(planned.commit);
            ("Pending", "Pending", "Association is pending.".to_owned())
        }
        Err(e) => {
            // The document or its parameters no longer hold: the run fails on every node.
            // DescribeAssociationExecutions shows why (an AccessDenied names the principal).
            execution.status = "Failed".into();
            execution.detailed_status = e.message().to_owned();
            execution.finished = Some(now);
            execution.message = e.message().to_owned();
            execution.counts.insert("Failed".into(), nodes.len() as i64);
            ("Failed", "Failed", e.message().to_owned())
        }
    };
    let mut statuses = node_statuses(env, assoc).await?;
    for node in &nodes {
        let status = NodeStatus {
            association_id: assoc.id.clone(),
            association_version: assoc.version,
            instance_id: node.instance_id.clone(),
            execution_id: execution_id.clone(),
            command_id: execution.command_id.clone(),
            date: now,
            status: node_status.into(),
            detailed_status: detail.into(),
            summary: summary.clone(),
            error_code: None,
            output_url: None,
        };
        put_node_status(assoc, &status, &mut launch.ahead);
        statuses.insert(node.instance_id.clone(), status);
    }
    launch.commit.push(Op::put(
        execution_key(&assoc.account, &assoc.region, &assoc.id, execution.created, &execution_id),
        encode(&execution),
    ));
    assoc.last_execution = Some(now);
    assoc.overview = Overview::of(statuses.values().map(|s| s.status.as_str()));
    Ok(launch)
}

/// The automation execution a runbook's association starts: its runbook and parameters,
/// and — when AutomationTargetParameterName names the parameter — its targets, put into that
/// parameter one child execution each, with the association's rate control.
pub fn runbook_request(assoc: &AssociationRecord) -> StartAutomationExecutionRequest {
    let rate_controlled = assoc.automation_target_parameter_name.is_some();
    StartAutomationExecutionRequest {
        document_name: assoc.name.clone(),
        document_version: assoc.document_version.clone(),
        parameters: Some(assoc.parameters.clone()),
        target_parameter_name: assoc.automation_target_parameter_name.clone(),
        targets: rate_controlled.then(|| assoc.targets.clone()),
        max_concurrency: assoc.max_concurrency.clone().filter(|_| rate_controlled),
        max_errors: assoc.max_errors.clone().filter(|_| rate_controlled),
        ..Default::default()
    }
}

/// Starts a run of a runbook's association: an automation execution started as whoever set
/// the association up, in the run's batch, and followed (`follow_runbooks`) to its end.
async fn start_runbook(env: &Arc<Env>, assoc: &mut AssociationRecord, now: i64) -> anyhow::Result<Launch> {
    let ctx = crate::base::run_as::resume(env, &assoc.account, &assoc.region, assoc.run_as.as_ref()).await;
    if let Err(e) = &ctx {
        if e.status() >= 500 {
            anyhow::bail!("{}", e.message());
        }
    }
    let request = runbook_request(assoc);
    let started = match &ctx {
        Ok(ctx) => crate::automation::start_for(ctx, &request).await,
        Err(e) => Err(e.clone()),
    };
    let mut execution = ExecutionRecord::starting(assoc, &uuid::Uuid::new_v4().to_string(), now);
    let (a, r) = (assoc.account.clone(), assoc.region.clone());
    let key = execution_key(&a, &r, &assoc.id, now, &execution.id);
    let mut launch = Launch::default();
    match started {
        Ok((automation_id, writes)) => {
            execution.automation_execution_id = Some(automation_id);
            launch.commit.extend(writes);
            launch.commit.push(Op::put(following_key(&a, &r, &assoc.id, &execution.id), key.clone().into_bytes()));
            assoc.overview =
                Overview { status: "Pending".into(), detailed_status: "InProgress".into(), counts: BTreeMap::new() };
        }
        Err(e) => {
            execution.status = "Failed".into();
            execution.detailed_status = e.message().to_owned();
            execution.message = e.message().to_owned();
            execution.finished = Some(now);
            execution.counts.insert("Failed".into(), 1);
            assoc.overview = Overview {
                status: "Failed".into(),
                detailed_status: "Failed".into(),
                counts: BTreeMap::from([("Failed".to_owned(), 1)]),
            };
        }
    }
    launch.commit.push(Op::put(key, encode(&execution)));
    assoc.last_execution = Some(now);
    Ok(launch)
}

/// Follows the runs of runbooks' associations: when an automation execution ends, its
/// association's run and overview take its outcome. Returns how many ended.
pub async fn follow_runbooks(env: &Arc<Env>) -> anyhow::Result<usize> {
    let prefix = "assocauto/";
    let mut ended = 0;
    for item in env.store.range(Start::At(prefix), &prefix_end(prefix), 10_000).await? {
        let parts: Vec<&str> = item.key[prefix.len()..].splitn(4, '/').collect();
        let [account, region, association, _] = parts.as_slice() else { continue };
        let exec_key = String::from_utf8_lossy(&item.value).into_owned();
        let Some(exec_item) = env.store.get(&exec_key).await? else {
            env.store.write(vec![Op::delete(&item.key)]).await.ok();
            continue;
        };
        let mut execution: ExecutionRecord = decode(&exec_key, &exec_item.value).map_err(|e| anyhow::anyhow!("{e}"))?;
        let Some(automation_id) = execution.automation_execution_id.clone() else { continue };
        let status = crate::automation::execution_status(env, account, region, &automation_id).await?;
        let status = status.unwrap_or_else(|| "Failed".into());
        if !crate::automation::is_final(&status) {
            continue;
        }
        let now = env.now();
        let outcome = if status == "Success" { "Success" } else { "Failed" };
        execution.status = outcome.into();
        execution.detailed_status = status.clone();
        execution.finished = Some(now);
        execution.counts = BTreeMap::from([(outcome.to_owned(), 1)]);
        let mut batch = vec![
            Op::delete(&item.key).if_revision(item.revision),
            Op::put(&exec_key, encode(&execution)).if_revision(exec_item.revision),
        ];
        let assoc_key = association_key(account, region, association);
        if let Some(current) = env.store.get(&assoc_key).await? {
            let mut assoc: AssociationRecord =
                decode(&assoc_key, &current.value).map_err(|e| anyhow::anyhow!("{e}"))?;
            assoc.overview =
                Overview { status: outcome.into(), detailed_status: status.clone(), counts: execution.counts.clone() };
            if outcome == "Success" {
                assoc.last_success = Some(now);
            }
            batch.push(Op::put(&assoc_key, encode(&assoc)).if_revision(current.revision));
        }
        if env.store.write(batch).await.is_ok() {
            ended += 1;
        }
    }
    Ok(ended)
}

/// Runs a due entry of an association: a scheduled run (which also books the next one) or
/// a run asked for now.
pub async fn on_due(env: &Arc<Env>, due: &Due, nodes: &NodeCache) -> anyhow::Result<bool> {
    let key = association_key(&due.account, &due.region, &due.id);
    let now = env.now();
    let claim = Op::delete(&due.key).if_revision(due.revision);
    let Some(item) = env.store.get(&key).await? else {
        env.store.write(vec![claim]).await.ok();
        return Ok(false);
    };
    let mut assoc: AssociationRecord = decode(&key, &item.value).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut batch = vec![claim];
    if due.kind == super::KIND_ASSOCIATION_NOW {
        assoc.run_booked = false;
    }
    if due.kind == super::KIND_ASSOCIATION {
        if assoc.next_due != Some(due.at) {
            env.store.write(batch).await.ok(); // Left from an earlier version's schedule.
            return Ok(false);
        }
        assoc.next_due = next_due(&assoc, now.max(due.at));
        if let Some(next) = assoc.next_due {
            batch.push(Op::put(
                schedule::due_key(next, super::KIND_ASSOCIATION, &assoc.account, &assoc.region, &assoc.id),
                b"{}".to_vec(),
            ));
        }
    }
    let launch = if assoc.runbook {
        start_runbook(env, &mut assoc, now).await?
    } else {
        let fleet = nodes.of(env, &assoc.account, &assoc.region).await?;
        let node_targets = as_node_targets(&*env.store, &assoc.account, &assoc.region, &assoc.targets).await?;
        let targets: Vec<NodeRecord> = fleet.iter().filter(|n| node_matches(n, &node_targets)).cloned().collect();
        start_execution(env, &mut assoc, targets, now).await?
    };
    batch.extend(launch.commit);
    batch.push(Op::put(&key, encode(&assoc)).if_revision(item.revision));
    if crate::base::write_staged(&*env.store, launch.ahead, batch).await.is_err() {
        return Ok(false); // Changed meanwhile: the entry is still there for the next pass.
    }
    Ok(true)
}

/// Applies associations to nodes that registered or whose tags changed, when they match
/// and have never had the association.
pub async fn reconcile_dirty(env: &Arc<Env>) -> anyhow::Result<usize> {
    let prefix = crate::fleet::CHANGED_PREFIX;
    let items = env.store.range(Start::At(prefix), &prefix_end(prefix), 100).await?;
    let mut started = 0;
    // Every association of an account and region, read once for all the dirty nodes.
    // Group targets are read as tag targets once per pass too.
    let mut associations: HashMap<Scope, Vec<(AssociationRecord, Vec<Target>)>> = HashMap::new();
    for item in items {
        let parts: Vec<&str> = item.key[prefix.len()..].splitn(3, '/').collect();
        let [account, region, node_id] = parts.as_slice() else { continue };
        let mut batch = vec![Op::delete(&item.key).if_revision(item.revision)];
        let node_key = crate::fleet::node_key(account, region, node_id);
        let node: Option<NodeRecord> = env.store.get(&node_key).await?.and_then(|i| decode(&node_key, &i.value).ok());
        if let Some(node) = node {
            let scope = (account.to_string(), region.to_string());
            if !associations.contains_key(&scope) {
                let assoc_prefix = format!("assoc/{account}/{region}/");
                let all = env.store.range(Start::At(&assoc_prefix), &prefix_end(&assoc_prefix), 10_000_000).await?;
                let mut with_targets = Vec::new();
                for a in all.iter().filter_map(|a| decode::<AssociationRecord>(&a.key, &a.value).ok()) {
                    let targets = as_node_targets(&*env.store, account, region, &a.targets).await?.into_owned();
                    with_targets.push((a, targets));
                }
                associations.insert(scope.clone(), with_targets);
            }
            let now = env.now();
            for (cached, node_targets) in &associations[&scope] {
                // A runbook's association runs on its schedule, not per node.
                if cached.runbook || cached.apply_only_at_cron_interval || !node_matches(&node, node_targets) {
                    continue;
                }
                if env.store.get(&node_status_key(account, region, &cached.id, node_id)).await?.is_some() {
                    continue;
                }
                // The cached copy only chose the association; change the current one.
                let key = association_key(account, region, &cached.id);
                let Some(current) = env.store.get(&key).await? else { continue };
                let Ok(mut assoc) = decode::<AssociationRecord>(&key, &current.value) else { continue };
                if assoc.run_booked {
                    continue; // The booked run covers this node too.
                }
                let launch = start_execution(env, &mut assoc, vec![node.clone()], now).await?;
                batch.extend(launch.ahead.into_iter().chain(launch.commit));
                batch.push(Op::put(&key, encode(&assoc)).if_revision(current.revision));
                started += 1;
            }
        }
        if let Err(e) = env.store.write(batch).await {
            tracing::debug!(error = %e, node_id, "Association check of a node raced a change; retrying.");
        }
    }
    Ok(started)
}

/// SSM's one-line account of a node's run.
fn summary_of(inv: &InvocationRecord) -> String {
    let count = |f: fn(&str) -> bool| inv.plugins.iter().filter(|p| f(&p.status)).count();
    format!(
        "{} out of {} plugin{} processed, {} success, {} failed, {} timedout, {} skipped. ",
        inv.plugins.len(),
        inv.plugins.len(),
        if inv.plugins.len() == 1 { "" } else { "s" },
        count(|s| s == "Success"),
        count(|s| s == "Failed"),
        count(|s| s == "TimedOut"),
        count(|s| s == "Skipped"),
    )
}

/// What a command started for an association changes when its invocations progress: the
/// nodes' statuses and compliance, and when it is over, the execution and the association.
pub async fn on_command_progress(
    env: &Env,
    command: &CommandRecord,
    invocations: &[(String, i64, InvocationRecord)],
    finished: bool,
) -> anyhow::Result<Vec<Op>> {
    let Some(origin) = command.origin.as_ref().filter(|o| o.kind == "Association") else { return Ok(Vec::new()) };
    let (account, region) = (&command.account, &command.region);
    let key = association_key(account, region, &origin.id);
    let Some(item) = env.store.get(&key).await? else { return Ok(Vec::new()) };
    let mut assoc: AssociationRecord = decode(&key, &item.value).map_err(|e| anyhow::anyhow!("{e}"))?;
    let now = env.now();
    let mut statuses = node_statuses(env, &assoc).await?;
    let mut batch = Vec::new();
    for (_, _, inv) in invocations.iter().filter(|(_, _, i)| steward_core::commands::is_terminal(&i.status)) {
        let Some(current) = statuses.get(&inv.instance_id) else { continue };
        if current.execution_id != origin.execution_id || current.status != "Pending" {
            continue; // A later run owns the node's status, or this one is recorded.
        }
        let success = inv.status == "Success";
        let failing = inv.plugins.iter().find(|p| p.status != "Success" && p.response_code != 0);
        let status = NodeStatus {
            date: inv.plugins.iter().filter_map(|p| p.ended).max().unwrap_or(now),
            status: if success { "Success" } else { "Failed" }.into(),
            detailed_status: inv.status_details.clone(),
            summary: summary_of(inv),
            error_code: failing.map(|p| p.response_code.to_string()),
            output_url: inv.plugins.iter().map(|p| p.stdout_url.clone()).find(|u| !u.is_empty()),
            ..current.clone()
        };
        if assoc.sync_compliance == "AUTO" {
            batch.push(association_item(&assoc, &status, &origin.execution_id));
        }
        put_node_status(&assoc, &status, &mut batch);
        statuses.insert(inv.instance_id.clone(), status);
    }
    if finished {
        let ekey = execution_key(account, region, &origin.id, command.requested, &origin.execution_id);
        if let Some(e) = env.store.get(&ekey).await? {
            let mut execution: ExecutionRecord = decode(&ekey, &e.value).map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut counts = BTreeMap::new();
            for (_, _, inv) in invocations {
                let name = if inv.status == "Success" { "Success" } else { "Failed" };
                *counts.entry(name.to_owned()).or_insert(0) += 1;
            }
            let ok = !counts.contains_key("Failed");
            execution.status = if ok { "Success" } else { "Failed" }.into();
            execution.detailed_status = execution.status.clone();
            execution.counts = counts;
            execution.finished = Some(now);
            batch.push(Op::put(&ekey, encode(&execution)).if_revision(e.revision));
            if ok {
                assoc.last_success = Some(now);
            }
        }
    }
    if batch.is_empty() {
        return Ok(batch);
    }
    assoc.overview = Overview::of(statuses.values().map(|s| s.status.as_str()));
    batch.push(Op::put(&key, encode(&assoc)).if_revision(item.revision));
    Ok(batch)
}

/// The `Association` item of a node's result, written as State Manager records it.
pub fn association_item(assoc: &AssociationRecord, status: &NodeStatus, execution_id: &str) -> Op {
    let item = compliance::ItemRecord {
        compliance_type: "Association".into(),
        resource_type: "ManagedInstance".into(),
        resource_id: status.instance_id.clone(),
        id: assoc.id.clone(),
        title: assoc.association_name.clone().unwrap_or_else(|| assoc.name.clone()),
        status: if status.status == "Success" { "COMPLIANT" } else { "NON_COMPLIANT" }.into(),
        severity: assoc.compliance_severity.clone().unwrap_or_else(|| "UNSPECIFIED".into()),
        execution_time: status.date,
        execution_id: execution_id.to_owned(),
        execution_type: "Command".into(),
        details: BTreeMap::from([
            ("DocumentName".to_owned(), assoc.name.clone()),
            ("DocumentVersion".to_owned(), assoc.document_version.clone().unwrap_or_else(|| "$DEFAULT".into())),
        ]),
    };
    Op::put(
        compliance::item_key(&assoc.account, &assoc.region, &status.instance_id, "Association", &assoc.id),
        encode(&item),
    )
}

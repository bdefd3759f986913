//! Running windows: a due entry opens an execution; each scheduler pass moves every open
//! execution forward — statuses from the commands, new commands within MaxConcurrency and
//! MaxErrors, the next priority when one is done, nothing new after the cutoff.

use std::collections::BTreeMap;
use std::sync::Arc;

use steward_api::ssm::automation::{StartAutomationExecutionRequest, StopAutomationExecutionRequest};
use steward_api::ssm::commands::{CancelCommandRequest, SendCommandRequest};
use steward_api::ssm::windows::WindowTask;
use steward_core::commands::limit;
use steward_store::{prefix_end, Op, Start};

use super::api::{next_start, task_records, window_targets, window_tasks};
use super::KIND_WINDOW;
use super::*;
use crate::base::schedule::{self, Due};
use crate::base::Ctx;
use crate::base::{decode, encode, Env};
use crate::commands::plan;
use crate::commands::{command_key, CommandRecord, Origin};
use crate::fleet::node_matches;

const HOUR_MS: i64 = 3_600_000;
/// Commands one scheduler pass starts across a window's tasks.
const MAX_LAUNCHES_PER_PASS: usize = 2_000;

fn ctx_for(env: &Arc<Env>, account: &str, region: &str) -> Ctx {
    Ctx::system(env, account, region)
}

fn new_task_run(record: &TaskRecord, window: &WindowRecord) -> TaskRun {
    let task = &record.task;
    let run_command = task.task_invocation_parameters.as_ref().and_then(|p| p.run_command.clone()).unwrap_or_default();
    TaskRun {
        id: uuid::Uuid::new_v4().to_string(),
        window_task_id: task.window_task_id.clone().unwrap_or_default(),
        task_arn: task.task_arn.clone().unwrap_or_default(),
        priority: task.priority.unwrap_or(1),
        service_role: task.service_role_arn.clone().or(run_command.service_role_arn.clone()),
        // Tasks registered before registrants were recorded run as the window's creator.
        run_as: record.run_as.clone().or(window.run_as.clone()),
        max_concurrency: task.max_concurrency.clone().unwrap_or_else(|| "50".into()),
        max_errors: task.max_errors.clone().unwrap_or_else(|| "0".into()),
        cutoff_behavior: task.cutoff_behavior.clone().unwrap_or_else(|| "CONTINUE_TASK".into()),
        run_command,
        task_type: task.task_type.clone().unwrap_or_else(|| "RUN_COMMAND".into()),
        automation: task.task_invocation_parameters.as_ref().and_then(|p| p.automation.clone()),
        status: "PENDING".into(),
        status_details: String::new(),
        start: None,
        end: None,
        pending: Vec::new(),
        invocations: Vec::new(),
    }
}

/// Opens a run of the window whose due entry this is, and books the next one.
pub async fn on_due(env: &Arc<Env>, due: &Due) -> anyhow::Result<bool> {
    let key = window_key(&due.account, &due.region, &due.id);
    let claim = Op::delete(&due.key).if_revision(due.revision);
    let Some(item) = env.store.get(&key).await? else {
        env.store.write(vec![claim]).await.ok();
        return Ok(false);
    };
    let mut window: WindowRecord = decode(&key, &item.value).map_err(|e| anyhow::anyhow!("{e}"))?;
    if window.next_due != Some(due.at) {
        env.store.write(vec![claim]).await.ok();
        return Ok(false);
    }
    let now = env.now();
    let mut batch = vec![claim];
    window.next_due = next_start(&window, now.max(due.at));
    if let Some(next) = window.next_due {
        batch.push(Op::put(schedule::due_key(next, KIND_WINDOW, &due.account, &due.region, &due.id), b"{}".to_vec()));
    }
    batch.push(Op::put(&key, encode(&window)).if_revision(item.revision));
    let ctx = ctx_for(env, &due.account, &due.region);
    let mut tasks: Vec<TaskRun> = task_records(&ctx, &due.id).await?.iter().map(|t| new_task_run(t, &window)).collect();
    tasks.sort_by_key(|t| t.priority);
    let duration = window.window.duration.unwrap_or(1);
    let cutoff = window.window.cutoff.unwrap_or(0);
    let prefix = format!("mwexec/{}/{}/{}/", due.account, due.region, due.id);
    let running = env
        .store
        .range(Start::At(&prefix), &prefix_end(&prefix), 1)
        .await?
        .first()
        .and_then(|i| decode::<ExecutionRecord>(&i.key, &i.value).ok())
        .is_some_and(|e| !is_final(&e.status));
    let mut execution = ExecutionRecord {
        id: uuid::Uuid::new_v4().to_string(),
        window_id: due.id.clone(),
        account: due.account.clone(),
        region: due.region.clone(),
        status: "IN_PROGRESS".into(),
        status_details: String::new(),
        start: now,
        end: None,
        cutoff_at: now + (duration - cutoff) * HOUR_MS,
        end_at: now + duration * HOUR_MS,
        tasks,
    };
    if running {
        // SSM does not overlap runs of one window.
        execution.status = "SKIPPED_OVERLAPPING".into();
        execution.status_details = "The previous run of this window had not finished.".into();
        execution.end = Some(now);
        for t in &mut execution.tasks {
            t.status = "SKIPPED_OVERLAPPING".into();
        }
    }
    let ekey = execution_key(&due.account, &due.region, &due.id, now, &execution.id);
    batch.push(Op::put(execution_index(&due.account, &due.region, &execution.id), ekey.clone().into_bytes()));
    if !running {
        batch.push(Op::put(active_key(&due.account, &due.region, &execution.id), ekey.clone().into_bytes()));
    }
    batch.push(Op::put(ekey, encode(&execution)));
    if env.store.write(batch).await.is_err() {
        return Ok(false);
    }
    tracing::info!(
        window_id = due.id,
        execution_id = execution.id,
        status = execution.status,
        "Maintenance window opened."
    );
    Ok(true)
}

/// Moves every open execution forward. Returns how many commands it started.
pub async fn advance_all(env: &Arc<Env>) -> anyhow::Result<usize> {
    let prefix = "mwactive/";
    let mut started = 0;
    for item in env.store.range(Start::At(prefix), &prefix_end(prefix), 10_000).await? {
        let ekey = String::from_utf8_lossy(&item.value).into_owned();
        match advance(env, &item.key, &ekey).await {
            Ok(n) => started += n,
            Err(e) => tracing::warn!(execution = ekey, error = %e, "Could not advance a maintenance window run."),
        }
    }
    Ok(started)
}

/// SSM's maintenance-window status of a command.
fn status_of(command: &CommandRecord) -> &'static str {
    match command.status.as_str() {
        "Success" => "SUCCESS",
        "Failed" => "FAILED",
        "TimedOut" => "TIMED_OUT",
        "Cancelled" => "CANCELLED",
        "Cancelling" => "CANCELLING",
        _ => "IN_PROGRESS",
    }
}

/// SSM's maintenance-window status of an automation execution.
fn automation_status_of(status: &str) -> &'static str {
    match status {
        "Success" => "SUCCESS",
        "Failed" => "FAILED",
        "TimedOut" => "TIMED_OUT",
        "Cancelled" => "CANCELLED",
        "Cancelling" => "CANCELLING",
        _ => "IN_PROGRESS",
    }
}

/// The nodes a task runs on: its window targets' nodes (with their owner information) or
/// the node ids it names.
async fn resolve(ctx: &Ctx, window_id: &str, task: &WindowTask) -> anyhow::Result<Vec<PendingTarget>> {
    let nodes = crate::fleet::all_nodes(ctx).await.map_err(|e| anyhow::anyhow!("{}", e.message()))?;
    let registered = window_targets(ctx, window_id).await.map_err(|e| anyhow::anyhow!("{}", e.message()))?;
    let mut out: Vec<PendingTarget> = Vec::new();
    for t in task.targets.iter().flatten() {
        let values = t.values.clone().unwrap_or_default();
        match t.key.as_deref() {
            Some("WindowTargetIds") => {
                for r in registered.iter().filter(|r| r.window_target_id.as_ref().is_some_and(|id| values.contains(id)))
                {
                    let given = r.targets.clone().unwrap_or_default();
                    let p = &ctx.principal;
                    let targets = crate::groups::as_node_targets(&*ctx.env.store, &p.account, &p.region, &given)
                        .await
                        .map_err(|e| anyhow::anyhow!("{}", e.message()))?;
                    for n in nodes.iter().filter(|n| node_matches(n, &targets)) {
                        if !out.iter().any(|p| p.node_id == n.instance_id) {
                            out.push(PendingTarget {
                                node_id: n.instance_id.clone(),
                                window_target_id: r.window_target_id.clone(),
                                owner_information: r.owner_information.clone(),
                            });
                        }
                    }
                }
            }
            _ => {
                for id in values.iter().filter(|id| nodes.iter().any(|n| &n.instance_id == *id)) {
                    if !out.iter().any(|p| &p.node_id == id) {
                        out.push(PendingTarget {
                            node_id: id.clone(),
                            window_target_id: None,
                            owner_information: None,
                        });
                    }
                }
            }
        }
    }
    Ok(out)
}

/// The window and execution a launch belongs to.
struct RunIds {
    window_id: String,
    execution_id: String,
}

/// Replaces the pseudo-parameters (`{{RESOURCE_ID}}`, …) in a task's parameters.
fn substitute(
    parameters: &BTreeMap<String, Vec<String>>,
    run: &RunIds,
    task: &TaskRun,
    target: &PendingTarget,
) -> BTreeMap<String, Vec<String>> {
    let pairs = [
        ("{{RESOURCE_ID}}", target.node_id.as_str()),
        ("{{TARGET_ID}}", target.node_id.as_str()),
        ("{{TARGET_TYPE}}", "INSTANCE"),
        ("{{RESOURCE_TYPE}}", "INSTANCE"),
        ("{{WINDOW_ID}}", run.window_id.as_str()),
        ("{{WINDOW_EXECUTION_ID}}", run.execution_id.as_str()),
        ("{{WINDOW_TASK_ID}}", task.window_task_id.as_str()),
        ("{{TASK_EXECUTION_ID}}", task.id.as_str()),
        ("{{WINDOW_TARGET_ID}}", target.window_target_id.as_deref().unwrap_or_default()),
        ("{{OWNER_INFORMATION}}", target.owner_information.as_deref().unwrap_or_default()),
    ];
    parameters
        .iter()
        .map(|(k, values)| {
            let values =
                values.iter().map(|v| pairs.iter().fold(v.clone(), |acc, (from, to)| acc.replace(from, to))).collect();
            (k.clone(), values)
        })
        .collect()
}

impl InvocationRun {
    /// A run starting now on `target`, with what it sends (`sent`, JSON text).
    fn starting(target: &PendingTarget, sent: String, now: i64) -> InvocationRun {
        InvocationRun {
            id: uuid::Uuid::new_v4().to_string(),
            command_id: String::new(),
            node_id: target.node_id.clone(),
            window_target_id: target.window_target_id.clone(),
            owner_information: target.owner_information.clone(),
            parameters: sent,
            status: "IN_PROGRESS".into(),
            status_details: "InProgress".into(),
            start: now,
            end: None,
        }
    }
}

/// Starts the task's command on one node (or records why it could not start).
async fn launch(
    ctx: &Ctx,
    run_ids: &RunIds,
    task: &TaskRun,
    target: PendingTarget,
    now: i64,
    batch: &mut Vec<Op>,
) -> InvocationRun {
    let rc = &task.run_command;
    let parameters = substitute(&rc.parameters.clone().unwrap_or_default(), run_ids, task, &target);
    let request = SendCommandRequest {
        instance_ids: Some(vec![target.node_id.clone()]),
        targets: None,
        document_name: task.task_arn.clone(),
        document_version: rc.document_version.clone(),
        document_hash: rc.document_hash.clone(),
        document_hash_type: rc.document_hash_type.clone(),
        timeout_seconds: rc.timeout_seconds,
        comment: rc.comment.clone(),
        parameters: Some(parameters.clone()),
        output_s3_bucket_name: rc.output_s3_bucket_name.clone(),
        output_s3_key_prefix: rc.output_s3_key_prefix.clone(),
        max_concurrency: Some("1".into()),
        max_errors: Some("0".into()),
        service_role_arn: task.service_role.clone(),
        notification_config: rc.notification_config.clone(),
    };
    let origin = Origin {
        kind: "MaintenanceWindow".into(),
        id: run_ids.window_id.clone(),
        execution_id: run_ids.execution_id.clone(),
    };
    let sent = serde_json::json!({
        "documentName": task.task_arn,
        "instanceIds": [target.node_id],
        "parameters": parameters,
        "maxConcurrency": "1",
        "maxErrors": "0",
    })
    .to_string();
    let mut run = InvocationRun::starting(&target, sent, now);
    let planned = match task_principal(ctx, task).await {
        Ok(as_task) => plan(&as_task, &request, Some(origin), None).await,
        Err(e) => Err(e),
    };
    match planned {
        Ok(planned) => {
            run.command_id = planned.command.command_id;
            batch.extend(planned.invocations);
            batch.extend(planned.commit);
        }
        Err(e) => {
            run.status = "FAILED".into();
            run.status_details = e.message().to_owned();
            run.end = Some(now);
        }
    }
    run
}

/// Starts the task's runbook for one target (or once, for a task without targets), as
/// the task's principal, who must be allowed to start it; or records why it could not start.
async fn launch_automation(
    ctx: &Ctx,
    run_ids: &RunIds,
    task: &TaskRun,
    target: PendingTarget,
    now: i64,
    batch: &mut Vec<Op>,
) -> InvocationRun {
    let settings = task.automation.clone().unwrap_or_default();
    let parameters = substitute(&settings.parameters.clone().unwrap_or_default(), run_ids, task, &target);
    let request = StartAutomationExecutionRequest {
        document_name: task.task_arn.clone(),
        document_version: settings.document_version.clone(),
        parameters: Some(parameters.clone()),
        ..Default::default()
    };
    let sent = serde_json::json!({"documentName": task.task_arn, "parameters": parameters}).to_string();
    let mut run = InvocationRun::starting(&target, sent, now);
    let started = match task_principal(ctx, task).await {
        Ok(as_task) => crate::automation::start_for(&as_task, &request).await,
        Err(e) => Err(e),
    };
    match started {
        Ok((id, writes)) => {
            run.command_id = id;
            batch.extend(writes);
        }
        Err(e) => {
            run.status = "FAILED".into();
            run.status_details = format!("{}: {}", e.code(), e.message());
            run.end = Some(now);
        }
    }
    run
}

/// Who a task's commands run as: its `ServiceRoleArn` (the role's policies must allow
/// `ssm:SendCommand` on the document and each node, checked by `plan` at launch), or without
/// one — or with SSM's service-linked role, which has no policies here — whoever registered
/// the task, as they are allowed now. Never the server itself.
async fn task_principal(ctx: &Ctx, task: &TaskRun) -> Result<Ctx, steward_api::ApiError> {
    let p = &ctx.principal;
    let role = task.service_role.as_deref();
    match role.and_then(|r| crate::base::iam_records::role_session(&p.account, &p.region, r, "MaintenanceWindow")) {
        Some(principal) => Ok(ctx.acting_as(principal)),
        None => crate::base::run_as::resume(&ctx.env, &p.account, &p.region, task.run_as.as_ref()).await,
    }
}

fn is_error(status: &str) -> bool {
    matches!(status, "FAILED" | "TIMED_OUT" | "CANCELLED")
}

/// One step of one open execution. Returns how many commands it started.
async fn advance(env: &Arc<Env>, active: &str, ekey: &str) -> anyhow::Result<usize> {
    let Some(item) = env.store.get(ekey).await? else {
        env.store.write(vec![Op::delete(active)]).await.ok();
        return Ok(0);
    };
    let mut execution: ExecutionRecord = decode(ekey, &item.value).map_err(|e| anyhow::anyhow!("{e}"))?;
    let before = encode(&execution);
    let ctx = ctx_for(env, &execution.account, &execution.region);
    let now = env.now();
    let mut batch = Vec::new();
    let mut started = 0;
    let mut cancels = Vec::new();

    // Statuses from the commands and automation executions.
    for task in &mut execution.tasks {
        let automation = task.is_automation();
        for inv in task.invocations.iter_mut().filter(|i| !is_final(&i.status) && !i.command_id.is_empty()) {
            if automation {
                let found =
                    crate::automation::execution_status(env, &execution.account, &execution.region, &inv.command_id)
                        .await?;
                let status = found.unwrap_or_else(|| "Failed".into());
                inv.status = automation_status_of(&status).into();
                inv.status_details = status;
                if is_final(&inv.status) {
                    inv.end = Some(now);
                }
                continue;
            }
            let key = command_key(&execution.account, &execution.region, &inv.command_id);
            let Some(c) = env.store.get(&key).await? else { continue };
            let command: CommandRecord = decode(&key, &c.value).map_err(|e| anyhow::anyhow!("{e}"))?;
            inv.status = status_of(&command).into();
            inv.status_details = command.status.clone();
            if is_final(&inv.status) {
                inv.end = Some(now);
            }
        }
    }

    let run_ids = RunIds { window_id: execution.window_id.clone(), execution_id: execution.id.clone() };
    let cancelling = execution.status == "CANCELLING";
    let past_cutoff = now >= execution.cutoff_at;
    let past_end = now >= execution.end_at;
    // The lowest priority with unfinished tasks runs now, all its tasks together.
    let current = execution.tasks.iter().filter(|t| !is_final(&t.status)).map(|t| t.priority).min();
    for task in execution.tasks.iter_mut().filter(|t| !is_final(&t.status)) {
        if cancelling || (task.status == "PENDING" && past_cutoff) {
            let why =
                if cancelling { "The run was cancelled." } else { "The cutoff passed before the task could start." };
            cancels.extend(task.invocations.iter().filter(|i| !is_final(&i.status)).map(|i| i.command_id.clone()));
            if task.invocations.iter().all(|i| is_final(&i.status)) || !cancelling {
                task.status = "CANCELLED".into();
                task.status_details = why.into();
                task.end = Some(now);
                task.pending.clear();
            }
            continue;
        }
        if Some(task.priority) != current {
            continue;
        }
        if task.status == "PENDING" {
            let registered =
                window_tasks(&ctx, &execution.window_id).await.map_err(|e| anyhow::anyhow!("{}", e.message()))?;
            let Some(definition) =
                registered.iter().find(|t| t.window_task_id.as_deref() == Some(&task.window_task_id))
            else {
                task.status = "FAILED".into();
                task.status_details = "The task was deregistered before it ran.".into();
                task.end = Some(now);
                continue;
            };
            task.pending = if task.is_automation() && definition.targets.as_ref().is_none_or(Vec::is_empty) {
                // Once per window run, for no node in particular.
                vec![PendingTarget { node_id: String::new(), window_target_id: None, owner_information: None }]
            } else {
                resolve(&ctx, &execution.window_id, definition).await?
            };
            task.status = "IN_PROGRESS".into();
            task.start = Some(now);
        }
        let total = task.pending.len() + task.invocations.len();
        let max_concurrency = limit(&task.max_concurrency, total).unwrap_or(50).max(1);
        let max_errors = limit(&task.max_errors, total).unwrap_or(0);
        let errors = task.invocations.iter().filter(|i| is_error(&i.status)).count();
        let mut in_flight = task.invocations.iter().filter(|i| !is_final(&i.status)).count();
        if past_cutoff && task.cutoff_behavior == "CANCEL_TASK" {
            cancels.extend(task.invocations.iter().filter(|i| !is_final(&i.status)).map(|i| i.command_id.clone()));
            task.pending.clear();
        }
        // A pass starts at most MAX_LAUNCHES_PER_PASS commands (one per node, a few writes
        // each), so its batch fits the store whatever the fleet; the next pass goes on.
        while errors <= max_errors
            && in_flight < max_concurrency
            && !past_cutoff
            && !task.pending.is_empty()
            && started < MAX_LAUNCHES_PER_PASS
        {
            let target = task.pending.remove(0);
            let run = if task.is_automation() {
                launch_automation(&ctx, &run_ids, task, target, now, &mut batch).await
            } else {
                launch(&ctx, &run_ids, task, target, now, &mut batch).await
            };
            if !run.command_id.is_empty() {
                started += 1;
                in_flight += 1;
            }
            task.invocations.push(run);
        }
        if in_flight == 0 && (task.pending.is_empty() || errors > max_errors || past_cutoff) {
            let any_error = task.invocations.iter().any(|i| is_error(&i.status));
            let cut_short = past_cutoff && task.cutoff_behavior == "CANCEL_TASK";
            task.status = if cut_short && task.invocations.iter().any(|i| i.status == "CANCELLED") {
                "CANCELLED"
            } else if any_error {
                "FAILED"
            } else if !task.pending.is_empty() {
                "TIMED_OUT"
            } else {
                "SUCCESS"
            }
            .into();
            if errors > max_errors {
                task.status_details = format!("{errors} invocation(s) failed; MaxErrors is {}.", task.max_errors);
            }
            task.pending.clear();
            task.end = Some(now);
        }
    }
    let executions: Vec<&str> = execution
        .tasks
        .iter()
        .filter(|t| t.is_automation())
        .flat_map(|t| t.invocations.iter().map(|i| i.command_id.as_str()))
        .collect();
    for id in cancels.into_iter().filter(|c| !c.is_empty()) {
        if executions.contains(&id.as_str()) {
            let request = StopAutomationExecutionRequest { automation_execution_id: id, stop_type: None };
            crate::automation::stop_automation_execution(ctx.clone(), request).await.ok();
        } else {
            let request = CancelCommandRequest { command_id: id, instance_ids: None };
            crate::commands::cancel_command(ctx.clone(), request).await.ok();
        }
    }
    let all_done = execution.tasks.iter().all(|t| is_final(&t.status));
    if all_done || past_end {
        execution.status = if cancelling {
            "CANCELLED"
        } else if execution.tasks.iter().any(|t| t.status == "FAILED") {
            "FAILED"
        } else if !all_done || execution.tasks.iter().any(|t| matches!(t.status.as_str(), "TIMED_OUT" | "CANCELLED")) {
            "TIMED_OUT"
        } else {
            "SUCCESS"
        }
        .into();
        if execution.status == "TIMED_OUT" {
            execution.status_details = "The window reached its cutoff or end before every task finished.".into();
        }
        execution.end = Some(now);
        batch.push(Op::delete(active));
    }
    if encode(&execution) == before && batch.is_empty() {
        return Ok(0);
    }
    batch.push(Op::put(ekey, encode(&execution)).if_revision(item.revision));
    if env.store.write(batch).await.is_err() {
        return Ok(0); // Cancelled meanwhile; the next pass sees it.
    }
    if started > 0 {
        env.wake.dispatcher();
    }
    Ok(started)
}

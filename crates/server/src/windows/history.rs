//! What windows did: executions, their tasks and invocations (linked to the commands),
//! and CancelMaintenanceWindowExecution.

use steward_api::ssm::windows::*;
use steward_api::ApiError;
use steward_store::{prefix_end, Op, Start};

use super::api::{filters, load_window};
use super::*;
use crate::base::paging::page;
use crate::base::Ctx;
use crate::base::{decode, encode, store_fault};

fn secs(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

fn details(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

/// An execution by id, with its key and revision.
async fn load_execution(ctx: &Ctx, id: &str) -> Result<(String, i64, ExecutionRecord), ApiError> {
    let p = &ctx.principal;
    let index = execution_index(&p.account, &p.region, id);
    let gone = || missing("Maintenance window execution", id);
    let item = ctx.env.store.get(&index).await.map_err(store_fault)?.ok_or_else(gone)?;
    let key = String::from_utf8_lossy(&item.value).into_owned();
    let item = ctx.env.store.get(&key).await.map_err(store_fault)?.ok_or_else(gone)?;
    Ok((key.clone(), item.revision, decode(&key, &item.value)?))
}

fn task_of<'a>(execution: &'a ExecutionRecord, id: &str) -> Result<&'a TaskRun, ApiError> {
    execution.tasks.iter().find(|t| t.id == id).ok_or_else(|| missing("Maintenance window execution task", id))
}

fn wire_execution(e: &ExecutionRecord, with_tasks: bool) -> WindowExecution {
    WindowExecution {
        window_id: e.window_id.clone(),
        window_execution_id: e.id.clone(),
        status: e.status.clone(),
        status_details: details(&e.status_details),
        start_time: secs(e.start),
        end_time: e.end.map(secs),
        task_ids: with_tasks.then(|| e.tasks.iter().map(|t| t.id.clone()).collect()),
    }
}

fn wire_task(e: &ExecutionRecord, t: &TaskRun, full: bool) -> WindowExecutionTask {
    WindowExecutionTask {
        window_execution_id: e.id.clone(),
        task_execution_id: t.id.clone(),
        status: t.status.clone(),
        status_details: details(&t.status_details),
        start_time: t.start.map(secs),
        end_time: t.end.map(secs),
        task_arn: t.task_arn.clone(),
        task_type: (!full).then(|| t.kind().to_owned()),
        kind: full.then(|| t.kind().to_owned()),
        service_role: if full { t.service_role.clone() } else { None },
        priority: full.then_some(t.priority),
        max_concurrency: full.then(|| t.max_concurrency.clone()),
        max_errors: full.then(|| t.max_errors.clone()),
    }
}

fn wire_invocation(e: &ExecutionRecord, t: &TaskRun, i: &InvocationRun) -> WindowExecutionTaskInvocation {
    WindowExecutionTaskInvocation {
        window_execution_id: e.id.clone(),
        task_execution_id: t.id.clone(),
        invocation_id: i.id.clone(),
        execution_id: i.command_id.clone(),
        task_type: t.kind().to_owned(),
        parameters: i.parameters.clone(),
        status: i.status.clone(),
        status_details: details(&i.status_details),
        start_time: Some(secs(i.start)),
        end_time: i.end.map(secs),
        owner_information: i.owner_information.clone(),
        window_target_id: i.window_target_id.clone(),
    }
}

/// DescribeMaintenanceWindowExecutions: newest first.
pub async fn describe_executions(ctx: Ctx, req: WindowQuery) -> Result<serde_json::Value, ApiError> {
    let window = req.window_id.clone().unwrap_or_default();
    load_window(&ctx, &window).await?;
    let filters = filters(&req, &["ExecutedBefore", "ExecutedAfter"])?;
    let mut bounds = Vec::new();
    for (key, values) in &filters {
        let value = values.first().cloned().unwrap_or_default();
        let t = steward_api::time::parse_iso8601(&value)
            .ok_or_else(|| ApiError::validation(format!("{key} '{value}' is not an ISO-8601 time.")))?;
        bounds.push((key.clone(), t * 1000));
    }
    let p = &ctx.principal;
    let prefix = format!("mwexec/{}/{}/{window}/", p.account, p.region);
    let items = ctx.env.store.range(Start::At(&prefix), &prefix_end(&prefix), 1_000_000).await.map_err(store_fault)?;
    let mut out = Vec::new();
    for item in items {
        let e: ExecutionRecord = decode(&item.key, &item.value)?;
        let keep = bounds.iter().all(|(k, t)| if k == "ExecutedBefore" { e.start < *t } else { e.start > *t });
        if keep {
            out.push(wire_execution(&e, false));
        }
    }
    let (page, next) = page(out, req.max_results, &req.next_token)?;
    Ok(listing("WindowExecutions", page, next))
}

/// GetMaintenanceWindowExecution.
pub async fn get_execution(ctx: Ctx, req: WindowQuery) -> Result<WindowExecution, ApiError> {
    let (_, _, e) = load_execution(&ctx, req.window_execution_id.as_deref().unwrap_or_default()).await?;
    Ok(wire_execution(&e, true))
}

/// DescribeMaintenanceWindowExecutionTasks.
pub async fn describe_execution_tasks(ctx: Ctx, req: WindowQuery) -> Result<serde_json::Value, ApiError> {
    let (_, _, e) = load_execution(&ctx, req.window_execution_id.as_deref().unwrap_or_default()).await?;
    let filters = filters(&req, &["Status"])?;
    let tasks: Vec<WindowExecutionTask> = e
        .tasks
        .iter()
        .filter(|t| filters.iter().all(|(_, values)| values.contains(&t.status)))
        .map(|t| wire_task(&e, t, false))
        .collect();
    let (page, next) = page(tasks, req.max_results, &req.next_token)?;
    Ok(listing("WindowExecutionTaskIdentities", page, next))
}

/// GetMaintenanceWindowExecutionTask.
pub async fn get_execution_task(ctx: Ctx, req: WindowQuery) -> Result<WindowExecutionTask, ApiError> {
    let (_, _, e) = load_execution(&ctx, req.window_execution_id.as_deref().unwrap_or_default()).await?;
    let task = task_of(&e, req.task_id.as_deref().unwrap_or_default())?;
    Ok(wire_task(&e, task, true))
}

/// DescribeMaintenanceWindowExecutionTaskInvocations.
pub async fn describe_invocations(ctx: Ctx, req: WindowQuery) -> Result<serde_json::Value, ApiError> {
    let (_, _, e) = load_execution(&ctx, req.window_execution_id.as_deref().unwrap_or_default()).await?;
    let task = task_of(&e, req.task_id.as_deref().unwrap_or_default())?;
    let filters = filters(&req, &["Status"])?;
    let list: Vec<WindowExecutionTaskInvocation> = task
        .invocations
        .iter()
        .filter(|i| filters.iter().all(|(_, values)| values.contains(&i.status)))
        .map(|i| wire_invocation(&e, task, i))
        .collect();
    let (page, next) = page(list, req.max_results, &req.next_token)?;
    Ok(listing("WindowExecutionTaskInvocationIdentities", page, next))
}

/// GetMaintenanceWindowExecutionTaskInvocation.
pub async fn get_invocation(ctx: Ctx, req: WindowQuery) -> Result<WindowExecutionTaskInvocation, ApiError> {
    let (_, _, e) = load_execution(&ctx, req.window_execution_id.as_deref().unwrap_or_default()).await?;
    let task = task_of(&e, req.task_id.as_deref().unwrap_or_default())?;
    let id = req.invocation_id.as_deref().unwrap_or_default();
    let invocation = task
        .invocations
        .iter()
        .find(|i| i.id == id)
        .ok_or_else(|| missing("Maintenance window execution task invocation", id))?;
    Ok(wire_invocation(&e, task, invocation))
}

/// CancelMaintenanceWindowExecution: the next pass cancels its commands and ends it.
pub async fn cancel_execution(ctx: Ctx, req: WindowQuery) -> Result<serde_json::Value, ApiError> {
    let id = req.window_execution_id.clone().unwrap_or_default();
    let (key, revision, mut e) = load_execution(&ctx, &id).await?;
    if !is_final(&e.status) {
        e.status = "CANCELLING".into();
        ctx.env
            .store
            .write(vec![Op::put(&key, encode(&e)).if_revision(revision)])
            .await
            .map_err(|_| ApiError::new("TooManyUpdates", "The run changed meanwhile; try again."))?;
        ctx.env.wake.scheduler();
    }
    Ok(serde_json::json!({ "WindowExecutionId": id }))
}

//! The Automation operations: start, read, list, stop, signal.

use std::collections::BTreeMap;

use serde_json::Value;
use steward_api::ssm::automation::*;
use steward_api::ApiError;
use steward_store::{prefix_end, Op, Start};

use super::engine::conclude;
use super::outcome::Outcome;
use super::start::{load, prepare_start};
use super::{active_key, execution_key, is_final, ExecutionRecord, StepRecord};
use super::{Child, FanOut};
use crate::base::paging::page;
use crate::base::{decode, encode, store_fault, Ctx, Identity};

fn seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// StartAutomationExecution.
pub async fn start_automation_execution(
    ctx: Ctx,
    req: StartAutomationExecutionRequest,
) -> Result<StartAutomationExecutionResponse, ApiError> {
    let (id, batch) = prepare_start(&ctx, &req).await?;
    if !batch.is_empty() {
        ctx.env.store.write(batch).await.map_err(store_fault)?;
        ctx.env.wake.scheduler();
    }
    Ok(StartAutomationExecutionResponse { automation_execution_id: id })
}

fn step_view(execution: &ExecutionRecord, record: &StepRecord) -> StepExecution {
    let step = &execution.runbook.steps[record.index];
    let inputs = record
        .inputs
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.to_string())).collect())
        .unwrap_or_default();
    StepExecution {
        step_name: step.name.clone(),
        action: step.action.clone(),
        timeout_seconds: step.timeout_seconds,
        on_failure: step.on_failure.clone(),
        max_attempts: step.max_attempts as i64,
        execution_start_time: Some(seconds(record.start)),
        execution_end_time: record.end.map(seconds),
        step_status: record.status.clone(),
        inputs,
        outputs: record.outputs.clone(),
        failure_message: record.failure_message.clone(),
        step_execution_id: record.id.clone(),
        is_end: step.is_end,
        next_step: record.next.clone().or_else(|| step.next_step.clone()),
        is_critical: step.is_critical,
        valid_next_steps: if step.action == "aws:branch" { super::branch::targets(&step.inputs) } else { vec![] },
    }
}

/// A rate-controlled execution's steps: one `aws:executeAutomation` per child started.
fn child_view(fan: &FanOut, index: usize, child: &Child) -> StepExecution {
    let mut outputs = ParameterMap::new();
    outputs.insert("ExecutionId".into(), vec![child.id.clone()]);
    outputs.insert("Status".into(), vec![child.status.clone()]);
    StepExecution {
        step_name: format!("Invocation for {}", fan.runs[index].target),
        action: "aws:executeAutomation".into(),
        timeout_seconds: None,
        on_failure: "Abort".into(),
        max_attempts: 1,
        execution_start_time: Some(seconds(child.start)),
        execution_end_time: child.end.map(seconds),
        step_status: child.status.clone(),
        inputs: BTreeMap::new(),
        outputs,
        failure_message: None,
        step_execution_id: child.id.clone(),
        is_end: false,
        next_step: None,
        is_critical: true,
        valid_next_steps: vec![],
    }
}

/// The steps GetAutomationExecution and DescribeAutomationStepExecutions show.
fn steps_view(e: &ExecutionRecord) -> Vec<StepExecution> {
    match &e.fan_out {
        Some(fan) => fan.children.iter().enumerate().map(|(i, c)| child_view(fan, i, c)).collect(),
        None => e.steps.iter().map(|s| step_view(e, s)).collect(),
    }
}

/// What an execution reports of rate control.
fn rate_control_view(e: &ExecutionRecord) -> RateControlView {
    let mut view = RateControlView::default();
    if let Some((parent, target)) = &e.parent {
        view.parent_automation_execution_id = Some(parent.clone());
        view.target = Some(target.clone());
    }
    if let Some(fan) = &e.fan_out {
        view.target_parameter_name = fan.target_parameter_name.clone();
        view.targets = Some(fan.targets.clone()).filter(|t| !t.is_empty());
        view.target_maps = Some(fan.target_maps.clone()).filter(|t| !t.is_empty());
        // SSM lists at most 100 resolved values.
        let values: Vec<String> = fan.runs.iter().map(|r| r.target.clone()).collect();
        view.resolved_targets = Some(ResolvedTargets {
            truncated: values.len() > 100,
            parameter_values: values.into_iter().take(100).collect(),
        });
        view.max_concurrency = Some(fan.max_concurrency.clone());
        view.max_errors = Some(fan.max_errors.clone());
    }
    view
}

fn current(execution: &ExecutionRecord) -> (Option<String>, Option<String>) {
    match execution.current.filter(|_| !execution.finished()) {
        Some(i) => {
            let step = &execution.runbook.steps[i];
            (Some(step.name.clone()), Some(step.action.clone()))
        }
        None => (None, None),
    }
}

/// GetAutomationExecution.
pub async fn get_automation_execution(
    ctx: Ctx,
    req: AutomationExecutionIdRequest,
) -> Result<GetAutomationExecutionResponse, ApiError> {
    let (e, _) = load(&ctx, &req.automation_execution_id).await?;
    let (current_step_name, current_action) = current(&e);
    Ok(GetAutomationExecutionResponse {
        automation_execution: AutomationExecution {
            automation_execution_id: e.id.clone(),
            document_name: e.document_name.clone(),
            document_version: e.document_version.clone(),
            execution_start_time: seconds(e.start),
            execution_end_time: e.end.map(seconds),
            automation_execution_status: super::change::shown_status(&e),
            step_executions: steps_view(&e),
            step_executions_truncated: false,
            parameters: e.parameters.clone(),
            outputs: e.outputs.clone(),
            failure_message: e.failure_message.clone(),
            mode: e.mode.clone(),
            executed_by: e.executed_by.clone(),
            current_step_name,
            current_action,
            rate_control: rate_control_view(&e),
            change_request: super::change::view(&e),
        },
    })
}

/// One filter of DescribeAutomationExecutions, as a test of an execution.
type ExecutionCheck = Box<dyn Fn(&ExecutionRecord) -> bool + Send>;

fn time_filter(values: &[String]) -> Result<i64, ApiError> {
    let text = values.first().map(String::as_str).unwrap_or_default();
    steward_api::time::parse_iso8601(text)
        .map(|s| s * 1000)
        .ok_or_else(|| ApiError::new("InvalidFilterValue", format!("{text:?} is not an ISO-8601 time.")))
}

/// DescribeAutomationExecutions.
pub async fn describe_automation_executions(
    ctx: Ctx,
    req: DescribeAutomationExecutionsRequest,
) -> Result<DescribeAutomationExecutionsResponse, ApiError> {
    let filters = req.filters.unwrap_or_default();
    let mut checks: Vec<ExecutionCheck> = Vec::new();
    for f in filters {
        let values = f.values.clone();
        if values.is_empty() {
            return Err(ApiError::new("InvalidFilterValue", format!("Filter {} has no values.", f.key)));
        }
        checks.push(match f.key.as_str() {
            "DocumentNamePrefix" => Box::new(move |e| values.iter().any(|v| e.document_name.starts_with(v.as_str()))),
            "ExecutionStatus" => Box::new(move |e| values.contains(&super::change::shown_status(e))),
            "AutomationSubtype" => Box::new(move |e| e.change.is_some() && values.iter().any(|v| v == "ChangeRequest")),
            "AutomationType" => Box::new(move |_| values.iter().any(|v| v == "Local")),
            "ExecutionId" => Box::new(move |e| values.iter().any(|v| v == &e.id)),
            "ParentExecutionId" => Box::new(move |e| e.parent.as_ref().is_some_and(|(p, _)| values.contains(p))),
            "CurrentAction" => Box::new(move |e| current(e).1.is_some_and(|a| values.contains(&a))),
            "StartTimeBefore" => {
                let t = time_filter(&values)?;
                Box::new(move |e| e.start < t)
            }
            "StartTimeAfter" => {
                let t = time_filter(&values)?;
                Box::new(move |e| e.start > t)
            }
            other => {
                return Err(ApiError::new(
                    "InvalidFilterKey",
                    format!("{other} is not a filter of automation executions."),
                ))
            }
        });
    }
    let p = &ctx.principal;
    let prefix = format!("autoexec/{}/{}/", p.account, p.region);
    let items = ctx.env.store.range(Start::At(&prefix), &prefix_end(&prefix), 10_000_000).await.map_err(store_fault)?;
    let mut found = Vec::new();
    for item in items {
        let e: ExecutionRecord = decode(&item.key, &item.value)?;
        if checks.iter().all(|c| c(&e)) {
            found.push(e);
        }
    }
    found.sort_by(|a, b| b.start.cmp(&a.start).then(a.id.cmp(&b.id)));
    let (page, next_token) = page(found, req.max_results.map(|m| m as i64), &req.next_token)?;
    let list = page
        .iter()
        .map(|e| {
            let (current_step_name, current_action) = current(e);
            AutomationExecutionMetadata {
                automation_execution_id: e.id.clone(),
                document_name: e.document_name.clone(),
                document_version: e.document_version.clone(),
                automation_execution_status: super::change::shown_status(e),
                execution_start_time: seconds(e.start),
                execution_end_time: e.end.map(seconds),
                executed_by: e.executed_by.clone(),
                outputs: e.outputs.clone(),
                mode: e.mode.clone(),
                current_step_name,
                current_action,
                failure_message: e.failure_message.clone(),
                automation_type: "Local".into(),
                rate_control: rate_control_view(e),
                change_request: super::change::view(e),
            }
        })
        .collect();
    Ok(DescribeAutomationExecutionsResponse { automation_execution_metadata_list: list, next_token })
}

/// DescribeAutomationStepExecutions.
pub async fn describe_automation_step_executions(
    ctx: Ctx,
    req: DescribeAutomationStepExecutionsRequest,
) -> Result<DescribeAutomationStepExecutionsResponse, ApiError> {
    let (e, _) = load(&ctx, &req.automation_execution_id).await?;
    let mut steps: Vec<StepExecution> = steps_view(&e);
    for f in req.filters.unwrap_or_default() {
        if f.values.is_empty() {
            return Err(ApiError::new("InvalidFilterValue", format!("Filter {} has no values.", f.key)));
        }
        let v = &f.values;
        match f.key.as_str() {
            "StepName" => steps.retain(|s| v.contains(&s.step_name)),
            "StepExecutionStatus" => steps.retain(|s| v.contains(&s.step_status)),
            "StepExecutionId" => steps.retain(|s| v.contains(&s.step_execution_id)),
            "Action" => steps.retain(|s| v.contains(&s.action)),
            "StartTimeBefore" => {
                let t = seconds(time_filter(v)?);
                steps.retain(|s| s.execution_start_time.is_some_and(|st| st < t));
            }
            "StartTimeAfter" => {
                let t = seconds(time_filter(v)?);
                steps.retain(|s| s.execution_start_time.is_some_and(|st| st > t));
            }
            other => {
                return Err(ApiError::new("InvalidFilterKey", format!("{other} is not a filter of step executions.")))
            }
        }
    }
    if req.reverse_order == Some(true) {
        steps.reverse();
    }
    let (page, next_token) = page(steps, req.max_results.map(|m| m as i64), &req.next_token)?;
    Ok(DescribeAutomationStepExecutionsResponse { step_executions: page, next_token })
}

/// Writes a changed execution back; the scheduler takes it on from there.
async fn save(ctx: &Ctx, record: &ExecutionRecord, revision: i64) -> Result<(), ApiError> {
    let key = execution_key(&record.account, &record.region, &record.id);
    let mut batch = vec![Op::put(key, encode(record)).if_revision(revision)];
    if record.finished() {
        batch.push(Op::delete(active_key(&record.account, &record.region, &record.id)));
    }
    ctx.env.store.write(batch).await.map_err(|e| match e {
        steward_store::StoreError::Conflict { .. } => {
            ApiError::new("TooManyUpdates", "The execution changed meanwhile; try again.")
        }
        other => store_fault(other),
    })?;
    ctx.env.wake.scheduler();
    Ok(())
}

/// StopAutomationExecution: Cancel stops it at its current step.
pub async fn stop_automation_execution(
    ctx: Ctx,
    req: StopAutomationExecutionRequest,
) -> Result<serde_json::Map<String, Value>, ApiError> {
    retry_races(|| stop_once(&ctx, &req)).await
}

/// Runs a change of an execution again when the engine moved the execution between its
/// read and its write (the write's revision check refused it): a caller never sees that race.
async fn retry_races<F, Fut>(mut change: F) -> Result<serde_json::Map<String, Value>, ApiError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<serde_json::Map<String, Value>, ApiError>>,
{
    let mut attempt = 0;
    loop {
        match change().await {
            Err(e) if e.code() == "TooManyUpdates" && attempt < 10 => {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(10 * attempt)).await;
            }
            other => return other,
        }
    }
}

async fn stop_once(
    ctx: &Ctx,
    req: &StopAutomationExecutionRequest,
) -> Result<serde_json::Map<String, Value>, ApiError> {
    if req.stop_type.as_deref().is_some_and(|t| t != "Cancel") {
        return Err(ApiError::new(
            "InvalidAutomationStatusUpdateException",
            "Type Complete ends change requests; stop a runbook's execution with Type Cancel.",
        ));
    }
    let (mut e, revision) = load(ctx, &req.automation_execution_id).await?;
    if e.finished() || e.stop.is_some() {
        return Err(ApiError::new(
            "InvalidAutomationStatusUpdateException",
            format!("Execution {} is {} and cannot be cancelled.", e.id, e.status),
        ));
    }
    if let Some(queue_entry) = e.queued.take() {
        // Never started: it ends here, and leaves the queue.
        e.status = "Cancelled".into();
        e.end = Some(ctx.now());
        e.current = None;
        let key = execution_key(&e.account, &e.region, &e.id);
        let batch = vec![Op::delete(queue_entry), Op::put(key, encode(&e)).if_revision(revision)];
        ctx.env.store.write(batch).await.map_err(store_fault)?;
        return Ok(serde_json::Map::new());
    }
    e.stop = Some("Cancel".into());
    e.status = "Cancelling".into();
    save(ctx, &e, revision).await?;
    Ok(serde_json::Map::new())
}

fn invalid_signal(message: impl Into<String>) -> ApiError {
    ApiError::new("InvalidAutomationSignalException", message.into())
}

/// Whether the caller is one of an approve step's `Approvers` (IAM user names, user ARNs,
/// role ARNs; a role's session counts as the role).
fn is_approver(ctx: &Ctx, approvers: &Value) -> bool {
    let p = &ctx.principal;
    let listed: Vec<String> = match approvers {
        Value::Array(items) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        Value::String(s) => vec![s.clone()],
        _ => vec![],
    };
    let mine: Vec<String> = match &p.identity {
        Identity::Root => vec![p.arn.clone(), format!("arn:aws:iam::{}:root", p.account)],
        Identity::User(name) => vec![name.clone(), p.arn.clone()],
        Identity::Role { role, .. } => {
            vec![role.clone(), format!("arn:aws:iam::{}:role/{role}", p.account), p.arn.clone()]
        }
    };
    listed.iter().any(|l| mine.contains(l))
}

/// StartStep and StopStep, which drive an execution in Interactive mode: StartStep
/// (`Payload StepName`) lets the named step start next; StopStep (`Payload StepExecutionId`)
/// cancels the running step, and the execution waits for the next StartStep.
fn step_signal(e: &mut ExecutionRecord, req: &SendAutomationSignalRequest, now: i64) -> Result<(), ApiError> {
    if e.mode != "Interactive" {
        return Err(invalid_signal(format!("{} applies to executions in Interactive mode.", req.signal_type)));
    }
    if e.finished() {
        return Err(invalid_signal(format!("Execution {} is {}: it takes no signals.", e.id, e.status)));
    }
    let first = |key: &str| req.payload.as_ref().and_then(|p| p.get(key)).and_then(|v| v.first()).cloned();
    let running = e.steps.last().filter(|s| !is_final(&s.status)).map(|s| (s.id.clone(), s.index));
    if req.signal_type == "StartStep" {
        let name = first("StepName").ok_or_else(|| invalid_signal("StartStep needs the Payload StepName."))?;
        let index = e.runbook.index(&name).ok_or_else(|| invalid_signal(format!("There is no step named {name}.")))?;
        if let Some(owner) = e.runbook.steps[index].parent {
            let owner = &e.runbook.steps[owner].name;
            return Err(invalid_signal(format!("Step {name} runs in the passes of loop {owner}; start {owner}.")));
        }
        if let Some((_, at)) = running {
            let busy = &e.runbook.steps[at].name;
            return Err(invalid_signal(format!("Step {busy} is running; stop it (StopStep) before starting another.")));
        }
        e.current = Some(index);
        e.granted = Some(index);
        e.status = "InProgress".into();
        return Ok(());
    }
    let id = first("StepExecutionId").ok_or_else(|| invalid_signal("StopStep needs the Payload StepExecutionId."))?;
    match running {
        Some((running_id, _)) if running_id == id => {
            let record = e.steps.last_mut().expect("a step is running");
            record.status = "Cancelled".into();
            record.failure_message = Some("Stopped by a StopStep signal.".into());
            record.end = Some(now);
            super::engine::close_open_loops(e, "Cancelled", now);
            e.status = "Waiting".into();
            Ok(())
        }
        _ => Err(invalid_signal(format!("Step execution {id} is not running."))),
    }
}

/// SendAutomationSignal: Approve or Reject a waiting `aws:approve` step, Resume a waiting
/// `aws:pause` step.
pub async fn send_automation_signal(
    ctx: Ctx,
    req: SendAutomationSignalRequest,
) -> Result<serde_json::Map<String, Value>, ApiError> {
    retry_races(|| signal_once(&ctx, &req)).await
}

async fn signal_once(ctx: &Ctx, req: &SendAutomationSignalRequest) -> Result<serde_json::Map<String, Value>, ApiError> {
    let (mut e, revision) = load(ctx, &req.automation_execution_id).await?;
    if matches!(req.signal_type.as_str(), "StartStep" | "StopStep") {
        step_signal(&mut e, req, ctx.now())?;
        save(ctx, &e, revision).await?;
        if req.signal_type == "StopStep" {
            // Its command is cancelled as the execution's principal, who sent it.
            let stopped = e.steps.iter().rev().find(|s| s.status == "Cancelled");
            if let (Some(record), Ok(acting)) =
                (stopped, crate::base::run_as::resume(&ctx.env, &e.account, &e.region, Some(&e.run_as)).await)
            {
                super::actions::stop_effects(&acting, record).await;
            }
        }
        return Ok(serde_json::Map::new());
    }
    let Some(index) = e.current.filter(|_| !e.finished()) else {
        return Err(invalid_signal(format!("Execution {} is {}: it takes no signals.", e.id, e.status)));
    };
    let step = e.runbook.steps[index].clone();
    let waiting = e.steps.last().filter(|s| s.index == index && s.status == "Waiting").cloned();
    let Some(mut record) = waiting else {
        return Err(invalid_signal(format!("Step {} is not waiting for a signal.", step.name)));
    };
    let now = ctx.now();
    let comment = req.payload.as_ref().and_then(|p| p.get("Comment")).and_then(|c| c.first()).cloned();
    let outcome = match (req.signal_type.as_str(), step.action.as_str()) {
        ("Resume", "aws:pause") => Outcome::Done { outputs: ParameterMap::new(), next: None },
        ("Approve" | "Reject", "aws:approve") => {
            if !is_approver(ctx, &record.inputs["Approvers"]) {
                return Err(invalid_signal(format!("{} is not an approver of step {}.", ctx.principal.arn, step.name)));
            }
            let decision = serde_json::json!({
                "Approver": ctx.principal.arn,
                "Decision": if req.signal_type == "Approve" { "Approved" } else { "Rejected" },
                "Comment": comment.unwrap_or_default(),
                "ApprovalDate": steward_api::time::format_iso8601(now / 1000),
            });
            if req.signal_type == "Reject" {
                record.outputs.insert("ApprovalStatus".into(), vec!["Rejected".into()]);
                record.outputs.entry("ApproverDecisions".into()).or_default().push(decision.to_string());
                Outcome::Failed { status: "Failed", why: format!("Rejected by {}.", ctx.principal.arn) }
            } else {
                if record.approvals.contains(&ctx.principal.arn) {
                    return Err(invalid_signal(format!(
                        "{} has approved step {} already.",
                        ctx.principal.arn, step.name
                    )));
                }
                record.approvals.push(ctx.principal.arn.clone());
                record.outputs.entry("ApproverDecisions".into()).or_default().push(decision.to_string());
                let needed = record.inputs["MinRequiredApprovals"]
                    .as_i64()
                    .or_else(|| record.inputs["MinRequiredApprovals"].as_str().and_then(|s| s.parse().ok()))
                    .unwrap_or(1)
                    .max(1) as usize;
                if record.approvals.len() >= needed {
                    let mut outputs = record.outputs.clone();
                    outputs.insert("ApprovalStatus".into(), vec!["Approved".into()]);
                    Outcome::Done { outputs, next: None }
                } else {
                    Outcome::Wait { changed: true, effect: vec![] }
                }
            }
        }
        (signal, action) => {
            return Err(invalid_signal(format!("Signal {signal} does not apply to step {} ({action}).", step.name)))
        }
    };
    *e.steps.last_mut().expect("a step") = record;
    if !matches!(outcome, Outcome::Wait { .. }) {
        conclude(&mut e, outcome, now);
        if !e.finished() && e.status == "Waiting" {
            e.status = "InProgress".into();
        }
    }
    save(ctx, &e, revision).await?;
    Ok(serde_json::Map::new())
}

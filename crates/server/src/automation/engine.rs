//! Moves executions forward. The scheduler's leader calls [`advance_all`] each pass; each
//! execution goes from step to step until one waits (a sleep, a command, a signal), each
//! transition one conditional write of its record with the step's effect — so two servers
//! never both take a step, and a step's effect is never made twice.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;
use steward_api::ssm::automation::ParameterMap;
use steward_core::documents::interpolate;
use steward_store::{prefix_end, Op, Start};

use super::actions;
use super::outcome::{failed, Outcome};
use super::{active_key, execution_key, is_final, ExecutionRecord, OwnApi, StepRecord, MAX_RUNNING};
use super::{fan_out, looping, script};
use crate::base::{decode, encode, run_as, Env};

/// Transitions of one execution in one pass at most: a runbook looping without waiting
/// yields to the others.
const TRANSITIONS_PER_PASS: usize = 100;

/// Advances every execution not finished. Returns how many transitions were written.
/// Steps that call the API call it through `own`.
pub async fn advance_all(env: &Arc<Env>, own: &impl OwnApi) -> anyhow::Result<usize> {
    admit_queued(env).await?;
    let prefix = "autoactive/";
    let mut moved = 0;
    for item in env.store.range(Start::At(prefix), &prefix_end(prefix), 100_000).await? {
        let Some((account, region, id)) = parse_active(&item.key) else { continue };
        match advance(env, own, &account, &region, &id).await {
            Ok(n) => moved += n,
            Err(e) => tracing::warn!(execution_id = id, error = %e, "Could not advance an automation execution."),
        }
    }
    Ok(moved)
}

/// Moves queued executions in, oldest first, while their account runs fewer than its limit.
async fn admit_queued(env: &Arc<Env>) -> anyhow::Result<()> {
    let prefix = "autoqueue/";
    let queued = env.store.range(Start::At(prefix), &prefix_end(prefix), 100_000).await?;
    let mut running: BTreeMap<String, usize> = BTreeMap::new();
    for item in queued {
        let mut parts = item.key.strip_prefix(prefix).unwrap_or_default().splitn(3, '/');
        let (Some(account), Some(region)) = (parts.next(), parts.next()) else { continue };
        let scope = format!("{account}/{region}/");
        if !running.contains_key(&scope) {
            let active = format!("autoactive/{scope}");
            let count = env.store.range(Start::At(&active), &prefix_end(&active), MAX_RUNNING + 1).await?.len();
            running.insert(scope.clone(), count);
        }
        let count = running.get_mut(&scope).expect("counted");
        if *count >= MAX_RUNNING {
            continue;
        }
        let id = String::from_utf8_lossy(&item.value).into_owned();
        let key = execution_key(account, region, &id);
        let Some(exec) = env.store.get(&key).await? else {
            env.store.write(vec![Op::delete(&item.key)]).await.ok();
            continue;
        };
        let mut execution: ExecutionRecord = decode(&key, &exec.value).map_err(|e| anyhow::anyhow!("{e}"))?;
        execution.queued = None;
        let batch = vec![
            Op::delete(&item.key).if_revision(item.revision),
            Op::put(active_key(account, region, &id), b"{}".to_vec()),
            Op::put(&key, encode(&execution)).if_revision(exec.revision),
        ];
        if env.store.write(batch).await.is_ok() {
            *count += 1;
        }
    }
    Ok(())
}

fn parse_active(key: &str) -> Option<(String, String, String)> {
    let mut parts = key.strip_prefix("autoactive/")?.splitn(3, '/');
    Some((parts.next()?.to_owned(), parts.next()?.to_owned(), parts.next()?.to_owned()))
}

/// Takes `id` as far as it goes now.
pub async fn advance(
    env: &Arc<Env>,
    own: &impl OwnApi,
    account: &str,
    region: &str,
    id: &str,
) -> anyhow::Result<usize> {
    let key = execution_key(account, region, id);
    let active = active_key(account, region, id);
    let mut moved = 0;
    for _ in 0..TRANSITIONS_PER_PASS {
        let Some(item) = env.store.get(&key).await? else {
            env.store.write(vec![Op::delete(&active)]).await.ok();
            break;
        };
        let mut execution: ExecutionRecord = decode(&key, &item.value).map_err(|e| anyhow::anyhow!("{e}"))?;
        // A step stopped elsewhere (StopStep) leaves nothing running here.
        for ended in execution.steps.iter().rev().take(2).filter(|s| is_final(&s.status)) {
            actions::forget(&ended.id);
        }
        if execution.finished() {
            env.store.write(vec![Op::delete(&active)]).await.ok();
            break;
        }
        let now = env.now();
        let effect = match run_as::resume(env, account, region, Some(&execution.run_as)).await {
            Ok(_) if execution.fan_out.is_some() => fan_out::advance_once(env, &mut execution, now).await?,
            Ok(ctx) => step_once(&ctx, own, &mut execution, now).await,
            Err(e) => {
                // Whoever started it is gone: it stops, as their other scheduled work does.
                fail_current(&mut execution, "Failed", e.message(), now);
                finish(&mut execution, "Failed", Some(e.message().to_owned()), now);
                Some(vec![])
            }
        };
        let Some(mut batch) = effect else { break };
        let sent_commands = !batch.is_empty();
        batch.push(Op::put(&key, encode(&execution)).if_revision(item.revision));
        if execution.finished() {
            batch.push(Op::delete(&active));
        }
        match env.store.write(batch).await {
            Ok(()) => moved += 1,
            Err(steward_store::StoreError::Conflict { .. }) => break, // Changed meanwhile (a signal): next pass.
            Err(e) => return Err(e.into()),
        }
        if sent_commands {
            env.wake.dispatcher();
            // Children a rate-controlled execution started run from the next pass.
            env.wake.scheduler();
        }
        launch_recorded_script(env, &execution);
        if let Some(ended) = execution.steps.last().filter(|s| is_final(&s.status)) {
            actions::forget(&ended.id);
        }
        if execution.finished() {
            tracing::info!(execution_id = id, status = execution.status, "Automation execution ended.");
            break;
        }
    }
    Ok(moved)
}

/// Starts the script a step's record says this process launched, once that record is
/// written (so a script never runs without its record saying so).
fn launch_recorded_script(env: &Arc<Env>, execution: &ExecutionRecord) {
    let Some(record) = execution.steps.last().filter(|s| !is_final(&s.status)) else { return };
    let step = &execution.runbook.steps[record.index];
    if step.action != "aws:executeScript" || record.launched_by.as_deref() != Some(script::boot_id()) {
        return;
    }
    if script::state(&record.id).is_some() {
        return;
    }
    let timeout = std::time::Duration::from_secs(step.timeout_seconds.unwrap_or(600).clamp(1, 600) as u64);
    let attachment = record.inputs["Attachment"].as_str().and_then(|name| {
        let sha256 = execution.runbook.files.get(name)?;
        Some(script::Attachment {
            blobs: env.blobs.clone(),
            key: crate::documents::file_key(&execution.account, sha256),
            name: name.to_owned(),
        })
    });
    let wake = env.clone();
    script::launch(&record.id, &record.inputs, attachment, timeout, move || wake.wake.scheduler());
}

/// What references in a step's inputs resolve to: the parameters, the finished steps'
/// outputs (`Step.Output`), and the execution's and the account's globals.
fn references(execution: &ExecutionRecord, now: i64) -> BTreeMap<String, Value> {
    let mut values = execution.values.clone();
    values.insert("automation:EXECUTION_ID".into(), Value::String(execution.id.clone()));
    values.insert("global:ACCOUNT_ID".into(), Value::String(execution.account.clone()));
    values.insert("global:REGION".into(), Value::String(execution.region.clone()));
    values.insert("global:AWS_PARTITION".into(), Value::String("aws".into()));
    let stamp = steward_api::time::format_iso8601(now / 1000); // 2026-12-07T11:50:02Z
    let (date, time) = stamp.split_once('T').unwrap_or((&stamp, ""));
    let hms = time.get(..8).unwrap_or_default().replace(':', ".");
    values.insert("global:DATE".into(), Value::String(date.to_owned()));
    values.insert("global:DATE_TIME".into(), Value::String(format!("{date}_{hms}")));
    // Later runs of a step (a loop's passes) override earlier ones; an open loop's outputs
    // are those of its pass under way.
    for record in execution.steps.iter() {
        let step = &execution.runbook.steps[record.index];
        let open_loop = step.action == "aws:loop" && !is_final(&record.status);
        if record.status != "Success" && !open_loop {
            continue;
        }
        for (name, list) in &record.outputs {
            let declared = match step.action.as_str() {
                "aws:loop" => looping::output_type(name, &record.inputs),
                _ => step.outputs.iter().find(|(n, _, _)| n == name).map(|(_, _, t)| t.as_str()),
            };
            values.insert(format!("{}.{name}", step.name), typed_output(list, declared));
        }
    }
    values
}

fn typed_output(list: &[String], declared: Option<&str>) -> Value {
    let first = list.first().cloned().unwrap_or_default();
    match declared {
        Some("StringList") => Value::Array(list.iter().cloned().map(Value::String).collect()),
        Some("Integer") => first.parse::<i64>().map(Value::from).unwrap_or(Value::String(first)),
        Some("Boolean") => first.parse::<bool>().map(Value::Bool).unwrap_or(Value::String(first)),
        Some("StringMap" | "MapList") => serde_json::from_str(&first).unwrap_or(Value::String(first)),
        _ => Value::String(first),
    }
}

/// `{{ ssm:NAME }}` references in a step's inputs: Parameter Store values read as the
/// execution's principal (who must be allowed ssm:GetParameter on each), String and
/// StringList only, as SSM's Automation reads them.
async fn parameter_store_values(ctx: &crate::base::Ctx, inputs: &Value) -> Result<BTreeMap<String, Value>, String> {
    let mut out = BTreeMap::new();
    for reference in interpolate::references(inputs) {
        let interpolate::Reference::Ssm(name) = reference else { continue };
        let Some((record, _)) = crate::parameters::find(ctx, &name).await.ok().flatten() else {
            return Err(format!("Parameter {name} does not exist."));
        };
        let arn = crate::base::arn::parameter_arn(&ctx.principal, &record.name);
        ctx.authorize("ssm:GetParameter", &[arn], |r| r).await.map_err(|e| format!("{}: {}", e.code(), e.message()))?;
        if record.kind == "SecureString" {
            return Err(format!("Parameter {name} is a SecureString; runbooks read String and StringList parameters."));
        }
        out.insert(format!("ssm:{name}"), Value::String(record.value));
    }
    Ok(out)
}

/// Ends the execution: its outputs gathered, a critical failure met on the way failing it.
fn finish(execution: &mut ExecutionRecord, status: &str, why: Option<String>, now: i64) {
    // However its cleanup step (onCancel) went, a cancelled execution ends Cancelled.
    let status = if execution.cleanup_until.is_some() { "Cancelled" } else { status };
    close_open_loops(execution, status, now);
    execution.status = status.to_owned();
    execution.failure_message = why.or(execution.failure_message.take());
    execution.end = Some(now);
    execution.current = None;
    let mut outputs = ParameterMap::new();
    for wanted in &execution.runbook.outputs {
        let Some((step_name, output)) = wanted.split_once('.') else { continue };
        let found = execution
            .steps
            .iter()
            .rev()
            .find(|s| execution.runbook.steps[s.index].name == step_name)
            .and_then(|s| s.outputs.get(output));
        outputs.insert(
            wanted.clone(),
            found.cloned().unwrap_or_else(|| {
                vec!["No output available yet because the step is not successfully executed".into()]
            }),
        );
    }
    execution.outputs = outputs;
}

/// Ends the loops whose steps were running when the execution (or the step) stopped.
pub fn close_open_loops(execution: &mut ExecutionRecord, status: &str, now: i64) {
    for record in execution.steps.iter_mut().filter(|s| !is_final(&s.status)) {
        if execution.runbook.steps[record.index].action == "aws:loop" {
            record.status = status.to_owned();
            record.end = Some(now);
        }
    }
}

fn fail_current(execution: &mut ExecutionRecord, status: &str, why: &str, now: i64) {
    if let Some(record) = execution.steps.last_mut().filter(|s| !is_final(&s.status)) {
        record.status = status.to_owned();
        record.failure_message = Some(why.to_owned());
        record.end = Some(now);
    }
}

/// Where an execution goes after a step.
enum Next {
    /// To this step.
    Step(usize),
    /// A pass of this loop ended.
    LoopPass(usize),
    /// The runbook ended.
    End,
}

/// Where the execution goes after step `index`: `chosen` (a branch's or onFailure's step),
/// else the step's nextStep, else the next listed in its list — after the last or an isEnd
/// step, the end of the runbook or of the loop's pass.
fn next_index(execution: &ExecutionRecord, index: usize, chosen: Option<&str>) -> Result<Next, String> {
    let steps = &execution.runbook.steps;
    let step = &steps[index];
    if let Some(name) = chosen.or(step.next_step.as_deref()) {
        return execution.runbook.index(name).map(Next::Step).ok_or_else(|| format!("There is no step named {name}."));
    }
    let following = Some(index + 1).filter(|i| steps.get(*i).is_some_and(|s| s.parent == step.parent));
    Ok(match (following.filter(|_| !step.is_end), step.parent) {
        (Some(next), _) => Next::Step(next),
        (None, Some(owner)) => Next::LoopPass(owner),
        (None, None) => Next::End,
    })
}

/// A pass of loop `owner` ended: the next begins, or the loop step ends (and the
/// execution goes on after it).
fn end_pass(execution: &mut ExecutionRecord, owner: usize, now: i64) {
    let condition =
        interpolate::apply(&execution.runbook.steps[owner].inputs["LoopCondition"], &references(execution, now));
    let open = execution.steps.iter().rposition(|s| s.index == owner && !is_final(&s.status));
    let Some(at) = open else {
        return finish(execution, "Failed", Some("A loop's record was lost.".into()), now);
    };
    execution.current = Some(owner);
    match looping::again(&mut execution.steps[at], &condition) {
        Ok(true) => execution.current = execution.runbook.loop_entry(owner),
        Ok(false) => {
            let outputs = execution.steps[at].outputs.clone();
            conclude(execution, Outcome::Done { outputs, next: None }, now);
        }
        Err(why) => conclude(execution, failed(why), now),
    }
}

/// One transition of `execution`: the writes that go with it, or None when nothing changed.
async fn step_once(
    ctx: &crate::base::Ctx,
    own: &impl OwnApi,
    execution: &mut ExecutionRecord,
    now: i64,
) -> Option<Vec<Op>> {
    let cleanup_over = execution.cleanup_until.is_some_and(|until| now > until);
    if execution.stop.is_some() && (execution.cleanup_until.is_none() || cleanup_over) {
        let open = execution.steps.last().filter(|s| !is_final(&s.status)).cloned();
        if let Some(open) = &open {
            actions::stop_effects(ctx, open).await;
        }
        fail_current(execution, "Cancelled", "The execution was cancelled.", now);
        // A step with onCancel hands over to its cleanup step, which has two minutes.
        let cleanup = open
            .filter(|_| execution.cleanup_until.is_none())
            .and_then(|o| execution.runbook.steps[o.index].on_cancel.clone())
            .and_then(|name| execution.runbook.index(&name));
        match cleanup {
            Some(index) => {
                execution.cleanup_until = Some(now + super::CLEANUP_MS);
                execution.current = Some(index);
                execution.status = "Cancelling".into();
            }
            None => finish(execution, "Cancelled", None, now),
        }
        return Some(vec![]);
    }
    let Some(index) = execution.current else {
        finish(execution, "Success", None, now);
        return Some(vec![]);
    };
    let step = execution.runbook.steps[index].clone();
    let mut started = false;
    let mut unresolved = None;
    if execution.steps.last().is_none_or(|s| s.index != index || is_final(&s.status)) {
        // Interactive mode: a step starts only when a StartStep signal names it.
        let cleaning_up = execution.cleanup_until.is_some();
        if execution.mode == "Interactive" && execution.granted != Some(index) && step.parent.is_none() && !cleaning_up
        {
            let changed = execution.status != "Waiting";
            execution.status = "Waiting".into();
            return changed.then(Vec::new);
        }
        execution.granted = None;
        let mut values = references(execution, now);
        match parameter_store_values(ctx, &step.inputs).await {
            Ok(found) => values.extend(found),
            Err(why) => unresolved = Some(why),
        }
        let inputs = interpolate::apply(&step.inputs, &values);
        execution.steps.push(StepRecord {
            id: uuid::Uuid::new_v4().to_string(),
            index,
            status: "InProgress".into(),
            start: now,
            end: None,
            inputs,
            outputs: ParameterMap::new(),
            failure_message: None,
            attempt: 1,
            wake_at: None,
            command_id: None,
            approvals: vec![],
            next: None,
            launched_by: None,
            child: None,
        });
        execution.status = if execution.cleanup_until.is_some() { "Cancelling" } else { "InProgress" }.into();
        started = true;
    }
    let (id, depth) = (execution.id.clone(), execution.depth);
    let record = execution.steps.last_mut().expect("a step is running");
    let timed_out = step.timeout_seconds.is_some_and(|t| now > record.start + t * 1000);
    let outcome = if let Some(why) = unresolved {
        Outcome::Failed { status: "Failed", why }
    } else if timed_out {
        Outcome::Failed {
            status: "TimedOut",
            why: format!("Step timed out after {} seconds.", step.timeout_seconds.unwrap_or(0)),
        }
    } else {
        actions::look(ctx, own, (&id, depth), (&execution.runbook, index), record, now).await
    };
    if let Outcome::Wait { changed, effect } = outcome {
        execution.status = match (execution.cleanup_until, record.status.as_str()) {
            (Some(_), _) => "Cancelling",
            (None, "Waiting") => "Waiting",
            (None, _) => "InProgress",
        }
        .into();
        return (changed || started).then_some(effect);
    }
    conclude(execution, outcome, now);
    Some(vec![])
}

/// Applies a finished outcome to the running step (the last record): its status and
/// outputs, a retry when attempts are left, then where the execution goes. Also used by
/// signals, which finish `aws:pause` and `aws:approve` steps.
pub fn conclude(execution: &mut ExecutionRecord, outcome: Outcome, now: i64) {
    let Some(index) = execution.current else { return };
    let step = execution.runbook.steps[index].clone();
    // The last record, or (a loop ending) the loop's, still open under its steps' records.
    let Some(at) = execution.steps.iter().rposition(|s| s.index == index && !is_final(&s.status)) else { return };
    let record = &mut execution.steps[at];
    match outcome {
        Outcome::Wait { .. } => {}
        Outcome::Enter { first } => execution.current = Some(first),
        Outcome::Done { outputs, next } => {
            record.status = "Success".into();
            record.end = Some(now);
            record.outputs = outputs;
            record.next = next.clone();
            go_on(execution, index, next.as_deref(), now);
        }
        Outcome::Failed { status, why } => {
            if record.attempt < step.max_attempts {
                // Tried again in place, from the start.
                record.attempt += 1;
                record.start = now;
                record.wake_at = None;
                record.command_id = None;
                record.launched_by = None;
                record.child = None;
                record.status = "InProgress".into();
                return;
            }
            record.status = status.into();
            record.failure_message = Some(why.clone());
            record.end = Some(now);
            if step.is_critical {
                execution.failure_message = Some(format!("Step {} failed: {why}", step.name));
            }
            match step.on_failure.as_str() {
                "Continue" => go_on(execution, index, None, now),
                target if target.starts_with("step:") => {
                    let name = target.trim_start_matches("step:").to_owned();
                    record.next = Some(name.clone());
                    go_on(execution, index, Some(&name), now);
                }
                _ => {
                    // A critical step that timed out times the execution out, as SSM reports it.
                    let status = match (step.is_critical, status) {
                        (false, _) => "Success",
                        (true, "TimedOut") => "TimedOut",
                        (true, _) => "Failed",
                    };
                    finish(execution, status, None, now);
                }
            }
        }
    }
}

/// Moves to the step after `index` (or `chosen`), ending the execution after the last.
fn go_on(execution: &mut ExecutionRecord, index: usize, chosen: Option<&str>, now: i64) {
    if execution.cleanup_until.is_some() {
        return finish(execution, "Cancelled", None, now); // The cleanup step is the last.
    }
    match next_index(execution, index, chosen) {
        Ok(Next::Step(next)) => execution.current = Some(next),
        Ok(Next::LoopPass(owner)) => end_pass(execution, owner, now),
        Ok(Next::End) => {
            let status = if execution.failure_message.is_some() { "Failed" } else { "Success" };
            finish(execution, status, None, now);
        }
        Err(why) => finish(execution, "Failed", Some(why), now),
    }
}

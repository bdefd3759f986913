//! What each action does at one look: start, wait, or finish. An action is looked at when
//! its step starts and at every scheduler pass after, until it finishes; what it starts
//! (the command of `aws:runCommand`) goes in the same write as the step's record.

use serde_json::Value;
use steward_api::ssm::automation::ParameterMap;
use steward_api::ssm::automation::StartAutomationExecutionRequest;
use steward_api::ssm::commands::SendCommandRequest;

use super::outcome::{as_list, failed, Outcome};
use super::runbook::{Runbook, Step};
use super::{aws_api, branch, looping, script, selector, start, webhook, OwnApi, StepRecord, MAX_NESTING};
use crate::base::Ctx;

/// Longest `aws:sleep`, as SSM: seven days.
const MAX_SLEEP_MS: i64 = 7 * 24 * 3600 * 1000;

/// An ISO-8601 duration as `aws:sleep` takes it (`PT10S`, `PT5M`, `PT1H30M`, `P1D`), in ms.
pub fn duration_ms(text: &str) -> Option<i64> {
    let rest = text.trim().strip_prefix('P')?;
    let (days, time) = match rest.split_once('T') {
        Some((d, t)) => (d, t),
        None => (rest, ""),
    };
    let mut total = 0i64;
    let mut take = |part: &str, units: &[(char, i64)]| -> Option<()> {
        let mut number = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let (_, ms) = units.iter().find(|(u, _)| *u == c)?;
            total = total.checked_add(number.parse::<i64>().ok()?.checked_mul(*ms)?)?;
            number.clear();
        }
        number.is_empty().then_some(())
    };
    take(days, &[('D', 86_400_000)])?;
    take(time, &[('H', 3_600_000), ('M', 60_000), ('S', 1_000)])?;
    (rest != "T" && !rest.is_empty()).then_some(total)
}

/// When an `aws:sleep` step wakes, from its inputs; why not, when they say nothing sound.
fn wake_at(inputs: &Value, start: i64) -> Result<i64, String> {
    if let Some(d) = inputs["Duration"].as_str() {
        let ms = duration_ms(d).ok_or_else(|| format!("Duration {d:?} is not an ISO-8601 duration such as PT5M."))?;
        if ms > MAX_SLEEP_MS {
            return Err("aws:sleep waits at most seven days.".into());
        }
        return Ok(start + ms);
    }
    if let Some(t) = inputs["Timestamp"].as_str() {
        let at = steward_api::time::parse_iso8601(t)
            .ok_or_else(|| format!("Timestamp {t:?} is not an ISO-8601 time such as 2026-12-31T23:59:00Z."))?;
        return Ok((at * 1000).min(start + MAX_SLEEP_MS));
    }
    Err("aws:sleep needs Duration or Timestamp.".into())
}

/// Parameters as steps may give them (a single value as a plain string or number) made
/// the lists the APIs take.
fn as_parameter_lists(params: Option<&mut Value>) {
    if let Some(params) = params.and_then(Value::as_object_mut) {
        for value in params.values_mut() {
            if !value.is_array() {
                let text = match &*value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                *value = Value::Array(vec![Value::String(text)]);
            }
        }
    }
}

/// SendCommand as an `aws:runCommand` step's inputs describe it.
fn command_request(inputs: &Value) -> Result<SendCommandRequest, String> {
    let mut body = inputs.clone();
    as_parameter_lists(body.get_mut("Parameters"));
    serde_json::from_value(body).map_err(|e| format!("The aws:runCommand inputs are not valid: {e}"))
}

/// StartAutomationExecution as an `aws:executeAutomation` step's inputs describe it
/// (`RuntimeParameters` are the runbook's parameters).
fn automation_request(inputs: &Value) -> Result<StartAutomationExecutionRequest, String> {
    let mut body = inputs.clone();
    if let Some(object) = body.as_object_mut() {
        if let Some(runtime) = object.remove("RuntimeParameters") {
            object.insert("Parameters".into(), runtime);
        }
    }
    as_parameter_lists(body.get_mut("Parameters"));
    serde_json::from_value(body).map_err(|e| format!("The aws:executeAutomation inputs are not valid: {e}"))
}

/// `aws:executeAutomation`: starts the runbook as the execution's principal, in the same
/// batch as the step's record (so a server dying never starts it twice), and follows it.
async fn execute_automation(ctx: &Ctx, depth: u32, record: &mut StepRecord) -> Outcome {
    let Some(child) = record.child.clone() else {
        if depth >= MAX_NESTING {
            return failed(format!("Runbooks start runbooks at most {MAX_NESTING} deep."));
        }
        let request = match automation_request(&record.inputs) {
            Ok(r) => r,
            Err(why) => return failed(why),
        };
        return match start::start_nested(ctx, &request, depth + 1).await {
            Ok((id, writes)) => {
                record.child = Some(id);
                Outcome::Wait { changed: true, effect: writes }
            }
            Err(e) => failed(format!("{}: {}", e.code(), e.message())),
        };
    };
    let p = &ctx.principal;
    let found = match start::load_execution(&ctx.env, &p.account, &p.region, &child).await {
        Ok(found) => found,
        Err(_) => return Outcome::Wait { changed: false, effect: vec![] },
    };
    let Some(done) = found else { return failed(format!("Execution {child} no longer exists.")) };
    if !super::is_final(&done.status) {
        return Outcome::Wait { changed: false, effect: vec![] };
    }
    let mut outputs = ParameterMap::new();
    outputs.insert("ExecutionId".into(), single(&child));
    outputs.insert("Status".into(), single(&done.status));
    outputs.insert("Output".into(), single(serde_json::to_string(&done.outputs).unwrap_or_default()));
    if done.status == "Success" {
        Outcome::Done { outputs, next: None }
    } else {
        record.outputs = outputs;
        failed(format!("Execution {child} ended {}.", done.status))
    }
}

fn single(value: impl Into<String>) -> Vec<String> {
    vec![value.into()]
}

/// One look at `step`'s action, whose current run is `record`.
pub async fn look(
    ctx: &Ctx,
    own: &impl OwnApi,
    (execution_id, depth): (&str, u32),
    (runbook, index): (&Runbook, usize),
    record: &mut StepRecord,
    now: i64,
) -> Outcome {
    let step = &runbook.steps[index];
    match step.action.as_str() {
        "aws:sleep" => match record.wake_at {
            None => match wake_at(&record.inputs, record.start) {
                Ok(at) => {
                    record.wake_at = Some(at);
                    Outcome::Wait { changed: true, effect: vec![] }
                }
                Err(why) => failed(why),
            },
            Some(at) if now >= at => Outcome::Done { outputs: ParameterMap::new(), next: None },
            Some(_) => Outcome::Wait { changed: false, effect: vec![] },
        },
        // Both wait for SendAutomationSignal, which finishes the step.
        "aws:pause" | "aws:approve" => {
            if record.status == "Waiting" {
                return Outcome::Wait { changed: false, effect: vec![] };
            }
            if let Some(topic) = record.inputs["NotificationArn"].as_str().filter(|_| step.action == "aws:approve") {
                if let Err(why) = ask_approvers(ctx, execution_id, &step.name, record, topic).await {
                    return failed(why);
                }
            }
            record.status = "Waiting".into();
            Outcome::Wait { changed: true, effect: vec![] }
        }
        "aws:branch" => match branch::choose(&record.inputs) {
            Ok(next) => Outcome::Done { outputs: ParameterMap::new(), next: Some(next) },
            Err(why) => failed(why),
        },
        "aws:runCommand" => run_command(ctx, execution_id, record).await,
        "aws:executeScript" => execute_script(runbook, step, record),
        "aws:executeAwsApi" => aws_api::execute(ctx, own, step, record).await,
        "aws:waitForAwsResourceProperty" => aws_api::wait_for(ctx, own, record).await,
        "aws:assertAwsResourceProperty" => aws_api::assert(ctx, own, record).await,
        "aws:createTags" => aws_api::create_tags(ctx, own, record).await,
        "aws:executeAutomation" => execute_automation(ctx, depth, record).await,
        "aws:loop" => looping::begin(runbook, index, record),
        "aws:invokeWebhook" => webhook::invoke(ctx, own, record).await,
        other => failed(format!("This server does not run {other} steps.")),
    }
}

/// Tells an `aws:approve` step's NotificationArn topic that approvals are wanted, as the
/// execution's principal (sns:Publish on the topic): the message says what, from whom, and
/// how to answer. Sent as the step begins to wait (again, should that write be lost).
async fn ask_approvers(
    ctx: &Ctx,
    execution_id: &str,
    step: &str,
    record: &StepRecord,
    topic: &str,
) -> Result<(), String> {
    let inputs = &record.inputs;
    let message = serde_json::json!({
        "AutomationExecutionId": execution_id,
        "StepName": step,
        "StepExecutionId": record.id,
        "Message": inputs["Message"],
        "Approvers": inputs["Approvers"],
        "MinRequiredApprovals": inputs["MinRequiredApprovals"],
        "HowToAnswer": format!(
            "aws ssm send-automation-signal --automation-execution-id {execution_id} --signal-type Approve (or Reject)"
        ),
    });
    let subject = format!("Approval requested: automation {execution_id}, step {step}");
    crate::sns::publish(ctx, topic, Some(&subject), &message.to_string())
        .await
        .map(|_| ())
        .map_err(|e| format!("The approvers could not be told at {topic}: {}: {}", e.code(), e.message()))
}

/// Stops what a step stopped mid-way left running: its script or webhook call here, its
/// command (cancelled as `ctx`, the execution's principal).
pub async fn stop_effects(ctx: &Ctx, record: &StepRecord) {
    forget(&record.id);
    if let Some(command_id) = &record.command_id {
        let req =
            steward_api::ssm::commands::CancelCommandRequest { command_id: command_id.clone(), instance_ids: None };
        if let Err(e) = crate::commands::cancel_command(ctx.clone(), req).await {
            tracing::info!(command_id, error = %e.message(), "The stopped step's command was not cancelled.");
        }
    }
}

/// Drops what this process holds for a step whose end is written.
pub fn forget(step_id: &str) {
    script::forget(step_id);
    webhook::forget(step_id);
    aws_api::forget(step_id);
}

fn execute_script(runbook: &Runbook, step: &Step, record: &mut StepRecord) -> Outcome {
    let Some(launcher) = record.launched_by.clone() else {
        let runtime = record.inputs["Runtime"].as_str().unwrap_or_default();
        if !script::supported_runtime(runtime) {
            return failed(format!("Runtime {runtime:?} is not one this server runs (python3.x, bash)."));
        }
        let inline = record.inputs["Script"].as_str().is_some_and(|s| !s.is_empty());
        let attached = record.inputs["Attachment"].as_str().is_some_and(|s| !s.is_empty());
        if let Some(name) = record.inputs["Attachment"].as_str().filter(|_| attached) {
            if !runbook.files.contains_key(name) {
                return failed(format!("Attachment {name:?} is not one of the runbook's files."));
            }
        }
        let runnable = inline || (attached && runtime.starts_with("python"));
        if !runnable {
            return failed(
                "aws:executeScript needs an inline Script, or (Python) an Attachment and a Handler module.function.",
            );
        }
        // Recorded first; the engine starts the script once this is written. (A retry starts
        // afresh: an earlier attempt's result is dropped.)
        script::forget(&record.id);
        record.launched_by = Some(script::boot_id().to_owned());
        return Outcome::Wait { changed: true, effect: vec![] };
    };
    if launcher != script::boot_id() {
        return failed("The server running this script stopped before it finished; a script is never run twice.");
    }
    match script::state(&record.id) {
        None | Some(None) => Outcome::Wait { changed: false, effect: vec![] },
        // Kept until the step's end is written (`engine`), so a lost write loses nothing.
        Some(Some(finished)) => match finished {
            script::Finished::Failed(why) => failed(why),
            script::Finished::Returned { payload, log } => {
                let root = serde_json::json!({"Payload": payload});
                let mut outputs = ParameterMap::new();
                outputs.insert("OutputPayload".into(), single(root.to_string()));
                if !log.is_empty() {
                    outputs.insert("ExecutionLog".into(), single(log));
                }
                for (name, selector, _) in &step.outputs {
                    match selector::select(&root, selector) {
                        Some(value) => {
                            outputs.insert(name.clone(), as_list(&value));
                        }
                        None => {
                            return failed(format!("Output {name}: the script's result has nothing at {selector}."))
                        }
                    }
                }
                Outcome::Done { outputs, next: None }
            }
        },
    }
}

async fn run_command(ctx: &Ctx, execution_id: &str, record: &mut StepRecord) -> Outcome {
    let Some(command_id) = record.command_id.clone() else {
        let request = match command_request(&record.inputs) {
            Ok(r) => r,
            Err(why) => return failed(why),
        };
        let origin = crate::commands::Origin {
            kind: "Automation".into(),
            id: execution_id.to_owned(),
            execution_id: record.id.clone(),
        };
        // Sent as the execution's principal: its SendCommand rights on the document and
        // every node are checked now.
        return match crate::commands::plan(ctx, &request, Some(origin), None).await {
            Ok(planned) => {
                record.command_id = Some(planned.command.command_id.clone());
                let mut effect = planned.invocations;
                effect.extend(planned.commit);
                Outcome::Wait { changed: true, effect }
            }
            Err(e) => failed(format!("{}: {}", e.code(), e.message())),
        };
    };
    let p = &ctx.principal;
    let key = crate::commands::command_key(&p.account, &p.region, &command_id);
    let command = match ctx.env.store.get(&key).await {
        Ok(Some(item)) => match crate::base::decode::<crate::commands::CommandRecord>(&key, &item.value) {
            Ok(c) => c,
            Err(e) => return failed(e.message().to_owned()),
        },
        Ok(None) => return failed(format!("Command {command_id} no longer exists.")),
        Err(_) => return Outcome::Wait { changed: false, effect: vec![] },
    };
    if !matches!(command.status.as_str(), "Success" | "Failed" | "TimedOut" | "Cancelled") {
        return Outcome::Wait { changed: false, effect: vec![] };
    }
    let invocations = crate::commands::invocations(ctx, &command_id).await.unwrap_or_default();
    let output: String =
        invocations.iter().flat_map(|i| i.plugins.iter()).map(|p| p.stdout.as_str()).collect::<Vec<_>>().join("");
    let mut outputs = ParameterMap::new();
    outputs.insert("CommandId".into(), single(&command_id));
    outputs.insert("Status".into(), single(&command.status));
    outputs.insert("Output".into(), single(output));
    if let Some(code) = invocations.first().and_then(|i| i.plugins.first()).map(|p| p.response_code) {
        outputs.insert("ResponseCode".into(), single(code.to_string()));
    }
    if command.status == "Success" {
        Outcome::Done { outputs, next: None }
    } else {
        record.outputs = outputs;
        failed(format!("Command {command_id} ended {}.", command.status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_iso_8601() {
        assert_eq!(duration_ms("PT10S"), Some(10_000));
        assert_eq!(duration_ms("PT1H30M"), Some(5_400_000));
        assert_eq!(duration_ms("P1DT1S"), Some(86_401_000));
        for bad in ["10S", "PT", "P", "PT5X", "PT5", ""] {
            assert_eq!(duration_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn run_command_parameters_become_lists() {
        let inputs = serde_json::json!({"DocumentName": "AWS-RunShellScript", "InstanceIds": ["mi-1"],
            "Parameters": {"commands": ["echo hi"], "executionTimeout": 60}});
        let req = command_request(&inputs).unwrap();
        assert_eq!(req.parameters.unwrap()["executionTimeout"], vec!["60".to_string()]);
    }
}

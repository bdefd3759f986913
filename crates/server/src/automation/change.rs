//! Change requests (StartChangeRequestExecution): a change template — a document of type
//! `Automation.ChangeTemplate` holding approval steps and the runbooks it allows — and the
//! runbook a request names become one execution of the same engine: the template's
//! approvals (answered with SendAutomationSignal), a wait until the ScheduledTime, then the
//! runbook as an `aws:executeAutomation` step started as the requester. The API reports
//! SSM's change statuses for it ([`shown_status`]).

use serde_json::{json, Value};
use steward_api::ssm::automation::*;
use steward_api::ApiError;
use steward_core::documents::params;

use super::start::{self, bad_parameters, Checked};
use super::{fan_out, runbook, ChangeRequest, ExecutionRecord};
use crate::base::{store_fault, Ctx};

/// The approval steps of a template, as the engine runs them: SSM's EnhancedApprovals
/// (`[{"approver": …, "type": "IamUser"|"IamRole", "minRequiredApprovals": n}]`) become
/// Approvers and MinRequiredApprovals.
fn approval_step(step: &Value) -> Value {
    let mut step = step.clone();
    let inputs = &mut step["inputs"];
    if let Some(enhanced) = inputs.get("EnhancedApprovals").and_then(|e| e["Approvers"].as_array()).cloned() {
        let approvers: Vec<Value> =
            enhanced.iter().filter_map(|a| a["approver"].as_str()).map(|a| Value::String(a.to_owned())).collect();
        let listed_minimum: i64 = enhanced.iter().filter_map(|a| a["minRequiredApprovals"].as_i64()).sum();
        if inputs.get("MinRequiredApprovals").is_none() {
            inputs["MinRequiredApprovals"] = json!(listed_minimum.max(1));
        }
        inputs["Approvers"] = Value::Array(approvers);
        if let Some(object) = inputs.as_object_mut() {
            object.remove("EnhancedApprovals");
        }
    }
    step
}

/// A step name from a runbook's name: letters, digits, `.`, `-` and `_`.
fn step_name(prefix: &str, document: &str) -> String {
    let tail = document.rsplit('/').next().unwrap_or(document);
    let clean: String =
        tail.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '-' }).collect();
    format!("{prefix}{clean}")
}

/// The steps a change request runs: approvals (unless auto-approved), the wait for its
/// time, its runbook.
fn steps(template: &Value, auto_approve: bool, scheduled_ms: Option<i64>, runbook: &ChangeRunbook) -> Vec<Value> {
    let mut steps = Vec::new();
    if !auto_approve {
        steps.extend(template["mainSteps"].as_array().into_iter().flatten().map(approval_step));
    }
    if let Some(at) = scheduled_ms {
        let stamp = steward_api::time::format_iso8601(at / 1000);
        steps.push(json!({"name": "WaitForScheduledTime", "action": "aws:sleep", "inputs": {"Timestamp": stamp}}));
    }
    let mut inputs = json!({"DocumentName": runbook.document_name});
    let fields = [
        ("DocumentVersion", json!(runbook.document_version)),
        ("RuntimeParameters", json!(runbook.parameters)),
        ("TargetParameterName", json!(runbook.target_parameter_name)),
        ("Targets", json!(runbook.targets)),
        ("TargetMaps", json!(runbook.target_maps)),
        ("MaxConcurrency", json!(runbook.max_concurrency)),
        ("MaxErrors", json!(runbook.max_errors)),
    ];
    for (key, value) in fields {
        if !value.is_null() {
            inputs[key] = value;
        }
    }
    steps.push(json!({"name": step_name("Run-", &runbook.document_name), "action": "aws:executeAutomation",
        "inputs": inputs}));
    steps
}

/// Whether the template lets `runbook` run: it lists no executableRunBooks, or lists it.
fn allowed(template: &Value, runbook: &ChangeRunbook) -> bool {
    let Some(listed) = template["executableRunBooks"].as_array() else { return true };
    let name = runbook.document_name.rsplit('/').next().unwrap_or(&runbook.document_name);
    listed.iter().any(|r| {
        let version_ok = match (r["version"].as_str(), runbook.document_version.as_deref()) {
            (None | Some("$DEFAULT") | Some("$LATEST"), _) => true,
            (Some(wanted), Some(given)) => wanted == given,
            (Some(_), None) => false,
        };
        r["name"].as_str() == Some(name) && version_ok
    })
}

/// StartChangeRequestExecution.
pub async fn start_change_request_execution(
    ctx: Ctx,
    req: StartChangeRequestExecutionRequest,
) -> Result<StartChangeRequestExecutionResponse, ApiError> {
    let [runbook] = req.runbooks.as_slice() else {
        return Err(bad_parameters("A change request runs exactly one runbook."));
    };
    if runbook.target_locations.is_some() {
        return Err(ApiError::validation("TargetLocations (other accounts and regions) are not supported."));
    }
    let (name, version, template) =
        start::definition_of(&ctx, "Automation.ChangeTemplate", &req.document_name, req.document_version.as_deref())
            .await?;
    if !allowed(&template, runbook) {
        return Err(bad_parameters(format!(
            "Change template {name} does not list {} among its executableRunBooks.",
            runbook.document_name
        )));
    }
    let auto_approve = req.auto_approve.unwrap_or(false);
    if auto_approve && template["autoApprovable"].as_bool() != Some(true) {
        return Err(bad_parameters(format!("Change template {name} is not autoApprovable: its approvals are needed.")));
    }
    // The runbook is checked now as the requester would start it (rights, parameters,
    // targets); its step starts it the same way once the change is approved.
    let start_request = StartAutomationExecutionRequest {
        document_name: runbook.document_name.clone(),
        document_version: runbook.document_version.clone(),
        parameters: runbook.parameters.clone(),
        target_parameter_name: runbook.target_parameter_name.clone(),
        targets: runbook.targets.clone(),
        target_maps: runbook.target_maps.clone(),
        max_concurrency: runbook.max_concurrency.clone(),
        max_errors: runbook.max_errors.clone(),
        ..Default::default()
    };
    start::check_start(&ctx, &start_request).await?;
    let now = ctx.now();
    let scheduled_ms = req.scheduled_time.map(|t| (t * 1000.0) as i64).filter(|at| *at > now);
    let mut tree = template.clone();
    tree["mainSteps"] = Value::Array(steps(&template, auto_approve, scheduled_ms, runbook));
    let defs = params::parse_definitions(template.get("parameters")).map_err(|f| bad_parameters(f.to_string()))?;
    let values = params::resolve(&defs, &req.parameters.clone().unwrap_or_default())
        .map_err(|f| bad_parameters(f.to_string()))?;
    let checked = Checked {
        name,
        version,
        runbook: runbook::parse(&tree)?,
        fan_out: None,
        parameters: fan_out::as_text(&values),
        values,
        change: Some(ChangeRequest {
            name: req.change_request_name.clone(),
            scheduled_time: req.scheduled_time.map(|t| (t * 1000.0) as i64),
            runbooks: req.runbooks.clone(),
            details: req.change_details.clone(),
        }),
    };
    let (id, batch) = start::admit(&ctx, checked, "Auto".into(), req.client_token.clone(), 0).await?;
    if !batch.is_empty() {
        ctx.env.store.write(batch).await.map_err(store_fault)?;
        ctx.env.wake.scheduler();
    }
    Ok(StartChangeRequestExecutionResponse { automation_execution_id: id })
}

/// The status the API reports: SSM's change statuses for a change request (PendingApproval,
/// Scheduled, RunbookInProgress, Rejected, CompletedWithSuccess, CompletedWithFailure),
/// the engine's own for any other execution.
pub fn shown_status(e: &ExecutionRecord) -> String {
    if e.change.is_none() {
        return e.status.clone();
    }
    let rejected = e.steps.iter().any(|s| s.outputs.get("ApprovalStatus").is_some_and(|v| v[0] == "Rejected"));
    match e.status.as_str() {
        "Success" => return "CompletedWithSuccess".into(),
        "Failed" if rejected => return "Rejected".into(),
        "Failed" => return "CompletedWithFailure".into(),
        status if super::is_final(status) => return status.into(),
        _ => {}
    }
    let action = e.current.map(|i| e.runbook.steps[i].action.as_str()).unwrap_or_default();
    // Pending approval once the approval step waits for answers (not before: an answer then
    // would be refused).
    let waiting = e.steps.last().is_some_and(|s| Some(s.index) == e.current && s.status == "Waiting");
    match action {
        "aws:approve" if waiting => "PendingApproval",
        "aws:sleep" => "Scheduled",
        "aws:executeAutomation" => "RunbookInProgress",
        _ => e.status.as_str(),
    }
    .into()
}

/// What a change request reports besides any execution's fields.
pub fn view(e: &ExecutionRecord) -> ChangeRequestView {
    let Some(change) = &e.change else { return ChangeRequestView::default() };
    ChangeRequestView {
        automation_subtype: Some("ChangeRequest".into()),
        change_request_name: change.name.clone(),
        scheduled_time: change.scheduled_time.map(|ms| ms as f64 / 1000.0),
        runbooks: Some(change.runbooks.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enhanced_approvals_become_approvers() {
        let step = json!({"name": "a", "action": "aws:approve", "inputs": {"Message": "ok?",
            "EnhancedApprovals": {"Approvers": [{"approver": "alice", "type": "IamUser", "minRequiredApprovals": 0},
                                               {"approver": "ops", "type": "IamRole", "minRequiredApprovals": 2}]}}});
        let converted = approval_step(&step);
        assert_eq!(converted["inputs"]["Approvers"], json!(["alice", "ops"]));
        assert_eq!(converted["inputs"]["MinRequiredApprovals"], json!(2));
        assert!(converted["inputs"].get("EnhancedApprovals").is_none());
    }

    #[test]
    fn templates_may_limit_their_runbooks() {
        let template = json!({"executableRunBooks": [{"name": "Restart", "version": "2"}, {"name": "Any"}]});
        let ask = |name: &str, version: Option<&str>| ChangeRunbook {
            document_name: name.into(),
            document_version: version.map(str::to_owned),
            ..Default::default()
        };
        assert!(allowed(&template, &ask("Restart", Some("2"))));
        assert!(!allowed(&template, &ask("Restart", Some("1"))));
        assert!(allowed(&template, &ask("Any", None)));
        assert!(!allowed(&template, &ask("Other", None)));
        assert!(allowed(&json!({}), &ask("Other", None)));
    }
}

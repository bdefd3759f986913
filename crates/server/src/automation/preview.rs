//! Execution previews (StartExecutionPreview, GetExecutionPreview): what a start would do
//! — its request checked as StartAutomationExecution checks it, its targets resolved, its
//! steps counted by impact — without starting anything. A preview is made at once and kept
//! under `autopreview/<acct>/<region>/<id>` for GetExecutionPreview; one whose request does
//! not check out is kept Failed with the reason, as SSM reports it.

use std::collections::BTreeMap;

use steward_api::ssm::automation::*;
use steward_api::ApiError;
use steward_store::Op;

use super::runbook::Runbook;
use super::{aws_api, start};
use crate::base::{decode, encode, schedule, store_fault, Ctx, Env};

/// The kind of due entry that erases a kept preview.
pub const KIND_PREVIEW_EXPIRY: &str = "autopreview";

/// Previews are kept this long.
const KEPT_MS: i64 = 30 * 24 * 3600 * 1000;

fn preview_key(account: &str, region: &str, id: &str) -> String {
    format!("autopreview/{account}/{region}/{id}")
}

/// How a step would affect resources: `Mutating`, `NonMutating` or `Undetermined` (it
/// runs code, or another runbook, whose effect is not known here). A loop is counted by
/// the steps it repeats.
fn impact(action: &str, inputs: &serde_json::Value) -> Option<&'static str> {
    Some(match action {
        "aws:loop" => return None,
        "aws:sleep"
        | "aws:pause"
        | "aws:approve"
        | "aws:branch"
        | "aws:waitForAwsResourceProperty"
        | "aws:assertAwsResourceProperty" => "NonMutating",
        "aws:executeAwsApi" if inputs["Api"].as_str().is_some_and(aws_api::reads_only) => "NonMutating",
        "aws:executeScript" | "aws:executeAutomation" => "Undetermined",
        _ => "Mutating",
    })
}

fn step_previews(runbook: &Runbook) -> BTreeMap<String, i64> {
    let mut counts = BTreeMap::new();
    for step in &runbook.steps {
        if let Some(kind) = impact(&step.action, &step.inputs) {
            *counts.entry(kind.to_owned()).or_insert(0) += 1;
        }
    }
    counts
}

/// What a rate-controlled start runs on: nodes, or values (ParameterValues, TargetMaps).
fn target_type(req: &StartAutomationExecutionRequest) -> &'static str {
    let targets = req.targets.as_deref().unwrap_or_default();
    if targets.is_empty() {
        "TargetMaps"
    } else if targets.iter().all(|t| t.key.as_deref() == Some("ParameterValues")) {
        "ParameterValues"
    } else {
        "AWS::SSM::ManagedInstance"
    }
}

/// StartExecutionPreview.
pub async fn start_execution_preview(
    ctx: Ctx,
    req: StartExecutionPreviewRequest,
) -> Result<StartExecutionPreviewResponse, ApiError> {
    let inputs = req.execution_inputs.and_then(|i| i.automation).unwrap_or_default();
    if inputs.target_locations.is_some() || inputs.target_locations_url.is_some() {
        return Err(ApiError::validation("TargetLocations (other accounts and regions) are not supported."));
    }
    let request = StartAutomationExecutionRequest {
        document_name: req.document_name,
        document_version: req.document_version,
        parameters: inputs.parameters,
        target_parameter_name: inputs.target_parameter_name,
        targets: inputs.targets,
        target_maps: inputs.target_maps,
        ..Default::default()
    };
    let (now, id) = (ctx.now(), uuid::Uuid::new_v4().to_string());
    let mut preview = GetExecutionPreviewResponse {
        execution_preview_id: id.clone(),
        ended_at: Some(now as f64 / 1000.0),
        status: "Success".into(),
        status_message: None,
        execution_preview: None,
    };
    match start::check_request(&ctx, &request).await {
        Ok(checked) => {
            let target_previews = match &checked.fan_out {
                Some(fan) => {
                    vec![TargetPreview { count: fan.runs.len() as i64, target_type: target_type(&request).into() }]
                }
                None => vec![],
            };
            preview.execution_preview = Some(ExecutionPreview {
                automation: AutomationExecutionPreview {
                    step_previews: step_previews(&checked.runbook),
                    regions: vec![ctx.principal.region.clone()],
                    target_previews,
                    total_accounts: 1,
                },
            });
        }
        // A runbook that does not exist is the caller's mistake now; anything else the
        // preview reports, as SSM's does once it has looked.
        Err(e) if e.code().starts_with("AutomationDefinition") => {
            return Err(ApiError::validation(e.message().to_owned()))
        }
        Err(e) => {
            preview.status = "Failed".into();
            preview.status_message = Some(format!("{}: {}", e.code(), e.message()));
        }
    }
    let p = &ctx.principal;
    let key = preview_key(&p.account, &p.region, &id);
    let expiry = schedule::due_key(now + KEPT_MS, KIND_PREVIEW_EXPIRY, &p.account, &p.region, &id);
    let batch = vec![Op::put(key, encode(&preview)), Op::put(expiry, b"{}".to_vec())];
    ctx.env.store.write(batch).await.map_err(store_fault)?;
    Ok(StartExecutionPreviewResponse { execution_preview_id: id })
}

/// A kept preview's time is up: it is erased.
pub async fn on_preview_expiry(env: &Env, due: &schedule::Due) -> anyhow::Result<bool> {
    let key = preview_key(&due.account, &due.region, &due.id);
    env.store.write(vec![schedule::claim(due), Op::delete(key)]).await?;
    Ok(true)
}

/// GetExecutionPreview.
pub async fn get_execution_preview(
    ctx: Ctx,
    req: GetExecutionPreviewRequest,
) -> Result<GetExecutionPreviewResponse, ApiError> {
    let p = &ctx.principal;
    let missing = || {
        ApiError::new(
            "ResourceNotFoundException",
            format!("Execution preview {} does not exist.", req.execution_preview_id),
        )
    };
    if uuid::Uuid::parse_str(&req.execution_preview_id).is_err() {
        return Err(missing());
    }
    let key = preview_key(&p.account, &p.region, &req.execution_preview_id);
    let item = ctx.env.store.get(&key).await.map_err(store_fault)?.ok_or_else(missing)?;
    decode(&key, &item.value)
}

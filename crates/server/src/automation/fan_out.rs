//! Rate-controlled executions: a runbook run once per target (the values `Targets` resolve
//! to, put into `TargetParameterName`, or one run per `TargetMaps` entry), each run a child
//! execution of its own. The parent starts children up to MaxConcurrency at a time, stops
//! starting them once more than MaxErrors failed, and ends when its children have.
//!
//! Every run's parameters are checked when the parent starts, so a child never fails on
//! its parameters. A child is written in the same batch as the parent record that counts
//! it started, so a server dying between the two never starts a child twice.

use std::collections::BTreeMap;

use serde_json::Value;
use steward_api::ssm::automation::{ParameterMap, StartAutomationExecutionRequest};
use steward_api::ssm::commands::Target;
use steward_api::ApiError;
use steward_core::commands::limit;
use steward_core::documents::params;
use steward_store::Op;

use super::{active_key, execution_key, is_final, Child, ExecutionRecord, FanOut, PlannedRun, MAX_QUEUED};
use crate::base::{decode, encode, Ctx, Env};

/// Children running at once unless MaxConcurrency says otherwise, as SSM.
const DEFAULT_CONCURRENCY: &str = "10";
/// Failed children before no more start, unless MaxErrors says otherwise.
const DEFAULT_ERRORS: &str = "0";

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::new("InvalidAutomationExecutionParametersException", message.into())
}

/// Whether a request asks for rate control.
pub fn requested(req: &StartAutomationExecutionRequest) -> bool {
    req.targets.is_some() || req.target_maps.is_some() || req.target_parameter_name.is_some()
}

/// A parameter map as text lists, from typed values.
pub fn as_text(values: &BTreeMap<String, Value>) -> ParameterMap {
    values
        .iter()
        .map(|(k, v)| {
            let list = match v {
                Value::Array(items) => {
                    items.iter().map(|i| i.as_str().map(str::to_owned).unwrap_or_else(|| i.to_string())).collect()
                }
                Value::String(s) => vec![s.clone()],
                other => vec![other.to_string()],
            };
            (k.clone(), list)
        })
        .collect()
}

/// The values `targets` resolve to: `ParameterValues` as listed, anything else (InstanceIds,
/// tags, resource groups) the managed nodes it finds, as Run Command resolves them.
async fn resolve(ctx: &Ctx, targets: &[Target]) -> Result<Vec<String>, ApiError> {
    for t in targets {
        let key = t.key.as_deref().unwrap_or_default();
        let known = ["ParameterValues", "InstanceIds", "tag-key", "ResourceGroup", "resource-groups:Name"];
        if !known.contains(&key) && !key.starts_with("tag:") {
            return Err(bad(format!(
                "Target key {key} is not one Automation resolves here: ParameterValues, InstanceIds, tag:KEY, \
                 tag-key or ResourceGroup."
            )));
        }
    }
    let (direct, nodes): (Vec<&Target>, Vec<&Target>) =
        targets.iter().partition(|t| t.key.as_deref() == Some("ParameterValues"));
    if !direct.is_empty() && !nodes.is_empty() {
        return Err(bad("ParameterValues targets cannot be combined with other targets."));
    }
    if !direct.is_empty() {
        return Ok(direct.iter().flat_map(|t| t.values.clone().unwrap_or_default()).collect());
    }
    // SSM's Automation names a resource group with the key ResourceGroup.
    let nodes: Vec<Target> = nodes
        .into_iter()
        .map(|t| match t.key.as_deref() {
            Some("ResourceGroup") => Target { key: Some("resource-groups:Name".into()), values: t.values.clone() },
            _ => t.clone(),
        })
        .collect();
    crate::fleet::check_target_keys(&nodes)?;
    crate::groups::check_targets(ctx, &nodes).await?;
    let p = &ctx.principal;
    let nodes = crate::groups::as_node_targets(&*ctx.env.store, &p.account, &p.region, &nodes).await?;
    let found = crate::fleet::target_nodes(ctx, &[], &nodes).await?;
    Ok(found.into_iter().map(|n| n.instance_id).collect())
}

/// The plan of a rate-controlled execution: every run with its checked parameters.
pub async fn plan(
    ctx: &Ctx,
    req: &StartAutomationExecutionRequest,
    defs: &[params::ParamDef],
    given: &ParameterMap,
) -> Result<FanOut, ApiError> {
    let targets = req.targets.clone().unwrap_or_default();
    let maps = req.target_maps.clone().unwrap_or_default();
    let mut runs: Vec<(String, ParameterMap)> = Vec::new();
    match (targets.is_empty(), maps.is_empty()) {
        (false, false) => return Err(bad("Give Targets or TargetMaps, not both.")),
        (true, true) => return Err(bad("TargetParameterName needs Targets.")),
        (false, true) => {
            let name = req.target_parameter_name.as_deref().filter(|n| !n.is_empty());
            let name =
                name.ok_or_else(|| bad("Targets need a TargetParameterName: the parameter each target goes into."))?;
            if !defs.iter().any(|d| d.name == name) {
                return Err(bad(format!("TargetParameterName {name} is not a parameter of the runbook.")));
            }
            for value in resolve(ctx, &targets).await? {
                let mut parameters = given.clone();
                parameters.insert(name.to_owned(), vec![value.clone()]);
                runs.push((value, parameters));
            }
        }
        (true, false) => {
            if req.target_parameter_name.is_some() {
                return Err(bad("TargetMaps name their parameters; leave TargetParameterName out."));
            }
            for map in &maps {
                let mut parameters = given.clone();
                parameters.extend(map.clone());
                let label = map.iter().map(|(k, v)| format!("{k}={}", v.join(","))).collect::<Vec<_>>().join(" ");
                runs.push((label, parameters));
            }
        }
    }
    if runs.len() > MAX_QUEUED {
        return Err(bad(format!("The targets resolve to {} runs; at most {MAX_QUEUED} are allowed.", runs.len())));
    }
    let mut planned = Vec::with_capacity(runs.len());
    for (target, parameters) in runs {
        let values = params::resolve(defs, &parameters).map_err(|f| bad(format!("For target {target}: {f}")))?;
        planned.push(PlannedRun { target, parameters: as_text(&values), values });
    }
    let max_concurrency = req.max_concurrency.clone().unwrap_or_else(|| DEFAULT_CONCURRENCY.into());
    let max_errors = req.max_errors.clone().unwrap_or_else(|| DEFAULT_ERRORS.into());
    Ok(FanOut {
        target_parameter_name: req.target_parameter_name.clone(),
        targets,
        target_maps: maps,
        max_concurrency,
        max_errors,
        runs: planned,
        children: vec![],
    })
}

/// A child execution for run `index` of `parent`.
fn child(parent: &ExecutionRecord, run: &PlannedRun, now: i64) -> ExecutionRecord {
    ExecutionRecord {
        id: uuid::Uuid::new_v4().to_string(),
        parameters: run.parameters.clone(),
        values: run.values.clone(),
        status: "Pending".into(),
        start: now,
        end: None,
        current: Some(0),
        steps: vec![],
        outputs: ParameterMap::new(),
        failure_message: None,
        client_token: None,
        stop: None,
        queued: None,
        fan_out: None,
        parent: Some((parent.id.clone(), run.target.clone())),
        granted: None,
        depth: parent.depth,
        change: None,
        cleanup_until: None,
        ..parent.clone()
    }
}

fn counts_as_error(status: &str) -> bool {
    matches!(status, "Failed" | "TimedOut")
}

/// One look at a rate-controlled execution: its children's news, new children started, a
/// cancel passed on, the end once every child ended. The writes, or None if nothing changed.
pub async fn advance_once(env: &Env, execution: &mut ExecutionRecord, now: i64) -> anyhow::Result<Option<Vec<Op>>> {
    let Some(mut fan) = execution.fan_out.clone() else { return Ok(None) };
    let mut batch = Vec::new();
    let mut changed = false;
    if execution.status == "Pending" {
        execution.status = "InProgress".into();
        changed = true;
    }
    // What became of the children running.
    for c in fan.children.iter_mut().filter(|c| !is_final(&c.status)) {
        let key = execution_key(&execution.account, &execution.region, &c.id);
        let Some(item) = env.store.get(&key).await? else {
            c.status = "Failed".into();
            c.end = Some(now);
            changed = true;
            continue;
        };
        let mut record: ExecutionRecord = decode(&key, &item.value).map_err(|e| anyhow::anyhow!("{e}"))?;
        if record.status != c.status {
            c.status = record.status.clone();
            c.end = record.end;
            changed = true;
        }
        // A cancel reaches every child still running.
        if execution.stop.is_some() && !record.finished() && record.stop.is_none() {
            record.stop = execution.stop.clone();
            record.status = "Cancelling".into();
            batch.push(Op::put(&key, encode(&record)).if_revision(item.revision));
        }
    }
    let total = fan.runs.len();
    let errors = fan.children.iter().filter(|c| counts_as_error(&c.status)).count();
    let allowed_errors = limit(&fan.max_errors, total).unwrap_or(0);
    let halted = errors > allowed_errors;
    let concurrency = limit(&fan.max_concurrency, total).unwrap_or(1).max(1);
    let mut running = fan.children.iter().filter(|c| !is_final(&c.status)).count();
    while execution.stop.is_none() && !halted && running < concurrency && fan.children.len() < total {
        let record = child(execution, &fan.runs[fan.children.len()], now);
        batch.push(Op::put(execution_key(&record.account, &record.region, &record.id), encode(&record)).if_absent());
        batch.push(Op::put(active_key(&record.account, &record.region, &record.id), b"{}".to_vec()));
        fan.children.push(Child { id: record.id, status: "Pending".into(), start: now, end: None });
        running += 1;
        changed = true;
    }
    let all_started = fan.children.len() == total;
    if running == 0 && (all_started || halted || execution.stop.is_some()) {
        let skipped = total - fan.children.len();
        let (status, why) = if execution.stop.is_some() {
            ("Cancelled", None)
        } else if halted {
            (
                "Failed",
                Some(format!(
                    "{errors} of {total} targets failed, more than MaxErrors {} allows; {skipped} were not started.",
                    fan.max_errors
                )),
            )
        } else if errors > 0 {
            ("Failed", Some(format!("{errors} of {total} targets failed.")))
        } else {
            ("Success", None)
        };
        execution.status = status.into();
        execution.failure_message = why;
        execution.end = Some(now);
        execution.current = None;
        changed = true;
    }
    execution.fan_out = Some(fan);
    Ok((changed || !batch.is_empty()).then_some(batch))
}

//! Starting executions: the runbook a request names, its parameters checked as it declares
//! them, who its steps act as, the running limit and the queue, rate control — and the
//! writes that start it, for the caller's batch (the API, a window task, an association,
//! an `aws:executeAutomation` step).

use std::collections::BTreeMap;

use serde_json::Value;
use steward_api::ssm::automation::*;
use steward_api::ApiError;
use steward_core::documents::content::{self, Format};
use steward_core::documents::{interpolate, params};
use steward_store::{prefix_end, Op, Start};

use super::runbook::{self, Runbook, SUPPORTED};
use super::{active_key, execution_key, fan_out, queue_key, ExecutionRecord, MAX_QUEUED, MAX_RUNNING};
use crate::base::{decode, encode, store_fault, Ctx, Env, RunAs};

pub fn not_found(id: &str) -> ApiError {
    ApiError::new("AutomationExecutionNotFoundException", format!("Automation execution {id} does not exist."))
}

pub fn bad_parameters(message: impl Into<String>) -> ApiError {
    ApiError::new("InvalidAutomationExecutionParametersException", message.into())
}

/// The execution `id` of the caller's account and region, with its revision.
pub async fn load(ctx: &Ctx, id: &str) -> Result<(ExecutionRecord, i64), ApiError> {
    let p = &ctx.principal;
    let key = execution_key(&p.account, &p.region, id);
    let item = ctx.env.store.get(&key).await.map_err(store_fault)?.ok_or_else(|| not_found(id))?;
    Ok((decode(&key, &item.value)?, item.revision))
}

/// The runbook a request names, its version number and content.
async fn runbook_of(ctx: &Ctx, name: &str, version: Option<&str>) -> Result<(String, i64, Value), ApiError> {
    definition_of(ctx, "Automation", name, version).await
}

/// A document of `doc_type` (a runbook, a change template) by name or ARN: its name,
/// version number and content.
pub async fn definition_of(
    ctx: &Ctx,
    doc_type: &str,
    name: &str,
    version: Option<&str>,
) -> Result<(String, i64, Value), ApiError> {
    let missing = || {
        ApiError::new("AutomationDefinitionNotFoundException", format!("Automation definition {name} does not exist."))
    };
    let found = crate::documents::find(ctx, name).await.map_err(|_| missing())?;
    if found.head.doc_type != doc_type {
        return Err(missing());
    }
    let number = crate::documents::select(&found.head, version, None).map_err(|_| {
        ApiError::new(
            "AutomationDefinitionVersionNotFoundException",
            format!("Version {} of automation definition {name} does not exist.", version.unwrap_or("$DEFAULT")),
        )
    })?;
    let v = crate::documents::load_version(ctx, &found.head, number).await?;
    let format = Format::parse(&v.format).unwrap_or(Format::Json);
    let tree =
        content::parse(&v.content, format).map_err(|f| ApiError::new("InvalidDocumentContent", f.to_string()))?;
    Ok((found.head.name, number, tree))
}

/// Who the steps act as: the runbook's `assumeRole` (the caller must be allowed to pass
/// it), else the caller.
async fn principal_for(ctx: &Ctx, runbook: &Runbook, values: &BTreeMap<String, Value>) -> Result<RunAs, ApiError> {
    let role = runbook
        .assume_role
        .as_ref()
        .map(|r| interpolate::apply(&Value::String(r.clone()), values))
        .and_then(|v| v.as_str().map(str::to_owned))
        .filter(|r| !r.is_empty() && !r.contains("{{"));
    let Some(role) = role else { return RunAs::of(ctx).await };
    ctx.pass_role(&role).await?;
    let p = &ctx.principal;
    let session = crate::base::iam_records::role_session(&p.account, &p.region, &role, "Automation")
        .ok_or_else(|| bad_parameters(format!("{role} is not a role of this account that Automation can assume.")))?;
    RunAs::of(&ctx.acting_as(session)).await
}

/// An execution started for someone by scheduled work (a maintenance-window task, an
/// association): checked as them — `ssm:StartAutomationExecution` on the runbook, as the
/// API would — and returned as the writes that start it, for the caller's own batch.
pub async fn start_for(ctx: &Ctx, req: &StartAutomationExecutionRequest) -> Result<(String, Vec<Op>), ApiError> {
    start_nested(ctx, req, 0).await
}

/// As [`start_for`], for a runbook an `aws:executeAutomation` step starts `depth` deep.
pub async fn start_nested(
    ctx: &Ctx,
    req: &StartAutomationExecutionRequest,
    depth: u32,
) -> Result<(String, Vec<Op>), ApiError> {
    let version = req.document_version.as_deref().unwrap_or("$DEFAULT");
    let arn = crate::base::arn::automation_definition_arn(&ctx.principal, &req.document_name, version);
    ctx.authorize("ssm:StartAutomationExecution", &[arn], |r| r).await?;
    prepare_start_at(ctx, req, depth).await
}

/// Execution `id` as stored, if it exists.
pub async fn load_execution(
    env: &Env,
    account: &str,
    region: &str,
    id: &str,
) -> anyhow::Result<Option<ExecutionRecord>> {
    let key = execution_key(account, region, id);
    let Some(item) = env.store.get(&key).await? else { return Ok(None) };
    Ok(Some(decode(&key, &item.value).map_err(|e| anyhow::anyhow!("{e}"))?))
}

/// Checks a start as `ctx` now, without starting anything (an association of the runbook
/// is checked when it is created).
pub async fn check_start(ctx: &Ctx, req: &StartAutomationExecutionRequest) -> Result<(), ApiError> {
    start_for(ctx, req).await.map(|_| ())
}

/// What became of execution `id` (for work that follows executions it started): its
/// status, or None when it no longer exists.
pub async fn execution_status(env: &Env, account: &str, region: &str, id: &str) -> anyhow::Result<Option<String>> {
    Ok(load_execution(env, account, region, id).await?.map(|e| e.status))
}

/// The execution a request starts and the writes that start it (none when its ClientToken
/// started one already).
pub async fn prepare_start(ctx: &Ctx, req: &StartAutomationExecutionRequest) -> Result<(String, Vec<Op>), ApiError> {
    prepare_start_at(ctx, req, 0).await
}

/// What a start would run, checked: the runbook, its version, and either its typed
/// parameters or (rate control) the plan of its children.
pub struct Checked {
    /// The runbook's name.
    pub name: String,
    /// Its version number.
    pub version: i64,
    /// Its steps.
    pub runbook: Runbook,
    /// Rate control: every run.
    pub fan_out: Option<super::FanOut>,
    /// Parameters typed (none for rate control: each child has its own).
    pub values: BTreeMap<String, Value>,
    /// Parameters as text lists.
    pub parameters: ParameterMap,
    /// A change request: what was asked for.
    pub change: Option<super::ChangeRequest>,
}

/// Checks a start as the API would, starting nothing (a preview shows the result).
pub async fn check_request(ctx: &Ctx, req: &StartAutomationExecutionRequest) -> Result<Checked, ApiError> {
    if req.target_locations.is_some() {
        return Err(ApiError::validation("TargetLocations (other accounts and regions) are not supported."));
    }
    let mode = req.mode.clone().unwrap_or_else(|| "Auto".into());
    if mode != "Auto" && mode != "Interactive" {
        return Err(ApiError::validation(format!("Mode {mode} is not Auto or Interactive.")));
    }
    if mode == "Interactive" && fan_out::requested(req) {
        return Err(ApiError::validation("Rate-controlled executions run in Mode Auto; Interactive runs one."));
    }
    let (name, version, tree) = runbook_of(ctx, &req.document_name, req.document_version.as_deref()).await?;
    let runbook = runbook::parse(&tree)?;
    if let Some(step) = runbook.steps.iter().find(|s| !SUPPORTED.contains(&s.action.as_str())) {
        return Err(bad_parameters(format!(
            "Step {} uses {}, which this server does not run yet (it runs {}).",
            step.name,
            step.action,
            SUPPORTED.join(", ")
        )));
    }
    let defs = params::parse_definitions(tree.get("parameters")).map_err(|f| bad_parameters(f.to_string()))?;
    let given = req.parameters.clone().unwrap_or_default();
    // A rate-controlled execution runs each target's parameters in a child; its own are as given.
    let fan_out = match fan_out::requested(req) {
        true => Some(fan_out::plan(ctx, req, &defs, &given).await?),
        false => None,
    };
    let values = match fan_out {
        Some(_) => BTreeMap::new(),
        None => params::resolve(&defs, &given).map_err(|f| bad_parameters(f.to_string()))?,
    };
    let parameters = match fan_out {
        Some(_) => given.clone(),
        None => fan_out::as_text(&values),
    };
    Ok(Checked { name, version, runbook, fan_out, values, parameters, change: None })
}

async fn prepare_start_at(
    ctx: &Ctx,
    req: &StartAutomationExecutionRequest,
    depth: u32,
) -> Result<(String, Vec<Op>), ApiError> {
    let mode = req.mode.clone().unwrap_or_else(|| "Auto".into());
    let checked = check_request(ctx, req).await?;
    admit(ctx, checked, mode, req.client_token.clone(), depth).await
}

/// The execution a checked start makes, and the writes that start it: running, or queued
/// while the account runs its limit; none when its ClientToken started one already.
pub async fn admit(
    ctx: &Ctx,
    checked: Checked,
    mode: String,
    client_token: Option<String>,
    depth: u32,
) -> Result<(String, Vec<Op>), ApiError> {
    let Checked { name, version, runbook, fan_out, values, parameters, change } = checked;
    let rate_controlled = fan_out.is_some();
    let p = &ctx.principal;
    // The same ClientToken starts nothing new: the execution it started is the answer.
    let token_key = client_token.as_ref().map(|t| format!("autotoken/{}/{}/{t}", p.account, p.region));
    if let Some(key) = &token_key {
        if let Some(item) = ctx.env.store.get(key).await.map_err(store_fault)? {
            let earlier = String::from_utf8_lossy(&item.value).into_owned();
            let (e, _) = load(ctx, &earlier).await?;
            if e.document_name != name || e.parameters != parameters {
                return Err(ApiError::new(
                    "IdempotentParameterMismatch",
                    "The ClientToken was used before with a different runbook or parameters.",
                ));
            }
            return Ok((e.id, vec![]));
        }
    }
    let run_as = principal_for(ctx, &runbook, &values).await?;
    // As SSM: 100 run at once per account and region; up to 1,000 more wait their turn.
    let count = |prefix: String, limit: usize| {
        let store = ctx.env.store.clone();
        async move { store.range(Start::At(&prefix), &prefix_end(&prefix), limit + 1).await.map(|i| i.len()) }
    };
    let running = count(active_key(&p.account, &p.region, ""), MAX_RUNNING).await.map_err(store_fault)?;
    let now = ctx.now();
    let id = uuid::Uuid::new_v4().to_string();
    let mut queued = None;
    if running >= MAX_RUNNING {
        let waiting = count(format!("autoqueue/{}/{}/", p.account, p.region), MAX_QUEUED).await.map_err(store_fault)?;
        if waiting >= MAX_QUEUED {
            return Err(ApiError::new(
                "AutomationExecutionLimitExceededException",
                format!("{MAX_RUNNING} automation executions are running and {MAX_QUEUED} are waiting to run."),
            ));
        }
        queued = Some(queue_key(&p.account, &p.region, now, &id));
    }
    let record = ExecutionRecord {
        id: id.clone(),
        account: p.account.clone(),
        region: p.region.clone(),
        document_name: name,
        document_version: version.to_string(),
        parameters,
        values,
        mode,
        status: "Pending".into(),
        start: now,
        end: None,
        executed_by: p.arn.clone(),
        run_as,
        runbook,
        // A rate-controlled execution runs no step itself: its children do.
        current: (!rate_controlled).then_some(0),
        steps: vec![],
        outputs: ParameterMap::new(),
        failure_message: None,
        client_token,
        stop: None,
        queued: queued.clone(),
        fan_out,
        parent: None,
        granted: None,
        depth,
        change,
        cleanup_until: None,
    };
    let mut batch = vec![Op::put(execution_key(&p.account, &p.region, &id), encode(&record)).if_absent()];
    if let Some(key) = token_key {
        batch.push(Op::put(key, id.clone().into_bytes()).if_absent());
    }
    match queued {
        Some(q) => batch.push(Op::put(q, id.clone().into_bytes())),
        None => batch.push(Op::put(active_key(&p.account, &p.region, &id), b"{}".to_vec())),
    }
    Ok((id, batch))
}

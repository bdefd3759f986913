//! Windows, their targets and their tasks: create, update, read, list, delete.

use steward_api::ssm::commands::Target;
use steward_api::ssm::windows::*;
use steward_api::ApiError;
use steward_core::schedule::Schedule;
use steward_store::{prefix_end, Op, Start};

use super::listing;
use super::KIND_WINDOW;
use super::*;
use crate::base::paging::page;
use crate::base::schedule;
use crate::base::{decode, encode, store_fault};
use crate::base::{Ctx, RunAs};

/// Windows per account and region.
const MAX_WINDOWS: usize = 50;
/// Targets per window.
const MAX_TARGETS: usize = 100;
/// Tasks per window.
const MAX_TASKS: usize = 20;

fn iso(ms: i64) -> String {
    steward_api::time::format_iso8601(ms.div_euclid(1000))
}

fn date(field: &str, value: &Option<String>) -> Result<Option<i64>, ApiError> {
    match value.as_deref().filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => steward_api::time::parse_iso8601(v).map(|s| Some(s * 1000)).ok_or_else(|| {
            ApiError::validation(format!("{field} '{v}' is not an ISO-8601 time (yyyy-mm-ddThh:mm:ssZ)."))
        }),
    }
}

/// The next start strictly after `after`, inside the window's dates; none when disabled.
pub fn next_start(w: &WindowRecord, after: i64) -> Option<i64> {
    let window = &w.window;
    if window.enabled == Some(false) {
        return None;
    }
    let schedule = Schedule::parse(window.schedule.as_deref()?).ok()?;
    let zone = steward_core::schedule::zone(window.schedule_timezone.as_deref())?;
    let start = date("StartDate", &window.start_date).ok().flatten();
    let end = date("EndDate", &window.end_date).ok().flatten();
    let after = start.map_or(after, |s| after.max(s - 1));
    let anchor = start.unwrap_or(w.created);
    let next = schedule.next_run_millis(after, anchor, &zone, window.schedule_offset.unwrap_or(0))?;
    end.is_none_or(|e| next <= e).then_some(next)
}

/// SSM's rules for a window's settings.
fn check_window(w: &MaintenanceWindow, now: i64) -> Result<(), ApiError> {
    let (Some(duration), Some(cutoff)) = (w.duration, w.cutoff) else {
        return Err(ApiError::validation("Duration and Cutoff are required."));
    };
    if cutoff >= duration {
        return Err(ApiError::validation(format!(
            "The cutoff ({cutoff} hours) must be less than the duration ({duration} hours)."
        )));
    }
    let expression = w.schedule.as_deref().ok_or_else(|| ApiError::validation("Schedule is required."))?;
    let schedule = Schedule::parse(expression)
        .map_err(|why| ApiError::validation(format!("Schedule {expression} is not valid: {why}.")))?;
    if w.schedule_offset.is_some() && !matches!(schedule, Schedule::Cron(_)) {
        return Err(ApiError::validation("ScheduleOffset applies only to cron expressions."));
    }
    if steward_core::schedule::zone(w.schedule_timezone.as_deref()).is_none() {
        return Err(ApiError::validation(format!(
            "ScheduleTimezone {} is not an IANA time zone.",
            w.schedule_timezone.as_deref().unwrap_or_default()
        )));
    }
    let start = date("StartDate", &w.start_date)?;
    let end = date("EndDate", &w.end_date)?;
    if let Some(end) = end {
        if end <= now {
            return Err(ApiError::validation("EndDate must be in the future."));
        }
        if start.is_some_and(|s| s >= end) {
            return Err(ApiError::validation("StartDate must be before EndDate."));
        }
    }
    Ok(())
}

fn window_id() -> String {
    let bytes: [u8; 9] = rand::random();
    format!("mw-{}", &hex::encode(bytes)[..17])
}

/// The window with `id`.
pub async fn load_window(ctx: &Ctx, id: &str) -> Result<(WindowRecord, i64), ApiError> {
    let p = &ctx.principal;
    let key = window_key(&p.account, &p.region, id);
    let item = ctx.env.store.get(&key).await.map_err(store_fault)?.ok_or_else(|| missing("Maintenance window", id))?;
    Ok((decode(&key, &item.value)?, item.revision))
}

async fn under<T: serde::de::DeserializeOwned>(ctx: &Ctx, prefix: &str) -> Result<Vec<(String, i64, T)>, ApiError> {
    let items = ctx.env.store.range(Start::At(prefix), &prefix_end(prefix), 10_000_000).await.map_err(store_fault)?;
    items.into_iter().map(|i| Ok((i.key.clone(), i.revision, decode(&i.key, &i.value)?))).collect()
}

/// Every window of the caller's account and region.
pub async fn all_windows(ctx: &Ctx) -> Result<Vec<WindowRecord>, ApiError> {
    let p = &ctx.principal;
    Ok(under(ctx, &format!("mw/{}/{}/", p.account, p.region)).await?.into_iter().map(|(_, _, w)| w).collect())
}

/// The targets registered with a window.
pub async fn window_targets(ctx: &Ctx, window: &str) -> Result<Vec<WindowTarget>, ApiError> {
    let p = &ctx.principal;
    Ok(under(ctx, &format!("mwtarget/{}/{}/{window}/", p.account, p.region))
        .await?
        .into_iter()
        .map(|(_, _, t)| t)
        .collect())
}

/// The tasks registered with a window.
pub async fn window_tasks(ctx: &Ctx, window: &str) -> Result<Vec<WindowTask>, ApiError> {
    Ok(task_records(ctx, window).await?.into_iter().map(|t| t.task).collect())
}

/// The tasks registered with a window, with who registered each.
pub async fn task_records(ctx: &Ctx, window: &str) -> Result<Vec<TaskRecord>, ApiError> {
    let p = &ctx.principal;
    Ok(under(ctx, &format!("mwtask/{}/{}/{window}/", p.account, p.region))
        .await?
        .into_iter()
        .map(|(_, _, t)| t)
        .collect())
}

/// The window as answered: stored settings plus times.
fn answer(w: &WindowRecord) -> MaintenanceWindow {
    MaintenanceWindow {
        next_execution_time: w.next_due.map(iso),
        created_date: Some(w.created as f64 / 1000.0),
        modified_date: Some(w.modified as f64 / 1000.0),
        ..w.window.clone()
    }
}

/// The writes that store a window and move its booked run.
fn save_ops(w: &mut WindowRecord, previous: Option<(&WindowRecord, i64)>, now: i64) -> Vec<Op> {
    let (a, r, id) = (w.account.clone(), w.region.clone(), w.id().to_owned());
    let mut batch = Vec::new();
    w.next_due = next_start(w, now);
    if let Some(at) = previous.and_then(|(old, _)| old.next_due).filter(|at| Some(*at) != w.next_due) {
        batch.push(Op::delete(schedule::due_key(at, KIND_WINDOW, &a, &r, &id)));
    }
    if let Some(at) = w.next_due {
        batch.push(Op::put(schedule::due_key(at, KIND_WINDOW, &a, &r, &id), b"{}".to_vec()));
    }
    let key = window_key(&a, &r, &id);
    batch.push(match previous {
        Some((_, revision)) => Op::put(&key, encode(&*w)).if_revision(revision),
        None => Op::put(&key, encode(&*w)).if_absent(),
    });
    batch
}

fn conflict(e: steward_store::StoreError) -> ApiError {
    match e {
        steward_store::StoreError::Conflict { .. } => {
            ApiError::new("TooManyUpdates", "The maintenance window changed meanwhile; try again.")
        }
        other => store_fault(other),
    }
}

/// An idempotency token's record: the id it created and a digest of the request.
#[derive(Serialize, Deserialize)]
struct TokenRecord {
    id: String,
    digest: String,
}

fn digest<T: Serialize>(request: &T) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(serde_json::to_vec(request).unwrap_or_default()))
}

/// The id an earlier call with the same token made; a token reused for a different
/// request is IdempotentParameterMismatch.
async fn replay<T: Serialize>(ctx: &Ctx, token: &Option<String>, request: &T) -> Result<Option<String>, ApiError> {
    let Some(token) = token else { return Ok(None) };
    let p = &ctx.principal;
    let key = format!("mwtoken/{}/{}/{token}", p.account, p.region);
    let Some(item) = ctx.env.store.get(&key).await.map_err(store_fault)? else { return Ok(None) };
    let record: TokenRecord = decode(&key, &item.value)?;
    if record.digest != digest(request) {
        return Err(ApiError::new(
            "IdempotentParameterMismatch",
            "The ClientToken was used before with different parameters.",
        ));
    }
    Ok(Some(record.id))
}

fn token_op<T: Serialize>(ctx: &Ctx, token: &Option<String>, request: &T, id: &str) -> Option<Op> {
    let p = &ctx.principal;
    token.as_ref().map(|t| {
        Op::put(
            format!("mwtoken/{}/{}/{t}", p.account, p.region),
            encode(&TokenRecord { id: id.to_owned(), digest: digest(request) }),
        )
    })
}

/// CreateMaintenanceWindow.
pub async fn create_maintenance_window(ctx: Ctx, req: MaintenanceWindow) -> Result<serde_json::Value, ApiError> {
    if let Some(id) = replay(&ctx, &req.client_token, &req).await? {
        return Ok(serde_json::json!({ "WindowId": id }));
    }
    let now = ctx.env.now();
    check_window(&req, now)?;
    if all_windows(&ctx).await?.len() >= MAX_WINDOWS {
        return Err(ApiError::new(
            "ResourceLimitExceededException",
            format!("An account may have {MAX_WINDOWS} maintenance windows in a region."),
        ));
    }
    let p = &ctx.principal;
    let id = window_id();
    let mut record = WindowRecord {
        account: p.account.clone(),
        region: p.region.clone(),
        window: MaintenanceWindow {
            window_id: Some(id.clone()),
            enabled: Some(true),
            replace: None,
            client_token: None,
            tags: None,
            ..req.clone()
        },
        created: now,
        modified: now,
        next_due: None,
        tags: crate::base::tags::tag_pairs(req.tags.as_deref().unwrap_or_default()),
        run_as: Some(RunAs::of(&ctx).await?),
    };
    let mut batch = save_ops(&mut record, None, now);
    batch.extend(token_op(&ctx, &req.client_token, &req, &id));
    ctx.env.store.write(batch).await.map_err(store_fault)?;
    Ok(serde_json::json!({ "WindowId": id }))
}

/// UpdateMaintenanceWindow: given members change; with Replace, the rest are cleared.
pub async fn update_maintenance_window(ctx: Ctx, req: MaintenanceWindow) -> Result<MaintenanceWindow, ApiError> {
    let id = req.window_id.clone().unwrap_or_default();
    let (current, revision) = load_window(&ctx, &id).await?;
    let old = &current.window;
    let merged = if req.replace == Some(true) {
        MaintenanceWindow { window_id: Some(id.clone()), enabled: req.enabled.or(Some(true)), ..req.clone() }
    } else {
        MaintenanceWindow {
            window_id: Some(id.clone()),
            name: req.name.clone().or(old.name.clone()),
            description: req.description.clone().or(old.description.clone()),
            start_date: req.start_date.clone().or(old.start_date.clone()),
            end_date: req.end_date.clone().or(old.end_date.clone()),
            schedule: req.schedule.clone().or(old.schedule.clone()),
            schedule_timezone: req.schedule_timezone.clone().or(old.schedule_timezone.clone()),
            schedule_offset: req.schedule_offset.or(old.schedule_offset),
            duration: req.duration.or(old.duration),
            cutoff: req.cutoff.or(old.cutoff),
            allow_unassociated_targets: req.allow_unassociated_targets.or(old.allow_unassociated_targets),
            enabled: req.enabled.or(old.enabled),
            ..Default::default()
        }
    };
    let now = ctx.env.now();
    if merged.name.is_none() || merged.allow_unassociated_targets.is_none() {
        return Err(ApiError::validation(
            "With Replace, give Name, Schedule, Duration, Cutoff and AllowUnassociatedTargets.",
        ));
    }
    check_window(&merged, now)?;
    let mut record = WindowRecord { window: merged, modified: now, ..current.clone() };
    let batch = save_ops(&mut record, Some((&current, revision)), now);
    ctx.env.store.write(batch).await.map_err(conflict)?;
    let mut out = answer(&record);
    out.next_execution_time = None;
    out.created_date = None;
    out.modified_date = None;
    Ok(out)
}

/// GetMaintenanceWindow.
pub async fn get_maintenance_window(ctx: Ctx, req: WindowQuery) -> Result<MaintenanceWindow, ApiError> {
    let (w, _) = load_window(&ctx, req.window_id.as_deref().unwrap_or_default()).await?;
    Ok(answer(&w))
}

/// DeleteMaintenanceWindow: the window, its targets, tasks and history.
pub async fn delete_maintenance_window(ctx: Ctx, req: WindowQuery) -> Result<serde_json::Value, ApiError> {
    let id = req.window_id.clone().unwrap_or_default();
    let (w, revision) = load_window(&ctx, &id).await?;
    let (a, r) = (&w.account, &w.region);
    let mut batch = vec![Op::delete(window_key(a, r, &id)).if_revision(revision)];
    if let Some(at) = w.next_due {
        batch.push(Op::delete(schedule::due_key(at, KIND_WINDOW, a, r, &id)));
    }
    for prefix in [format!("mwtarget/{a}/{r}/{id}/"), format!("mwtask/{a}/{r}/{id}/")] {
        for (key, _, _) in under::<serde_json::Value>(&ctx, &prefix).await? {
            batch.push(Op::delete(key));
        }
    }
    for (key, _, e) in under::<ExecutionRecord>(&ctx, &format!("mwexec/{a}/{r}/{id}/")).await? {
        batch.push(Op::delete(execution_index(a, r, &e.id)));
        batch.push(Op::delete(active_key(a, r, &e.id)));
        batch.push(Op::delete(key));
    }
    ctx.env.store.write(batch).await.map_err(conflict)?;
    Ok(serde_json::json!({ "WindowId": id }))
}

/// Checks filter keys against the ones an operation takes.
pub fn filters(req: &WindowQuery, keys: &[&str]) -> Result<Vec<(String, Vec<String>)>, ApiError> {
    req.filters
        .iter()
        .flatten()
        .map(|f| {
            let key = f.key.clone().unwrap_or_default();
            if !keys.contains(&key.as_str()) {
                return Err(ApiError::validation(format!(
                    "Filter key {key} is not valid here; use one of {}.",
                    keys.join(", ")
                )));
            }
            Ok((key, f.values.clone().unwrap_or_default()))
        })
        .collect()
}

/// DescribeMaintenanceWindows.
pub async fn describe_maintenance_windows(ctx: Ctx, req: WindowQuery) -> Result<serde_json::Value, ApiError> {
    let filters = filters(&req, &["Name", "Enabled"])?;
    let mut windows: Vec<MaintenanceWindow> = all_windows(&ctx)
        .await?
        .iter()
        .filter(|w| {
            filters.iter().all(|(k, values)| {
                let actual = match k.as_str() {
                    "Name" => w.window.name.clone().unwrap_or_default(),
                    _ => w.window.enabled.unwrap_or(true).to_string(),
                };
                values.iter().any(|v| v.eq_ignore_ascii_case(&actual))
            })
        })
        .map(|w| MaintenanceWindow {
            created_date: None,
            modified_date: None,
            allow_unassociated_targets: None,
            ..answer(w)
        })
        .collect();
    windows.sort_by(|a, b| a.window_id.cmp(&b.window_id));
    let (page, next) = page(windows, req.max_results, &req.next_token)?;
    Ok(listing("WindowIdentities", page, next))
}

/// INSTANCE targets name nodes (ids, tags); RESOURCE_GROUP targets name one group, which
/// must exist and whose members the caller may list.
async fn check_targets_of_window_target(ctx: &Ctx, resource_type: &str, targets: &[Target]) -> Result<(), ApiError> {
    crate::fleet::check_target_keys(targets)?;
    let names_group = crate::groups::names_group(targets);
    match resource_type {
        "INSTANCE" if names_group => {
            Err(ApiError::validation("resource-groups: targets need ResourceType RESOURCE_GROUP."))
        }
        "RESOURCE_GROUP" if !names_group => {
            Err(ApiError::validation("RESOURCE_GROUP targets name a group: Key=resource-groups:Name,Values=NAME."))
        }
        _ => crate::groups::check_targets(ctx, targets).await,
    }
}

/// RegisterTargetWithMaintenanceWindow.
pub async fn register_target(ctx: Ctx, req: WindowTarget) -> Result<serde_json::Value, ApiError> {
    let window = req.window_id.clone().unwrap_or_default();
    load_window(&ctx, &window).await?;
    if let Some(id) = replay(&ctx, &req.client_token, &req).await? {
        return Ok(serde_json::json!({ "WindowTargetId": id }));
    }
    check_targets_of_window_target(
        &ctx,
        req.resource_type.as_deref().unwrap_or_default(),
        req.targets.as_deref().unwrap_or_default(),
    )
    .await?;
    if window_targets(&ctx, &window).await?.len() >= MAX_TARGETS {
        return Err(ApiError::new(
            "ResourceLimitExceededException",
            format!("A maintenance window may have {MAX_TARGETS} targets."),
        ));
    }
    let id = uuid::Uuid::new_v4().to_string();
    let target = WindowTarget {
        window_target_id: Some(id.clone()),
        replace: None,
        safe: None,
        client_token: None,
        ..req.clone()
    };
    let p = &ctx.principal;
    let mut batch = vec![Op::put(target_key(&p.account, &p.region, &window, &id), encode(&target)).if_absent()];
    batch.extend(token_op(&ctx, &req.client_token, &req, &id));
    ctx.env.store.write(batch).await.map_err(store_fault)?;
    Ok(serde_json::json!({ "WindowTargetId": id }))
}

async fn load_target(ctx: &Ctx, window: &str, id: &str) -> Result<(WindowTarget, i64), ApiError> {
    let p = &ctx.principal;
    let key = target_key(&p.account, &p.region, window, id);
    let item = ctx.env.store.get(&key).await.map_err(store_fault)?.ok_or_else(|| missing("Window target", id))?;
    Ok((decode(&key, &item.value)?, item.revision))
}

/// UpdateMaintenanceWindowTarget.
pub async fn update_target(ctx: Ctx, req: WindowTarget) -> Result<WindowTarget, ApiError> {
    let window = req.window_id.clone().unwrap_or_default();
    load_window(&ctx, &window).await?;
    let id = req.window_target_id.clone().unwrap_or_default();
    let (old, revision) = load_target(&ctx, &window, &id).await?;
    let replace = req.replace == Some(true);
    let pick =
        |new: &Option<String>, old: &Option<String>| if replace { new.clone() } else { new.clone().or(old.clone()) };
    let target = WindowTarget {
        window_id: Some(window.clone()),
        window_target_id: Some(id.clone()),
        resource_type: old.resource_type.clone(),
        targets: if replace { req.targets.clone() } else { req.targets.clone().or(old.targets.clone()) },
        owner_information: pick(&req.owner_information, &old.owner_information),
        name: pick(&req.name, &old.name),
        description: pick(&req.description, &old.description),
        ..Default::default()
    };
    let targets = target.targets.clone().unwrap_or_default();
    if targets.is_empty() {
        return Err(ApiError::validation("Targets are required."));
    }
    check_targets_of_window_target(&ctx, target.resource_type.as_deref().unwrap_or("INSTANCE"), &targets).await?;
    let p = &ctx.principal;
    let key = target_key(&p.account, &p.region, &window, &id);
    ctx.env.store.write(vec![Op::put(key, encode(&target)).if_revision(revision)]).await.map_err(conflict)?;
    Ok(WindowTarget { resource_type: None, ..target })
}

fn task_uses_target(task: &WindowTask, target: &str) -> bool {
    task.targets
        .iter()
        .flatten()
        .any(|t| t.key.as_deref() == Some("WindowTargetIds") && t.values.iter().flatten().any(|v| v == target))
}

/// DeregisterTargetFromMaintenanceWindow; with Safe, refused while a task uses the target.
pub async fn deregister_target(ctx: Ctx, req: WindowQuery) -> Result<serde_json::Value, ApiError> {
    let window = req.window_id.clone().unwrap_or_default();
    load_window(&ctx, &window).await?;
    let id = req.window_target_id.clone().unwrap_or_default();
    let (_, revision) = load_target(&ctx, &window, &id).await?;
    let tasks = window_tasks(&ctx, &window).await?;
    let users: Vec<&WindowTask> = tasks.iter().filter(|t| task_uses_target(t, &id)).collect();
    if req.safe == Some(true) && !users.is_empty() {
        return Err(ApiError::new(
            "TargetInUseException",
            format!("Window target {id} is used by {} task(s).", users.len()),
        ));
    }
    let p = &ctx.principal;
    ctx.env
        .store
        .write(vec![Op::delete(target_key(&p.account, &p.region, &window, &id)).if_revision(revision)])
        .await
        .map_err(conflict)?;
    Ok(serde_json::json!({ "WindowId": window, "WindowTargetId": id }))
}

/// DescribeMaintenanceWindowTargets.
pub async fn describe_targets(ctx: Ctx, req: WindowQuery) -> Result<serde_json::Value, ApiError> {
    let window = req.window_id.clone().unwrap_or_default();
    load_window(&ctx, &window).await?;
    let filters = filters(&req, &["WindowTargetId", "OwnerInformation", "ResourceType"])?;
    let targets: Vec<WindowTarget> = window_targets(&ctx, &window)
        .await?
        .into_iter()
        .filter(|t| {
            filters.iter().all(|(k, values)| {
                let actual = match k.as_str() {
                    "WindowTargetId" => t.window_target_id.clone(),
                    "OwnerInformation" => t.owner_information.clone(),
                    _ => t.resource_type.clone(),
                };
                values.iter().any(|v| Some(v) == actual.as_ref())
            })
        })
        .collect();
    let (page, next) = page(targets, req.max_results, &req.next_token)?;
    Ok(listing("Targets", page, next))
}

/// Checks a task: its type, its document and its targets.
async fn check_task(ctx: &Ctx, window: &WindowRecord, task: &WindowTask) -> Result<(), ApiError> {
    let task_type = task.task_type.as_deref().unwrap_or("RUN_COMMAND");
    let wanted_document = match task_type {
        "RUN_COMMAND" => "Command",
        "AUTOMATION" => "Automation",
        other => {
            return Err(ApiError::new(
                "FeatureNotAvailableException",
                format!("{other} tasks are not available in Steward; use RUN_COMMAND or AUTOMATION."),
            ))
        }
    };
    if task.alarm_configuration.is_some() {
        return Err(ApiError::validation("AlarmConfiguration is not supported: there are no CloudWatch alarms."));
    }
    // Handing the task a role is passing it: the caller needs iam:PassRole on it, or anyone
    // allowed to register tasks could act as any role.
    let run_command_role = task.task_invocation_parameters.as_ref().and_then(|p| p.run_command.as_ref());
    let role = task.service_role_arn.as_ref().or(run_command_role.and_then(|r| r.service_role_arn.as_ref()));
    if let Some(role) = role {
        crate::base::access::pass_role(ctx, role).await?;
    }
    // Notifications go to an SNS topic of the account, never to a URL the caller names.
    if let Some(n) = run_command_role.and_then(|r| r.notification_config.as_ref()) {
        let arn = n.notification_arn.as_deref().unwrap_or_default();
        let p = &ctx.principal;
        if !crate::sns::parse_topic_arn(arn).is_some_and(|t| t.account == p.account && t.region == p.region) {
            return Err(ApiError::validation(format!(
                "NotificationArn must be the ARN of an SNS topic of this account and region (arn:aws:sns:REGION:ACCOUNT:NAME), not {arn:?}."
            )));
        }
    }
    let arn = task.task_arn.as_deref().unwrap_or_default();
    let found = crate::documents::find(ctx, arn).await?;
    if found.head.doc_type != wanted_document {
        return Err(ApiError::new("InvalidDocument", format!("{arn} is not a {wanted_document} document.")));
    }
    let targets = task.targets.clone().unwrap_or_default();
    // An AUTOMATION task without targets runs its runbook once per window run.
    if targets.is_empty() && task_type == "RUN_COMMAND" {
        return Err(ApiError::validation("RUN_COMMAND tasks need Targets (WindowTargetIds or InstanceIds)."));
    }
    let registered = window_targets(ctx, window.id()).await?;
    for t in &targets {
        let values = t.values.clone().unwrap_or_default();
        match t.key.as_deref().unwrap_or_default() {
            "WindowTargetIds" => {
                for v in &values {
                    if !registered.iter().any(|r| r.window_target_id.as_deref() == Some(v.as_str())) {
                        return Err(missing("Window target", v));
                    }
                }
            }
            "InstanceIds" if window.window.allow_unassociated_targets == Some(true) => {}
            "InstanceIds" => {
                return Err(ApiError::validation(
                    "This window does not allow unassociated targets: name registered targets with WindowTargetIds.",
                ))
            }
            other => {
                return Err(ApiError::validation(format!(
                    "Task target key {other} is not valid; use WindowTargetIds or InstanceIds."
                )))
            }
        }
    }
    Ok(())
}

fn stored_task(task: WindowTask, window: &str, id: &str) -> WindowTask {
    WindowTask {
        window_id: Some(window.to_owned()),
        window_task_id: Some(id.to_owned()),
        task_type: Some(task.task_type.clone().unwrap_or_else(|| "RUN_COMMAND".into())),
        kind: None,
        priority: Some(task.priority.unwrap_or(1)),
        max_concurrency: Some(task.max_concurrency.clone().unwrap_or_else(|| "50".into())),
        max_errors: Some(task.max_errors.clone().unwrap_or_else(|| "0".into())),
        cutoff_behavior: Some(task.cutoff_behavior.clone().unwrap_or_else(|| "CONTINUE_TASK".into())),
        replace: None,
        client_token: None,
        ..task
    }
}

/// RegisterTaskWithMaintenanceWindow.
pub async fn register_task(ctx: Ctx, req: WindowTask) -> Result<serde_json::Value, ApiError> {
    let window_id = req.window_id.clone().unwrap_or_default();
    let (window, _) = load_window(&ctx, &window_id).await?;
    if let Some(id) = replay(&ctx, &req.client_token, &req).await? {
        return Ok(serde_json::json!({ "WindowTaskId": id }));
    }
    check_task(&ctx, &window, &req).await?;
    if window_tasks(&ctx, &window_id).await?.len() >= MAX_TASKS {
        return Err(ApiError::new(
            "ResourceLimitExceededException",
            format!("A maintenance window may have {MAX_TASKS} tasks."),
        ));
    }
    let id = uuid::Uuid::new_v4().to_string();
    let task = stored_task(req.clone(), &window_id, &id);
    let p = &ctx.principal;
    let record = TaskRecord { task, run_as: Some(RunAs::of(&ctx).await?) };
    let mut batch = vec![Op::put(task_key(&p.account, &p.region, &window_id, &id), encode(&record)).if_absent()];
    batch.extend(token_op(&ctx, &req.client_token, &req, &id));
    ctx.env.store.write(batch).await.map_err(store_fault)?;
    Ok(serde_json::json!({ "WindowTaskId": id }))
}

async fn load_task(ctx: &Ctx, window: &str, id: &str) -> Result<(WindowTask, i64), ApiError> {
    let p = &ctx.principal;
    let key = task_key(&p.account, &p.region, window, id);
    let item = ctx.env.store.get(&key).await.map_err(store_fault)?.ok_or_else(|| missing("Window task", id))?;
    Ok((decode(&key, &item.value)?, item.revision))
}

/// GetMaintenanceWindowTask.
pub async fn get_task(ctx: Ctx, req: WindowQuery) -> Result<WindowTask, ApiError> {
    let window = req.window_id.clone().unwrap_or_default();
    load_window(&ctx, &window).await?;
    Ok(load_task(&ctx, &window, req.window_task_id.as_deref().unwrap_or_default()).await?.0)
}

/// UpdateMaintenanceWindowTask: given members change; with Replace, the rest are cleared.
pub async fn update_task(ctx: Ctx, req: WindowTask) -> Result<WindowTask, ApiError> {
    let window_id = req.window_id.clone().unwrap_or_default();
    let (window, _) = load_window(&ctx, &window_id).await?;
    let id = req.window_task_id.clone().unwrap_or_default();
    let (old, revision) = load_task(&ctx, &window_id, &id).await?;
    let merged = if req.replace == Some(true) {
        WindowTask {
            task_type: old.task_type.clone(),
            task_arn: req.task_arn.clone().or(old.task_arn.clone()),
            ..req.clone()
        }
    } else {
        WindowTask {
            targets: req.targets.clone().or(old.targets.clone()),
            task_arn: req.task_arn.clone().or(old.task_arn.clone()),
            service_role_arn: req.service_role_arn.clone().or(old.service_role_arn.clone()),
            task_type: old.task_type.clone(),
            task_parameters: req.task_parameters.clone().or(old.task_parameters.clone()),
            task_invocation_parameters: req
                .task_invocation_parameters
                .clone()
                .or(old.task_invocation_parameters.clone()),
            priority: req.priority.or(old.priority),
            max_concurrency: req.max_concurrency.clone().or(old.max_concurrency.clone()),
            max_errors: req.max_errors.clone().or(old.max_errors.clone()),
            logging_info: req.logging_info.clone().or(old.logging_info.clone()),
            name: req.name.clone().or(old.name.clone()),
            description: req.description.clone().or(old.description.clone()),
            cutoff_behavior: req.cutoff_behavior.clone().or(old.cutoff_behavior.clone()),
            alarm_configuration: req.alarm_configuration.clone(),
            ..Default::default()
        }
    };
    check_task(&ctx, &window, &merged).await?;
    let task = stored_task(merged, &window_id, &id);
    let p = &ctx.principal;
    let key = task_key(&p.account, &p.region, &window_id, &id);
    let record = TaskRecord { task: task.clone(), run_as: Some(RunAs::of(&ctx).await?) };
    ctx.env.store.write(vec![Op::put(key, encode(&record)).if_revision(revision)]).await.map_err(conflict)?;
    Ok(WindowTask { task_type: None, ..task })
}

/// DeregisterTaskFromMaintenanceWindow.
pub async fn deregister_task(ctx: Ctx, req: WindowQuery) -> Result<serde_json::Value, ApiError> {
    let window = req.window_id.clone().unwrap_or_default();
    load_window(&ctx, &window).await?;
    let id = req.window_task_id.clone().unwrap_or_default();
    let (_, revision) = load_task(&ctx, &window, &id).await?;
    let p = &ctx.principal;
    ctx.env
        .store
        .write(vec![Op::delete(task_key(&p.account, &p.region, &window, &id)).if_revision(revision)])
        .await
        .map_err(conflict)?;
    Ok(serde_json::json!({ "WindowId": window, "WindowTaskId": id }))
}

/// DescribeMaintenanceWindowTasks.
pub async fn describe_tasks(ctx: Ctx, req: WindowQuery) -> Result<serde_json::Value, ApiError> {
    let window = req.window_id.clone().unwrap_or_default();
    load_window(&ctx, &window).await?;
    let filters = filters(&req, &["WindowTaskId", "TaskArn", "Priority", "TaskType"])?;
    let mut tasks: Vec<WindowTask> = window_tasks(&ctx, &window)
        .await?
        .into_iter()
        .filter(|t| {
            filters.iter().all(|(k, values)| {
                let actual = match k.as_str() {
                    "WindowTaskId" => t.window_task_id.clone().unwrap_or_default(),
                    "TaskArn" => t.task_arn.clone().unwrap_or_default(),
                    "Priority" => t.priority.unwrap_or_default().to_string(),
                    _ => t.task_type.clone().unwrap_or_default(),
                };
                values.contains(&actual)
            })
        })
        .map(|t| WindowTask { kind: t.task_type.clone(), task_type: None, task_invocation_parameters: None, ..t })
        .collect();
    tasks.sort_by_key(|t| (t.priority, t.window_task_id.clone()));
    let (page, next) = page(tasks, req.max_results, &req.next_token)?;
    Ok(listing("Tasks", page, next))
}

/// The windows with a registered target that names one of `targets`' node ids.
async fn windows_for_nodes(ctx: &Ctx, targets: &[Target]) -> Result<Vec<WindowRecord>, ApiError> {
    let wanted: Vec<String> = targets
        .iter()
        .filter(|t| t.key.as_deref() == Some("InstanceIds"))
        .flat_map(|t| t.values.clone().unwrap_or_default())
        .collect();
    let mut out = Vec::new();
    for w in all_windows(ctx).await? {
        let registered = window_targets(ctx, w.id()).await?;
        let mut nodes = Vec::new();
        for id in &wanted {
            if let Some((node, _)) = crate::fleet::load_node(ctx, id).await? {
                nodes.push(node);
            }
        }
        let mut hit = false;
        for r in &registered {
            let p = &ctx.principal;
            let given = r.targets.clone().unwrap_or_default();
            let t = crate::groups::as_node_targets(&*ctx.env.store, &p.account, &p.region, &given).await?;
            hit |= nodes.iter().any(|n| crate::fleet::node_matches(n, &t));
        }
        if hit {
            out.push(w);
        }
    }
    Ok(out)
}

/// DescribeMaintenanceWindowsForTarget.
pub async fn describe_windows_for_target(ctx: Ctx, req: WindowQuery) -> Result<serde_json::Value, ApiError> {
    if req.resource_type.as_deref() != Some("INSTANCE") {
        return Err(ApiError::validation("Only INSTANCE targets are supported."));
    }
    let windows = windows_for_nodes(&ctx, req.targets.as_deref().unwrap_or_default()).await?;
    let list: Vec<serde_json::Value> =
        windows.iter().map(|w| serde_json::json!({"WindowId": w.id(), "Name": w.window.name})).collect();
    let (page, next) = page(list, req.max_results, &req.next_token)?;
    Ok(listing("WindowIdentities", page, next))
}

/// DescribeMaintenanceWindowSchedule: the coming runs of one window, or of the windows
/// that target the given nodes.
pub async fn describe_schedule(ctx: Ctx, req: WindowQuery) -> Result<serde_json::Value, ApiError> {
    let windows = match (&req.window_id, &req.targets) {
        (Some(id), _) => vec![load_window(&ctx, id).await?.0],
        (None, Some(targets)) => windows_for_nodes(&ctx, targets).await?,
        (None, None) => return Err(ApiError::validation("Give WindowId or Targets.")),
    };
    let mut runs = Vec::new();
    for w in &windows {
        let mut after = ctx.env.now();
        for _ in 0..25 {
            let Some(next) = next_start(w, after) else { break };
            runs.push((
                next,
                ScheduledWindowExecution {
                    window_id: w.id().to_owned(),
                    name: w.window.name.clone().unwrap_or_default(),
                    execution_time: iso(next),
                },
            ));
            after = next;
        }
    }
    runs.sort_by_key(|(t, _)| *t);
    let list: Vec<ScheduledWindowExecution> = runs.into_iter().map(|(_, r)| r).collect();
    let (page, next) = page(list, req.max_results, &req.next_token)?;
    Ok(listing("ScheduledWindowExecutions", page, next))
}

//! CreateAssociation, CreateAssociationBatch, DescribeAssociation, UpdateAssociation,
//! DeleteAssociation, ListAssociations, ListAssociationVersions, StartAssociationsOnce.

use steward_api::ssm::associations::*;
use steward_api::ssm::commands::Target;
use steward_api::ssm::Empty;
use steward_api::ApiError;
use steward_core::schedule::Schedule;
use steward_store::{prefix_end, Op, Start};

use super::run::next_due;
use super::*;
use super::{KIND_ASSOCIATION, KIND_ASSOCIATION_NOW};
use crate::base::paging::page;
use crate::base::schedule;
use crate::base::Ctx;
use crate::base::{decode, encode, store_fault};
use crate::commands::check_document;
use crate::fleet::check_target_keys;

/// Versions one association may have.
const MAX_VERSIONS: u32 = 1000;
/// The shortest interval between scheduled runs.
const MIN_INTERVAL_MS: i64 = 30 * 60 * 1000;

fn invalid_schedule(expression: &str, why: &str) -> ApiError {
    ApiError::new("InvalidSchedule", format!("Schedule expression {expression} is not valid: {why}."))
}

/// SSM's rules for an association's schedule.
fn check_schedule(expression: Option<&str>, offset: Option<i64>, apply_only: bool, now: i64) -> Result<(), ApiError> {
    let Some(expression) = expression else {
        if offset.is_some() {
            return Err(ApiError::validation("ScheduleOffset needs a cron ScheduleExpression."));
        }
        if apply_only {
            return Err(ApiError::validation("ApplyOnlyAtCronInterval needs a ScheduleExpression."));
        }
        return Ok(());
    };
    let schedule = Schedule::parse(expression).map_err(|why| invalid_schedule(expression, &why))?;
    match &schedule {
        Schedule::At(_) => {
            return Err(invalid_schedule(
                expression,
                "at() is for maintenance windows; associations take cron() or rate()",
            ))
        }
        Schedule::Rate { seconds } if seconds * 1000 < MIN_INTERVAL_MS => {
            return Err(invalid_schedule(expression, "an association runs at most every 30 minutes"))
        }
        Schedule::Rate { .. } if offset.is_some() => {
            return Err(ApiError::validation("ScheduleOffset applies only to cron expressions."))
        }
        Schedule::Cron(_) => {
            // The tightest spacing shows within the next few runs.
            let utc = steward_core::schedule::zone(None).expect("UTC");
            let mut t = now;
            let mut runs = Vec::new();
            for _ in 0..4 {
                match schedule.next_run_millis(t, now, &utc, 0) {
                    Some(next) => {
                        runs.push(next);
                        t = next;
                    }
                    None => break,
                }
            }
            if runs.is_empty() {
                return Err(invalid_schedule(expression, "it never runs again"));
            }
            if runs.windows(2).any(|w| w[1] - w[0] < MIN_INTERVAL_MS) {
                return Err(invalid_schedule(expression, "an association runs at most every 30 minutes"));
            }
        }
        _ => {}
    }
    Ok(())
}

fn check_output(location: &Option<OutputLocation>) -> Result<(), ApiError> {
    let Some(s3) = location.as_ref().and_then(|l| l.s3_location.as_ref()) else { return Ok(()) };
    let bucket = s3.bucket.as_deref().unwrap_or_default();
    crate::base::check_user_bucket(bucket).map_err(|why| ApiError::new("InvalidOutputLocation", why))
}

fn unsupported(input: &AssociationInput) -> Result<(), ApiError> {
    if input.target_maps.is_some() {
        return Err(ApiError::new("InvalidTargetMaps", "TargetMaps are not supported; use Targets."));
    }
    if input.target_locations.is_some() {
        return Err(ApiError::validation("TargetLocations (other accounts and regions) are not supported."));
    }
    if input.alarm_configuration.is_some() {
        return Err(ApiError::validation("AlarmConfiguration is not supported: there are no CloudWatch alarms."));
    }
    Ok(())
}

/// Checks what an association will run: its document, parameters, targets, schedule and
/// output. `base` is the current version when updating.
async fn build(
    ctx: &Ctx,
    input: &AssociationInput,
    base: Option<&AssociationRecord>,
) -> Result<AssociationRecord, ApiError> {
    unsupported(input)?;
    let p = &ctx.principal;
    let now = ctx.env.now();
    let name = match (&input.name, base) {
        (Some(n), _) => n.clone(),
        (None, Some(b)) => b.name.clone(),
        (None, None) => return Err(ApiError::validation("Name is required.")),
    };
    let instance_id = base.map(|b| b.instance_id.clone()).unwrap_or_else(|| input.instance_id.clone());
    // A runbook's association runs an automation execution: once, or over its targets.
    let runbook = crate::documents::find(ctx, &name).await.is_ok_and(|f| f.head.doc_type == "Automation");
    let automation_target_parameter_name = input
        .automation_target_parameter_name
        .clone()
        .or_else(|| base.and_then(|b| b.automation_target_parameter_name.clone()));
    let targets = match (&input.targets, &instance_id, base) {
        (Some(_), Some(_), None) => {
            return Err(ApiError::validation("Specify either InstanceId or Targets, not both."));
        }
        (Some(t), _, _) => t.clone(),
        (None, Some(id), _) => vec![Target { key: Some("InstanceIds".into()), values: Some(vec![id.clone()]) }],
        (None, None, Some(b)) => b.targets.clone(),
        (None, None, None) if runbook => vec![],
        (None, None, None) => return Err(ApiError::validation("Specify InstanceId or Targets.")),
    };
    if targets.is_empty() && (!runbook || automation_target_parameter_name.is_some()) {
        return Err(ApiError::new("InvalidTarget", "Targets must name at least one target."));
    }
    if !runbook {
        check_target_keys(&targets).map_err(|e| ApiError::new("InvalidTarget", e.message().to_owned()))?;
    }
    crate::groups::check_targets(ctx, &targets).await?;
    if base.is_none() {
        if let Some(id) = &instance_id {
            if crate::fleet::load_node(ctx, id).await?.is_none() {
                return Err(ApiError::new(
                    "InvalidInstanceId",
                    format!("Instance {id} is not registered or is not a managed node of this account."),
                ));
            }
        }
    }
    let parameters = input.parameters.clone().unwrap_or_default();
    if !runbook {
        check_document(ctx, &name, input.document_version.as_deref(), parameters.clone()).await?;
    }
    let apply_only = input.apply_only_at_cron_interval.unwrap_or(false);
    check_schedule(input.schedule_expression.as_deref(), input.schedule_offset, apply_only, now)?;
    check_output(&input.output_location)?;
    let record = AssociationRecord {
        id: base.map(|b| b.id.clone()).unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        account: p.account.clone(),
        region: p.region.clone(),
        version: base.map(|b| b.version + 1).unwrap_or(1),
        name,
        document_version: input.document_version.clone(),
        instance_id,
        parameters,
        targets,
        schedule_expression: input.schedule_expression.clone(),
        schedule_offset: input.schedule_offset,
        apply_only_at_cron_interval: apply_only,
        max_concurrency: input.max_concurrency.clone(),
        max_errors: input.max_errors.clone(),
        compliance_severity: input.compliance_severity.clone(),
        sync_compliance: input.sync_compliance.clone().unwrap_or_else(|| "AUTO".into()),
        output_location: input.output_location.clone(),
        association_name: input.association_name.clone().or_else(|| base.and_then(|b| b.association_name.clone())),
        duration: input.duration,
        calendar_names: input.calendar_names.clone().unwrap_or_default(),
        automation_target_parameter_name,
        runbook,
        created: base.map(|b| b.created).unwrap_or(now),
        updated: now,
        last_execution: base.and_then(|b| b.last_execution),
        last_success: base.and_then(|b| b.last_success),
        overview: base.map(|b| b.overview.clone()).unwrap_or_else(Overview::creating),
        next_due: None,
        run_booked: false,
        run_as: Some(crate::base::RunAs::of(ctx).await?),
        tags: match base {
            Some(b) => b.tags.clone(),
            None => crate::base::tags::tag_pairs(input.tags.as_deref().unwrap_or_default()),
        },
    };
    if record.runbook {
        check_runbook(ctx, &record).await?;
    }
    Ok(record)
}

/// Checks a runbook's association as its runs will start it: the runbook, its parameters and
/// the targets' values, the caller allowed to start it (and to pass its role).
async fn check_runbook(ctx: &Ctx, assoc: &AssociationRecord) -> Result<(), ApiError> {
    let request = super::run::runbook_request(assoc);
    crate::automation::check_start(ctx, &request).await.map_err(|e| match e.code() {
        "InvalidAutomationExecutionParametersException" => ApiError::new("InvalidParameters", e.message().to_owned()),
        "AutomationDefinitionNotFoundException" | "AutomationDefinitionVersionNotFoundException" => {
            ApiError::new("InvalidDocument", e.message().to_owned())
        }
        _ => e,
    })
}

/// The writes that store `assoc` (a new version), book its next scheduled run and, unless
/// it waits for its schedule, a run now.
fn save_ops(assoc: &mut AssociationRecord, previous: Option<(&AssociationRecord, i64)>) -> Vec<Op> {
    let (a, r) = (assoc.account.clone(), assoc.region.clone());
    let mut batch = Vec::new();
    assoc.next_due = next_due(assoc, assoc.updated);
    if let Some((old, _)) = previous {
        if let Some(at) = old.next_due.filter(|at| Some(*at) != assoc.next_due) {
            batch.push(Op::delete(schedule::due_key(at, KIND_ASSOCIATION, &a, &r, &old.id)));
        }
    }
    if let Some(at) = assoc.next_due {
        batch.push(Op::put(schedule::due_key(at, KIND_ASSOCIATION, &a, &r, &assoc.id), b"{}".to_vec()));
    }
    assoc.run_booked = !assoc.apply_only_at_cron_interval;
    if assoc.run_booked {
        batch.push(Op::put(schedule::due_key(assoc.updated, KIND_ASSOCIATION_NOW, &a, &r, &assoc.id), b"{}".to_vec()));
    }
    let key = association_key(&a, &r, &assoc.id);
    batch.push(match previous {
        Some((_, revision)) => Op::put(&key, encode(&*assoc)).if_revision(revision),
        None => Op::put(&key, encode(&*assoc)).if_absent(),
    });
    batch.push(Op::put(version_key(&a, &r, &assoc.id, assoc.version), encode(&*assoc)));
    batch
}

async fn all_associations(ctx: &Ctx) -> Result<Vec<(AssociationRecord, i64)>, ApiError> {
    let p = &ctx.principal;
    let prefix = format!("assoc/{}/{}/", p.account, p.region);
    let items = ctx.env.store.range(Start::At(&prefix), &prefix_end(&prefix), 10_000_000).await.map_err(store_fault)?;
    items.iter().map(|i| Ok((decode::<AssociationRecord>(&i.key, &i.value)?, i.revision))).collect()
}

/// The association with `id`.
pub async fn load(ctx: &Ctx, id: &str) -> Result<(AssociationRecord, i64), ApiError> {
    let p = &ctx.principal;
    let key = association_key(&p.account, &p.region, id);
    let item = ctx.env.store.get(&key).await.map_err(store_fault)?.ok_or_else(does_not_exist)?;
    Ok((decode(&key, &item.value)?, item.revision))
}

/// The association a request names: by id, or (legacy) by document and node.
async fn select(
    ctx: &Ctx,
    id: Option<&str>,
    name: Option<&str>,
    instance: Option<&str>,
) -> Result<(AssociationRecord, i64), ApiError> {
    if let Some(id) = id {
        return load(ctx, id).await;
    }
    let (Some(name), Some(instance)) = (name, instance) else {
        return Err(ApiError::validation("Specify AssociationId, or Name and InstanceId."));
    };
    all_associations(ctx)
        .await?
        .into_iter()
        .find(|(a, _)| a.name == name && a.instance_id.as_deref() == Some(instance))
        .ok_or_else(does_not_exist)
}

async fn create_one(ctx: &Ctx, input: &AssociationInput) -> Result<AssociationDescription, ApiError> {
    let mut assoc = build(ctx, input, None).await?;
    if let Some(instance) = &assoc.instance_id {
        let taken = all_associations(ctx)
            .await?
            .iter()
            .any(|(a, _)| a.name == assoc.name && a.instance_id.as_deref() == Some(instance.as_str()));
        if taken {
            return Err(ApiError::new("AssociationAlreadyExists", "The specified association already exists."));
        }
    }
    let batch = save_ops(&mut assoc, None);
    ctx.env.store.write(batch).await.map_err(store_fault)?;
    ctx.env.wake.scheduler();
    Ok(assoc.description())
}

/// CreateAssociation.
pub async fn create_association(ctx: Ctx, input: AssociationInput) -> Result<AssociationDescriptionResponse, ApiError> {
    Ok(AssociationDescriptionResponse { association_description: create_one(&ctx, &input).await? })
}

/// CreateAssociationBatch: each entry on its own; failures are reported, not thrown.
pub async fn create_association_batch(
    ctx: Ctx,
    req: CreateAssociationBatchRequest,
) -> Result<CreateAssociationBatchResponse, ApiError> {
    let mut successful = Vec::new();
    let mut failed = Vec::new();
    for entry in req.entries {
        match create_one(&ctx, &entry).await {
            Ok(description) => successful.push(description),
            Err(e) => failed.push(FailedCreateAssociation {
                entry,
                message: e.message().to_owned(),
                fault: if e.status() >= 500 { "Server" } else { "Client" }.into(),
            }),
        }
    }
    Ok(CreateAssociationBatchResponse { successful, failed })
}

fn invalid_version() -> ApiError {
    ApiError::new("InvalidAssociationVersion", "The version you specified is not valid.")
}

/// DescribeAssociation.
pub async fn describe_association(
    ctx: Ctx,
    req: AssociationSelector,
) -> Result<AssociationDescriptionResponse, ApiError> {
    let (assoc, _) =
        select(&ctx, req.association_id.as_deref(), req.name.as_deref(), req.instance_id.as_deref()).await?;
    let description = match req.association_version.as_deref() {
        None | Some("$LATEST") => assoc.description(),
        Some(v) => {
            let number: u32 = v.parse().map_err(|_| invalid_version())?;
            if number == assoc.version {
                assoc.description()
            } else {
                let key = version_key(&assoc.account, &assoc.region, &assoc.id, number);
                let item = ctx.env.store.get(&key).await.map_err(store_fault)?.ok_or_else(invalid_version)?;
                decode::<AssociationRecord>(&key, &item.value)?.description()
            }
        }
    };
    Ok(AssociationDescriptionResponse { association_description: description })
}

/// UpdateAssociation: a new version; runs at once unless it waits for its schedule.
pub async fn update_association(ctx: Ctx, input: AssociationInput) -> Result<AssociationDescriptionResponse, ApiError> {
    let id = input.association_id.clone().unwrap_or_default();
    let (current, revision) = load(&ctx, &id).await?;
    if let Some(v) = input.association_version.as_deref().filter(|v| *v != "$LATEST") {
        if v != current.version.to_string() {
            return Err(ApiError::new(
                "InvalidAssociationVersion",
                format!("Association {id} is at version {}, not {v}.", current.version),
            ));
        }
    }
    if current.version >= MAX_VERSIONS {
        return Err(ApiError::new(
            "AssociationVersionLimitExceeded",
            format!("Association {id} has {MAX_VERSIONS} versions, the most it may have."),
        ));
    }
    let mut assoc = build(&ctx, &input, Some(&current)).await?;
    let batch = save_ops(&mut assoc, Some((&current, revision)));
    ctx.env.store.write(batch).await.map_err(|e| match e {
        steward_store::StoreError::Conflict { .. } => {
            ApiError::new("TooManyUpdates", "The association changed while it was being updated; try again.")
        }
        other => store_fault(other),
    })?;
    ctx.env.wake.scheduler();
    Ok(AssociationDescriptionResponse { association_description: assoc.description() })
}

async fn keys_under(ctx: &Ctx, prefix: &str) -> Result<Vec<String>, ApiError> {
    let items = ctx.env.store.range(Start::At(prefix), &prefix_end(prefix), 10_000_000).await.map_err(store_fault)?;
    Ok(items.into_iter().map(|i| i.key).collect())
}

/// DeleteAssociation: the association, its versions, executions, node results and
/// compliance items, in one batch.
pub async fn delete_association(ctx: Ctx, req: AssociationSelector) -> Result<Empty, ApiError> {
    let (assoc, revision) =
        select(&ctx, req.association_id.as_deref(), req.name.as_deref(), req.instance_id.as_deref()).await?;
    let (a, r, id) = (&assoc.account, &assoc.region, &assoc.id);
    let mut batch = vec![Op::delete(association_key(a, r, id)).if_revision(revision)];
    if let Some(at) = assoc.next_due {
        batch.push(Op::delete(schedule::due_key(at, KIND_ASSOCIATION, a, r, id)));
    }
    for prefix in [format!("assocv/{a}/{r}/{id}/"), format!("assocexec/{a}/{r}/{id}/")] {
        batch.extend(keys_under(&ctx, &prefix).await?.into_iter().map(Op::delete));
    }
    for key in keys_under(&ctx, &format!("assocst/{a}/{r}/{id}/")).await? {
        let node = key.rsplit('/').next().unwrap_or_default().to_owned();
        batch.push(Op::delete(node_index_key(a, r, &node, id)));
        batch.push(Op::delete(crate::compliance::item_key(a, r, &node, "Association", id)));
        batch.push(Op::delete(key));
    }
    ctx.env.store.write(batch).await.map_err(|e| match e {
        steward_store::StoreError::Conflict { .. } => {
            ApiError::new("TooManyUpdates", "The association changed while it was being deleted; try again.")
        }
        other => store_fault(other),
    })?;
    Ok(Empty {})
}

fn filter_time(value: &str) -> Result<i64, ApiError> {
    steward_api::time::parse_iso8601(value)
        .map(|s| s * 1000)
        .ok_or_else(|| ApiError::validation(format!("'{value}' is not a time (yyyy-mm-ddThh:mm:ssZ).")))
}

/// ListAssociations.
pub async fn list_associations(ctx: Ctx, req: ListAssociationsRequest) -> Result<ListAssociationsResponse, ApiError> {
    let filters = req.association_filter_list.clone().unwrap_or_default();
    for f in filters.iter().filter(|f| f.key.starts_with("LastExecuted")) {
        filter_time(&f.value)?;
    }
    let mut out = Vec::new();
    'next: for (assoc, _) in all_associations(&ctx).await? {
        for f in &filters {
            let keep = match f.key.as_str() {
                "InstanceId" => {
                    assoc.instance_id.as_deref() == Some(f.value.as_str())
                        || assoc.targets.iter().any(|t| {
                            t.key.as_deref() == Some("InstanceIds")
                                && t.values.as_deref().unwrap_or_default().contains(&f.value)
                        })
                }
                "Name" => assoc.name == f.value,
                "AssociationId" => assoc.id == f.value,
                "AssociationName" => assoc.association_name.as_deref() == Some(f.value.as_str()),
                "AssociationStatusName" => assoc.overview.status == f.value,
                "LastExecutedBefore" => assoc.last_execution.is_some_and(|t| t < filter_time(&f.value).unwrap_or(0)),
                "LastExecutedAfter" => assoc.last_execution.is_some_and(|t| t > filter_time(&f.value).unwrap_or(0)),
                // No resource groups yet: nothing is in one.
                "ResourceGroupName" => false,
                other => return Err(ApiError::validation(format!("{other} is not an association filter key."))),
            };
            if !keep {
                continue 'next;
            }
        }
        out.push(assoc);
    }
    out.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
    let (page, next_token) = page(out, req.max_results, &req.next_token)?;
    Ok(ListAssociationsResponse { associations: page.iter().map(AssociationRecord::summary).collect(), next_token })
}

/// ListAssociationVersions: oldest first.
pub async fn list_association_versions(
    ctx: Ctx,
    req: ListAssociationVersionsRequest,
) -> Result<ListAssociationVersionsResponse, ApiError> {
    let (assoc, _) = load(&ctx, &req.association_id).await?;
    let prefix = format!("assocv/{}/{}/{}/", assoc.account, assoc.region, assoc.id);
    let items = ctx.env.store.range(Start::At(&prefix), &prefix_end(&prefix), 10_000).await.map_err(store_fault)?;
    let versions: Vec<AssociationVersionInfo> = items
        .iter()
        .map(|i| decode::<AssociationRecord>(&i.key, &i.value).map(|a| a.version_info()))
        .collect::<Result<_, _>>()?;
    let (page, next_token) = page(versions, req.max_results, &req.next_token)?;
    Ok(ListAssociationVersionsResponse { association_versions: page, next_token })
}

/// StartAssociationsOnce: a run of each, now.
pub async fn start_associations_once(ctx: Ctx, req: StartAssociationsOnceRequest) -> Result<Empty, ApiError> {
    let now = ctx.env.now();
    let mut batch = Vec::new();
    for id in &req.association_ids {
        let (mut assoc, revision) = load(&ctx, id)
            .await
            .map_err(|_| ApiError::new("AssociationDoesNotExist", format!("Association {id} does not exist.")))?;
        batch.push(Op::put(
            schedule::due_key(now, KIND_ASSOCIATION_NOW, &assoc.account, &assoc.region, &assoc.id),
            b"{}".to_vec(),
        ));
        assoc.run_booked = true;
        let key = association_key(&assoc.account, &assoc.region, &assoc.id);
        batch.push(Op::put(key, encode(&assoc)).if_revision(revision));
    }
    ctx.env.store.write(batch).await.map_err(|e| match e {
        steward_store::StoreError::Conflict { .. } => {
            ApiError::new("TooManyUpdates", "An association changed meanwhile; try again.")
        }
        other => store_fault(other),
    })?;
    ctx.env.wake.scheduler();
    Ok(Empty {})
}

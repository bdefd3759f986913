//! The baseline operations: create, read, update, delete, list, and the default per OS.

use steward_api::ssm::patch::*;
use steward_api::ApiError;
use steward_patching::Baseline;
use steward_store::{prefix_end, Op, Start};

use super::{baseline_key, default_key, group_prefix, predefined, rules, BaselineRecord};
use crate::base::paging::page;
use crate::base::tags::{check_new_tags, tag_pairs};
use crate::base::{decode, encode, read_all, store_fault, Ctx};

/// Custom baselines an account may have in a region.
const MAX_BASELINES: usize = 50;

fn new_id() -> String {
    let bytes: [u8; 9] = rand::random();
    format!("pb-{}", &hex::encode(bytes)[..17])
}

/// The `pb-` id of a baseline named by id or ARN.
fn short_id(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}

/// The account's own baselines.
async fn own(ctx: &Ctx) -> Result<Vec<BaselineRecord>, ApiError> {
    let p = &ctx.principal;
    read_all(ctx.env.store.as_ref(), &format!("patchbl/{}/{}/", p.account, p.region)).await
}

/// The baseline `id` (a `pb-` id or an ARN) names, predefined or the account's, with the
/// revision of its record (0 for predefined ones).
pub async fn find(ctx: &Ctx, id: &str) -> Result<Option<(BaselineRecord, i64)>, ApiError> {
    let p = &ctx.principal;
    if let Some(record) = predefined::find(&p.region, id) {
        return Ok(Some((record, 0)));
    }
    if id.starts_with("arn:") && !id.starts_with(&format!("arn:aws:ssm:{}:{}:patchbaseline/", p.region, p.account)) {
        return Ok(None);
    }
    let key = baseline_key(&p.account, &p.region, short_id(id));
    match ctx.env.store.get(&key).await.map_err(store_fault)? {
        Some(item) => Ok(Some((decode(&key, &item.value)?, item.revision))),
        None => Ok(None),
    }
}

fn missing(id: &str) -> ApiError {
    ApiError::new("DoesNotExistException", format!("Patch Baseline {id} does not exist."))
}

/// The baseline `id` names, or DoesNotExistException.
pub async fn load(ctx: &Ctx, id: &str) -> Result<(BaselineRecord, i64), ApiError> {
    find(ctx, id).await?.ok_or_else(|| missing(id))
}

/// The default baseline of `os` in the caller's account: the registered one, else the
/// predefined one.
pub async fn default_for(ctx: &Ctx, os: &str) -> Result<Option<BaselineRecord>, ApiError> {
    let p = &ctx.principal;
    let key = default_key(&p.account, &p.region, os);
    if let Some(item) = ctx.env.store.get(&key).await.map_err(store_fault)? {
        let id: String = decode(&key, &item.value)?;
        if let Some((record, _)) = find(ctx, &id).await? {
            return Ok(Some(record));
        }
    }
    Ok(predefined::default_for(&p.region, os))
}

/// Applies the given fields over `baseline` (all of them, unset ones cleared, when `replace`).
fn apply(baseline: &mut Baseline, record: &mut BaselineRecord, fields: &BaselineFields, replace: bool) {
    macro_rules! set {
        ($given:expr, $target:expr, $cleared:expr) => {
            match &$given {
                Some(v) => $target = v.clone(),
                None if replace => $target = $cleared,
                None => {}
            }
        };
    }
    set!(fields.name, baseline.name, baseline.name.clone());
    if let Some(g) = &fields.global_filters {
        baseline.global_filters = rules::to_group(g);
    } else if replace {
        baseline.global_filters = Default::default();
    }
    if let Some(r) = &fields.approval_rules {
        baseline.approval_rules = rules::to_rules(r);
    } else if replace {
        baseline.approval_rules = Default::default();
    }
    set!(fields.approved_patches, baseline.approved_patches, vec![]);
    set!(fields.approved_patches_compliance_level, baseline.approved_patches_compliance_level, "UNSPECIFIED".into());
    set!(fields.approved_patches_enable_non_security, baseline.approved_patches_enable_non_security, false);
    set!(fields.rejected_patches, baseline.rejected_patches, vec![]);
    set!(fields.rejected_patches_action, baseline.rejected_patches_action, "ALLOW_AS_DEPENDENCY".into());
    if let Some(s) = &fields.sources {
        baseline.sources = rules::to_sources(s);
    } else if replace {
        baseline.sources = vec![];
    }
    if fields.description.is_some() || replace {
        record.description = fields.description.clone();
    }
    if fields.available_security_updates_compliance_status.is_some() || replace {
        record.available_security_updates_compliance_status =
            fields.available_security_updates_compliance_status.clone();
    }
}

fn check(record: &BaselineRecord) -> Result<(), ApiError> {
    let b = &record.baseline;
    rules::check(&b.operating_system, b, &rules::from_group(&b.global_filters), &rules::from_rules(&b.approval_rules))
}

/// The baseline a BaselineOverride describes, checked as CreatePatchBaseline checks one.
pub fn from_override(given: &BaselineOverride, os: &str, now: i64) -> Result<Baseline, ApiError> {
    let mut record = BaselineRecord {
        baseline: Baseline { name: "BaselineOverride".into(), operating_system: os.to_owned(), ..Default::default() },
        description: None,
        available_security_updates_compliance_status: None,
        created: now,
        modified: now,
        tags: vec![],
        client_token: None,
        predefined: false,
    };
    let mut baseline = record.baseline.clone();
    apply(&mut baseline, &mut record, &given.fields, true);
    baseline.name = "BaselineOverride".into();
    record.baseline = baseline;
    check(&record)?;
    Ok(record.baseline)
}

/// CreatePatchBaseline.
pub async fn create_patch_baseline(ctx: Ctx, req: CreatePatchBaselineRequest) -> Result<BaselineIdResponse, ApiError> {
    let p = &ctx.principal;
    let os = req.operating_system.clone().unwrap_or_else(|| "WINDOWS".into());
    let name = req.fields.name.clone().ok_or_else(|| ApiError::validation("Name is required."))?;
    let existing = own(&ctx).await?;
    if let Some(token) = &req.client_token {
        if let Some(earlier) = existing.iter().find(|r| r.client_token.as_ref() == Some(token)) {
            if earlier.baseline.name != name || earlier.baseline.operating_system != os {
                return Err(ApiError::new(
                    "IdempotentParameterMismatch",
                    "The ClientToken was used before with different parameters.",
                ));
            }
            return Ok(BaselineIdResponse { baseline_id: earlier.baseline.baseline_id.clone() });
        }
    }
    if existing.len() >= MAX_BASELINES {
        return Err(ApiError::new(
            "ResourceLimitExceededException",
            format!("An account can have at most {MAX_BASELINES} patch baselines in a region."),
        ));
    }
    let tags = req.tags.clone().unwrap_or_default();
    check_new_tags(&[], &tags)?;
    let id = new_id();
    let now = ctx.now();
    let mut record = BaselineRecord {
        baseline: Baseline { baseline_id: id.clone(), name, operating_system: os, ..Default::default() },
        description: None,
        available_security_updates_compliance_status: None,
        created: now,
        modified: now,
        tags: tag_pairs(&tags),
        client_token: req.client_token.clone(),
        predefined: false,
    };
    let mut baseline = record.baseline.clone();
    apply(&mut baseline, &mut record, &req.fields, true);
    record.baseline = baseline;
    check(&record)?;
    let key = baseline_key(&p.account, &p.region, &id);
    ctx.env.store.write(vec![Op::put(key, encode(&record)).if_absent()]).await.map_err(store_fault)?;
    Ok(BaselineIdResponse { baseline_id: id })
}

/// The groups registered with the baseline `id`.
pub async fn groups_of(ctx: &Ctx, id: &str) -> Result<Vec<String>, ApiError> {
    let p = &ctx.principal;
    let prefix = group_prefix(&p.account, &p.region);
    let items = ctx.env.store.range(Start::At(&prefix), &prefix_end(&prefix), 100_000).await.map_err(store_fault)?;
    let mut out = Vec::new();
    for item in items {
        let registered: String = decode(&item.key, &item.value)?;
        if registered == id {
            let rest = &item.key[prefix.len()..];
            let group = rest.rsplit_once('/').map(|(g, _)| g).unwrap_or(rest);
            out.push(super::unescape(group));
        }
    }
    Ok(out)
}

/// A baseline as GetPatchBaseline answers.
pub fn view(record: &BaselineRecord, patch_groups: Option<Vec<String>>) -> PatchBaselineView {
    let b = &record.baseline;
    PatchBaselineView {
        baseline_id: b.baseline_id.clone(),
        name: b.name.clone(),
        operating_system: b.operating_system.clone(),
        global_filters: rules::from_group(&b.global_filters),
        approval_rules: rules::from_rules(&b.approval_rules),
        approved_patches: b.approved_patches.clone(),
        approved_patches_compliance_level: b.approved_patches_compliance_level.clone(),
        approved_patches_enable_non_security: b.approved_patches_enable_non_security,
        rejected_patches: b.rejected_patches.clone(),
        rejected_patches_action: b.rejected_patches_action.clone(),
        patch_groups,
        created_date: record.created as f64 / 1000.0,
        modified_date: record.modified as f64 / 1000.0,
        description: record.description.clone(),
        sources: rules::from_sources(&b.sources),
        available_security_updates_compliance_status: record.available_security_updates_compliance_status.clone(),
    }
}

/// GetPatchBaseline.
pub async fn get_patch_baseline(ctx: Ctx, req: BaselineIdRequest) -> Result<PatchBaselineView, ApiError> {
    let (record, _) = find(&ctx, &req.baseline_id)
        .await?
        .ok_or_else(|| ApiError::new("DoesNotExistException", "Patch Baseline to be retrieved does not exist."))?;
    let groups = groups_of(&ctx, &record.baseline.baseline_id).await?;
    Ok(view(&record, Some(groups)))
}

fn refuse_predefined(record: &BaselineRecord, what: &str) -> Result<(), ApiError> {
    if record.predefined {
        return Err(ApiError::validation(format!(
            "{} is a predefined baseline owned by the service and cannot be {what}; create your own.",
            record.baseline.name
        )));
    }
    Ok(())
}

/// UpdatePatchBaseline.
pub async fn update_patch_baseline(ctx: Ctx, req: UpdatePatchBaselineRequest) -> Result<PatchBaselineView, ApiError> {
    let p = &ctx.principal;
    let (mut record, revision) = load(&ctx, &req.baseline_id).await?;
    refuse_predefined(&record, "changed")?;
    let replace = req.replace.unwrap_or(false);
    if replace && req.fields.name.is_none() {
        return Err(ApiError::validation("With Replace, every field CreatePatchBaseline requires (Name) is required."));
    }
    let mut baseline = record.baseline.clone();
    apply(&mut baseline, &mut record, &req.fields, replace);
    record.baseline = baseline;
    record.modified = ctx.now();
    check(&record)?;
    let key = baseline_key(&p.account, &p.region, &record.baseline.baseline_id);
    ctx.env.store.write(vec![Op::put(key, encode(&record)).if_revision(revision)]).await.map_err(store_fault)?;
    Ok(view(&record, None))
}

/// DeletePatchBaseline: refused while a patch group uses it or it is its OS's default; a
/// baseline that does not exist is deleted already.
pub async fn delete_patch_baseline(ctx: Ctx, req: BaselineIdRequest) -> Result<BaselineIdResponse, ApiError> {
    let p = &ctx.principal;
    let Some((record, revision)) = find(&ctx, &req.baseline_id).await? else {
        return Ok(BaselineIdResponse { baseline_id: req.baseline_id });
    };
    refuse_predefined(&record, "deleted")?;
    let id = record.baseline.baseline_id.clone();
    if let Some(group) = groups_of(&ctx, &id).await?.first() {
        return Err(ApiError::new(
            "ResourceInUseException",
            format!("PatchBaseline to be deleted is used for Patch Group: {group}"),
        ));
    }
    let default_key = default_key(&p.account, &p.region, &record.baseline.operating_system);
    if let Some(item) = ctx.env.store.get(&default_key).await.map_err(store_fault)? {
        if decode::<String>(&default_key, &item.value)? == id {
            return Err(ApiError::new(
                "ResourceInUseException",
                format!(
                    "PatchBaseline to be deleted is the default for {}; register another default first.",
                    record.baseline.operating_system
                ),
            ));
        }
    }
    let key = baseline_key(&p.account, &p.region, &id);
    ctx.env.store.write(vec![Op::delete(key).if_revision(revision)]).await.map_err(store_fault)?;
    Ok(BaselineIdResponse { baseline_id: id })
}

fn identity(record: &BaselineRecord, default: bool) -> PatchBaselineIdentity {
    PatchBaselineIdentity {
        baseline_id: record.baseline.baseline_id.clone(),
        baseline_name: record.baseline.name.clone(),
        operating_system: record.baseline.operating_system.clone(),
        baseline_description: record.description.clone(),
        default_baseline: default,
    }
}

/// A baseline as lists show it, with whether it is its OS's default now.
pub async fn identity_of(ctx: &Ctx, record: &BaselineRecord) -> Result<PatchBaselineIdentity, ApiError> {
    let default = default_for(ctx, &record.baseline.operating_system).await?;
    let is_default = default.is_some_and(|d| d.baseline.baseline_id == record.baseline.baseline_id);
    Ok(identity(record, is_default))
}

/// Filters of DescribePatchBaselines (`NAME_PREFIX`, `OWNER`, `OPERATING_SYSTEM`) and
/// DescribePatchGroups (`NAME_PREFIX`, `OPERATING_SYSTEM`) and DescribeInstancePatches, checked.
pub fn list_filters(
    given: &Option<Vec<PatchOrchestratorFilter>>,
    keys: &[&str],
) -> Result<Vec<(String, Vec<String>)>, ApiError> {
    given
        .iter()
        .flatten()
        .map(|f| {
            let key = f.key.clone().unwrap_or_default();
            if !keys.contains(&key.as_str()) {
                return Err(ApiError::new(
                    "InvalidFilter",
                    format!("{key} is not a filter key here; use one of {}.", keys.join(", ")),
                ));
            }
            Ok((key, f.values.clone().unwrap_or_default()))
        })
        .collect()
}

/// DescribePatchBaselines: the predefined baselines and the account's own.
pub async fn describe_patch_baselines(
    ctx: Ctx,
    req: DescribeListRequest,
) -> Result<DescribePatchBaselinesResponse, ApiError> {
    let filters = list_filters(&req.filters, &["NAME_PREFIX", "OWNER", "OPERATING_SYSTEM"])?;
    let mut all = predefined::all(&ctx.principal.region);
    all.extend(own(&ctx).await?);
    let mut out = Vec::new();
    for record in all {
        let b = &record.baseline;
        let keep = filters.iter().all(|(key, values)| match key.as_str() {
            "NAME_PREFIX" => values.iter().any(|v| b.name.starts_with(v.as_str())),
            "OWNER" => values.iter().any(|v| match v.as_str() {
                "AWS" => record.predefined,
                "Self" => !record.predefined,
                _ => true,
            }),
            _ => values.contains(&b.operating_system),
        });
        if keep {
            out.push(identity_of(&ctx, &record).await?);
        }
    }
    let (page, next) = page(out, req.max_results.map(|m| m as i64), &req.next_token)?;
    Ok(DescribePatchBaselinesResponse { baseline_identities: page, next_token: next })
}

/// RegisterDefaultPatchBaseline: the default of the baseline's own OS.
pub async fn register_default_patch_baseline(ctx: Ctx, req: BaselineIdRequest) -> Result<BaselineIdResponse, ApiError> {
    let p = &ctx.principal;
    let (record, _) = load(&ctx, &req.baseline_id).await?;
    let key = default_key(&p.account, &p.region, &record.baseline.operating_system);
    ctx.env.store.write(vec![Op::put(key, encode(&record.baseline.baseline_id))]).await.map_err(store_fault)?;
    Ok(BaselineIdResponse { baseline_id: req.baseline_id })
}

/// GetDefaultPatchBaseline.
pub async fn get_default_patch_baseline(
    ctx: Ctx,
    req: GetDefaultPatchBaselineRequest,
) -> Result<DefaultBaselineResponse, ApiError> {
    let os = req.operating_system.unwrap_or_else(|| "WINDOWS".into());
    let record = default_for(&ctx, &os)
        .await?
        .ok_or_else(|| ApiError::new("UnsupportedOperatingSystem", format!("There is no patch baseline for {os}.")))?;
    Ok(DefaultBaselineResponse { baseline_id: record.baseline.baseline_id, operating_system: os })
}

//! Patch groups: a group name (the value of a node's `Patch Group` tag) registered with one
//! baseline per operating system.

use steward_api::ssm::patch::*;
use steward_api::ApiError;
use steward_store::{prefix_end, Op, Start};

use super::baselines::{find, groups_of, identity_of, list_filters, load};
use super::{group_key, group_prefix, unescape, BaselineRecord};
use crate::base::paging::page;
use crate::base::{decode, encode, store_fault, Ctx};

/// Patch groups one baseline may serve.
const MAX_GROUPS_PER_BASELINE: usize = 25;

/// The baseline registered for `group` and `os`, if any.
pub async fn registered(ctx: &Ctx, group: &str, os: &str) -> Result<Option<BaselineRecord>, ApiError> {
    let p = &ctx.principal;
    let key = group_key(&p.account, &p.region, group, os);
    let Some(item) = ctx.env.store.get(&key).await.map_err(store_fault)? else { return Ok(None) };
    let id: String = decode(&key, &item.value)?;
    Ok(find(ctx, &id).await?.map(|(record, _)| record))
}

/// RegisterPatchBaselineForPatchGroup.
pub async fn register_patch_baseline_for_patch_group(
    ctx: Ctx,
    req: PatchGroupRegistration,
) -> Result<PatchGroupRegistration, ApiError> {
    let p = &ctx.principal;
    let (record, _) = load(&ctx, &req.baseline_id).await?;
    let os = record.baseline.operating_system.clone();
    let key = group_key(&p.account, &p.region, &req.patch_group, &os);
    if ctx.env.store.get(&key).await.map_err(store_fault)?.is_some() {
        return Err(ApiError::new(
            "AlreadyExistsException",
            format!("Patch Group {} already has a baseline registered for OperatingSystem {os}.", req.patch_group),
        ));
    }
    if groups_of(&ctx, &record.baseline.baseline_id).await?.len() >= MAX_GROUPS_PER_BASELINE {
        return Err(ApiError::new(
            "ResourceLimitExceededException",
            format!("A patch baseline can serve at most {MAX_GROUPS_PER_BASELINE} patch groups."),
        ));
    }
    let op = Op::put(key, encode(&record.baseline.baseline_id)).if_absent();
    ctx.env.store.write(vec![op]).await.map_err(store_fault)?;
    Ok(req)
}

/// DeregisterPatchBaselineForPatchGroup.
pub async fn deregister_patch_baseline_for_patch_group(
    ctx: Ctx,
    req: PatchGroupRegistration,
) -> Result<PatchGroupRegistration, ApiError> {
    let p = &ctx.principal;
    let (record, _) = load(&ctx, &req.baseline_id).await?;
    let key = group_key(&p.account, &p.region, &req.patch_group, &record.baseline.operating_system);
    let item = ctx.env.store.get(&key).await.map_err(store_fault)?;
    let registered = match &item {
        Some(item) => decode::<String>(&key, &item.value)?,
        None => String::new(),
    };
    if registered != record.baseline.baseline_id {
        return Err(ApiError::new(
            "InvalidResourceId",
            format!("Patch Group {} is not registered with baseline {}.", req.patch_group, req.baseline_id),
        ));
    }
    let revision = item.map(|i| i.revision).unwrap_or_default();
    ctx.env.store.write(vec![Op::delete(key).if_revision(revision)]).await.map_err(store_fault)?;
    Ok(req)
}

/// GetPatchBaselineForPatchGroup: the registered baseline, else the OS's default.
pub async fn get_patch_baseline_for_patch_group(
    ctx: Ctx,
    req: GetPatchBaselineForPatchGroupRequest,
) -> Result<GetPatchBaselineForPatchGroupResponse, ApiError> {
    let os = req.operating_system.unwrap_or_else(|| "WINDOWS".into());
    let record = match registered(&ctx, &req.patch_group, &os).await? {
        Some(r) => Some(r),
        None => super::baselines::default_for(&ctx, &os).await?,
    };
    let record = record
        .ok_or_else(|| ApiError::new("UnsupportedOperatingSystem", format!("There is no patch baseline for {os}.")))?;
    Ok(GetPatchBaselineForPatchGroupResponse {
        baseline_id: record.baseline.baseline_id,
        patch_group: req.patch_group,
        operating_system: os,
    })
}

/// DescribePatchGroups: one mapping per group and baseline.
pub async fn describe_patch_groups(
    ctx: Ctx,
    req: DescribeListRequest,
) -> Result<DescribePatchGroupsResponse, ApiError> {
    let p = &ctx.principal;
    let filters = list_filters(&req.filters, &["NAME_PREFIX", "OPERATING_SYSTEM"])?;
    let prefix = group_prefix(&p.account, &p.region);
    let items = ctx.env.store.range(Start::At(&prefix), &prefix_end(&prefix), 100_000).await.map_err(store_fault)?;
    let mut out = Vec::new();
    for item in items {
        let rest = &item.key[prefix.len()..];
        let Some((group, os)) = rest.rsplit_once('/') else { continue };
        let group = unescape(group);
        let keep = filters.iter().all(|(key, values)| match key.as_str() {
            "NAME_PREFIX" => values.iter().any(|v| group.starts_with(v.as_str())),
            _ => values.iter().any(|v| v == os),
        });
        if !keep {
            continue;
        }
        let id: String = decode(&item.key, &item.value)?;
        if let Some((record, _)) = find(&ctx, &id).await? {
            out.push(PatchGroupPatchBaselineMapping {
                patch_group: group,
                baseline_identity: identity_of(&ctx, &record).await?,
            });
        }
    }
    let (page, next) = page(out, req.max_results.map(|m| m as i64), &req.next_token)?;
    Ok(DescribePatchGroupsResponse { mappings: page, next_token: next })
}

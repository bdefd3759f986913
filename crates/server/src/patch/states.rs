//! What nodes reported of their patches: the per-node summary (DescribeInstancePatchStates,
//! by patch group, DescribePatchGroupState), the per-package entries
//! (DescribeInstancePatches), and `Patch` compliance, all written in one batch per report.

use std::collections::BTreeMap;

use steward_api::ssm::patch::*;
use steward_api::ApiError;
use steward_patching::{NodeReport, PatchEntry, PatchState};
use steward_store::Op;

use super::{entries_key, state_key};
use crate::base::paging::page;
use crate::base::{decode, encode, read_all, store_fault, Ctx};
use crate::compliance::{self, ItemRecord};

/// The most entries one report may carry (PutComplianceItems' limit of items).
const MAX_ENTRIES: usize = 10_000;

fn seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

fn summary(instance_id: &str, report: &NodeReport, previous: Option<&InstancePatchState>) -> InstancePatchState {
    let count = |s: PatchState| report.entries.iter().filter(|e| e.state == s).count() as u64;
    let non_compliant: Vec<&PatchEntry> = report.entries.iter().filter(|e| e.state.non_compliant()).collect();
    let critical = non_compliant.iter().filter(|e| e.compliance_level == "CRITICAL").count() as u64;
    let security = non_compliant.iter().filter(|e| e.classification.eq_ignore_ascii_case("security")).count() as u64;
    let other = non_compliant
        .iter()
        .filter(|e| e.compliance_level != "CRITICAL" && !e.classification.eq_ignore_ascii_case("security"))
        .count() as u64;
    let no_reboot_install = report.operation == "Install" && report.reboot_option == "NoReboot";
    InstancePatchState {
        instance_id: instance_id.to_owned(),
        patch_group: report.patch_group.clone(),
        baseline_id: report.baseline_id.clone(),
        snapshot_id: Some(report.snapshot_id.clone()).filter(|s| !s.is_empty()),
        install_override_list: Some(report.install_override_list.clone()).filter(|s| !s.is_empty()),
        installed_count: count(PatchState::Installed),
        installed_other_count: count(PatchState::InstalledOther),
        installed_pending_reboot_count: count(PatchState::InstalledPendingReboot),
        installed_rejected_count: count(PatchState::InstalledRejected),
        missing_count: count(PatchState::Missing),
        failed_count: count(PatchState::Failed),
        unreported_not_applicable_count: 0,
        not_applicable_count: count(PatchState::NotApplicable),
        available_security_update_count: 0,
        operation_start_time: seconds(report.operation_start),
        operation_end_time: seconds(report.operation_end),
        operation: report.operation.clone(),
        last_no_reboot_install_operation_time: if no_reboot_install {
            Some(seconds(report.operation_end))
        } else {
            previous.and_then(|p| p.last_no_reboot_install_operation_time)
        },
        reboot_option: report.reboot_option.clone(),
        critical_non_compliant_count: critical,
        security_non_compliant_count: security,
        other_non_compliant_count: other,
    }
}

fn compliance_item(instance_id: &str, report: &NodeReport, entry: &PatchEntry) -> ItemRecord {
    let mut details = BTreeMap::from([
        ("Classification".to_owned(), entry.classification.clone()),
        ("PatchBaselineId".to_owned(), report.baseline_id.clone()),
        ("PatchSeverity".to_owned(), entry.severity.clone()),
        ("PatchState".to_owned(), entry.state.as_str().to_owned()),
        ("PatchGroup".to_owned(), report.patch_group.clone()),
        ("DocumentName".to_owned(), "AWS-RunPatchBaseline".to_owned()),
    ]);
    if let Some(t) = entry.installed_time {
        details.insert("InstalledTime".into(), steward_api::time::format_iso8601(t));
    }
    if !entry.cve_ids.is_empty() {
        details.insert("CVEIds".into(), entry.cve_ids.join(","));
    }
    ItemRecord {
        compliance_type: "Patch".into(),
        resource_type: "ManagedInstance".into(),
        resource_id: instance_id.to_owned(),
        id: entry.id(),
        title: entry.title(),
        status: if entry.state.non_compliant() { "NON_COMPLIANT" } else { "COMPLIANT" }.into(),
        severity: entry.compliance_level.clone(),
        execution_time: report.operation_start,
        execution_id: report.snapshot_id.clone(),
        execution_type: "Command".into(),
        details,
    }
}

/// Reports stored at once. A fleet-wide scan has every node report within moments; beyond
/// this many, a node's channel waits (its socket buffers the report) instead of the server
/// holding every report and its batch in memory at once.
static STORING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(16);

/// Stores a node's report: summary, entries and `Patch` compliance, in one batch. `ctx`
/// acts for the node's account and region.
pub async fn store_report(ctx: &Ctx, instance_id: &str, report: NodeReport) -> Result<(), ApiError> {
    let _turn = STORING.acquire().await.map_err(|_| ApiError::internal())?;
    if report.entries.len() > MAX_ENTRIES {
        return Err(ApiError::validation(format!("A report may carry at most {MAX_ENTRIES} patches.")));
    }
    if !matches!(report.operation.as_str(), "Scan" | "Install") {
        return Err(ApiError::validation("Operation must be Scan or Install."));
    }
    let p = &ctx.principal;
    let key = state_key(&p.account, &p.region, instance_id);
    let previous = ctx.env.store.get(&key).await.map_err(store_fault)?;
    let previous_state: Option<InstancePatchState> = match &previous {
        Some(item) => Some(decode(&key, &item.value)?),
        None => None,
    };
    let state = summary(instance_id, &report, previous_state.as_ref());
    let items = report.entries.iter().map(|e| compliance_item(instance_id, &report, e)).collect();
    let mut batch = compliance::replace_ops(ctx, instance_id, "Patch", items).await?;
    batch.extend(super::available::learn(ctx, &report.operating_system, &report.available).await?);
    let put_state = Op::put(key, encode(&state));
    batch.push(match &previous {
        Some(item) => put_state.if_revision(item.revision),
        None => put_state.if_absent(),
    });
    batch.push(Op::put(entries_key(&p.account, &p.region, instance_id), encode(&report.entries)));
    ctx.env.store.write(batch).await.map_err(store_fault)?;
    Ok(())
}

async fn state_of(ctx: &Ctx, instance_id: &str) -> Result<Option<InstancePatchState>, ApiError> {
    let p = &ctx.principal;
    let key = state_key(&p.account, &p.region, instance_id);
    match ctx.env.store.get(&key).await.map_err(store_fault)? {
        Some(item) => Ok(Some(decode(&key, &item.value)?)),
        None => Ok(None),
    }
}

async fn all_states(ctx: &Ctx) -> Result<Vec<InstancePatchState>, ApiError> {
    let p = &ctx.principal;
    read_all(ctx.env.store.as_ref(), &format!("patchstate/{}/{}/", p.account, p.region)).await
}

/// DescribeInstancePatchStates: the nodes asked for that have reported.
pub async fn describe_instance_patch_states(
    ctx: Ctx,
    req: DescribeInstancePatchStatesRequest,
) -> Result<DescribeInstancePatchStatesResponse, ApiError> {
    let mut states = Vec::new();
    for id in &req.instance_ids {
        states.extend(state_of(&ctx, id).await?);
    }
    let (page, next) = page(states, req.max_results.map(|m| m as i64), &req.next_token)?;
    Ok(DescribeInstancePatchStatesResponse { instance_patch_states: page, next_token: next })
}

/// The count fields DescribeInstancePatchStatesForPatchGroup filters on.
fn count_field(state: &InstancePatchState, key: &str) -> Option<u64> {
    Some(match key {
        "InstalledCount" => state.installed_count,
        "InstalledOtherCount" => state.installed_other_count,
        "InstalledPendingRebootCount" => state.installed_pending_reboot_count,
        "InstalledRejectedCount" => state.installed_rejected_count,
        "MissingCount" => state.missing_count,
        "FailedCount" => state.failed_count,
        "UnreportedNotApplicableCount" => state.unreported_not_applicable_count,
        "NotApplicableCount" => state.not_applicable_count,
        "CriticalNonCompliantCount" => state.critical_non_compliant_count,
        "SecurityNonCompliantCount" => state.security_non_compliant_count,
        "OtherNonCompliantCount" => state.other_non_compliant_count,
        _ => return None,
    })
}

/// DescribeInstancePatchStatesForPatchGroup.
pub async fn describe_instance_patch_states_for_patch_group(
    ctx: Ctx,
    req: DescribeInstancePatchStatesForPatchGroupRequest,
) -> Result<DescribeInstancePatchStatesResponse, ApiError> {
    let mut filters = Vec::new();
    for f in req.filters.iter().flatten() {
        if count_field(&summary("", &NodeReport::default(), None), &f.key).is_none() {
            return Err(ApiError::new("InvalidFilter", format!("{} is not a count this filter can compare.", f.key)));
        }
        let value: u64 = f.values.first().and_then(|v| v.parse().ok()).ok_or_else(|| {
            ApiError::new("InvalidFilter", format!("The value of filter {} must be one whole number.", f.key))
        })?;
        filters.push((f.key.clone(), f.kind.clone(), value));
    }
    let states: Vec<InstancePatchState> = all_states(&ctx)
        .await?
        .into_iter()
        .filter(|s| s.patch_group == req.patch_group)
        .filter(|s| {
            filters.iter().all(|(key, kind, value)| {
                let actual = count_field(s, key).unwrap_or_default();
                match kind.as_str() {
                    "NotEqual" => actual != *value,
                    "LessThan" => actual < *value,
                    "GreaterThan" => actual > *value,
                    _ => actual == *value,
                }
            })
        })
        .collect();
    let (page, next) = page(states, req.max_results.map(|m| m as i64), &req.next_token)?;
    Ok(DescribeInstancePatchStatesResponse { instance_patch_states: page, next_token: next })
}

/// DescribePatchGroupState: how many of the group's nodes have patches in each state.
pub async fn describe_patch_group_state(
    ctx: Ctx,
    req: DescribePatchGroupStateRequest,
) -> Result<DescribePatchGroupStateResponse, ApiError> {
    let mut out = DescribePatchGroupStateResponse::default();
    for s in all_states(&ctx).await?.into_iter().filter(|s| s.patch_group == req.patch_group) {
        let any = |n: u64| u64::from(n > 0);
        out.instances += 1;
        out.instances_with_installed_patches += any(s.installed_count);
        out.instances_with_installed_other_patches += any(s.installed_other_count);
        out.instances_with_installed_pending_reboot_patches += any(s.installed_pending_reboot_count);
        out.instances_with_installed_rejected_patches += any(s.installed_rejected_count);
        out.instances_with_missing_patches += any(s.missing_count);
        out.instances_with_failed_patches += any(s.failed_count);
        out.instances_with_not_applicable_patches += any(s.not_applicable_count);
        out.instances_with_unreported_not_applicable_patches += any(s.unreported_not_applicable_count);
        out.instances_with_critical_non_compliant_patches += any(s.critical_non_compliant_count);
        out.instances_with_security_non_compliant_patches += any(s.security_non_compliant_count);
        out.instances_with_other_non_compliant_patches += any(s.other_non_compliant_count);
        out.instances_with_available_security_updates += any(s.available_security_update_count);
    }
    Ok(out)
}

fn patch_field(data: &PatchComplianceData, key: &str) -> String {
    match key {
        "Classification" => data.classification.clone(),
        "KBId" => data.kb_id.clone(),
        "Severity" => data.severity.clone(),
        _ => data.state.clone(),
    }
}

/// DescribeInstancePatches: the node's patches from its last report.
pub async fn describe_instance_patches(
    ctx: Ctx,
    req: DescribeInstancePatchesRequest,
) -> Result<DescribeInstancePatchesResponse, ApiError> {
    let filters = super::baselines::list_filters(&req.filters, &["Classification", "KBId", "Severity", "State"])?;
    if crate::fleet::load_node(&ctx, &req.instance_id).await?.is_none() {
        return Err(ApiError::new(
            "InvalidInstanceId",
            format!("{} is not a managed node of this account.", req.instance_id),
        ));
    }
    let p = &ctx.principal;
    let key = entries_key(&p.account, &p.region, &req.instance_id);
    let entries: Vec<PatchEntry> = match ctx.env.store.get(&key).await.map_err(store_fault)? {
        Some(item) => decode(&key, &item.value)?,
        None => vec![],
    };
    let mut patches: Vec<PatchComplianceData> = entries
        .iter()
        .map(|e| PatchComplianceData {
            title: e.title(),
            kb_id: e.id(),
            classification: e.classification.clone(),
            severity: e.severity.clone(),
            state: e.state.as_str().to_owned(),
            installed_time: match e.state {
                PatchState::Missing | PatchState::Failed | PatchState::NotApplicable => 0.0,
                _ => e.installed_time.unwrap_or(0) as f64,
            },
            cve_ids: Some(e.cve_ids.join(",")).filter(|c| !c.is_empty()),
        })
        .filter(|d| filters.iter().all(|(k, values)| values.iter().any(|v| *v == patch_field(d, k))))
        .collect();
    patches.sort_by(|a, b| a.kb_id.cmp(&b.kb_id));
    let (page, next) = page(patches, req.max_results.map(|m| m as i64), &req.next_token)?;
    Ok(DescribeInstancePatchesResponse { patches: page, next_token: next })
}

/// A node's patch records, to go when it is deregistered.
pub async fn node_leftovers(ctx: &Ctx, id: &str) -> Result<Vec<Op>, ApiError> {
    let p = &ctx.principal;
    let keys = [state_key(&p.account, &p.region, id), entries_key(&p.account, &p.region, id)];
    let mut out = Vec::new();
    for key in keys {
        if ctx.env.store.get(&key).await.map_err(store_fault)?.is_some() {
            out.push(Op::delete(key));
        }
    }
    Ok(out)
}

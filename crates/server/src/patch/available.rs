//! What the fleet's repositories offer: every update a node's scan saw for its packages, kept
//! per account and operating system (`patchavail/<acct>/<region>/<OS>/<product>/<name>/<arch>/<version>`),
//! so DescribeAvailablePatches and DescribeEffectivePatchesForPatchBaseline answer for the
//! repositories the fleet really uses. An update is written the first time a node reports it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use steward_api::ssm::patch::*;
use steward_api::ApiError;
use steward_patching::{approval, Patch};
use steward_store::{prefix_end, Op, Start};

use super::baselines::{list_filters, load};
use super::{escape, rules};
use crate::base::paging::page;
use crate::base::{decode, encode, store_fault, Ctx};

/// One update as the fleet knows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Known {
    /// The update.
    pub patch: Patch,
    /// When a node first reported it (epoch ms): the approval clock of updates without a date.
    pub first_seen: i64,
}

fn prefix(account: &str, region: &str) -> String {
    format!("patchavail/{account}/{region}/")
}

fn key(account: &str, region: &str, os: &str, p: &Patch) -> String {
    format!(
        "{}{os}/{}/{}/{}/{}",
        prefix(account, region),
        escape(&p.product),
        escape(&p.name),
        escape(&p.arch),
        escape(&p.version)
    )
}

/// The puts that add the updates of a report the fleet did not know yet. Unconditional: two
/// nodes reporting one new update at once must not fail each other's report (the later one's
/// first sighting wins, a moment later).
pub async fn learn(ctx: &Ctx, os: &str, updates: &[Patch]) -> Result<Vec<Op>, ApiError> {
    if os.is_empty() || updates.is_empty() {
        return Ok(vec![]);
    }
    let p = &ctx.principal;
    let mut by_key: BTreeMap<String, &Patch> = BTreeMap::new();
    for update in updates {
        by_key.insert(key(&p.account, &p.region, os, update), update);
    }
    let keys: Vec<String> = by_key.keys().cloned().collect();
    let known = ctx.env.store.get_many(&keys).await.map_err(store_fault)?;
    let now = ctx.now();
    Ok(by_key
        .into_iter()
        .zip(known)
        .filter(|(_, existing)| existing.is_none())
        .map(|((key, patch), _)| Op::put(key, encode(&Known { patch: patch.clone(), first_seen: now })))
        .collect())
}

async fn all(ctx: &Ctx, os: Option<&str>) -> Result<Vec<Known>, ApiError> {
    let p = &ctx.principal;
    let mut start = prefix(&p.account, &p.region);
    if let Some(os) = os {
        start.push_str(os);
        start.push('/');
    }
    let items = ctx.env.store.range(Start::At(&start), &prefix_end(&start), 10_000_000).await.map_err(store_fault)?;
    items.iter().map(|i| decode(&i.key, &i.value)).collect()
}

fn view(patch: &Patch) -> PatchView {
    let id = format!("{}.{}:{}", patch.name, patch.arch, patch.version);
    let (classification, severity) = if patch.classification.is_empty() {
        (if patch.security { "Security" } else { "" }.to_owned(), patch.priority.clone())
    } else {
        (patch.classification.clone(), patch.severity.clone())
    };
    PatchView {
        title: id.clone(),
        id,
        release_date: patch.release_time.map(|t| t as f64),
        product: patch.product.clone(),
        classification,
        severity,
        advisory_ids: Some(patch.advisory_id.clone()).filter(|a| !a.is_empty()).into_iter().collect(),
        cve_ids: patch.cve_ids.clone(),
        name: patch.name.clone(),
        version: patch.version.clone(),
        arch: patch.arch.clone(),
        repository: patch.repository.clone(),
    }
}

/// DescribeAvailablePatches: the updates the fleet's nodes have seen, filtered by their
/// properties (`*` wildcards allowed).
pub async fn describe_available_patches(
    ctx: Ctx,
    req: DescribeListRequest,
) -> Result<DescribeAvailablePatchesResponse, ApiError> {
    const KEYS: &[&str] = &[
        "PRODUCT",
        "NAME",
        "VERSION",
        "ARCH",
        "REPOSITORY",
        "SECTION",
        "PRIORITY",
        "CLASSIFICATION",
        "SEVERITY",
        "ADVISORY_ID",
        "CVE_ID",
    ];
    let filters = list_filters(&req.filters, KEYS)?;
    let patches: Vec<PatchView> = all(&ctx, None)
        .await?
        .into_iter()
        .map(|k| k.patch)
        .filter(|patch| {
            filters.iter().all(|(key, values)| {
                let actual: Vec<&str> = match key.as_str() {
                    "VERSION" => vec![patch.version.as_str()],
                    "CVE_ID" => patch.cve_ids.iter().map(String::as_str).collect(),
                    other => patch.property(other).into_iter().collect(),
                };
                values.iter().any(|v| actual.iter().any(|a| approval::glob(v, a)))
            })
        })
        .map(|p| view(&p))
        .collect();
    let (page, next) = page(patches, req.max_results.map(|m| m as i64), &req.next_token)?;
    Ok(DescribeAvailablePatchesResponse { patches: page, next_token: next })
}

/// DescribeEffectivePatchesForPatchBaseline: how the baseline treats each update the fleet
/// has seen for its operating system — approved (by rule, with the date, or by its list),
/// pending (a rule's date not reached) or rejected by its list.
pub async fn describe_effective_patches_for_patch_baseline(
    ctx: Ctx,
    req: DescribeEffectivePatchesRequest,
) -> Result<DescribeEffectivePatchesResponse, ApiError> {
    let (record, _) = load(&ctx, &req.baseline_id).await?;
    let baseline = &record.baseline;
    let now_s = ctx.now() / 1000;
    let mut out = Vec::new();
    for known in all(&ctx, Some(&baseline.operating_system)).await? {
        let p = &known.patch;
        let status = if approval::rejected(baseline, &p.name, &p.arch, &p.version) {
            Some(("EXPLICIT_REJECTED", "UNSPECIFIED".to_owned(), None))
        } else if baseline.approved_patches.iter().any(|e| approval::names(e, &p.name, &p.arch, &p.version)) {
            approval::approve(baseline, p, now_s).map(|a| ("EXPLICIT_APPROVED", a.compliance_level, None))
        } else if let Some(a) = approval::approve(baseline, p, now_s) {
            let released = p.release_time.unwrap_or(known.first_seen / 1000);
            Some(("APPROVED", a.compliance_level, Some(released as f64)))
        } else if approval::approve(baseline, p, i64::MAX / 2).is_some() {
            Some(("PENDING_APPROVAL", "UNSPECIFIED".to_owned(), None))
        } else {
            None
        };
        if let Some((deployment_status, compliance_level, approval_date)) = status {
            out.push(EffectivePatch {
                patch: view(p),
                patch_status: PatchStatus {
                    deployment_status: deployment_status.into(),
                    compliance_level,
                    approval_date,
                },
            });
        }
    }
    let (page, next) = page(out, req.max_results.map(|m| m as i64), &req.next_token)?;
    Ok(DescribeEffectivePatchesResponse { effective_patches: page, next_token: next })
}

/// DescribePatchProperties: the values a property takes for an OS — the closed sets SSM
/// documents, and for PRODUCT the products SSM names plus those the fleet reported.
pub async fn describe_patch_properties(
    ctx: Ctx,
    req: DescribePatchPropertiesRequest,
) -> Result<DescribePatchPropertiesResponse, ApiError> {
    let os = req.operating_system.as_str();
    let mut values: Vec<String> = match req.property.as_str() {
        "PRODUCT" => {
            let mut products: Vec<String> = rules::known_products(os).iter().map(|p| (*p).to_owned()).collect();
            for known in all(&ctx, Some(os)).await? {
                if !products.contains(&known.patch.product) {
                    products.push(known.patch.product);
                }
            }
            products
        }
        property => match rules::property_values(os, property) {
            Some(values) => values.iter().map(|v| (*v).to_owned()).collect(),
            None => {
                return Err(ApiError::validation(format!("Property {property} does not apply to {os}.")));
            }
        },
    };
    values.dedup();
    let properties = values.into_iter().map(|v| BTreeMap::from([("Name".to_owned(), v)])).collect();
    let (page, next) = page(properties, req.max_results.map(|m| m as i64), &req.next_token)?;
    Ok(DescribePatchPropertiesResponse { properties: page, next_token: next })
}

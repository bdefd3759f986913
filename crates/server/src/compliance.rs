//! Compliance: what each resource reported for each compliance type (`Association` from
//! State Manager, `Custom:…` from PutComplianceItems), and the summaries over them.
//!
//! One key per item: `compliance/<account>/<region>/<resource>/<type>/<item id>`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use steward_api::ssm::compliance::*;
use steward_api::ssm::Empty;
use steward_api::ApiError;
use steward_store::{prefix_end, Op, Start};

use crate::base::paging::page;
use crate::base::Ctx;
use crate::base::{decode, encode, store_fault};

/// A stored item.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ItemRecord {
    /// Type.
    pub compliance_type: String,
    /// ManagedInstance.
    pub resource_type: String,
    /// Node id.
    pub resource_id: String,
    /// Id.
    pub id: String,
    /// Title.
    pub title: String,
    /// COMPLIANT or NON_COMPLIANT.
    pub status: String,
    /// Severity.
    pub severity: String,
    /// Epoch ms.
    pub execution_time: i64,
    /// Run id.
    pub execution_id: String,
    /// Run type.
    pub execution_type: String,
    /// Details.
    pub details: BTreeMap<String, String>,
}

/// Store key of an item.
pub fn item_key(account: &str, region: &str, resource: &str, kind: &str, id: &str) -> String {
    format!("compliance/{account}/{region}/{resource}/{kind}/{id}")
}

fn summary_of(item: &ItemRecord) -> ComplianceExecutionSummary {
    ComplianceExecutionSummary {
        execution_time: item.execution_time as f64 / 1000.0,
        execution_id: (!item.execution_id.is_empty()).then(|| item.execution_id.clone()),
        execution_type: (!item.execution_type.is_empty()).then(|| item.execution_type.clone()),
    }
}

/// PutComplianceItems: a node's items of one `Custom:` type, replacing them all
/// (COMPLETE) or by id (PARTIAL).
pub async fn put_compliance_items(ctx: Ctx, req: PutComplianceItemsRequest) -> Result<Empty, ApiError> {
    if req.resource_type != "ManagedInstance" {
        return Err(ApiError::new("InvalidResourceType", "The resource type must be ManagedInstance."));
    }
    if !req.compliance_type.starts_with("Custom:") {
        return Err(ApiError::validation(format!(
            "Compliance type {} is kept by Steward itself; report your own as Custom:NAME.",
            req.compliance_type
        )));
    }
    if crate::fleet::load_node(&ctx, &req.resource_id).await?.is_none() {
        return Err(ApiError::new(
            "InvalidResourceId",
            format!("{} is not a managed node of this account.", req.resource_id),
        ));
    }
    let partial = req.upload_type.as_deref() == Some("PARTIAL");
    if partial && req.items.iter().any(|i| i.id.as_deref().unwrap_or_default().is_empty()) {
        return Err(ApiError::new("InvalidItemContentException", "PARTIAL uploads need an Id on every item."));
    }
    let p = &ctx.principal;
    let time = (req.execution_summary.execution_time * 1000.0) as i64;
    let mut items = Vec::new();
    for (n, entry) in req.items.iter().enumerate() {
        let id = entry.id.clone().filter(|i| !i.is_empty()).unwrap_or_else(|| format!("item-{n}"));
        items.push(ItemRecord {
            compliance_type: req.compliance_type.clone(),
            resource_type: req.resource_type.clone(),
            resource_id: req.resource_id.clone(),
            id,
            title: entry.title.clone().unwrap_or_default(),
            status: entry.status.clone(),
            severity: entry.severity.clone(),
            execution_time: time,
            execution_id: req.execution_summary.execution_id.clone().unwrap_or_default(),
            execution_type: req.execution_summary.execution_type.clone().unwrap_or_default(),
            details: entry.details.clone().unwrap_or_default(),
        });
    }
    let batch = if partial {
        let key = |i: &ItemRecord| item_key(&p.account, &p.region, &req.resource_id, &req.compliance_type, &i.id);
        items.iter().map(|i| Op::put(key(i), encode(i))).collect()
    } else {
        replace_ops(&ctx, &req.resource_id, &req.compliance_type, items).await?
    };
    if batch.is_empty() {
        return Ok(Empty {});
    }
    ctx.env.store.write(batch).await.map_err(store_fault)?;
    Ok(Empty {})
}

/// The batch that replaces every item of compliance type `kind` the resource has with `items`
/// (the caller writes it, with its own changes).
pub async fn replace_ops(ctx: &Ctx, resource: &str, kind: &str, items: Vec<ItemRecord>) -> Result<Vec<Op>, ApiError> {
    let p = &ctx.principal;
    let prefix = format!("compliance/{}/{}/{resource}/{kind}/", p.account, p.region);
    let old = ctx.env.store.range(Start::At(&prefix), &prefix_end(&prefix), 100_000).await.map_err(store_fault)?;
    let mut batch = Vec::new();
    let mut new_keys = std::collections::BTreeSet::new();
    for item in items {
        let key = item_key(&p.account, &p.region, resource, kind, &item.id);
        // A batch names each key once: an id given twice keeps its last item.
        if new_keys.insert(key.clone()) {
            batch.push(Op::put(key, encode(&item)));
        } else if let Some(Op::Put { value, .. }) = batch.iter_mut().find(|op| op.key() == key) {
            *value = encode(&item);
        }
    }
    batch.extend(old.into_iter().filter(|i| !new_keys.contains(&i.key)).map(|i| Op::delete(i.key)));
    Ok(batch)
}

async fn all_items(ctx: &Ctx) -> Result<Vec<ItemRecord>, ApiError> {
    let p = &ctx.principal;
    let prefix = format!("compliance/{}/{}/", p.account, p.region);
    let items = ctx.env.store.range(Start::At(&prefix), &prefix_end(&prefix), 10_000_000).await.map_err(store_fault)?;
    items.iter().map(|i| decode(&i.key, &i.value)).collect()
}

/// A list filter over named fields of a row.
struct Filter {
    key: String,
    values: Vec<String>,
    kind: String,
}

fn filters(given: &Option<Vec<ComplianceStringFilter>>, keys: &[&str]) -> Result<Vec<Filter>, ApiError> {
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
            Ok(Filter {
                key,
                values: f.values.clone().unwrap_or_default(),
                kind: f.kind.clone().unwrap_or("EQUAL".into()),
            })
        })
        .collect()
}

fn passes(filters: &[Filter], field: impl Fn(&str) -> String) -> bool {
    filters.iter().all(|f| {
        let actual = field(&f.key);
        let any = |test: &dyn Fn(&str) -> bool| f.values.iter().any(|v| test(v));
        match f.kind.as_str() {
            "NOT_EQUAL" => !any(&|v| actual == v),
            "BEGIN_WITH" => any(&|v| actual.starts_with(v)),
            "LESS_THAN" => any(&|v| actual.as_str() < v),
            "GREATER_THAN" => any(&|v| actual.as_str() > v),
            _ => any(&|v| actual == v),
        }
    })
}

fn item_field(item: &ItemRecord, key: &str) -> String {
    match key {
        "ComplianceType" => item.compliance_type.clone(),
        "Status" => item.status.clone(),
        "Severity" => item.severity.clone(),
        "Id" => item.id.clone(),
        "Title" => item.title.clone(),
        "ExecutionId" => item.execution_id.clone(),
        "ExecutionType" => item.execution_type.clone(),
        "ResourceId" | "InstanceId" => item.resource_id.clone(),
        "ResourceType" => item.resource_type.clone(),
        _ => String::new(),
    }
}

const ITEM_KEYS: &[&str] = &["ComplianceType", "Status", "Severity", "Id", "Title", "ExecutionId", "ExecutionType"];

/// ListComplianceItems.
pub async fn list_compliance_items(
    ctx: Ctx,
    req: ListComplianceItemsRequest,
) -> Result<ListComplianceItemsResponse, ApiError> {
    let filters = filters(&req.filters, ITEM_KEYS)?;
    let ids = req.resource_ids.clone().unwrap_or_default();
    let types = req.resource_types.clone().unwrap_or_default();
    if types.iter().any(|t| t != "ManagedInstance") {
        return Err(ApiError::new("InvalidResourceType", "The resource type must be ManagedInstance."));
    }
    let items: Vec<ComplianceItem> = all_items(&ctx)
        .await?
        .into_iter()
        .filter(|i| ids.is_empty() || ids.contains(&i.resource_id))
        .filter(|i| passes(&filters, |k| item_field(i, k)))
        .map(|i| ComplianceItem {
            execution_summary: summary_of(&i),
            compliance_type: i.compliance_type,
            resource_type: i.resource_type,
            resource_id: i.resource_id,
            id: i.id,
            title: i.title,
            status: i.status,
            severity: i.severity,
            details: i.details,
        })
        .collect();
    let (page, next_token) = page(items, req.max_results, &req.next_token)?;
    Ok(ListComplianceItemsResponse { compliance_items: page, next_token })
}

const SEVERITIES: [&str; 6] = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNSPECIFIED"];

fn rank(severity: &str) -> usize {
    SEVERITIES.iter().position(|s| *s == severity).unwrap_or(SEVERITIES.len() - 1)
}

fn count(summary: &mut SeveritySummary, severity: &str) {
    match severity {
        "CRITICAL" => summary.critical_count += 1,
        "HIGH" => summary.high_count += 1,
        "MEDIUM" => summary.medium_count += 1,
        "LOW" => summary.low_count += 1,
        "INFORMATIONAL" => summary.informational_count += 1,
        _ => summary.unspecified_count += 1,
    }
}

/// One resource's items of one type, summed up.
fn resource_summaries(items: Vec<ItemRecord>) -> Vec<ResourceComplianceSummaryItem> {
    let mut groups: BTreeMap<(String, String), Vec<ItemRecord>> = BTreeMap::new();
    for item in items {
        groups.entry((item.resource_id.clone(), item.compliance_type.clone())).or_default().push(item);
    }
    groups
        .into_values()
        .map(|items| {
            let mut compliant = CompliantSummary::default();
            let mut non_compliant = NonCompliantSummary::default();
            for i in &items {
                if i.status == "COMPLIANT" {
                    compliant.compliant_count += 1;
                    count(&mut compliant.severity_summary, &i.severity);
                } else {
                    non_compliant.non_compliant_count += 1;
                    count(&mut non_compliant.severity_summary, &i.severity);
                }
            }
            let failing = items.iter().filter(|i| i.status != "COMPLIANT");
            let overall = failing.map(|i| i.severity.as_str()).min_by_key(|s| rank(s)).unwrap_or("UNSPECIFIED");
            let latest = items.iter().max_by_key(|i| i.execution_time).expect("groups are never empty");
            ResourceComplianceSummaryItem {
                compliance_type: latest.compliance_type.clone(),
                resource_type: latest.resource_type.clone(),
                resource_id: latest.resource_id.clone(),
                status: if non_compliant.non_compliant_count > 0 { "NON_COMPLIANT" } else { "COMPLIANT" }.into(),
                overall_severity: overall.into(),
                execution_summary: summary_of(latest),
                compliant_summary: compliant,
                non_compliant_summary: non_compliant,
            }
        })
        .collect()
}

fn resource_field(r: &ResourceComplianceSummaryItem, key: &str) -> String {
    match key {
        "ComplianceType" => r.compliance_type.clone(),
        "Status" => r.status.clone(),
        "OverallSeverity" => r.overall_severity.clone(),
        "ResourceId" | "InstanceId" => r.resource_id.clone(),
        "ResourceType" => r.resource_type.clone(),
        _ => String::new(),
    }
}

const SUMMARY_KEYS: &[&str] =
    &["ComplianceType", "Status", "OverallSeverity", "ResourceId", "InstanceId", "ResourceType"];

/// ListResourceComplianceSummaries: one row per resource and compliance type.
pub async fn list_resource_compliance_summaries(
    ctx: Ctx,
    req: ListComplianceSummariesRequest,
) -> Result<ListResourceComplianceSummariesResponse, ApiError> {
    let filters = filters(&req.filters, SUMMARY_KEYS)?;
    let rows: Vec<_> = resource_summaries(all_items(&ctx).await?)
        .into_iter()
        .filter(|r| passes(&filters, |k| resource_field(r, k)))
        .collect();
    let (page, next_token) = page(rows, req.max_results, &req.next_token)?;
    Ok(ListResourceComplianceSummariesResponse { resource_compliance_summary_items: page, next_token })
}

/// ListComplianceSummaries: per compliance type, how many resources are compliant and
/// not, by their overall severity.
pub async fn list_compliance_summaries(
    ctx: Ctx,
    req: ListComplianceSummariesRequest,
) -> Result<ListComplianceSummariesResponse, ApiError> {
    let filters = filters(&req.filters, SUMMARY_KEYS)?;
    let mut by_type: BTreeMap<String, ComplianceSummaryItem> = BTreeMap::new();
    for r in resource_summaries(all_items(&ctx).await?) {
        if !passes(&filters, |k| resource_field(&r, k)) {
            continue;
        }
        let entry = by_type.entry(r.compliance_type.clone()).or_insert_with(|| ComplianceSummaryItem {
            compliance_type: r.compliance_type.clone(),
            compliant_summary: Default::default(),
            non_compliant_summary: Default::default(),
        });
        if r.status == "COMPLIANT" {
            entry.compliant_summary.compliant_count += 1;
            count(&mut entry.compliant_summary.severity_summary, &r.overall_severity);
        } else {
            entry.non_compliant_summary.non_compliant_count += 1;
            count(&mut entry.non_compliant_summary.severity_summary, &r.overall_severity);
        }
    }
    let (page, next_token) = page(by_type.into_values().collect(), req.max_results, &req.next_token)?;
    Ok(ListComplianceSummariesResponse { compliance_summary_items: page, next_token })
}

/// A node's compliance items, to go when the node is deregistered.
pub async fn node_leftovers(ctx: &Ctx, id: &str) -> Result<Vec<Op>, ApiError> {
    let p = &ctx.principal;
    let prefix = format!("compliance/{}/{}/{id}/", p.account, p.region);
    let items = ctx.env.store.range(Start::At(&prefix), &prefix_end(&prefix), 100_000).await.map_err(store_fault)?;
    Ok(items.into_iter().map(|item| Op::delete(item.key)).collect())
}

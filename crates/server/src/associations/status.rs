//! What associations did: executions and their targets, per-node status, the associations
//! in effect on a node, and UpdateAssociationStatus.

use steward_api::ssm::associations::*;
use steward_api::ApiError;
use steward_store::{prefix_end, Op, Start};

use super::api::load;
use super::*;
use crate::base::paging::page;
use crate::base::Ctx;
use crate::base::{decode, encode, store_fault};
use crate::commands::InvocationRecord;
use crate::fleet::load_node;
use crate::fleet::node_matches;
use crate::groups::as_node_targets;

fn secs(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// `{Failed=1, Success=2}`, as SSM writes ResourceCountByStatus.
fn count_text(counts: &BTreeMap<String, i64>) -> String {
    let parts: Vec<String> = counts.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{{{}}}", parts.join(", "))
}

async fn executions(ctx: &Ctx, assoc: &AssociationRecord) -> Result<Vec<(String, ExecutionRecord)>, ApiError> {
    let prefix = format!("assocexec/{}/{}/{}/", assoc.account, assoc.region, assoc.id);
    let items = ctx.env.store.range(Start::At(&prefix), &prefix_end(&prefix), 1_000_000).await.map_err(store_fault)?;
    items.iter().map(|i| Ok((i.key.clone(), decode::<ExecutionRecord>(&i.key, &i.value)?))).collect()
}

/// Invocations of an execution's command, by node.
async fn invocations(ctx: &Ctx, execution: &ExecutionRecord) -> Result<Vec<InvocationRecord>, ApiError> {
    if execution.command_id.is_empty() {
        return Ok(Vec::new());
    }
    crate::commands::invocations(ctx, &execution.command_id).await
}

/// The counts of an execution still running, from its invocations.
fn live_counts(invocations: &[InvocationRecord]) -> BTreeMap<String, i64> {
    let mut counts = BTreeMap::new();
    for inv in invocations {
        *counts.entry(inv.status.clone()).or_insert(0) += 1;
    }
    counts
}

fn compare(kind: Option<&str>, actual: &str, wanted: &str) -> bool {
    match kind.unwrap_or("EQUAL") {
        "LESS_THAN" => actual < wanted,
        "GREATER_THAN" => actual > wanted,
        _ => actual == wanted,
    }
}

/// DescribeAssociationExecutions: newest first.
pub async fn describe_association_executions(
    ctx: Ctx,
    req: DescribeAssociationExecutionsRequest,
) -> Result<DescribeAssociationExecutionsResponse, ApiError> {
    let (assoc, _) = load(&ctx, &req.association_id).await?;
    let filters = req.filters.clone().unwrap_or_default();
    let mut out = Vec::new();
    for (_, e) in executions(&ctx, &assoc).await? {
        let counts = if e.finished.is_some() { e.counts.clone() } else { live_counts(&invocations(&ctx, &e).await?) };
        let keep = filters.iter().all(|f| match f.key.as_str() {
            "ExecutionId" => e.id == f.value,
            "Status" => compare(f.kind.as_deref(), &e.status, &f.value),
            "CreatedTime" => match steward_api::time::parse_iso8601(&f.value) {
                Some(t) => match f.kind.as_deref() {
                    Some("LESS_THAN") => e.created < t * 1000,
                    Some("GREATER_THAN") => e.created > t * 1000,
                    _ => e.created / 1000 == t,
                },
                None => false,
            },
            _ => false,
        });
        if keep {
            out.push(AssociationExecution {
                association_id: assoc.id.clone(),
                association_version: e.association_version.to_string(),
                execution_id: e.id.clone(),
                status: e.status.clone(),
                detailed_status: e.detailed_status.clone(),
                created_time: secs(e.created),
                last_execution_date: e.finished.map(secs),
                resource_count_by_status: count_text(&counts),
            });
        }
    }
    let (page, next_token) = page(out, req.max_results, &req.next_token)?;
    Ok(DescribeAssociationExecutionsResponse { association_executions: page, next_token })
}

/// DescribeAssociationExecutionTargets.
pub async fn describe_association_execution_targets(
    ctx: Ctx,
    req: DescribeAssociationExecutionTargetsRequest,
) -> Result<DescribeAssociationExecutionTargetsResponse, ApiError> {
    let (assoc, _) = load(&ctx, &req.association_id).await?;
    let execution =
        executions(&ctx, &assoc).await?.into_iter().map(|(_, e)| e).find(|e| e.id == req.execution_id).ok_or_else(
            || {
                ApiError::new(
                    "AssociationExecutionDoesNotExist",
                    format!("Execution {} of association {} does not exist.", req.execution_id, assoc.id),
                )
            },
        )?;
    let filters = req.filters.clone().unwrap_or_default();
    let mut out = Vec::new();
    for inv in invocations(&ctx, &execution).await? {
        let status = match inv.status.as_str() {
            "Success" => "Success",
            "Pending" | "InProgress" | "Delayed" => inv.status.as_str(),
            _ => "Failed",
        };
        let target = AssociationExecutionTarget {
            association_id: assoc.id.clone(),
            association_version: execution.association_version.to_string(),
            execution_id: execution.id.clone(),
            resource_id: inv.instance_id.clone(),
            resource_type: "ManagedInstance".into(),
            status: status.into(),
            detailed_status: inv.status_details.clone(),
            last_execution_date: inv.plugins.iter().filter_map(|p| p.ended).max().map(secs),
            output_source: OutputSource {
                output_source_id: execution.command_id.clone(),
                output_source_type: "RunCommand".into(),
            },
        };
        let keep = filters.iter().all(|f| match f.key.as_str() {
            "Status" => target.status == f.value,
            "ResourceId" => target.resource_id == f.value,
            "ResourceType" => target.resource_type == f.value,
            _ => false,
        });
        if keep {
            out.push(target);
        }
    }
    let (page, next_token) = page(out, req.max_results, &req.next_token)?;
    Ok(DescribeAssociationExecutionTargetsResponse { association_execution_targets: page, next_token })
}

async fn require_node(ctx: &Ctx, id: &str) -> Result<crate::fleet::NodeRecord, ApiError> {
    load_node(ctx, id).await?.map(|(n, _)| n).ok_or_else(|| {
        ApiError::new(
            "InvalidInstanceId",
            format!("Instance {id} is not registered or is not a managed node of this account."),
        )
    })
}

/// DescribeInstanceAssociationsStatus: each association's last result on the node.
pub async fn describe_instance_associations_status(
    ctx: Ctx,
    req: InstanceAssociationsRequest,
) -> Result<DescribeInstanceAssociationsStatusResponse, ApiError> {
    require_node(&ctx, &req.instance_id).await?;
    let p = &ctx.principal;
    let prefix = format!("assocnode/{}/{}/{}/", p.account, p.region, req.instance_id);
    let index = ctx.env.store.range(Start::At(&prefix), &prefix_end(&prefix), 1_000_000).await.map_err(store_fault)?;
    let mut out = Vec::new();
    for entry in index {
        let id = &entry.key[prefix.len()..];
        let Ok((assoc, _)) = load(&ctx, id).await else { continue };
        let key = node_status_key(&p.account, &p.region, id, &req.instance_id);
        let Some(item) = ctx.env.store.get(&key).await.map_err(store_fault)? else { continue };
        let status: NodeStatus = decode(&key, &item.value)?;
        out.push(InstanceAssociationStatusInfo {
            association_id: assoc.id.clone(),
            name: assoc.name.clone(),
            document_version: assoc.document_version.clone(),
            association_version: status.association_version.to_string(),
            instance_id: req.instance_id.clone(),
            execution_date: secs(status.date),
            status: status.status.clone(),
            detailed_status: status.detailed_status.clone(),
            execution_summary: status.summary.clone(),
            error_code: status.error_code.clone(),
            output_url: status
                .output_url
                .clone()
                .map(|url| InstanceAssociationOutputUrl { s3_output_url: S3OutputUrl { output_url: url } }),
            association_name: assoc.association_name.clone(),
        });
    }
    let (page, next_token) = page(out, req.max_results, &req.next_token)?;
    Ok(DescribeInstanceAssociationsStatusResponse { instance_association_status_infos: page, next_token })
}

/// DescribeEffectiveInstanceAssociations: the associations whose targets take in the node,
/// with the document each runs.
pub async fn describe_effective_instance_associations(
    ctx: Ctx,
    req: InstanceAssociationsRequest,
) -> Result<DescribeEffectiveInstanceAssociationsResponse, ApiError> {
    let node = require_node(&ctx, &req.instance_id).await?;
    let p = &ctx.principal;
    let prefix = format!("assoc/{}/{}/", p.account, p.region);
    let items = ctx.env.store.range(Start::At(&prefix), &prefix_end(&prefix), 10_000_000).await.map_err(store_fault)?;
    let mut matching = Vec::new();
    for item in items {
        let assoc: AssociationRecord = decode(&item.key, &item.value)?;
        let targets = as_node_targets(&*ctx.env.store, &p.account, &p.region, &assoc.targets).await?;
        if node_matches(&node, &targets) {
            matching.push(assoc);
        }
    }
    let (page, next_token) = page(matching, req.max_results, &req.next_token)?;
    let mut out = Vec::new();
    for assoc in page {
        let found = crate::documents::find(&ctx, &assoc.name).await;
        let content = match found {
            Ok(found) => {
                let number = crate::documents::select(&found.head, assoc.document_version.as_deref(), None)?;
                crate::documents::load_version(&ctx, &found.head, number).await?.content
            }
            Err(_) => String::new(),
        };
        out.push(InstanceAssociation {
            association_id: assoc.id.clone(),
            instance_id: node.instance_id.clone(),
            content,
            association_version: assoc.version.to_string(),
        });
    }
    Ok(DescribeEffectiveInstanceAssociationsResponse { associations: out, next_token })
}

/// UpdateAssociationStatus: sets a legacy (document + node) association's status on the
/// node by hand.
pub async fn update_association_status(
    ctx: Ctx,
    req: UpdateAssociationStatusRequest,
) -> Result<AssociationDescriptionResponse, ApiError> {
    require_node(&ctx, &req.instance_id).await?;
    let p = &ctx.principal;
    let prefix = format!("assoc/{}/{}/", p.account, p.region);
    let items = ctx.env.store.range(Start::At(&prefix), &prefix_end(&prefix), 10_000_000).await.map_err(store_fault)?;
    let (mut assoc, revision) = items
        .iter()
        .filter_map(|i| decode::<AssociationRecord>(&i.key, &i.value).ok().map(|a| (a, i.revision)))
        .find(|(a, _)| a.name == req.name && a.instance_id.as_deref() == Some(req.instance_id.as_str()))
        .ok_or_else(does_not_exist)?;
    let wanted = &req.association_status;
    let key = node_status_key(&p.account, &p.region, &assoc.id, &req.instance_id);
    let current: Option<NodeStatus> = match ctx.env.store.get(&key).await.map_err(store_fault)? {
        Some(item) => Some(decode(&key, &item.value)?),
        None => None,
    };
    if current.as_ref().is_some_and(|c| c.status == wanted.name && c.summary == wanted.message) {
        return Err(ApiError::new("StatusUnchanged", "The status is already what you asked for."));
    }
    let status = NodeStatus {
        association_id: assoc.id.clone(),
        association_version: assoc.version,
        instance_id: req.instance_id.clone(),
        execution_id: current.as_ref().map(|c| c.execution_id.clone()).unwrap_or_default(),
        command_id: current.as_ref().map(|c| c.command_id.clone()).unwrap_or_default(),
        date: (wanted.date * 1000.0) as i64,
        status: wanted.name.clone(),
        detailed_status: wanted.name.clone(),
        summary: wanted.message.clone(),
        error_code: None,
        output_url: None,
    };
    assoc.overview = Overview::of(std::iter::once(status.status.as_str()));
    let batch = vec![
        Op::put(&key, encode(&status)),
        Op::put(node_index_key(&p.account, &p.region, &req.instance_id, &assoc.id), b"{}".to_vec()),
        Op::put(association_key(&p.account, &p.region, &assoc.id), encode(&assoc)).if_revision(revision),
    ];
    ctx.env.store.write(batch).await.map_err(|e| match e {
        steward_store::StoreError::Conflict { .. } => {
            ApiError::new("TooManyUpdates", "The association changed meanwhile; try again.")
        }
        other => store_fault(other),
    })?;
    Ok(AssociationDescriptionResponse { association_description: assoc.description() })
}

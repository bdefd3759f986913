//! DeleteInventory and DescribeInventoryDeletions: a custom type's data goes from every
//! node (with its index entries), and its schema stays, is disabled, or goes.

use std::collections::BTreeMap;

use steward_api::ssm::inventory::*;
use steward_api::ApiError;
use steward_store::{prefix_end, Op, Start};

use super::records::{self, DeletionRecord, NodeTypes, SchemaRecord};
use crate::base::paging::page;
use crate::base::{decode, encode, store_fault, Ctx};

fn summary(counts: &BTreeMap<String, (i64, i64)>, done: bool) -> InventoryDeletionSummary {
    let summary_items: Vec<InventoryDeletionSummaryItem> = counts
        .iter()
        .map(|(version, (count, remaining))| InventoryDeletionSummaryItem {
            version: version.clone(),
            count: *count,
            remaining_count: if done { 0 } else { *remaining },
        })
        .collect();
    InventoryDeletionSummary {
        total_count: summary_items.iter().map(|i| i.count).sum(),
        remaining_count: summary_items.iter().map(|i| i.remaining_count).sum(),
        summary_items,
    }
}

/// DeleteInventory.
pub async fn delete_inventory(ctx: Ctx, req: DeleteInventoryRequest) -> Result<DeleteInventoryResponse, ApiError> {
    let t = &req.type_name;
    if !t.starts_with("Custom:") {
        return Err(ApiError::new(
            "InvalidDeleteInventoryParametersException",
            format!("Only custom inventory types can be deleted; {t} is kept by the service."),
        ));
    }
    let p = &ctx.principal;
    let root = records::root(&p.account, &p.region);
    let store = &ctx.env.store;
    let schema_key = records::schema_key(&root, t);
    let Some(schema_item) = store.get(&schema_key).await.map_err(store_fault)? else {
        return Err(ApiError::new("InvalidTypeNameException", format!("There is no custom inventory type {t}.")));
    };
    let token = req.client_token.clone().unwrap_or_default();
    if !token.is_empty() && !req.dry_run.unwrap_or(false) {
        let prefix = format!("{root}deletion/");
        let earlier = store.range(Start::At(&prefix), &prefix_end(&prefix), 10_000).await.map_err(store_fault)?;
        for item in earlier {
            let d: DeletionRecord = decode(&item.key, &item.value)?;
            if d.client_token == token {
                return Ok(DeleteInventoryResponse {
                    deletion_id: Some(d.id),
                    type_name: d.type_name,
                    deletion_summary: summary(&d.counts, false),
                });
            }
        }
    }
    // Every node that has the type, by its summary.
    let nodes_prefix = records::nodes_prefix(&root);
    let nodes =
        store.range(Start::At(&nodes_prefix), &prefix_end(&nodes_prefix), 10_000_000).await.map_err(store_fault)?;
    let mut counts: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let mut ahead = Vec::new();
    for item in nodes {
        let mut types: NodeTypes = decode(&item.key, &item.value)?;
        let Some(s) = types.types.remove(t) else { continue };
        let entry = counts.entry(s.schema_version).or_default();
        entry.0 += 1;
        entry.1 += 1;
        let node = &item.key[nodes_prefix.len()..];
        ahead.push(Op::delete(records::item_key(&root, node, t)));
        ahead.extend(super::sync::pending_mark(store.as_ref(), &p.account, &p.region, node).await?);
        ahead.push(if types.types.is_empty() {
            Op::delete(item.key.clone())
        } else {
            Op::put(item.key.clone(), encode(&types))
        });
    }
    if req.dry_run.unwrap_or(false) {
        return Ok(DeleteInventoryResponse {
            deletion_id: None,
            type_name: t.clone(),
            deletion_summary: summary(&counts, false),
        });
    }
    let index = records::type_index_prefix(&root, t);
    let index_keys = store.range(Start::At(&index), &prefix_end(&index), 10_000_000).await.map_err(store_fault)?;
    ahead.extend(index_keys.into_iter().map(|i| Op::delete(i.key)));
    let mut schema: SchemaRecord = decode(&schema_key, &schema_item.value)?;
    let schema_op = match req.schema_delete_option.as_deref() {
        Some("DeleteSchema") => Op::delete(schema_key),
        Some("DisableSchema") => {
            schema.disabled = true;
            Op::put(schema_key, encode(&schema))
        }
        Some(other) => {
            return Err(ApiError::new(
                "InvalidOptionException",
                format!("The delete inventory option {other} isn't valid."),
            ))
        }
        None => Op::put(schema_key, encode(&schema)),
    };
    let now = ctx.now();
    let id = uuid::Uuid::new_v4().to_string();
    let record = DeletionRecord {
        id: id.clone(),
        type_name: t.clone(),
        started: now,
        updated: now,
        status: "Complete".into(),
        counts: counts.clone(),
        client_token: token,
    };
    let commit =
        vec![schema_op.if_revision(schema_item.revision), Op::put(records::deletion_key(&root, &id), encode(&record))];
    crate::base::write_staged(store.as_ref(), ahead, commit).await.map_err(store_fault)?;
    // As SSM, the answer shows the counts at the start; DescribeInventoryDeletions the progress.
    Ok(DeleteInventoryResponse {
        deletion_id: Some(id),
        type_name: t.clone(),
        deletion_summary: summary(&counts, false),
    })
}

/// DescribeInventoryDeletions: newest first.
pub async fn describe_inventory_deletions(
    ctx: Ctx,
    req: DescribeInventoryDeletionsRequest,
) -> Result<DescribeInventoryDeletionsResponse, ApiError> {
    let p = &ctx.principal;
    let root = records::root(&p.account, &p.region);
    let prefix = format!("{root}deletion/");
    let items = ctx.env.store.range(Start::At(&prefix), &prefix_end(&prefix), 100_000).await.map_err(store_fault)?;
    let mut deletions = Vec::new();
    for item in items {
        deletions.push(decode::<DeletionRecord>(&item.key, &item.value)?);
    }
    if let Some(id) = &req.deletion_id {
        deletions.retain(|d| &d.id == id);
        if deletions.is_empty() {
            return Err(ApiError::new("InvalidDeletionIdException", format!("The deletion {id} doesn't exist.")));
        }
    }
    deletions.sort_by(|a, b| b.started.cmp(&a.started).then_with(|| a.id.cmp(&b.id)));
    let shown: Vec<InventoryDeletionStatusItem> = deletions
        .into_iter()
        .map(|d| InventoryDeletionStatusItem {
            deletion_summary: summary(&d.counts, d.status == "Complete"),
            deletion_id: d.id,
            type_name: d.type_name,
            deletion_start_time: d.started as f64 / 1000.0,
            last_status_message: if d.status == "Complete" {
                "Deletion is successful"
            } else {
                "The Delete is in progress"
            }
            .into(),
            last_status: d.status,
            last_status_update_time: d.updated as f64 / 1000.0,
        })
        .collect();
    let (inventory_deletions, next_token) = page(shown, req.max_results, &req.next_token)?;
    Ok(DescribeInventoryDeletionsResponse { inventory_deletions, next_token })
}

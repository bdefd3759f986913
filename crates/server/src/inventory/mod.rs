//! Inventory: what each node runs and is, by type (`AWS:Application`, `AWS:Network`, …,
//! `Custom:…`), reported by the node's `aws:softwareInventory` step or by PutInventory,
//! and the fleet-wide queries over it (GetInventory filters and aggregators,
//! ListInventoryEntries, GetInventorySchema, DeleteInventory).
//!
//! Store layout and the index: `records`.

mod aggregate;
mod delete;
mod filter;
mod put;
mod query;
mod records;
mod schema;
mod sync;
mod view;

use steward_api::ssm::inventory::{InventoryItem, PutInventoryRequest, PutInventoryResponse};
use steward_api::ApiError;
use steward_store::Op;

use crate::base::Ctx;

pub use delete::{delete_inventory, describe_inventory_deletions};
pub use filter::natural_order;
pub use query::{get_inventory, get_inventory_schema, list_inventory_entries};
pub use sync::{
    create_resource_data_sync, delete_resource_data_sync, export_pending, list_resource_data_sync,
    update_resource_data_sync, EXPORT_PASS,
};

/// PutInventory from an API caller, for a node of the caller's account.
pub async fn put_inventory(ctx: Ctx, req: PutInventoryRequest) -> Result<PutInventoryResponse, ApiError> {
    if crate::fleet::load_node(&ctx, &req.instance_id).await?.is_none() {
        return Err(ApiError::new(
            "InvalidInstanceId",
            format!("{} is not a managed node of this account.", req.instance_id),
        ));
    }
    put::store(&ctx, &req.instance_id, req.items).await?;
    Ok(PutInventoryResponse { message: String::new() })
}

/// A node's own report over its channel: `ctx` acts in the node's account and region, and
/// a node writes only its own inventory.
pub async fn put_from_node(ctx: &Ctx, node: &str, items: Vec<steward_protocol::InventoryItem>) -> Result<(), ApiError> {
    let items = items
        .into_iter()
        .map(|i| InventoryItem {
            type_name: i.type_name,
            schema_version: i.schema_version,
            capture_time: i.capture_time,
            content_hash: Some(i.content_hash),
            content: i.content,
            context: None,
        })
        .collect();
    put::store(ctx, node, items).await
}

/// The node's tags as its `AWS:Tag` inventory: the server knows them, the node does not.
/// Written when the node reports its inventory and when its tags change afterwards.
pub async fn put_tags(ctx: &Ctx, node: &str, tags: &[(String, String)]) -> Result<(), ApiError> {
    let now = steward_api::time::format_iso8601(ctx.now() / 1000);
    let content = tags
        .iter()
        .map(|(k, v)| [("Key".to_owned(), k.clone()), ("Value".to_owned(), v.clone())].into_iter().collect())
        .collect();
    let item = InventoryItem {
        type_name: "AWS:Tag".into(),
        schema_version: "1.0".into(),
        capture_time: now,
        content_hash: None,
        content: Some(content),
        context: None,
    };
    put::store(ctx, node, vec![item]).await
}

/// When a node's inventory was last captured (its AWS:InstanceInformation, else any
/// type's latest), in epoch ms; `None` before its first report.
pub async fn captured_at(ctx: &Ctx, node: &str) -> Result<Option<i64>, ApiError> {
    let p = &ctx.principal;
    let key = records::node_key(&records::root(&p.account, &p.region), node);
    let Some(item) = ctx.env.store.get(&key).await.map_err(crate::base::store_fault)? else { return Ok(None) };
    let types: records::NodeTypes = crate::base::decode(&key, &item.value)?;
    let when = |s: &records::TypeSummary| steward_api::time::parse_iso8601(&s.capture_time).map(|secs| secs * 1000);
    Ok(match types.types.get("AWS:InstanceInformation") {
        Some(info) => when(info),
        None => types.types.values().filter_map(when).max(),
    })
}

/// Deletes of everything inventory keeps about a node, for its deregistration.
pub async fn node_leftovers(ctx: &Ctx, node: &str) -> Result<Vec<Op>, ApiError> {
    let mut keys = query::node_keys(ctx, node).await?;
    // Files a sync wrote stay, as SSM keeps a removed node's; the record of them goes.
    keys.push(records::exported_key(&records::root(&ctx.principal.account, &ctx.principal.region), node));
    Ok(keys.into_iter().map(Op::delete).collect())
}

//! GetInventory, ListInventoryEntries and GetInventorySchema. Filters find their nodes in
//! the index (see `records`), and only the page's items are read.

use std::collections::BTreeMap;

use steward_api::ssm::inventory::*;
use steward_api::ApiError;

use super::filter::Operator;
use super::records::{self, ItemRecord, NodeTypes};
use super::schema;
use super::view::View;
use crate::base::paging::{decode_token, encode_token, page};
use crate::base::{decode, store_fault, Ctx};

/// Nodes few enough that reading their items answers a condition faster than the index.
const FEW_NODES: usize = 100;

/// GetInventory.
pub async fn get_inventory(ctx: Ctx, req: GetInventoryRequest) -> Result<GetInventoryResponse, ApiError> {
    let view = View::open(&ctx).await?;
    let aggregating = req.aggregators.as_ref().is_some_and(|a| !a.is_empty());
    let mut conditions = Vec::new();
    for f in req.filters.iter().flatten() {
        let c = view.condition(f)?;
        if c.operator == Operator::Exists && !aggregating {
            return Err(ApiError::new("InvalidFilter", "The Exists filter must be used with aggregators."));
        }
        conditions.push(c);
    }
    let result_type = match req.result_attributes.as_deref() {
        Some([one]) => {
            if !view.known_type(&one.type_name) {
                return Err(ApiError::new(
                    "InvalidResultAttributeException",
                    format!("The result attribute {} isn't a known inventory type.", one.type_name),
                ));
            }
            one.type_name.clone()
        }
        _ => "AWS:InstanceInformation".to_owned(),
    };
    let mut nodes = view.nodes().await?;
    // Equal and BeginWith read one range of the index each: they go first. A range
    // operator reads its attribute's whole range, unless few nodes are left to read.
    conditions.sort_by_key(|c| !matches!(c.operator, Operator::Equal | Operator::BeginWith));
    for c in &conditions {
        let keep = if nodes.len() <= FEW_NODES {
            view.matching_in_items(c, &nodes).await?
        } else {
            view.matching(c, &nodes).await?
        };
        nodes.retain(|n, _| keep.contains(n));
    }
    if let Some(aggregators) = req.aggregators.filter(|a| !a.is_empty()) {
        let mut entities = Vec::new();
        for a in &aggregators {
            entities.push(super::aggregate::run(&view, a, &nodes).await?);
        }
        return Ok(GetInventoryResponse { entities, next_token: None });
    }
    let prefix = "node:";
    let after = match &req.next_token {
        Some(t) => Some(decode_token(t, prefix)?[prefix.len()..].to_owned()),
        None => None,
    };
    let limit = req.max_results.unwrap_or(50).clamp(1, 50) as usize;
    let ids: Vec<&String> = nodes.keys().filter(|n| after.as_ref().is_none_or(|a| *n > a)).take(limit + 1).collect();
    let more = ids.len() > limit;
    let ids = &ids[..ids.len().min(limit)];
    let items = view.items(ids, &result_type).await?;
    let entities = ids
        .iter()
        .map(|id| {
            let mut data = BTreeMap::new();
            if let Some(item) = items.get(*id) {
                let summary = nodes[*id].types.get(&result_type);
                data.insert(result_type.clone(), shown(item, summary.map(|s| s.capture_time.clone())));
            }
            InventoryResultEntity { id: Some((*id).clone()), data }
        })
        .collect();
    let next_token = more.then(|| encode_token(&format!("{prefix}{}", ids.last().expect("a full page"))));
    Ok(GetInventoryResponse { entities, next_token })
}

/// An item as answers show it (the capture time of the latest report).
pub fn shown(item: &ItemRecord, capture_time: Option<String>) -> InventoryResultItem {
    InventoryResultItem {
        type_name: item.type_name.clone(),
        schema_version: item.schema_version.clone(),
        capture_time: Some(capture_time.unwrap_or_else(|| item.capture_time.clone())),
        content_hash: Some(item.content_hash.clone()),
        content: item.content.clone(),
    }
}

/// ListInventoryEntries.
pub async fn list_inventory_entries(
    ctx: Ctx,
    req: ListInventoryEntriesRequest,
) -> Result<ListInventoryEntriesResponse, ApiError> {
    if crate::fleet::load_node(&ctx, &req.instance_id).await?.is_none() {
        return Err(ApiError::new(
            "InvalidInstanceId",
            format!("{} is not a managed node of this account.", req.instance_id),
        ));
    }
    let view = View::open(&ctx).await?;
    if !view.known_type(&req.type_name) {
        return Err(ApiError::new("InvalidTypeNameException", format!("The type name {} isn't valid.", req.type_name)));
    }
    let mut conditions = Vec::new();
    for f in req.filters.iter().flatten() {
        let c = view.condition(f)?;
        if c.type_name != req.type_name {
            return Err(ApiError::new(
                "InvalidFilter",
                format!("The filter key {} is not of type {}.", f.key, req.type_name),
            ));
        }
        conditions.push(c);
    }
    let node = req.instance_id.clone();
    let item = view.items(&[&node], &req.type_name).await?.remove(&node);
    let capture = match &item {
        Some(_) => {
            let key = records::node_key(&view.root, &node);
            let found = ctx.env.store.get(&key).await.map_err(store_fault)?;
            found
                .map(|f| decode::<NodeTypes>(&key, &f.value))
                .transpose()?
                .and_then(|t| t.types.get(&req.type_name).map(|s| s.capture_time.clone()))
        }
        None => None,
    };
    let (schema_version, capture_time, entries) = match item {
        Some(i) => {
            let capture = capture.unwrap_or(i.capture_time);
            let entries: Vec<InventoryEntry> =
                i.content.into_iter().filter(|e| conditions.iter().all(|c| c.accepts_entry(e))).collect();
            (Some(i.schema_version), Some(capture), entries)
        }
        None => (None, None, Vec::new()),
    };
    let (entries, next_token) = page(entries, Some(req.max_results.unwrap_or(50).clamp(1, 50)), &req.next_token)?;
    Ok(ListInventoryEntriesResponse {
        type_name: req.type_name,
        instance_id: req.instance_id,
        schema_version,
        capture_time,
        entries,
        next_token,
    })
}

/// GetInventorySchema: built-in types, then custom ones; a TypeName narrows by prefix.
pub async fn get_inventory_schema(
    ctx: Ctx,
    req: GetInventorySchemaRequest,
) -> Result<GetInventorySchemaResponse, ApiError> {
    let view = View::open(&ctx).await?;
    let aggregator = req.aggregator.unwrap_or(false);
    let wanted = req.type_name.unwrap_or_default();
    if req.sub_type.unwrap_or(false) {
        // No type here has sub-types (SSM's are compliance items'): nothing to list.
        return Ok(GetInventorySchemaResponse { schemas: Vec::new(), next_token: None });
    }
    let mut schemas: Vec<InventoryItemSchema> = schema::BUILT_IN
        .iter()
        .filter(|b| b.type_name.starts_with(&wanted))
        .map(|b| schema::shown(b, aggregator))
        .collect();
    schemas.extend(view.custom.values().filter(|s| s.type_name.starts_with(&wanted)).map(schema::shown_custom));
    schemas.retain(|s| !s.attributes.is_empty());
    if schemas.is_empty() && !wanted.is_empty() && !wanted.ends_with(':') {
        return Err(ApiError::new("InvalidTypeNameException", format!("The type name {wanted} isn't valid.")));
    }
    let (schemas, next_token) = page(schemas, Some(req.max_results.unwrap_or(50).clamp(1, 200)), &req.next_token)?;
    Ok(GetInventorySchemaResponse { schemas, next_token })
}

/// The `node/` summaries and item keys of one node, for its removal.
pub async fn node_keys(ctx: &Ctx, node: &str) -> Result<Vec<String>, ApiError> {
    let root = records::root(&ctx.principal.account, &ctx.principal.region);
    let key = records::node_key(&root, node);
    let Some(found) = ctx.env.store.get(&key).await.map_err(store_fault)? else { return Ok(Vec::new()) };
    let types: NodeTypes = decode(&key, &found.value)?;
    let mut keys = vec![key];
    for type_name in types.types.keys() {
        let item_key = records::item_key(&root, node, type_name);
        if let Some(item) = ctx.env.store.get(&item_key).await.map_err(store_fault)? {
            let record: ItemRecord = decode(&item_key, &item.value)?;
            keys.extend(super::put::index_keys(&root, node, type_name, &record.content).0);
        }
        keys.push(item_key);
    }
    Ok(keys)
}

//! PutInventory: a node's types replace what it had of them, with their index entries, in
//! one batch. Everything is checked before anything is written: a request is stored whole
//! or not at all.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};
use steward_api::ssm::inventory::{InventoryEntry, InventoryItem};
use steward_api::ApiError;
use steward_store::{Expect, Op};

use super::records::{self, ItemRecord, NodeTypes, SchemaRecord, TypeSummary};
use super::schema;
use crate::base::{decode, encode, store_fault, Ctx};

/// Most custom types an account may have, as SSM.
const MAX_CUSTOM_TYPES: usize = 20;
/// Largest custom item (its entries as JSON), as SSM.
const MAX_CUSTOM_ITEM: usize = 200 << 10;
/// Largest item of any type, as SSM.
const MAX_ITEM: usize = 1 << 20;
/// Largest request, all items together, as SSM.
const MAX_REQUEST: usize = 1 << 20;
/// Longest value indexed; a longer one marks its node's type for a read of the item.
pub const MAX_INDEXED_VALUE: usize = 200;

fn content_error(code: &'static str, type_name: &str, message: String) -> ApiError {
    ApiError::new(code, format!("{type_name}: {message}"))
}

/// SHA-256 (hex) of entries as stored, for items sent without a hash.
pub fn hash_of(content: &[InventoryEntry]) -> String {
    hex::encode(Sha256::digest(serde_json::to_vec(content).expect("entries serialise")))
}

fn valid_capture_time(t: &str) -> bool {
    let b = t.as_bytes();
    b.len() == 20
        && t.starts_with("20")
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'Z'
        && [2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18].iter().all(|&i| b[i].is_ascii_digit())
}

fn valid_schema_version(v: &str) -> bool {
    let Some((major, minor)) = v.split_once('.') else { return false };
    [major, minor].iter().all(|p| (1..=6).contains(&p.len()) && p.bytes().all(|c| c.is_ascii_digit()))
}

/// The model's rules, for items that did not come through the API (the agent's channel).
fn check_shape(items: &[InventoryItem]) -> Result<(), ApiError> {
    if items.is_empty() || items.len() > 30 {
        return Err(ApiError::validation("Items must hold 1 to 30 items."));
    }
    for item in items {
        let t = &item.type_name;
        if t.is_empty() || t.len() > 100 || !(t.starts_with("AWS:") || t.starts_with("Custom:")) {
            return Err(ApiError::new("InvalidTypeNameException", format!("The type name {t} isn't valid.")));
        }
        if !valid_schema_version(&item.schema_version) {
            return Err(ApiError::validation(format!("{t}: SchemaVersion must look like 1.0.")));
        }
        if !valid_capture_time(&item.capture_time) {
            return Err(ApiError::validation(format!("{t}: CaptureTime must look like 2026-12-07T10:00:00Z.")));
        }
    }
    Ok(())
}

fn check_content(type_name: &str, content: &[InventoryEntry]) -> Result<(), ApiError> {
    let invalid = |m: String| content_error("InvalidItemContentException", type_name, m);
    if content.len() > 10_000 {
        return Err(invalid("an item holds at most 10,000 entries.".into()));
    }
    let known = schema::built_in(type_name);
    for entry in content {
        if entry.len() > 50 {
            return Err(invalid("an entry holds at most 50 attributes.".into()));
        }
        for (name, value) in entry {
            if name.is_empty() || name.len() > 64 {
                return Err(invalid(format!("the attribute name {name:?} must be 1 to 64 characters.")));
            }
            if value.chars().count() > 4096 {
                return Err(invalid(format!("the value of {name} is longer than 4096 characters.")));
            }
            if let Some(b) = known {
                if !b.attributes.iter().any(|(a, _, _)| a == name) {
                    return Err(invalid(format!("{name} is not an attribute of {type_name}.")));
                }
            }
        }
    }
    Ok(())
}

/// The index keys one item needs, and whether some value was too long to index.
pub fn index_keys(root: &str, node: &str, type_name: &str, content: &[InventoryEntry]) -> (BTreeSet<String>, bool) {
    let mut keys = BTreeSet::new();
    let mut unindexed = false;
    for entry in content {
        for (attribute, value) in entry {
            if value.is_empty() || !schema::indexed(type_name, attribute) {
                continue;
            }
            if value.len() > MAX_INDEXED_VALUE {
                unindexed = true;
                continue;
            }
            keys.insert(records::index_key(root, type_name, attribute, value, node));
        }
    }
    (keys, unindexed)
}

/// Stores `items` for `node`, which the caller has established is a node of the account.
pub async fn store(ctx: &Ctx, node: &str, items: Vec<InventoryItem>) -> Result<(), ApiError> {
    check_shape(&items)?;
    let total: usize =
        items.iter().map(|i| i.content.as_ref().map_or(0, |c| serde_json::to_vec(c).map_or(0, |b| b.len()))).sum();
    if total > MAX_REQUEST {
        return Err(ApiError::new(
            "TotalSizeLimitExceededException",
            format!(
                "The size of inventory data ({} KB) has exceeded the total size limit of 1024 KB for the resource.",
                total >> 10
            ),
        ));
    }
    let mut seen = BTreeSet::new();
    for item in &items {
        let t = &item.type_name;
        if !seen.insert(t.clone()) {
            return Err(content_error(
                "InvalidItemContentException",
                t,
                "the type appears twice in the request.".into(),
            ));
        }
        if item.context.as_ref().is_some_and(|c| !c.is_empty()) {
            return Err(content_error(
                "UnsupportedInventoryItemContextException",
                t,
                "the Context attribute is only allowed for types such as AWS:ComplianceItem.".into(),
            ));
        }
        if t.starts_with("AWS:") {
            let Some(b) = schema::built_in(t) else {
                return Err(ApiError::new("InvalidTypeNameException", format!("The type name {t} isn't valid.")));
            };
            if !b.versions.contains(&item.schema_version.as_str()) {
                return Err(ApiError::new(
                    "UnsupportedInventorySchemaVersionException",
                    format!(
                        "{t}: schema version {} is not supported; supported: {}.",
                        item.schema_version,
                        b.versions.join(", ")
                    ),
                ));
            }
        } else if !t.starts_with("Custom:") || t.len() == "Custom:".len() {
            return Err(ApiError::new("InvalidTypeNameException", format!("The type name {t} isn't valid.")));
        }
        if let Some(content) = &item.content {
            check_content(t, content)?;
            let size = serde_json::to_vec(content).map_or(0, |b| b.len());
            let limit = if t.starts_with("Custom:") { MAX_CUSTOM_ITEM } else { MAX_ITEM };
            if size > limit {
                return Err(content_error(
                    "ItemSizeLimitExceededException",
                    t,
                    format!("the item is {} KB; the limit is {} KB.", size >> 10, limit >> 10),
                ));
            }
        } else if item.content_hash.as_deref().unwrap_or_default().is_empty() {
            return Err(content_error(
                "InvalidItemContentException",
                t,
                "an item needs Content or a ContentHash.".into(),
            ));
        }
    }

    let p = &ctx.principal;
    let root = records::root(&p.account, &p.region);
    let store = &ctx.env.store;
    let node_key = records::node_key(&root, node);
    let (mut types, node_revision) = match store.get(&node_key).await.map_err(store_fault)? {
        Some(found) => (decode::<NodeTypes>(&node_key, &found.value)?, Some(found.revision)),
        None => (NodeTypes::default(), None),
    };
    let mut batch = Vec::new();
    let mut schemas = custom_schemas(ctx, &root, &items).await?;
    for item in items {
        let t = item.type_name.clone();
        let stored = types.types.get(&t).cloned();
        let Some(content) = item.content else {
            // Sent by hash alone: it must be what is stored.
            let hash = item.content_hash.unwrap_or_default();
            match stored {
                Some(s) if s.content_hash == hash => {
                    let summary = TypeSummary { capture_time: item.capture_time, ..s };
                    types.types.insert(t, summary);
                    continue;
                }
                _ => {
                    return Err(content_error(
                        "ItemContentMismatchException",
                        &t,
                        "the content hash does not match what is stored; send the item with its content.".into(),
                    ))
                }
            }
        };
        if t.starts_with("Custom:") && !admit_custom(&mut schemas, &root, &t, &item.schema_version, &content)? {
            // A version at or below a disabled one is dropped, as SSM drops it.
            continue;
        }
        let hash = item.content_hash.filter(|h| !h.is_empty()).unwrap_or_else(|| hash_of(&content));
        let (new_keys, unindexed) = index_keys(&root, node, &t, &content);
        if stored.as_ref().is_some_and(|s| s.content_hash == hash && s.schema_version == item.schema_version) {
            let summary = TypeSummary { capture_time: item.capture_time, ..stored.expect("checked") };
            types.types.insert(t, summary);
            continue;
        }
        let item_key = records::item_key(&root, node, &t);
        let old_keys = match stored {
            Some(_) => match store.get(&item_key).await.map_err(store_fault)? {
                Some(old) => index_keys(&root, node, &t, &decode::<ItemRecord>(&item_key, &old.value)?.content).0,
                None => BTreeSet::new(),
            },
            None => BTreeSet::new(),
        };
        batch.extend(old_keys.difference(&new_keys).map(|k| Op::delete(k.clone())));
        batch.extend(new_keys.difference(&old_keys).map(|k| Op::put(k.clone(), Vec::new())));
        let record = ItemRecord {
            type_name: t.clone(),
            schema_version: item.schema_version.clone(),
            capture_time: item.capture_time.clone(),
            content_hash: hash.clone(),
            content,
        };
        batch.push(Op::put(item_key, encode(&record)));
        types.types.insert(
            t,
            TypeSummary {
                schema_version: item.schema_version,
                capture_time: item.capture_time,
                content_hash: hash,
                unindexed,
            },
        );
    }
    if !batch.is_empty() {
        batch.extend(super::sync::pending_mark(store.as_ref(), &p.account, &p.region, node).await?);
    }
    for (key, (schema, revision, changed)) in schemas {
        if changed {
            let op = Op::put(key, encode(&schema));
            batch.push(match revision {
                Some(r) => op.if_revision(r),
                None => op.if_absent(),
            });
        }
    }
    let node_op = Op::put(node_key, encode(&types));
    // One writer of a node's inventory at a time: the loser is told to retry.
    batch.push(node_op.expecting(node_revision.map_or(Expect::Absent, Expect::Revision)));
    crate::base::write_staged(store.as_ref(), Vec::new(), batch).await.map_err(store_fault)?;
    Ok(())
}

/// Key → (schema, revision, changed) of the custom types the items name.
type Schemas = BTreeMap<String, (SchemaRecord, Option<i64>, bool)>;

async fn custom_schemas(ctx: &Ctx, root: &str, items: &[InventoryItem]) -> Result<Schemas, ApiError> {
    let custom: Vec<String> = items
        .iter()
        .filter(|i| i.type_name.starts_with("Custom:"))
        .map(|i| records::schema_key(root, &i.type_name))
        .collect();
    let mut out = Schemas::new();
    if custom.is_empty() {
        return Ok(out);
    }
    let found = ctx.env.store.get_many(&custom).await.map_err(store_fault)?;
    let mut new_types = 0;
    for (key, item) in custom.iter().zip(found) {
        match item {
            Some(i) => {
                out.insert(key.clone(), (decode(key, &i.value)?, Some(i.revision), false));
            }
            None => {
                new_types += 1;
                let blank = SchemaRecord {
                    type_name: String::new(),
                    version: String::new(),
                    attributes: BTreeSet::new(),
                    disabled: false,
                };
                out.insert(key.clone(), (blank, None, false));
            }
        }
    }
    if new_types > 0 {
        let prefix = format!("{root}schema/");
        let existing = ctx
            .env
            .store
            .range(steward_store::Start::At(&prefix), &steward_store::prefix_end(&prefix), MAX_CUSTOM_TYPES + 1)
            .await
            .map_err(store_fault)?;
        if existing.len() + new_types > MAX_CUSTOM_TYPES {
            return Err(ApiError::new(
                "CustomSchemaCountLimitExceededException",
                format!("An account may have at most {MAX_CUSTOM_TYPES} custom inventory types. Delete one or more custom schemas and try again."),
            ));
        }
    }
    Ok(out)
}

/// Checks a custom item against its schema and grows the schema; false when the item's
/// version is disabled.
fn admit_custom(
    schemas: &mut Schemas,
    root: &str,
    type_name: &str,
    version: &str,
    content: &[InventoryEntry],
) -> Result<bool, ApiError> {
    let attributes: BTreeSet<String> = content.iter().flat_map(|e| e.keys().cloned()).collect();
    let Some((schema, _, changed)) = schemas.get_mut(&records::schema_key(root, type_name)) else {
        return Err(ApiError::internal());
    };
    if schema.type_name.is_empty() {
        *schema = SchemaRecord {
            type_name: type_name.into(),
            version: version.into(),
            attributes: BTreeSet::new(),
            disabled: false,
        };
        *changed = true;
    }
    if schema.disabled {
        if schema::version_order(version, &schema.version).is_le() {
            return Ok(false);
        }
        schema.disabled = false;
        *changed = true;
    }
    for a in &attributes {
        if let Some(other) = schema.attributes.iter().find(|s| s.eq_ignore_ascii_case(a) && *s != a) {
            return Err(content_error(
                "InvalidItemContentException",
                type_name,
                format!("the attribute {a} differs only in case from {other}, which the type already has."),
            ));
        }
    }
    let grown: BTreeSet<String> = schema.attributes.union(&attributes).cloned().collect();
    if grown.len() > 50 {
        return Err(content_error(
            "InvalidItemContentException",
            type_name,
            "a custom type has at most 50 attributes.".into(),
        ));
    }
    if grown != schema.attributes {
        schema.attributes = grown;
        *changed = true;
    }
    if schema::version_order(version, &schema.version).is_gt() {
        schema.version = version.into();
        *changed = true;
    }
    Ok(true)
}

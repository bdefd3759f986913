//! What inventory keeps, and under which keys.
//!
//! Under `inventory/<account>/<region>/`:
//! - `item/<node>/<type>` → [`ItemRecord`]: one node's whole content of one type.
//! - `node/<node>` → [`NodeTypes`]: the types a node has, with their hashes (one read
//!   answers "which types, unchanged?"; a scan of `node/` lists the nodes with inventory).
//!   Its revision orders writes of one node's inventory.
//! - `index/<type>/<attribute>/<value>/<node>` → empty: the node has an entry of the type
//!   with that value. Written in the same batch as the item. Equal and BeginWith filters
//!   read one value's or one prefix's range, other operators and aggregations one
//!   attribute's range — never other attributes', types' or nodes' entries.
//! - `schema/<type>` → [`SchemaRecord`] of a custom type (built-in ones live in code).
//! - `deletion/<id>` → [`DeletionRecord`].
//! - `sync/<name>` → `sync::SyncRecord`; `exported/<node>` → the types whose files a
//!   resource data sync last wrote for the node.
//!
//! Parts of keys are escaped (`%` and `/`), which keeps `/` a separator and keeps the
//! prefix order of values, so BeginWith stays one range.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use steward_api::ssm::inventory::InventoryEntry;

/// One node's content of one type.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ItemRecord {
    /// The type.
    pub type_name: String,
    /// Its schema version.
    pub schema_version: String,
    /// When gathered.
    pub capture_time: String,
    /// The hash the sender gave (or ours).
    pub content_hash: String,
    /// Entries.
    pub content: Vec<InventoryEntry>,
}

/// What a node has of one type, without the content.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TypeSummary {
    /// Schema version.
    pub schema_version: String,
    /// When gathered.
    pub capture_time: String,
    /// Content hash.
    pub content_hash: String,
    /// Some value was too long to index: filters read this node's item instead.
    #[serde(default)]
    pub unindexed: bool,
}

/// The types of one node.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NodeTypes {
    /// Type → summary.
    pub types: BTreeMap<String, TypeSummary>,
}

/// A custom type's schema, as its items made it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SchemaRecord {
    /// `Custom:…`.
    pub type_name: String,
    /// The highest schema version stored.
    pub version: String,
    /// Attribute names seen.
    pub attributes: BTreeSet<String>,
    /// DisableSchema: items of this version and older are refused until a newer one comes.
    #[serde(default)]
    pub disabled: bool,
}

/// A DeleteInventory run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeletionRecord {
    /// Id.
    pub id: String,
    /// The type.
    pub type_name: String,
    /// Epoch ms.
    pub started: i64,
    /// Epoch ms.
    pub updated: i64,
    /// InProgress or Complete.
    pub status: String,
    /// Schema version → (items at the start, items left).
    pub counts: BTreeMap<String, (i64, i64)>,
    /// The idempotency token given.
    #[serde(default)]
    pub client_token: String,
}

/// Escapes `%` and `/` so a text is one key part and keeps its prefixes.
pub fn escape(part: &str) -> String {
    part.replace('%', "%25").replace('/', "%2F")
}

/// The text an escaped key part stands for.
pub fn unescape(part: &str) -> String {
    part.replace("%2F", "/").replace("%25", "%")
}

/// Everything inventory keeps for an account and region.
pub fn root(account: &str, region: &str) -> String {
    format!("inventory/{account}/{region}/")
}

/// Key of one node's item of one type.
pub fn item_key(root: &str, node: &str, type_name: &str) -> String {
    format!("{root}item/{node}/{}", escape(type_name))
}

/// Key of a node's type list.
pub fn node_key(root: &str, node: &str) -> String {
    format!("{root}node/{node}")
}

/// Prefix of the node lists.
pub fn nodes_prefix(root: &str) -> String {
    format!("{root}node/")
}

/// Prefix of every index key of one attribute of a type.
pub fn attribute_prefix(root: &str, type_name: &str, attribute: &str) -> String {
    format!("{root}index/{}/{}/", escape(type_name), escape(attribute))
}

/// Prefix of the index keys of one type.
pub fn type_index_prefix(root: &str, type_name: &str) -> String {
    format!("{root}index/{}/", escape(type_name))
}

/// Index key: the node has `value` for `attribute` in some entry of the type.
pub fn index_key(root: &str, type_name: &str, attribute: &str, value: &str, node: &str) -> String {
    format!("{}{}/{node}", attribute_prefix(root, type_name, attribute), escape(value))
}

/// The value and node an index key under `attribute_prefix` names.
pub fn parse_index_key<'a>(key: &'a str, attribute_prefix: &str) -> Option<(String, &'a str)> {
    let rest = key.get(attribute_prefix.len()..)?;
    let (value, node) = rest.rsplit_once('/')?;
    Some((unescape(value), node))
}

/// Key of a custom type's schema.
pub fn schema_key(root: &str, type_name: &str) -> String {
    format!("{root}schema/{}", escape(type_name))
}

/// Prefix of the account's resource data syncs.
pub fn sync_prefix(root: &str) -> String {
    format!("{root}sync/")
}

/// Key of a resource data sync.
pub fn sync_key(root: &str, name: &str) -> String {
    format!("{}{}", sync_prefix(root), escape(name))
}

/// Key of the types last exported for a node (their files go when the types go).
pub fn exported_key(root: &str, node: &str) -> String {
    format!("{root}exported/{node}")
}

/// Key of a deletion.
pub fn deletion_key(root: &str, id: &str) -> String {
    format!("{root}deletion/{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_parts_round_trip_and_keep_prefixes() {
        let v = "a/b%c";
        assert_eq!(unescape(&escape(v)), v);
        assert!(escape("lib/ssl3").starts_with(&escape("lib/ss")));
        let prefix = attribute_prefix("inventory/1/r/", "Custom:A/B", "Path");
        let key = index_key("inventory/1/r/", "Custom:A/B", "Path", "/etc/x", "mi-1");
        assert_eq!(parse_index_key(&key, &prefix), Some(("/etc/x".to_owned(), "mi-1")));
    }
}

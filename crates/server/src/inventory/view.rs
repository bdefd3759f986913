//! What queries read: the account's inventory root, its custom schemas, the nodes with
//! inventory, items by node, and the nodes meeting a condition — from the index where it
//! answers, from the items where it does not.

use std::collections::{BTreeMap, BTreeSet};

use steward_api::ssm::inventory::InventoryFilter;
use steward_api::ApiError;
use steward_store::{prefix_end, Start};

use super::filter::{self, Condition, Operator};
use super::records::{self, ItemRecord, NodeTypes, SchemaRecord};
use super::schema;
use crate::base::{decode, store_fault, Ctx};

/// Keys read per store call when scanning.
const SCAN: usize = 10_000;

/// What a query reads: the account's inventory root and its custom schemas.
pub(super) struct View<'a> {
    pub(super) ctx: &'a Ctx,
    pub(super) root: String,
    pub(super) custom: BTreeMap<String, SchemaRecord>,
}

impl<'a> View<'a> {
    pub(super) async fn open(ctx: &'a Ctx) -> Result<View<'a>, ApiError> {
        let root = records::root(&ctx.principal.account, &ctx.principal.region);
        let prefix = format!("{root}schema/");
        let mut custom = BTreeMap::new();
        for item in scan(ctx, &prefix).await? {
            let s: SchemaRecord = decode(&item.key, &item.value)?;
            custom.insert(s.type_name.clone(), s);
        }
        Ok(View { ctx, root, custom })
    }

    pub(super) fn known_type(&self, type_name: &str) -> bool {
        schema::built_in(type_name).is_some() || self.custom.contains_key(type_name)
    }

    pub(super) fn condition(&self, f: &InventoryFilter) -> Result<Condition, ApiError> {
        filter::parse(f, |t| self.custom.get(t).map(|s| s.attributes.iter().cloned().collect()))
    }

    /// The attributes of a type (built-in or custom), None when there is no such type.
    pub(super) fn attributes(&self, type_name: &str) -> Option<Vec<String>> {
        match schema::built_in(type_name) {
            Some(b) => Some(b.attributes.iter().map(|(a, _, _)| (*a).to_owned()).collect()),
            None => self.custom.get(type_name).map(|s| s.attributes.iter().cloned().collect()),
        }
    }

    /// (value, node) of every index key of an attribute.
    pub(super) async fn attribute_values(
        &self,
        type_name: &str,
        attribute: &str,
    ) -> Result<Vec<(String, String)>, ApiError> {
        let prefix = records::attribute_prefix(&self.root, type_name, attribute);
        let items = scan(self.ctx, &prefix).await?;
        Ok(items
            .iter()
            .filter_map(|i| records::parse_index_key(&i.key, &prefix))
            .map(|(v, n)| (v, n.to_owned()))
            .collect())
    }

    /// Every node with inventory, with its types.
    pub(super) async fn nodes(&self) -> Result<BTreeMap<String, NodeTypes>, ApiError> {
        let prefix = records::nodes_prefix(&self.root);
        let mut out = BTreeMap::new();
        for item in scan(self.ctx, &prefix).await? {
            out.insert(item.key[prefix.len()..].to_owned(), decode(&item.key, &item.value)?);
        }
        Ok(out)
    }

    pub(super) async fn items(
        &self,
        nodes: &[&String],
        type_name: &str,
    ) -> Result<BTreeMap<String, ItemRecord>, ApiError> {
        let keys: Vec<String> = nodes.iter().map(|n| records::item_key(&self.root, n, type_name)).collect();
        let mut out = BTreeMap::new();
        for chunk in keys.chunks(500) {
            for item in self.ctx.env.store.get_many(chunk).await.map_err(store_fault)?.into_iter().flatten() {
                let record: ItemRecord = decode(&item.key, &item.value)?;
                let node = item.key.strip_prefix(&format!("{}item/", self.root)).and_then(|r| r.split('/').next());
                out.insert(node.unwrap_or_default().to_owned(), record);
            }
        }
        Ok(out)
    }

    /// The nodes (among `nodes`) with an entry meeting `c`, from their items alone.
    pub(super) async fn matching_in_items(
        &self,
        c: &Condition,
        nodes: &BTreeMap<String, NodeTypes>,
    ) -> Result<BTreeSet<String>, ApiError> {
        let having: Vec<&String> =
            nodes.iter().filter(|(_, t)| t.types.contains_key(&c.type_name)).map(|(n, _)| n).collect();
        let items = self.items(&having, &c.type_name).await?;
        Ok(items.into_iter().filter(|(_, i)| i.content.iter().any(|e| c.accepts_entry(e))).map(|(n, _)| n).collect())
    }

    /// The nodes (among `nodes`) with an entry meeting `c`.
    pub(super) async fn matching(
        &self,
        c: &Condition,
        nodes: &BTreeMap<String, NodeTypes>,
    ) -> Result<BTreeSet<String>, ApiError> {
        let has_type = |n: &NodeTypes| n.types.contains_key(&c.type_name);
        let mut out = BTreeSet::new();
        // Nodes the index cannot answer for: the attribute is not indexed, or a value was too long.
        let to_read: Vec<&String> = nodes
            .iter()
            .filter(|(_, t)| has_type(t) && (!c.indexed() || t.types[&c.type_name].unindexed))
            .map(|(n, _)| n)
            .collect();
        for (node, item) in self.items(&to_read, &c.type_name).await? {
            if item.content.iter().any(|e| c.accepts_entry(e)) {
                out.insert(node);
            }
        }
        if !c.indexed() {
            return Ok(out);
        }
        let attribute = records::attribute_prefix(&self.root, &c.type_name, &c.attribute);
        let ranges: Vec<(String, String)> = match c.operator {
            Operator::Equal => c
                .values
                .iter()
                .map(|v| {
                    let p = format!("{attribute}{}/", records::escape(v));
                    let end = prefix_end(&p);
                    (p, end)
                })
                .collect(),
            Operator::BeginWith => c
                .values
                .iter()
                .map(|v| {
                    let p = format!("{attribute}{}", records::escape(v));
                    let end = prefix_end(&p);
                    (p, end)
                })
                .collect(),
            _ => vec![(attribute.clone(), prefix_end(&attribute))],
        };
        for (start, end) in ranges {
            for item in scan_range(self.ctx, &start, &end).await? {
                if let Some((value, node)) = records::parse_index_key(&item.key, &attribute) {
                    if nodes.contains_key(node) && c.accepts(&value) {
                        out.insert(node.to_owned());
                    }
                }
            }
        }
        Ok(out)
    }
}

async fn scan(ctx: &Ctx, prefix: &str) -> Result<Vec<steward_store::Item>, ApiError> {
    scan_range(ctx, prefix, &prefix_end(prefix)).await
}

async fn scan_range(ctx: &Ctx, start: &str, end: &str) -> Result<Vec<steward_store::Item>, ApiError> {
    let mut out: Vec<steward_store::Item> = Vec::new();
    loop {
        let from = out.last().map(|i| i.key.clone());
        let begin = match &from {
            Some(k) => Start::After(k),
            None => Start::At(start),
        };
        let batch = ctx.env.store.range(begin, end, SCAN).await.map_err(store_fault)?;
        let done = batch.len() < SCAN;
        out.extend(batch);
        if done {
            return Ok(out);
        }
    }
}

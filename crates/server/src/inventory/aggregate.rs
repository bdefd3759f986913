//! GetInventory's aggregators: counts of nodes per value of an attribute (from the index
//! alone when it is one level deep), per combination of values along nested aggregators
//! (from the items), and matching/not-matching counts of named groups.

use std::collections::{BTreeMap, BTreeSet};

use steward_api::ssm::inventory::{InventoryAggregator, InventoryEntry, InventoryResultEntity, InventoryResultItem};
use steward_api::ApiError;

use super::filter::{self, Operator};
use super::records::NodeTypes;
use super::schema;
use super::view::View;

fn invalid(message: String) -> ApiError {
    ApiError::new("InvalidAggregatorException", message)
}

/// `TYPE.Attribute` of an expression, checked against the schemas.
fn expression(view: &View<'_>, text: &str) -> Result<(String, String), ApiError> {
    let Some((type_name, attribute)) = text.rsplit_once('.') else {
        return Err(invalid(format!("The aggregator expression {text} isn't valid; use TYPE.Attribute.")));
    };
    let Some(attributes) = view.attributes(type_name) else {
        return Err(invalid(format!("The aggregator expression {text} names an unknown type.")));
    };
    if !attributes.iter().any(|a| a == attribute) || !schema::indexed(type_name, attribute) {
        return Err(invalid(format!("{attribute} of {type_name} cannot be aggregated.")));
    }
    Ok((type_name.to_owned(), attribute.to_owned()))
}

/// Every chain of expressions from this aggregator to a leaf of its nested ones.
fn chains(view: &View<'_>, a: &InventoryAggregator, depth: usize) -> Result<Vec<Vec<(String, String)>>, ApiError> {
    if depth > 10 {
        return Err(invalid("Aggregators nest at most 10 deep.".into()));
    }
    let Some(text) = a.expression.as_deref() else {
        return Err(invalid("A nested aggregator needs an Expression.".into()));
    };
    let head = expression(view, text)?;
    let nested = a.aggregators.as_deref().unwrap_or_default();
    if nested.is_empty() {
        return Ok(vec![vec![head]]);
    }
    let mut out = Vec::new();
    for n in nested {
        for mut tail in chains(view, n, depth + 1)? {
            tail.insert(0, head.clone());
            out.push(tail);
        }
    }
    Ok(out)
}

fn item(type_name: &str, content: Vec<InventoryEntry>) -> InventoryResultItem {
    InventoryResultItem {
        type_name: type_name.to_owned(),
        schema_version: "1.0".into(),
        capture_time: None,
        content_hash: None,
        content,
    }
}

/// One aggregator's answer, as one entity.
pub(super) async fn run(
    view: &View<'_>,
    a: &InventoryAggregator,
    nodes: &BTreeMap<String, NodeTypes>,
) -> Result<InventoryResultEntity, ApiError> {
    if let Some(groups) = a.groups.as_deref().filter(|g| !g.is_empty()) {
        let mut data = BTreeMap::new();
        for g in groups {
            let mut members: BTreeSet<&String> = nodes.keys().collect();
            for f in &g.filters {
                let keep = if f.key == "TypeName" {
                    if filter::operator(f.kind.as_deref())? != Operator::Exists {
                        return Err(ApiError::new(
                            "InvalidInventoryGroupException",
                            "A TypeName filter of a group must be of type Exists.",
                        ));
                    }
                    nodes
                        .iter()
                        .filter(|(_, t)| f.values.iter().any(|v| t.types.contains_key(v)))
                        .map(|(n, _)| n.clone())
                        .collect()
                } else {
                    let c = view
                        .condition(f)
                        .map_err(|e| ApiError::new("InvalidInventoryGroupException", e.message().to_owned()))?;
                    view.matching(&c, nodes).await?
                };
                members.retain(|n| keep.contains(*n));
            }
            let count = |key: &str, n: usize| InventoryEntry::from([(key.to_owned(), n.to_string())]);
            let content =
                vec![count("notMatchingCount", nodes.len() - members.len()), count("matchingCount", members.len())];
            data.insert(g.name.clone(), item(&g.name, content));
        }
        return Ok(InventoryResultEntity { id: None, data });
    }
    let chains = chains(view, a, 0)?;
    let outer = chains[0][0].0.clone();
    let mut rows: Vec<InventoryEntry> = Vec::new();
    for chain in chains {
        rows.extend(count_chain(view, &chain, nodes).await?);
    }
    Ok(InventoryResultEntity { id: None, data: BTreeMap::from([(outer.clone(), item(&outer, rows))]) })
}

/// Rows of `{attribute: value, …, Count}` for one chain of expressions.
async fn count_chain(
    view: &View<'_>,
    chain: &[(String, String)],
    nodes: &BTreeMap<String, NodeTypes>,
) -> Result<Vec<InventoryEntry>, ApiError> {
    let mut counts: BTreeMap<Vec<String>, usize> = BTreeMap::new();
    if let [(type_name, attribute)] = chain {
        // One level: the index has every (value, node) pair, each once.
        for (value, node) in view.attribute_values(type_name, attribute).await? {
            if nodes.contains_key(&node) {
                *counts.entry(vec![value]).or_default() += 1;
            }
        }
        // Values too long for the index are read from the items of the nodes marked so.
        let marked: Vec<&String> =
            nodes.iter().filter(|(_, t)| t.types.get(type_name).is_some_and(|s| s.unindexed)).map(|(n, _)| n).collect();
        for (_, item) in view.items(&marked, type_name).await? {
            let long: BTreeSet<&String> = item
                .content
                .iter()
                .filter_map(|e| e.get(attribute))
                .filter(|v| v.len() > super::put::MAX_INDEXED_VALUE)
                .collect();
            for v in long {
                *counts.entry(vec![v.clone()]).or_default() += 1;
            }
        }
    } else {
        // Nested: the combinations each node has. Attributes of one type come from one entry;
        // those of different types combine.
        let mut by_type: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, (t, _)) in chain.iter().enumerate() {
            by_type.entry(t.as_str()).or_default().push(i);
        }
        let ids: Vec<&String> = nodes.keys().collect();
        let mut per_type = BTreeMap::new();
        for t in by_type.keys() {
            per_type.insert(*t, view.items(&ids, t).await?);
        }
        for node in ids {
            let mut combos: BTreeSet<Vec<String>> = BTreeSet::from([vec![String::new(); chain.len()]]);
            for (t, positions) in &by_type {
                let Some(item) = per_type[t].get(node) else {
                    combos.clear();
                    break;
                };
                let tuples: BTreeSet<Vec<(usize, String)>> = item
                    .content
                    .iter()
                    .filter_map(|e| {
                        positions.iter().map(|&i| Some((i, e.get(&chain[i].1)?.clone()))).collect::<Option<Vec<_>>>()
                    })
                    .collect();
                combos = combos
                    .iter()
                    .flat_map(|c| {
                        tuples.iter().map(move |tuple| {
                            let mut c = c.clone();
                            for (i, v) in tuple {
                                c[*i] = v.clone();
                            }
                            c
                        })
                    })
                    .collect();
            }
            for combo in combos {
                *counts.entry(combo).or_default() += 1;
            }
        }
    }
    Ok(counts
        .into_iter()
        .map(|(values, n)| {
            let mut row: InventoryEntry = chain.iter().map(|(_, a)| a.clone()).zip(values).collect();
            row.insert("Count".into(), n.to_string());
            row
        })
        .collect())
}

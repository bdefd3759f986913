//! `resource-groups:Name` and `resource-groups:ResourceTypeFilters` targets, as Run Command,
//! State Manager and maintenance windows take them. A group's query (AND across keys, OR
//! across a key's values, a key without values: any value) says exactly what SSM's tag
//! targets say, so a group target becomes tag targets, read from the group each time the
//! targets are evaluated: a node tagged later, or a query changed later, counts at once.

use std::borrow::Cow;

use steward_api::ssm::commands::Target;
use steward_api::ApiError;
use steward_store::Store;

use crate::base::Ctx;

use super::{decode_group, group_key, query::NODE_TYPE, ALL_SUPPORTED};

/// The target key naming a group.
pub const NAME_KEY: &str = "resource-groups:Name";
/// The target key limiting a group's members to some resource types.
pub const TYPES_KEY: &str = "resource-groups:ResourceTypeFilters";

fn invalid_target(message: impl Into<String>) -> ApiError {
    ApiError::new("InvalidTarget", message)
}

fn values(t: &Target) -> &[String] {
    t.values.as_deref().unwrap_or_default()
}

/// A target that takes in no node.
fn nothing() -> Target {
    Target { key: Some("InstanceIds".into()), values: Some(Vec::new()) }
}

/// Whether any target names a group.
pub fn names_group(targets: &[Target]) -> bool {
    targets.iter().any(|t| t.key.as_deref().is_some_and(|k| k.starts_with("resource-groups:")))
}

/// Checks group targets when they are given (SendCommand, CreateAssociation, window
/// targets): one group, which must exist and whose members the caller may list (as SSM
/// requires `resource-groups:ListGroupResources`); at most five resource types, only
/// with a group.
pub async fn check(ctx: &Ctx, targets: &[Target]) -> Result<(), ApiError> {
    let names: Vec<&Target> = targets.iter().filter(|t| t.key.as_deref() == Some(NAME_KEY)).collect();
    let types: Vec<&Target> = targets.iter().filter(|t| t.key.as_deref() == Some(TYPES_KEY)).collect();
    if names.is_empty() && types.is_empty() {
        return Ok(());
    }
    let [name] = names.as_slice() else {
        return Err(invalid_target(format!("Name one resource group with a single {NAME_KEY} target.")));
    };
    let [group] = values(name) else {
        return Err(invalid_target("A resource-groups:Name target names exactly one group."));
    };
    if types.len() > 1 || types.first().is_some_and(|t| values(t).is_empty() || values(t).len() > 5) {
        return Err(invalid_target(format!("{TYPES_KEY} lists one to five resource types, in one target.")));
    }
    let p = &ctx.principal;
    let key = group_key(&p.account, &p.region, group);
    let found = ctx.env.store.get(&key).await.map_err(crate::base::store_fault)?;
    if found.is_none() || group.contains('/') {
        return Err(invalid_target(format!("The resource group {group} doesn't exist.")));
    }
    ctx.authorize("resource-groups:ListGroupResources", &[crate::base::arn::group_arn(p, group)], |r| r).await
}

/// `targets` with group targets replaced by the tag targets their group's query stands
/// for now. A group that no longer exists, or whose query (or the type filter) leaves out
/// managed nodes, takes in no node.
pub async fn as_node_targets<'t>(
    store: &dyn Store,
    account: &str,
    region: &str,
    targets: &'t [Target],
) -> Result<Cow<'t, [Target]>, ApiError> {
    if !names_group(targets) {
        return Ok(Cow::Borrowed(targets));
    }
    let mut out = Vec::new();
    for t in targets {
        match t.key.as_deref() {
            Some(NAME_KEY) => {
                let group = values(t).first().map(String::as_str).unwrap_or_default();
                let key = group_key(account, region, group);
                let stored = match store.get(&key).await.map_err(crate::base::store_fault)? {
                    Some(item) if !group.contains('/') => Some(decode_group(&key, &item.value)?),
                    _ => None,
                };
                match stored.map(|g| g.tag_query()).transpose()? {
                    Some(q) if q.covers(NODE_TYPE) => {
                        for (key, accepted) in q.tag_filters {
                            out.push(if accepted.is_empty() {
                                Target { key: Some("tag-key".into()), values: Some(vec![key]) }
                            } else {
                                Target { key: Some(format!("tag:{key}")), values: Some(accepted) }
                            });
                        }
                    }
                    _ => out.push(nothing()),
                }
            }
            Some(TYPES_KEY) => {
                if !values(t).iter().any(|v| v == NODE_TYPE || v == ALL_SUPPORTED) {
                    out.push(nothing());
                }
            }
            _ => out.push(t.clone()),
        }
    }
    Ok(Cow::Owned(out))
}

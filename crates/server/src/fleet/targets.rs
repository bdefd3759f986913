//! Which nodes a request names: by instance id, or by targets (`InstanceIds`, `tag:KEY`,
//! `tag-key`), as Run Command, State Manager and maintenance windows resolve them.

use steward_api::ssm::commands::Target;
use steward_api::ApiError;

use super::{all_nodes, load_node, NodeRecord};
use crate::base::Ctx;

/// InvalidInstanceId for a node that is not registered in the caller's account.
pub fn invalid_instance(id: &str) -> ApiError {
    ApiError::new(
        "InvalidInstanceId",
        format!("Instance {id} is not registered or is not a managed node of this account."),
    )
}

/// Refuses target keys Steward cannot resolve.
pub fn check_target_keys(targets: &[Target]) -> Result<(), ApiError> {
    for t in targets {
        let key = t.key.as_deref().unwrap_or("");
        let group = key == "resource-groups:Name" || key == "resource-groups:ResourceTypeFilters";
        if key != "InstanceIds" && key != "tag-key" && !key.starts_with("tag:") && !group {
            return Err(ApiError::validation(format!(
                "Target key {key} is not supported; use InstanceIds, tag:KEY, tag-key or resource-groups:Name."
            )));
        }
    }
    Ok(())
}

/// Whether `node` is one of `targets` (all of them must match; `*` matches any value).
/// Group targets must have been turned into tag targets first
/// (`groups::as_node_targets`); left as they are, they take in no node.
pub fn node_matches(node: &NodeRecord, targets: &[Target]) -> bool {
    targets.iter().all(|t| {
        let values = t.values.as_deref().unwrap_or_default();
        let any = values.iter().any(|x| x == "*");
        match t.key.as_deref().unwrap_or("") {
            "InstanceIds" => any || values.contains(&node.instance_id),
            "tag-key" => node.tags.iter().any(|(k, _)| values.contains(k)),
            key => match key.strip_prefix("tag:") {
                Some(tag) => node.tags.iter().any(|(k, v)| k == tag && (any || values.contains(v))),
                None => false,
            },
        }
    })
}

/// The nodes a request names, by id or by targets (targets combine with AND).
pub async fn target_nodes(ctx: &Ctx, ids: &[String], targets: &[Target]) -> Result<Vec<NodeRecord>, ApiError> {
    if !ids.is_empty() {
        let mut nodes = Vec::new();
        for id in ids {
            let (node, _) = load_node(ctx, id).await?.ok_or_else(|| invalid_instance(id))?;
            if !nodes.iter().any(|n: &NodeRecord| n.instance_id == node.instance_id) {
                nodes.push(node);
            }
        }
        return Ok(nodes);
    }
    check_target_keys(targets)?;
    let mut nodes = all_nodes(ctx).await?;
    nodes.retain(|n| node_matches(n, targets));
    Ok(nodes)
}

//! The baseline a node applies: the one registered for its patch group and operating system,
//! else its operating system's default.

use steward_api::ApiError;
use steward_patching::Snapshot;

use super::baselines::default_for;
use super::groups::registered;
use super::patch_group_of;
use crate::base::Ctx;

/// The snapshot for node `instance_id` (tags `tags`) running `os` / `product`. `ctx` acts for
/// the node's account and region. An empty `snapshot_id` gets a new one.
pub async fn snapshot_for_node(
    ctx: &Ctx,
    tags: &[(String, String)],
    snapshot_id: &str,
    os: &str,
    product: &str,
) -> Result<Snapshot, ApiError> {
    let group = patch_group_of(tags).unwrap_or_default();
    let mut record = None;
    if !group.is_empty() {
        record = registered(ctx, &group, os).await?;
    }
    if record.is_none() {
        record = default_for(ctx, os).await?;
    }
    let record = record
        .ok_or_else(|| ApiError::new("UnsupportedOperatingSystem", format!("There is no patch baseline for {os}.")))?;
    let snapshot_id = if snapshot_id.is_empty() { uuid::Uuid::new_v4().to_string() } else { snapshot_id.to_owned() };
    Ok(Snapshot { snapshot_id, patch_group: group, product: product.to_owned(), baseline: record.baseline })
}

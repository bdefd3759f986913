//! Operations that change the records of several capabilities in one batch.

use steward_api::ssm::fleet::DeregisterManagedInstanceRequest;
use steward_api::ssm::Empty;
use steward_api::ApiError;

use crate::base::Ctx;
use crate::{associations, compliance, fleet, inventory, patch};

/// DeregisterManagedInstance: the node's records go with what other capabilities keep
/// about it (association results, compliance items, inventory, patch states), its channel is cut, and its identity
/// is dead.
pub async fn deregister_managed_instance(ctx: Ctx, req: DeregisterManagedInstanceRequest) -> Result<Empty, ApiError> {
    let id = &req.instance_id;
    let mut leftovers = associations::node_leftovers(&ctx, id).await?;
    leftovers.extend(compliance::node_leftovers(&ctx, id).await?);
    leftovers.extend(inventory::node_leftovers(&ctx, id).await?);
    leftovers.extend(patch::node_leftovers(&ctx, id).await?);
    fleet::deregister(&ctx, id, leftovers).await?;
    Ok(Empty {})
}

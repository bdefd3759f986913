//! DeleteParameter, DeleteParameters.

use steward_api::ssm::parameters::*;
use steward_api::ssm::Empty;
use steward_api::ApiError;
use steward_store::{Op, StoreError};

use super::*;

/// Deletes one parameter with every version and schedule entry; `false` if it was absent.
async fn delete_one(ctx: &Ctx, name: &str) -> Result<bool, ApiError> {
    let p = &ctx.principal;
    for _ in 0..8 {
        let Some((head, revision)) = load_head(ctx, name).await? else {
            return Ok(false);
        };
        let mut batch: Vec<Op> = load_versions(ctx, name).await?.into_iter().map(|i| Op::delete(i.key)).collect();
        batch.extend(head.policy_index.iter().map(|k| Op::delete(k.clone())));
        batch.push(Op::delete(head_key(&p.account, &p.region, name)).if_revision(revision));
        let event = super::change_event(&ctx.env.events, p, &head.current, "Delete", ctx.env.now());
        batch.push(event.op());
        match ctx.env.store.write(batch).await {
            Ok(()) => {
                ctx.env.events.deliver(event);
                return Ok(true);
            }
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(store_fault(e)),
        }
    }
    Err(ApiError::new(
        "TooManyUpdates",
        "There are concurrent updates for a resource that supports one update at a time.",
    ))
}

/// DeleteParameter.
pub async fn delete_parameter(ctx: Ctx, req: DeleteParameterRequest) -> Result<Empty, ApiError> {
    let name = lookup_name(&ctx, &req.name)?;
    if delete_one(&ctx, name).await? {
        Ok(Empty {})
    } else {
        Err(not_found(&req.name))
    }
}

/// DeleteParameters.
pub async fn delete_parameters(ctx: Ctx, req: DeleteParametersRequest) -> Result<DeleteParametersResponse, ApiError> {
    let mut deleted = Vec::new();
    let mut invalid = Vec::new();
    for input in &req.names {
        if deleted.contains(input) || invalid.contains(input) {
            continue;
        }
        let ok = match lookup_name(&ctx, input) {
            Ok(name) => delete_one(&ctx, name).await?,
            Err(_) => false,
        };
        if ok {
            deleted.push(input.clone())
        } else {
            invalid.push(input.clone())
        }
    }
    Ok(DeleteParametersResponse { deleted_parameters: deleted, invalid_parameters: invalid })
}

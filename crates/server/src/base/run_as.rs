//! Who work done later acts as. Scheduled work (an association's runs, a maintenance
//! window's tasks) records the principal that set it up, and every run is authorised as
//! that principal *at run time*: a user who loses a permission, or is deleted, stops
//! reaching what the permission reached, and nobody gains the server's own rights by
//! scheduling something.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use steward_api::ApiError;

use super::iam_records::{load, role_key, user_key, RoleRecord, UserRecord};
use super::{Ctx, Env, Identity, Principal};

/// The principal recorded with scheduled work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunAs {
    /// The ARN the principal had when it set the work up (for messages and audit).
    pub arn: String,
    /// The identity, looked up again at each run.
    pub identity: Identity,
}

impl RunAs {
    /// The caller of a request, as work it sets up will act.
    pub fn of(principal: &Principal) -> RunAs {
        RunAs { arn: principal.arn.clone(), identity: principal.identity.clone() }
    }
}

/// `AccessDeniedException` for work whose principal cannot act any more.
fn gone(what: &str) -> ApiError {
    ApiError::new("AccessDeniedException", what.to_owned())
}

/// The context a run of work recorded with `run_as` acts in: the same identity, if it
/// still exists. Its policies are evaluated afresh by every `authorize` that follows.
/// Work with no recorded principal (stored before principals were recorded) does not run:
/// updating it records the updater.
pub async fn resume(env: &Arc<Env>, account: &str, region: &str, run_as: Option<&RunAs>) -> Result<Ctx, ApiError> {
    let Some(run_as) = run_as else {
        return Err(gone("This work records no principal to run as; update it to record one."));
    };
    let system = Ctx::system(env, account, region);
    let (kind, exists) = match &run_as.identity {
        Identity::Root => return Ok(system),
        Identity::User(name) => ("User", load::<UserRecord>(&system, &user_key(account, name)).await?.is_some()),
        Identity::Role { role, .. } => ("Role", load::<RoleRecord>(&system, &role_key(account, role)).await?.is_some()),
    };
    if !exists {
        return Err(gone(&format!("{kind}: {} no longer exists.", run_as.arn)));
    }
    let principal =
        Principal { arn: run_as.arn.clone(), identity: run_as.identity.clone(), ..system.principal.clone() };
    Ok(system.acting_as(principal))
}

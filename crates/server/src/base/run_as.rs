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
    /// The user's or role's unique id (`AIDA…`, `AROA…`): a user deleted and created again
    /// under the same name is someone else, and does not inherit the work.
    #[serde(default)]
    pub unique_id: String,
}

impl RunAs {
    /// The caller of a request, as work it sets up will act.
    pub async fn of(ctx: &Ctx) -> Result<RunAs, ApiError> {
        let p = &ctx.principal;
        let account = &p.account;
        let unique_id = match &p.identity {
            Identity::Root => String::new(),
            Identity::User(name) => {
                load::<UserRecord>(ctx, &user_key(account, name)).await?.map(|(u, _)| u.id).unwrap_or_default()
            }
            Identity::Role { role, .. } => {
                load::<RoleRecord>(ctx, &role_key(account, role)).await?.map(|(r, _)| r.id).unwrap_or_default()
            }
        };
        Ok(RunAs { arn: p.arn.clone(), identity: p.identity.clone(), unique_id })
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
    let (kind, current_id) = match &run_as.identity {
        Identity::Root => return Ok(system),
        Identity::User(name) => {
            ("User", load::<UserRecord>(&system, &user_key(account, name)).await?.map(|(u, _)| u.id))
        }
        Identity::Role { role, .. } => {
            ("Role", load::<RoleRecord>(&system, &role_key(account, role)).await?.map(|(r, _)| r.id))
        }
    };
    // Gone, or gone and created again: either way not the one who set the work up.
    let exists = current_id.is_some_and(|id| run_as.unique_id.is_empty() || id == run_as.unique_id);
    if !exists {
        return Err(gone(&format!("{kind}: {} no longer exists.", run_as.arn)));
    }
    let principal =
        Principal { arn: run_as.arn.clone(), identity: run_as.identity.clone(), ..system.principal.clone() };
    Ok(system.acting_as(principal))
}

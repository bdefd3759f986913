//! What a handler gets besides its request: the shared [`Env`] and the caller.

use std::sync::Arc;

use steward_api::ApiError;
use steward_core::iam::eval::Request;

use super::{access, Env, Principal};

/// The context of one call, or of work the server does on someone's behalf.
#[derive(Clone)]
pub struct Ctx {
    /// Shared state.
    pub env: Arc<Env>,
    /// The verified caller.
    pub principal: Principal,
}

impl Ctx {
    /// The server itself acting in `account` and `region` (due runs, sweepers, a node
    /// without a role). The one place a service principal is made, so every such use is
    /// visible here.
    pub fn system(env: &Arc<Env>, account: &str, region: &str) -> Ctx {
        Ctx { env: env.clone(), principal: Principal::root(account, region) }
    }

    /// The same server state, acting as `principal`.
    pub fn acting_as(&self, principal: Principal) -> Ctx {
        Ctx { env: self.env.clone(), principal }
    }

    /// Allows or refuses `action` on each of `resources` for the caller; `extra` adds
    /// context keys from the request.
    pub async fn authorize(
        &self,
        action: &str,
        resources: &[String],
        extra: impl Fn(Request) -> Request,
    ) -> Result<(), ApiError> {
        access::authorize(self, action, resources, extra).await
    }

    /// `iam:PassRole` on `role`, before handing it to work that acts as it later.
    pub async fn pass_role(&self, role: &str) -> Result<(), ApiError> {
        access::pass_role(self, role).await
    }

    /// Now in epoch milliseconds.
    pub fn now(&self) -> i64 {
        self.env.now()
    }
}

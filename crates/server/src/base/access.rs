//! Authorization: an IAM action on resource ARNs against the caller's policies, with the
//! request context IAM conditions read. The root of an account passes always.
//!
//! Which action and resources an *operation* names is the operation table's business
//! (`app::ops`); capabilities call [`authorize`] for facts only they learn (the nodes a
//! target resolves to, the key a parameter is sealed with).

use futures_util::future::BoxFuture;
use steward_api::ApiError;
use steward_core::iam::eval::{evaluate, Decision, Request};

use super::policy_cache::subject_of;
use super::{Ctx, Identity, Principal};

/// The tags of the resource an ARN names, for `aws:ResourceTag/…` conditions. Every
/// taggable type belongs to some capability, so the one implementation lives at the top
/// (`app::tags`) and is handed down in [`super::Env`]; it is asked only when a caller's
/// policies read resource tags.
pub trait ResourceTags: Send + Sync {
    /// The tags of `arn` in the caller's account (empty when it has none or is unknown).
    fn tags<'a>(&'a self, ctx: &'a Ctx, arn: &'a str) -> BoxFuture<'a, Vec<(String, String)>>;
}

/// No resource has tags (tests that need none).
pub struct NoResourceTags;

impl ResourceTags for NoResourceTags {
    fn tags<'a>(&'a self, _: &'a Ctx, _: &'a str) -> BoxFuture<'a, Vec<(String, String)>> {
        Box::pin(async { Vec::new() })
    }
}

/// `AccessDeniedException` (JSON APIs answer 400) with IAM's wording.
pub fn denied(principal: &Principal, action: &str, resource: &str, explicit: bool) -> ApiError {
    let why = if explicit {
        "with an explicit deny in an identity-based policy".to_owned()
    } else {
        format!("because no identity-based policy allows the {action} action")
    };
    ApiError::new(
        "AccessDeniedException",
        format!("User: {} is not authorized to perform: {action} on resource: {resource} {why}", principal.arn),
    )
}

/// `iam:PassRole` on `role` (a role name, with or without a path, or a role ARN): handing a
/// role to work that acts as it later (an activation's nodes, a window task) needs it, or
/// anyone allowed to set that up could act as any role.
pub async fn pass_role(ctx: &Ctx, role: &str) -> Result<(), ApiError> {
    let arn = if role.starts_with("arn:") {
        role.to_owned()
    } else {
        format!("arn:aws:iam::{}:role/{}", ctx.principal.account, role.trim_start_matches('/'))
    };
    authorize(ctx, "iam:PassRole", &[arn], |r| r).await
}

/// Allows or refuses `action` on each of `resources` for the caller. `input_keys` adds
/// context from the request body.
pub async fn authorize(
    ctx: &Ctx,
    action: &str,
    resources: &[String],
    extra: impl Fn(Request) -> Request,
) -> Result<(), ApiError> {
    let p = &ctx.principal;
    if p.is_root() {
        return Ok(());
    }
    let subject = subject_of(ctx, p).await?;
    let now = steward_api::time::format_iso8601(ctx.env.now() / 1000);
    for resource in resources {
        // Same caller, same IAM generation, no request-dependent condition: same answer.
        if let Some(decision) = subject.remembered(action, resource, &p.region) {
            match decision {
                Decision::Allow => continue,
                Decision::ExplicitDeny => return Err(denied(p, action, resource, true)),
                Decision::ImplicitDeny => return Err(denied(p, action, resource, false)),
            }
        }
        let mut request = Request::new(action, resource.clone())
            .with(
                "aws:PrincipalArn",
                [if subject.principal_arn.is_empty() { &p.arn } else { &subject.principal_arn }.clone()],
            )
            .with("aws:PrincipalAccount", [p.account.clone()])
            .with("aws:userid", [subject.user_id.clone()])
            .with("aws:CurrentTime", [now.clone()])
            .with("aws:SecureTransport", [ctx.env.secure_transport.to_string()])
            .with("aws:RequestedRegion", [p.region.clone()]);
        if let Identity::User(name) = &p.identity {
            request = request.with("aws:username", [name.clone()]);
        }
        if let Some(ip) = p.source_ip {
            request = request.with("aws:SourceIp", [ip.to_string()]);
        }
        for (k, v) in &subject.tags {
            request = request.with(&format!("aws:PrincipalTag/{k}"), [v.clone()]);
        }
        if subject.uses_resource_tags && resource != "*" {
            for (k, v) in ctx.env.resource_tags.tags(ctx, resource).await {
                request = request.with(&format!("aws:ResourceTag/{k}"), [v.clone()]);
                request = request.with(&format!("ssm:resourceTag/{k}"), [v]);
            }
        }
        let request = extra(request);
        let decision = evaluate(subject.each(), &request);
        subject.remember(action, resource, &p.region, decision);
        match decision {
            Decision::Allow => {}
            Decision::ExplicitDeny => return Err(denied(p, action, resource, true)),
            Decision::ImplicitDeny => return Err(denied(p, action, resource, false)),
        }
    }
    Ok(())
}

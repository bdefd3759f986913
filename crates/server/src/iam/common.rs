//! Helpers every IAM operation module shares: lookups that answer NoSuchEntity, IAM's
//! error shapes, revision-checked saves, and one-element XML answers.

use serde::Serialize;
use steward_api::time::format_iso8601;
use steward_api::ApiError;
use steward_core::iam::policy::{self, Kind};
use steward_store::{Op, StoreError};

use crate::base::iam_records::{load, policy_key, policy_name_of_arn, role_key, user_key};
use crate::base::iam_records::{PolicyRecord, RoleRecord, UserRecord};
use crate::base::{encode, store_fault, Ctx};
use steward_api::query::Xml;

pub(super) fn no_such(kind: &str, name: &str) -> ApiError {
    ApiError::new("NoSuchEntity", format!("The {kind} with name {name} cannot be found.")).with_status(404)
}

pub(super) fn conflict(message: impl Into<String>) -> ApiError {
    ApiError::new("DeleteConflict", message).with_status(409)
}

pub(super) fn malformed(message: String) -> ApiError {
    ApiError::new("MalformedPolicyDocument", message)
}

pub(super) fn write_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict { .. } => ApiError::new(
            "ConcurrentModification",
            "The request was rejected because multiple requests to change this object were submitted simultaneously.",
        )
        .with_status(409),
        e => store_fault(e),
    }
}

/// Policy documents travel percent-encoded, spaces as `%20` (SDKs decode with `unquote`).
pub(super) fn url_encode(text: &str) -> String {
    // `byte_serialize` writes a space as `+` and a `+` as `%2B`, so this swap is exact.
    form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>().replace('+', "%20")
}

pub(super) fn iso(ms: i64) -> String {
    format_iso8601(ms / 1000)
}

pub(super) fn parse_document(text: &str, kind: Kind) -> Result<(), ApiError> {
    if text.len() > 6144 {
        return Err(ApiError::new("LimitExceeded", "Cannot exceed quota for PolicySize: 6144").with_status(409));
    }
    policy::parse(text, kind).map(|_| ()).map_err(malformed)
}

pub(super) async fn save<T: Serialize>(ctx: &Ctx, key: &str, record: &T, revision: i64) -> Result<(), ApiError> {
    ctx.env.store.write(vec![Op::put(key, encode(record)).if_revision(revision)]).await.map_err(write_error)
}

pub(super) fn one(build: impl FnOnce(&mut Xml)) -> Result<Option<String>, ApiError> {
    let mut x = Xml::new();
    build(&mut x);
    Ok(Some(x.finish()))
}

pub(super) async fn need_user(ctx: &Ctx, name: &str) -> Result<(UserRecord, i64), ApiError> {
    load(ctx, &user_key(&ctx.principal.account, name)).await?.ok_or_else(|| no_such("user", name))
}

pub(super) async fn need_role(ctx: &Ctx, name: &str) -> Result<(RoleRecord, i64), ApiError> {
    load(ctx, &role_key(&ctx.principal.account, name)).await?.ok_or_else(|| no_such("role", name))
}

pub(super) async fn need_policy(ctx: &Ctx, policy_arn: &str) -> Result<(PolicyRecord, i64, String), ApiError> {
    let missing = || {
        ApiError::new("NoSuchEntity", format!("Policy {policy_arn} does not exist or is not attachable."))
            .with_status(404)
    };
    let name = policy_name_of_arn(&ctx.principal.account, policy_arn).ok_or_else(missing)?;
    let key = policy_key(&ctx.principal.account, name);
    let (record, revision) = load::<PolicyRecord>(ctx, &key).await?.ok_or_else(missing)?;
    if record.arn != policy_arn {
        return Err(missing());
    }
    Ok((record, revision, key))
}

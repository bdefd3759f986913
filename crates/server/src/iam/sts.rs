//! STS: who am I, and temporary credentials for a role.

use sha2::Digest;
use steward_api::time::format_iso8601;
use steward_api::ApiError;
use steward_core::iam::eval::{evaluate_trust, Decision, Request};
use steward_core::iam::policy::{self, Kind};
use steward_store::Op;

use crate::base::credentials::key_of;
use crate::base::encode;
use crate::base::iam_records::*;
use crate::base::policy_cache::subject_of;
use crate::base::Ctx;
use crate::base::Identity;
use steward_api::query::Xml;
use steward_api::query::{validation, Params};

fn denied(ctx: &Ctx, role_arn: &str) -> ApiError {
    ApiError::new(
        "AccessDenied",
        format!("User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}", ctx.principal.arn),
    )
    .with_status(403)
}

/// Runs STS `action`.
pub async fn call(ctx: &Ctx, action: &str, params: &Params) -> Result<Option<String>, ApiError> {
    match action {
        "GetCallerIdentity" => {
            let p = &ctx.principal;
            let user_id = match &p.identity {
                Identity::Root => p.account.clone(),
                _ => subject_of(ctx, p).await?.user_id.clone(),
            };
            let mut x = Xml::new();
            x.leaf("UserId", &user_id).leaf("Account", &p.account).leaf("Arn", &p.arn);
            Ok(Some(x.finish()))
        }
        "AssumeRole" => assume_role(ctx, params).await,
        other => {
            Err(ApiError::new("InvalidAction", format!("Could not find operation {other} for version 2011-06-15")))
        }
    }
}

async fn assume_role(ctx: &Ctx, params: &Params) -> Result<Option<String>, ApiError> {
    let role_arn = params.req("RoleArn")?;
    let session = params.req("RoleSessionName")?;
    if !(2..=64).contains(&session.len())
        || !session.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
    {
        return Err(validation(format!(
            "1 validation error detected: Value '{session}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]* and have length between 2 and 64"
        )));
    }
    let (account, name) = role_arn
        .strip_prefix("arn:aws:iam::")
        .and_then(|rest| rest.split_once(":role/"))
        .map(|(account, path_name)| (account.to_owned(), path_name.rsplit('/').next().unwrap_or(path_name).to_owned()))
        .ok_or_else(|| validation(format!("{role_arn} is not a role ARN.")))?;
    // The caller's own policies must allow it (the root of the role's account needs none).
    if !(ctx.principal.is_root() && ctx.principal.account == account) {
        ctx.authorize("sts:AssumeRole", &[role_arn.to_owned()], |r| r).await.map_err(|_| denied(ctx, role_arn))?;
    }
    let Some((role, _)) = load::<RoleRecord>(ctx, &role_key(&account, &name)).await? else {
        return Err(denied(ctx, role_arn));
    };
    if role.arn != role_arn {
        return Err(denied(ctx, role_arn));
    }
    let trust = policy::parse(&role.trust, Kind::Trust).map_err(|_| denied(ctx, role_arn))?;
    let p = &ctx.principal;
    let principals =
        vec![format!("AWS:{}", p.arn), format!("AWS:arn:aws:iam::{}:root", p.account), format!("AWS:{}", p.account)];
    let mut request = Request::new("sts:AssumeRole", role_arn).with("aws:PrincipalArn", [p.arn.clone()]);
    if let Some(ip) = p.source_ip {
        request = request.with("aws:SourceIp", [ip.to_string()]);
    }
    if evaluate_trust(&trust, &principals, &request) != Decision::Allow {
        return Err(denied(ctx, role_arn));
    }
    let duration: i64 = match params.opt("DurationSeconds") {
        Some(d) => d.parse().ok().filter(|d| (900..=role.max_session).contains(d)).ok_or_else(|| {
            validation(format!("The requested DurationSeconds exceeds the MaxSessionDuration set for this role, or is below 900 ({d})."))
        })?,
        None => 3600,
    };
    let now = ctx.env.now();
    let expires = now + duration * 1000;
    let assumed_arn = format!("arn:aws:sts::{account}:assumed-role/{}/{session}", role.name);
    let (id, secret, mut record) = ctx.env.credentials.mint("ASIA", &account, &assumed_arn, now);
    let token =
        crate::base::crypto::random_string(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 356);
    record.role_session = Some((role.name.clone(), session.to_owned()));
    record.session_token_hash = Some(hex::encode(sha2::Sha256::digest(token.as_bytes())));
    record.expires = Some(expires);
    ctx.env
        .store
        .write(vec![Op::put(key_of(&id), encode(&record)).if_absent()])
        .await
        .map_err(crate::base::store_fault)?;
    let mut x = Xml::new();
    x.open("Credentials").leaf("AccessKeyId", &id).leaf("SecretAccessKey", &secret).leaf("SessionToken", &token);
    x.leaf("Expiration", &format_iso8601(expires / 1000)).close("Credentials");
    x.open("AssumedRoleUser").leaf("AssumedRoleId", &format!("{}:{session}", role.id)).leaf("Arn", &assumed_arn);
    x.close("AssumedRoleUser").leaf("PackedPolicySize", "0");
    Ok(Some(x.finish()))
}

/// Temporary credentials are kept this long past their expiry, so that their holders are
/// told ExpiredToken rather than that the key is unknown.
pub const EXPIRED_KEPT_MILLIS: i64 = 24 * 3600 * 1000;

/// Deletes temporary (`ASIA…`) credentials that expired more than [`EXPIRED_KEPT_MILLIS`]
/// ago; returns how many.
pub async fn sweep_expired(env: &crate::base::Env) -> anyhow::Result<usize> {
    let prefix = key_of("ASIA");
    let end = steward_store::prefix_end(&prefix);
    let cutoff = env.now() - EXPIRED_KEPT_MILLIS;
    let mut after: Option<String> = None;
    let mut deleted = 0;
    loop {
        let start = match &after {
            Some(key) => steward_store::Start::After(key),
            None => steward_store::Start::At(&prefix),
        };
        let items = env.store.range(start, &end, 1000).await?;
        let Some(last) = items.last() else { break };
        after = Some(last.key.clone());
        let expired: Vec<Op> = items
            .iter()
            .filter(|item| {
                let record =
                    crate::base::decode::<crate::base::credentials::AccessKeyRecord>(&item.key, &item.value).ok();
                record.and_then(|r| r.expires).is_some_and(|e| e < cutoff)
            })
            .map(|item| Op::delete(&item.key).if_revision(item.revision))
            .collect();
        for op in expired {
            // One at a time: a key changed meanwhile is simply left for the next sweep.
            if env.store.write(vec![op]).await.is_ok() {
                deleted += 1;
            }
        }
    }
    Ok(deleted)
}

/// Sweeps expired temporary credentials once an hour.
pub async fn run_sweeper(env: std::sync::Arc<crate::base::Env>) {
    let (first, hour) = (std::time::Duration::from_secs(90), std::time::Duration::from_secs(3600));
    crate::base::sweeper::run_every(first, hour, "expired temporary credentials", || sweep_expired(&env)).await;
}

//! Console passwords — IAM's login profiles: CreateLoginProfile, GetLoginProfile,
//! UpdateLoginProfile, DeleteLoginProfile — and the check a console sign-in with one makes.
//!
//! A password is kept only as PBKDF2-HMAC-SHA256 of a random 16-byte salt ([`ROUNDS`]
//! rounds) under `iam/login/<acct>/<user>`; it is never stored, logged or audited itself
//! (`app::query` hides Password parameters). Passwords follow IAM's default policy: 8 to
//! 128 characters with at least three of upper case, lower case, digits and symbols.

use std::num::NonZeroU32;

use serde::{Deserialize, Serialize};
use steward_api::query::Params;
use steward_api::ApiError;
use steward_store::Op;

use super::common::{iso, need_user, no_such, one, write_error};
use crate::base::iam_records::{load, user_key, UserRecord};
use crate::base::{encode, store_fault, Ctx, Env, Identity, Principal};

/// PBKDF2 rounds: slow enough that a stolen store does not give passwords away quickly,
/// fast enough for a sign-in.
const ROUNDS: u32 = 210_000;

/// A login profile as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct LoginProfile {
    /// The user's name as given.
    user: String,
    /// Random salt, hex.
    salt: String,
    /// PBKDF2-HMAC-SHA256 of the password, hex.
    hash: String,
    /// Epoch ms.
    created: i64,
    /// The user must choose a new password at the next sign-in.
    reset_required: bool,
}

fn profile_key(account: &str, user: &str) -> String {
    format!("iam/login/{account}/{}", user.to_ascii_lowercase())
}

fn derive(password: &str, salt: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let rounds = NonZeroU32::new(ROUNDS).expect("non-zero");
    ring::pbkdf2::derive(ring::pbkdf2::PBKDF2_HMAC_SHA256, rounds, salt, password.as_bytes(), &mut out);
    out
}

fn verify(profile: &LoginProfile, password: &str) -> bool {
    let (Ok(salt), Ok(hash)) = (hex::decode(&profile.salt), hex::decode(&profile.hash)) else { return false };
    let rounds = NonZeroU32::new(ROUNDS).expect("non-zero");
    ring::pbkdf2::verify(ring::pbkdf2::PBKDF2_HMAC_SHA256, rounds, &salt, password.as_bytes(), &hash).is_ok()
}

/// Why `password` does not meet the password policy, if it does not.
fn weakness(password: &str) -> Option<String> {
    let length = password.chars().count();
    if !(8..=128).contains(&length) {
        return Some("Password should have a length of 8 to 128 characters.".into());
    }
    let kinds = [
        password.chars().any(|c| c.is_ascii_uppercase()),
        password.chars().any(|c| c.is_ascii_lowercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_ascii_alphanumeric()),
    ];
    if kinds.iter().filter(|k| **k).count() < 3 {
        return Some(
            "Password should have at least three of: an upper case letter, a lower case letter, a digit, a symbol."
                .into(),
        );
    }
    None
}

fn policy_violation(why: String) -> ApiError {
    ApiError::new("PasswordPolicyViolation", why)
}

fn new_profile(user: &str, password: &str, reset_required: bool, now: i64) -> LoginProfile {
    let mut salt = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut salt);
    let hash = derive(password, &salt);
    LoginProfile {
        user: user.to_owned(),
        salt: hex::encode(salt),
        hash: hex::encode(hash),
        created: now,
        reset_required,
    }
}

/// Whether `user` has a login profile (DeleteUser refuses until it is deleted).
pub(super) async fn exists(ctx: &Ctx, user: &str) -> Result<bool, ApiError> {
    Ok(load::<LoginProfile>(ctx, &profile_key(&ctx.principal.account, user)).await?.is_some())
}

fn reset_flag(params: &Params) -> Result<Option<bool>, ApiError> {
    match params.opt("PasswordResetRequired") {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(other) => Err(ApiError::validation(format!("PasswordResetRequired {other:?} is not true or false."))),
    }
}

/// The login-profile actions, already authorised on the user they name.
pub(super) async fn call(ctx: &Ctx, action: &str, params: &Params) -> Result<Option<String>, ApiError> {
    let (user, _) = need_user(ctx, params.req("UserName")?).await?;
    let key = profile_key(&ctx.principal.account, &user.name);
    let now = ctx.env.now();
    let found = load::<LoginProfile>(ctx, &key).await?;
    let missing = || no_such("login profile for the user", &user.name);
    match action {
        "CreateLoginProfile" => {
            let password = params.req("Password")?;
            if let Some(why) = weakness(password) {
                return Err(policy_violation(why));
            }
            let profile = new_profile(&user.name, password, reset_flag(params)?.unwrap_or(false), now);
            ctx.env.store.write(vec![Op::put(&key, encode(&profile)).if_absent()]).await.map_err(|e| match e {
                steward_store::StoreError::Conflict { .. } => ApiError::new(
                    "EntityAlreadyExists",
                    format!("Login Profile for user {} already exists.", user.name),
                )
                .with_status(409),
                e => store_fault(e),
            })?;
            profile_xml(&profile)
        }
        "GetLoginProfile" => profile_xml(&found.ok_or_else(missing)?.0),
        "UpdateLoginProfile" => {
            let (mut profile, revision) = found.ok_or_else(missing)?;
            if let Some(password) = params.opt("Password") {
                if let Some(why) = weakness(password) {
                    return Err(policy_violation(why));
                }
                let fresh = new_profile(&user.name, password, profile.reset_required, profile.created);
                (profile.salt, profile.hash) = (fresh.salt, fresh.hash);
            }
            if let Some(reset) = reset_flag(params)? {
                profile.reset_required = reset;
            }
            ctx.env
                .store
                .write(vec![Op::put(&key, encode(&profile)).if_revision(revision)])
                .await
                .map_err(write_error)?;
            Ok(None)
        }
        "DeleteLoginProfile" => {
            let (_, revision) = found.ok_or_else(missing)?;
            ctx.env.store.write(vec![Op::delete(&key).if_revision(revision)]).await.map_err(write_error)?;
            Ok(None)
        }
        _ => unreachable!("only login-profile actions come here"),
    }
}

fn profile_xml(profile: &LoginProfile) -> Result<Option<String>, ApiError> {
    one(|x| {
        x.open("LoginProfile").leaf("UserName", &profile.user).leaf("CreateDate", &iso(profile.created));
        x.leaf("PasswordResetRequired", if profile.reset_required { "true" } else { "false" });
        x.close("LoginProfile");
    })
}

/// What a console sign-in with a password found.
pub enum SignIn {
    /// The user, signed in.
    Ok(Principal),
    /// The password is right but must be changed first (give a new one).
    ResetRequired,
}

/// Checks a console sign-in: `user` of `account` with `password`. A `new_password` replaces
/// the password first (required when the profile says so). Any mismatch — no such user, no
/// profile, a wrong password — is the same `None`, so a sign-in page tells nothing apart.
pub async fn sign_in(
    env: &std::sync::Arc<Env>,
    (account, region): (&str, &str),
    user: &str,
    password: &str,
    new_password: Option<&str>,
) -> Result<Option<SignIn>, ApiError> {
    let ctx = Ctx::system(env, account, region);
    let key = profile_key(account, user);
    let Some((mut profile, revision)) = load::<LoginProfile>(&ctx, &key).await? else {
        // The same work as a real check, so timing does not say whether the user exists.
        let _ = derive(password, b"steward-no-such-user");
        return Ok(None);
    };
    if !verify(&profile, password) {
        return Ok(None);
    }
    match new_password {
        Some(fresh) => {
            if let Some(why) = weakness(fresh) {
                return Err(policy_violation(why));
            }
            if fresh == password {
                return Err(policy_violation("The new password must differ from the old one.".into()));
            }
            let replaced = new_profile(&profile.user, fresh, false, profile.created);
            (profile.salt, profile.hash, profile.reset_required) = (replaced.salt, replaced.hash, false);
            env.store.write(vec![Op::put(&key, encode(&profile)).if_revision(revision)]).await.map_err(write_error)?;
        }
        None if profile.reset_required => return Ok(Some(SignIn::ResetRequired)),
        None => {}
    }
    Ok(principal(env, account, region, &profile.user).await?.map(SignIn::Ok))
}

/// The principal of a console session signed in with `user`'s password, while the user and
/// its login profile both still exist (deleting either ends the session).
pub async fn principal(
    env: &std::sync::Arc<Env>,
    account: &str,
    region: &str,
    user: &str,
) -> Result<Option<Principal>, ApiError> {
    let ctx = Ctx::system(env, account, region);
    if load::<LoginProfile>(&ctx, &profile_key(account, user)).await?.is_none() {
        return Ok(None);
    }
    let Some((record, _)) = load::<UserRecord>(&ctx, &user_key(account, user)).await? else { return Ok(None) };
    Ok(Some(Principal {
        account: account.to_owned(),
        region: region.to_owned(),
        arn: record.arn,
        access_key_id: String::new(),
        identity: Identity::User(record.name),
        source_ip: None,
        request_host: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_follow_the_default_policy() {
        assert!(weakness("Corr3ct-horse").is_none());
        assert!(weakness("Abcdefg1").is_none());
        for weak in ["short1A", "alllowercase", "ALLUPPER123", "12345678!", &"Aa1!".repeat(40)] {
            assert!(weakness(weak).is_some(), "{weak}");
        }
    }

    #[test]
    fn only_the_hash_is_kept_and_it_verifies() {
        let profile = new_profile("alice", "Corr3ct-horse", false, 0);
        assert!(!profile.hash.contains("Corr3ct") && profile.hash.len() == 64);
        assert!(verify(&profile, "Corr3ct-horse"));
        assert!(!verify(&profile, "Corr3ct-horsE"));
        let again = new_profile("alice", "Corr3ct-horse", false, 0);
        assert_ne!(profile.salt, again.salt, "each profile has its own salt");
    }
}

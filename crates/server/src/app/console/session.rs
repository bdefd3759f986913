//! Console sessions: signing in with an access key pair or an IAM user's console password
//! (`iam::console_sign_in`), the session cookie, the CSRF token every write carries, signing out.
//!
//! The cookie holds a random token; the store holds only its SHA-256 (`console/session/…`)
//! with the access key or user it stands for, the CSRF token and the expiry. The cookie is
//! HttpOnly (no script reads it) and SameSite=Strict (no other site's page sends it); a
//! write must also echo the CSRF token in a header, which only the console's own pages
//! know. Each call re-reads the access key (or the user and its login profile), so
//! deactivating or deleting it ends the session.

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::Digest;
use steward_api::ApiError;
use steward_store::Op;

use crate::base::audit::Draft;
use crate::base::{decode, encode, Ctx, Principal};

use super::super::App;

/// The cookie's name.
const COOKIE: &str = "steward_console";
/// The CSRF header.
pub const CSRF_HEADER: &str = "x-steward-csrf";
/// How long a session lasts, as the AWS console's.
const SESSION_MS: i64 = 12 * 3_600_000;
/// The largest sign-in body read (it holds two keys and a region).
const MAX_SIGN_IN: usize = 4096;

/// A session as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SessionRecord {
    /// The access key signed in with (empty for a password sign-in).
    access_key_id: String,
    /// The IAM user signed in with a password.
    #[serde(default)]
    user: Option<String>,
    region: String,
    arn: String,
    account: String,
    csrf: String,
    created: i64,
    expires: i64,
}

fn session_key(token: &str) -> String {
    format!("console/session/{}", hex::encode(sha2::Sha256::digest(token.as_bytes())))
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut buf);
    hex::encode(buf)
}

/// A refusal as the console's pages read it: the HTTP status, `__type` and `message`.
pub fn refusal(status: StatusCode, code: &str, message: &str) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], json!({"__type": code, "message": message}).to_string())
        .into_response()
}

/// An API error as the console's pages read it.
pub fn api_refusal(e: &ApiError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
    refusal(status, e.code(), e.message())
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|c| {
        let (name, value) = c.trim().split_once('=')?;
        (name == COOKIE && !value.is_empty() && value.len() <= 128).then(|| value.to_owned())
    })
}

fn set_cookie(token: &str, max_age_secs: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!("{COOKIE}={token}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}");
    HeaderValue::from_str(&text).expect("token and attributes are plain ASCII")
}

fn view(record: &SessionRecord) -> serde_json::Value {
    json!({
        "arn": record.arn,
        "account": record.account,
        "region": record.region,
        "accessKeyId": record.access_key_id,
        "userName": record.user,
        "csrf": record.csrf,
        "expires": steward_api::time::format_iso8601(record.expires / 1000),
    })
}

/// Region names as AWS spells them (`us-east-1`, `eu-central-2`).
fn valid_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && region.len() <= 32
        && parts[..parts.len() - 1].iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

/// A sign-in: an access key pair, or an IAM user's name and password (in `account`, the
/// server's own by default; `newPassword` when the password must be changed).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignIn {
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
    account: Option<String>,
    user_name: Option<String>,
    password: Option<String>,
    new_password: Option<String>,
    region: Option<String>,
}

/// Who a sign-in names, for the audit of a refused one.
struct Claimed<'a> {
    key: &'a str,
    user: Option<&'a str>,
}

/// The audit event of a sign-in, as CloudTrail's `ConsoleLogin`.
async fn audit_sign_in(
    app: &App,
    principal: Option<&Principal>,
    claimed: Claimed<'_>,
    source_ip: &str,
    user_agent: &str,
    ok: bool,
) {
    let mut parameters = json!({"ConsoleLogin": if ok { "Success" } else { "Failure" }});
    if let Some(user) = claimed.user {
        parameters["UserName"] = json!(user);
    }
    let draft = Draft {
        source: "signin.amazonaws.com".into(),
        name: "ConsoleLogin".into(),
        region: principal.map(|p| p.region.clone()).unwrap_or_else(|| "us-east-1".into()),
        principal: principal.cloned(),
        access_key_id: claimed.key.to_owned(),
        parameters,
        source_ip: source_ip.to_owned(),
        user_agent: user_agent.to_owned(),
        ..Default::default()
    };
    let request_id = uuid::Uuid::new_v4().to_string();
    let error = (!ok).then_some(("Failed authentication", "The credentials given are not valid."));
    let event = draft.finish(&request_id, error, app.env.now(), &app.env.fallback_account);
    if ok {
        app.env.audit.record(event).await;
    } else {
        app.env.audit.record_unauthenticated(event).await;
    }
}

/// `POST /console/api/signin`: `{"accessKeyId", "secretAccessKey", "region"}`, or
/// `{"account", "userName", "password", "newPassword", "region"}`.
pub async fn sign_in(
    app: &Arc<App>,
    default_region: &str,
    source_ip: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    if body.len() > MAX_SIGN_IN {
        return refusal(StatusCode::PAYLOAD_TOO_LARGE, "ValidationException", "The sign-in request is too large.");
    }
    let form =
        match serde_json::from_slice::<SignIn>(body) {
            Ok(form) if form.access_key_id.is_some() != form.user_name.is_some() => form,
            _ => return refusal(
                StatusCode::BAD_REQUEST,
                "ValidationException",
                "Sign in with {\"accessKeyId\", \"secretAccessKey\"} or {\"userName\", \"password\"}, and a region.",
            ),
        };
    let region = form.region.clone().filter(|r| !r.is_empty()).unwrap_or_else(|| default_region.to_owned());
    if !valid_region(&region) {
        return refusal(StatusCode::BAD_REQUEST, "ValidationException", "The region is not a region name (us-east-1).");
    }
    let user_agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let key = form.access_key_id.as_deref().unwrap_or_default().trim();
    let user = form.user_name.as_deref().map(str::trim);
    let claimed = || Claimed { key, user };
    let refused = |why: &str| refusal(StatusCode::UNAUTHORIZED, "UnrecognizedClientException", why);
    let principal = match user {
        None => {
            let secret = form.secret_access_key.as_deref().unwrap_or_default();
            match app.env.credentials.principal_of_key(key, Some(secret), &region).await {
                Ok(p) => p,
                Err(e) if e.status() >= 500 => return api_refusal(&e),
                Err(_) => {
                    audit_sign_in(app, None, claimed(), source_ip, user_agent, false).await;
                    return refused("The access key or its secret is not valid.");
                }
            }
        }
        Some(user) => {
            let account =
                form.account.clone().filter(|a| !a.is_empty()).unwrap_or_else(|| app.env.fallback_account.clone());
            if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
                return refusal(
                    StatusCode::BAD_REQUEST,
                    "ValidationException",
                    "The account is a 12-digit account ID.",
                );
            }
            let password = form.password.as_deref().unwrap_or_default();
            let checked = crate::iam::console_sign_in(
                &app.env,
                (&account, &region),
                user,
                password,
                form.new_password.as_deref().filter(|p| !p.is_empty()),
            );
            match checked.await {
                Ok(Some(crate::iam::ConsoleSignIn::Ok(p))) => p,
                Ok(Some(crate::iam::ConsoleSignIn::ResetRequired)) => {
                    return refusal(
                        StatusCode::FORBIDDEN,
                        "PasswordResetRequired",
                        "Your password must be changed before you sign in: choose a new one.",
                    )
                }
                Ok(None) => {
                    audit_sign_in(app, None, claimed(), source_ip, user_agent, false).await;
                    return refused("The user name or password is not valid.");
                }
                Err(e) => return api_refusal(&e),
            }
        }
    };
    let now = app.env.now();
    let token = random_hex(32);
    let record = SessionRecord {
        access_key_id: key.to_owned(),
        user: user.map(|_| match &principal.identity {
            crate::base::Identity::User(name) => name.clone(),
            _ => String::new(),
        }),
        region,
        arn: principal.arn.clone(),
        account: principal.account.clone(),
        csrf: random_hex(24),
        created: now,
        expires: now + SESSION_MS,
    };
    if let Err(e) = app.env.store.write(vec![Op::put(session_key(&token), encode(&record))]).await {
        return api_refusal(&crate::base::store_fault(e));
    }
    audit_sign_in(app, Some(&principal), claimed(), source_ip, user_agent, true).await;
    let mut response =
        (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], view(&record).to_string()).into_response();
    let cookie = set_cookie(&token, SESSION_MS / 1000, app.env.secure_transport);
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    response
}

/// The session a request's cookie names, checked: it exists and has not expired, a write
/// echoes its CSRF token, and its access key still stands. Returns the context to act in.
pub async fn current(app: &App, headers: &HeaderMap, write: bool) -> Result<Ctx, Response> {
    checked(app, headers, write).await.map(|(ctx, _)| ctx)
}

async fn checked(app: &App, headers: &HeaderMap, write: bool) -> Result<(Ctx, SessionRecord), Response> {
    let unauthorized = |why: &str| refusal(StatusCode::UNAUTHORIZED, "NotSignedIn", why);
    let Some(token) = cookie_token(headers) else {
        return Err(unauthorized("Sign in first."));
    };
    let key = session_key(&token);
    let item = match app.env.store.get(&key).await {
        Ok(Some(item)) => item,
        Ok(None) => return Err(unauthorized("The session is not valid; sign in again.")),
        Err(e) => return Err(api_refusal(&crate::base::store_fault(e))),
    };
    let record: SessionRecord = decode(&key, &item.value).map_err(|e| api_refusal(&e))?;
    if app.env.now() >= record.expires {
        app.env.store.write(vec![Op::delete(&key)]).await.ok();
        return Err(unauthorized("The session expired; sign in again."));
    }
    if write {
        let sent = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
        if !bool::from(subtle::ConstantTimeEq::ct_eq(sent.as_bytes(), record.csrf.as_bytes())) {
            return Err(refusal(
                StatusCode::FORBIDDEN,
                "InvalidCsrfToken",
                "The request lacks the session's CSRF token.",
            ));
        }
    }
    let still = match &record.user {
        Some(user) => crate::iam::console_principal(&app.env, &record.account, &record.region, user).await,
        None => match app.env.credentials.principal_of_key(&record.access_key_id, None, &record.region).await {
            Ok(principal) => Ok(Some(principal)),
            Err(e) if e.status() >= 500 => Err(e),
            Err(_) => Ok(None),
        },
    };
    match still {
        Ok(Some(principal)) => Ok((Ctx { env: app.env.clone(), principal }, record)),
        Err(e) => Err(api_refusal(&e)),
        Ok(None) => {
            app.env.store.write(vec![Op::delete(&key)]).await.ok();
            Err(unauthorized("What this session signed in with no longer works; sign in again."))
        }
    }
}

/// `GET /console/api/session`: who is signed in, with the CSRF token for writes.
pub async fn describe(app: &App, headers: &HeaderMap) -> Response {
    match checked(app, headers, false).await {
        Ok((_, record)) => {
            (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], view(&record).to_string()).into_response()
        }
        Err(response) => response,
    }
}

/// `POST /console/api/signout`: the session ends here and the cookie is cleared.
pub async fn sign_out(app: &App, headers: &HeaderMap) -> Response {
    if let Err(response) = current(app, headers, true).await {
        return response;
    }
    if let Some(token) = cookie_token(headers) {
        app.env.store.write(vec![Op::delete(session_key(&token))]).await.ok();
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(header::SET_COOKIE, set_cookie("", 0, app.env.secure_transport));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_and_cookies() {
        assert!(valid_region("us-east-1") && valid_region("eu-central-2") && valid_region("us-gov-west-1"));
        for bad in ["", "us", "us-east", "US-east-1", "us-east-x", "us--1", "../etc-1"] {
            assert!(!valid_region(bad), "{bad}");
        }
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=b; steward_console=abc123; c=d"));
        assert_eq!(cookie_token(&h).as_deref(), Some("abc123"));
        h.insert(header::COOKIE, HeaderValue::from_static("steward_console="));
        assert_eq!(cookie_token(&h), None);
    }
}

//! Who is calling: SigV4 verification against stored access keys.
//!
//! Access keys live in the store (`iam/access-key/<id>`) with their secret sealed by the
//! master key. Verified secrets and derived signing keys are cached in memory; a signing
//! key is valid for one day, region and service, so the cache saves four HMACs per call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::Digest;
use steward_api::sigv4::{self, Request};
use steward_api::ApiError;
use steward_store::{Op, Store};

use crate::base::crypto;
use crate::base::{decode, encode, store_fault, Identity, Principal};

/// A stored access key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessKeyRecord {
    /// The account it acts in.
    pub account: String,
    /// The principal's ARN.
    pub arn: String,
    /// The secret, sealed with the master key (base64).
    pub sealed_secret: String,
    /// `Active` or `Inactive`.
    pub status: String,
    /// Epoch ms.
    pub created: i64,
    /// The IAM user owning the key (none for the root's keys and role sessions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// For temporary credentials: the role and session they act as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_session: Option<(String, String)>,
    /// For temporary credentials: SHA-256 (hex) of the session token they need.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token_hash: Option<String>,
    /// For temporary credentials: when they stop working (epoch ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<i64>,
}

impl AccessKeyRecord {
    /// The identity this key signs as.
    pub fn identity(&self) -> Identity {
        match (&self.user, &self.role_session) {
            (Some(user), _) => Identity::User(user.clone()),
            (None, Some((role, session))) => Identity::Role { role: role.clone(), session: session.clone() },
            (None, None) => Identity::Root,
        }
    }
}

/// When and where an access key was last used, as GetAccessKeyLastUsed reports it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LastUsed {
    /// Epoch ms.
    pub date: i64,
    /// The signing name of the service called (`ssm`, `kms`, `iam`, …).
    pub service: String,
    /// The region signed for.
    pub region: String,
}

/// Where an access key's last use is kept.
pub fn last_used_key(access_key_id: &str) -> String {
    format!("iam/key-last-used/{access_key_id}")
}

/// A key's last use is written at most this often (IAM's own figure is as coarse).
const LAST_USED_EVERY_MS: i64 = 60_000;

/// (access key id, date, region, service): what a signing key is derived from.
type ScopeKey = (String, String, String, String);

#[derive(Clone)]
struct Known {
    record: AccessKeyRecord,
    /// The record's revision, to tell a changed record from the one unsealed.
    revision: i64,
    secret: String,
    /// When the record was last read from the store.
    read_at: std::time::Instant,
}

/// How long a key's record is trusted before it is read again: a key deactivated or
/// deleted through another server sharing the store stops working here within this time.
const RECHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// The access-key directory with its caches.
pub struct Credentials {
    store: Arc<dyn Store>,
    master_key: [u8; 32],
    dev_account: Option<String>,
    known: RwLock<HashMap<String, Arc<Known>>>,
    signing_keys: Mutex<HashMap<ScopeKey, [u8; 32]>>,
    /// When each key's last use was last written.
    last_written: Mutex<HashMap<String, i64>>,
}

/// Where an access key is stored.
pub fn key_of(access_key_id: &str) -> String {
    format!("iam/access-key/{access_key_id}")
}

fn secret_aad(access_key_id: &str) -> Vec<u8> {
    format!("access-key:{access_key_id}").into_bytes()
}

impl Credentials {
    /// A directory over `store`. With `dev_account`, signatures are not checked and every
    /// caller acts in that account (or, for a 12-digit access key id, in that account).
    pub fn new(store: Arc<dyn Store>, master_key: [u8; 32], dev_account: Option<String>) -> Self {
        Credentials {
            store,
            master_key,
            dev_account,
            known: RwLock::new(HashMap::new()),
            signing_keys: Mutex::new(HashMap::new()),
            last_written: Mutex::new(HashMap::new()),
        }
    }

    /// Records a lasting key's use, in the background and at most once a minute per key.
    fn note_use(&self, access_key_id: &str, service: &str, region: &str, now_ms: i64) {
        {
            let mut written = self.last_written.lock().expect("last-used lock");
            if written.get(access_key_id).is_some_and(|at| now_ms - at < LAST_USED_EVERY_MS) {
                return;
            }
            if written.len() > 100_000 {
                written.clear();
            }
            written.insert(access_key_id.to_owned(), now_ms);
        }
        let used = LastUsed { date: now_ms, service: service.to_owned(), region: region.to_owned() };
        let op = Op::put(last_used_key(access_key_id), encode(&used));
        let store = self.store.clone();
        tokio::spawn(async move {
            if let Err(e) = store.write(vec![op]).await {
                tracing::debug!(error = %e, "Could not record an access key's last use.");
            }
        });
    }

    /// Creates an access key for the root `arn` of `account`; returns (id, secret).
    pub async fn create(&self, account: &str, arn: &str, now: i64) -> Result<(String, String), ApiError> {
        let (id, secret, record) = self.mint("AKIA", account, arn, now);
        self.store.write(vec![Op::put(key_of(&id), encode(&record)).if_absent()]).await.map_err(store_fault)?;
        Ok((id, secret))
    }

    /// A new key id (with `prefix`: `AKIA` lasting, `ASIA` temporary), its secret, and its
    /// record with the secret sealed; the caller stores the record.
    pub fn mint(&self, prefix: &str, account: &str, arn: &str, now: i64) -> (String, String, AccessKeyRecord) {
        const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        const SECRET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let id = format!("{prefix}{}", crypto::random_string(UPPER, 16));
        let secret = crypto::random_string(SECRET, 40);
        let sealed = crypto::seal(&self.master_key, &secret_aad(&id), secret.as_bytes());
        let record = AccessKeyRecord {
            account: account.to_owned(),
            arn: arn.to_owned(),
            sealed_secret: base64::engine::general_purpose::STANDARD.encode(sealed),
            status: "Active".into(),
            created: now,
            user: None,
            role_session: None,
            session_token_hash: None,
            expires: None,
        };
        (id, secret, record)
    }

    /// Drops a key from the caches after it changed (deactivated, deleted).
    pub fn forget(&self, access_key_id: &str) {
        self.known.write().expect("credentials lock").remove(access_key_id);
        self.signing_keys.lock().expect("signing key lock").retain(|k, _| k.0 != access_key_id);
    }

    /// The secret of a stored key, if it exists and unseals.
    pub async fn secret_of(&self, access_key_id: &str) -> Result<Option<String>, ApiError> {
        Ok(self.lookup(access_key_id).await?.map(|k| k.secret.clone()))
    }

    async fn lookup(&self, access_key_id: &str) -> Result<Option<Arc<Known>>, ApiError> {
        let cached = self.known.read().expect("credentials lock").get(access_key_id).cloned();
        if let Some(k) = &cached {
            if k.read_at.elapsed() < RECHECK {
                return Ok(cached);
            }
        }
        let key = key_of(access_key_id);
        let Some(item) = self.store.get(&key).await.map_err(store_fault)? else {
            self.forget(access_key_id);
            return Ok(None);
        };
        let known = match cached.filter(|k| k.revision == item.revision) {
            // Unchanged: keep the unsealed secret, trust it for another interval.
            Some(k) => Arc::new(Known { read_at: std::time::Instant::now(), ..(*k).clone() }),
            None => {
                let record: AccessKeyRecord = decode(&key, &item.value)?;
                let sealed =
                    base64::engine::general_purpose::STANDARD.decode(&record.sealed_secret).unwrap_or_default();
                let Some(secret) = crypto::open(&self.master_key, &secret_aad(access_key_id), &sealed) else {
                    tracing::error!(access_key_id, "An access key's secret does not unseal with this master key.");
                    return Err(ApiError::internal());
                };
                let secret = String::from_utf8_lossy(&secret).into_owned();
                Arc::new(Known { record, revision: item.revision, secret, read_at: std::time::Instant::now() })
            }
        };
        let mut cache = self.known.write().expect("credentials lock");
        if cache.len() > 100_000 {
            cache.clear();
        }
        cache.insert(access_key_id.to_owned(), known.clone());
        Ok(Some(known))
    }

    /// The caller an access key stands for, without a request signature: the console's
    /// sign-in shows the secret itself (`secret`, compared in constant time), and each later
    /// call of a console session names the key it signed in with (`None`), so a key
    /// deactivated or deleted since ends the session. Temporary keys do not sign in.
    pub async fn principal_of_key(
        &self,
        access_key_id: &str,
        secret: Option<&str>,
        region: &str,
    ) -> Result<Principal, ApiError> {
        if let Some(account) = &self.dev_account {
            let valid = access_key_id.len() >= 3 && access_key_id.bytes().all(|b| b.is_ascii_alphanumeric());
            if !valid {
                return Err(unrecognized());
            }
            return Ok(Principal { access_key_id: access_key_id.to_owned(), ..Principal::root(account, region) });
        }
        let Some(known) = self.lookup(access_key_id).await? else {
            return Err(unrecognized());
        };
        if known.record.status != "Active" || known.record.session_token_hash.is_some() {
            return Err(unrecognized());
        }
        if let Some(secret) = secret {
            if !bool::from(subtle::ConstantTimeEq::ct_eq(secret.as_bytes(), known.secret.as_bytes())) {
                return Err(ApiError::new("InvalidSignatureException", "The secret access key does not match."));
            }
        }
        Ok(Principal {
            account: known.record.account.clone(),
            region: region.to_owned(),
            arn: known.record.arn.clone(),
            access_key_id: access_key_id.to_owned(),
            identity: known.record.identity(),
            source_ip: None,
            request_host: None,
        })
    }

    /// Verifies the request's signature for the service signing as `signing_name` and
    /// returns the caller.
    pub async fn authenticate(
        &self,
        req: &Request<'_>,
        signing_name: &str,
        now_secs: i64,
    ) -> Result<Principal, ApiError> {
        let auth = sigv4::parse_authorization(req)?;
        // The JSON and query APIs sign their bodies: an unsigned payload would let whoever
        // sees one signed request replay its headers with any body.
        let unsigned = req.headers.iter().any(|(n, v)| {
            n.eq_ignore_ascii_case("x-amz-content-sha256") && v.trim().eq_ignore_ascii_case("UNSIGNED-PAYLOAD")
        });
        if unsigned {
            return Err(ApiError::new(
                "InvalidSignatureException",
                "This API signs its payload: X-Amz-Content-Sha256 UNSIGNED-PAYLOAD is not accepted.",
            ));
        }
        if auth.service != signing_name {
            return Err(ApiError::new(
                "InvalidSignatureException",
                format!("Credential should be scoped to correct service: '{signing_name}'. "),
            ));
        }
        if let Some(default_account) = &self.dev_account {
            let valid = auth.access_key_id.len() >= 3 && auth.access_key_id.bytes().all(|b| b.is_ascii_alphanumeric());
            if !valid {
                return Err(unrecognized());
            }
            // As other AWS emulators do: a 12-digit access key id acts as that account, so
            // tests can play several accounts; any other key acts as the default account.
            let account = if auth.access_key_id.len() == 12 && auth.access_key_id.bytes().all(|b| b.is_ascii_digit()) {
                auth.access_key_id.clone()
            } else {
                default_account.clone()
            };
            return Ok(Principal { access_key_id: auth.access_key_id, ..Principal::root(&account, &auth.region) });
        }
        let amz_date = sigv4::check_clock(req, &auth, now_secs)?;
        let Some(known) = self.lookup(&auth.access_key_id).await? else {
            return Err(unrecognized());
        };
        if known.record.status != "Active" {
            return Err(unrecognized());
        }
        if let Some(expected) = &known.record.session_token_hash {
            // Temporary credentials: the session token must come along, and time is up at
            // the expiry.
            let token =
                req.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("x-amz-security-token")).map(|(_, v)| *v);
            let matches = token.is_some_and(|t| {
                subtle::ConstantTimeEq::ct_eq(
                    hex::encode(sha2::Sha256::digest(t.as_bytes())).as_bytes(),
                    expected.as_bytes(),
                )
                .into()
            });
            if !matches || known.record.expires.is_some_and(|e| now_secs * 1000 >= e) {
                return Err(ApiError::new(
                    "ExpiredTokenException",
                    "The security token included in the request is expired or invalid.",
                ));
            }
        }
        let cache_key = (auth.access_key_id.clone(), auth.date.clone(), auth.region.clone(), auth.service.clone());
        let cached = self.signing_keys.lock().expect("signing key lock").get(&cache_key).copied();
        let signing_key = match cached {
            Some(k) => k,
            None => {
                let k = sigv4::signing_key(&known.secret, &auth.date, &auth.region, &auth.service);
                let mut cache = self.signing_keys.lock().expect("signing key lock");
                if cache.len() > 10_000 {
                    cache.clear();
                }
                cache.insert(cache_key, k);
                k
            }
        };
        let to_sign = sigv4::string_to_sign(req, &auth, &amz_date);
        if !sigv4::verify(&signing_key, &to_sign, &auth.signature) {
            return Err(ApiError::new(
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
            ));
        }
        if known.record.session_token_hash.is_none() {
            self.note_use(&auth.access_key_id, &auth.service, &auth.region, now_secs * 1000);
        }
        Ok(Principal {
            account: known.record.account.clone(),
            region: auth.region,
            arn: known.record.arn.clone(),
            access_key_id: auth.access_key_id,
            identity: known.record.identity(),
            source_ip: None,
            request_host: None,
        })
    }
}

fn unrecognized() -> ApiError {
    ApiError::new("UnrecognizedClientException", "The security token included in the request is invalid.")
}

/// The machine's time in epoch seconds, which request signatures are checked against.
pub fn wall_clock_secs() -> i64 {
    use steward_core::clock::Clock;
    steward_core::clock::SystemClock.now_millis() / 1000
}

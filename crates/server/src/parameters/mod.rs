//! Parameter Store: hierarchical configuration and secrets.
//!
//! Records: the head of each parameter (current version, labels, tags, policies) at
//! `param/<account>/<region>/<name without leading slash>`, and every kept version at
//! `paramv/<account>/<region>/<name>#<version>`. `#` cannot occur in names, so the
//! versions of `a` never mix with those of `a/b`. A put writes the head (conditional on its
//! revision), the new version and the change event in one batch.
//!
//! SecureString values are stored only as ciphertext from the key service, bound to the
//! parameter's ARN.

mod delete;
mod get;
mod labels;
mod list;
mod policy;
mod put;

pub use delete::{delete_parameter, delete_parameters};
pub use get::{find, get_parameter, get_parameter_history, get_parameters};
pub use labels::{label_parameter_version, unlabel_parameter_version};
pub use list::{describe_parameters, get_parameters_by_path};
pub use policy::{run as run_policies, sweep as sweep_policies};
pub use put::put_parameter;

use std::collections::BTreeMap;

use base64::Engine;
use serde::{Deserialize, Serialize};
use steward_api::ssm::parameters::{Parameter, ParameterInlinePolicy};
use steward_api::ApiError;
use steward_core::parameters::names;
use steward_store::{prefix_end, Item, Op, Start, StoreError};

use crate::base::events::{Event, Events};
use crate::base::kms::Keyring;
use crate::base::Ctx;
use crate::base::Principal;
use crate::base::{decode, encode, store_fault};

/// Most versions kept per parameter.
pub const MAX_VERSIONS: i64 = 100;

/// A policy as stored, with its status.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredPolicy {
    /// The policy JSON.
    pub text: String,
    /// Expiration, ExpirationNotification, NoChangeNotification.
    pub kind: String,
    /// Pending, Finished.
    pub status: String,
}

/// The fields every version carries.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VersionRecord {
    /// The name as created.
    pub name: String,
    /// String, StringList, SecureString.
    pub kind: String,
    /// Plaintext, or base64 ciphertext for SecureString.
    pub value: String,
    /// The version number.
    pub version: i64,
    /// Standard or Advanced.
    pub tier: String,
    /// Description.
    pub description: Option<String>,
    /// AllowedPattern.
    pub allowed_pattern: Option<String>,
    /// KMS key as the caller named it (SecureString).
    pub key_id: Option<String>,
    /// text, aws:ec2:image, …
    pub data_type: String,
    /// Policies in force at this version.
    pub policies: Vec<StoredPolicy>,
    /// Epoch ms.
    pub last_modified: i64,
    /// The caller's ARN.
    pub last_modified_user: String,
}

/// The head record: the latest version plus what belongs to the parameter as a whole.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Head {
    /// The latest version.
    pub current: VersionRecord,
    /// The oldest version still kept.
    pub first_version: i64,
    /// Label → version.
    pub labels: BTreeMap<String, i64>,
    /// Tags.
    pub tags: Vec<(String, String)>,
    /// Keys of this parameter's entries in the policy schedule.
    pub policy_index: Vec<String>,
}

impl Head {
    /// Labels on `version`, sorted.
    pub fn labels_of(&self, version: i64) -> Vec<String> {
        self.labels.iter().filter(|(_, v)| **v == version).map(|(l, _)| l.clone()).collect()
    }
}

/// Store key of a parameter's head.
pub fn head_key(account: &str, region: &str, name: &str) -> String {
    format!("param/{account}/{region}/{}", names::key_of(name))
}

/// Store key of one version.
pub fn version_key(account: &str, region: &str, name: &str, version: i64) -> String {
    format!("paramv/{account}/{region}/{}#{version:020}", names::key_of(name))
}

/// The prefix of every version of a parameter.
pub fn versions_prefix(account: &str, region: &str, name: &str) -> String {
    format!("paramv/{account}/{region}/{}#", names::key_of(name))
}

pub use crate::base::fault;

/// `ParameterNotFound`, with the name as asked.
pub fn not_found(name: &str) -> ApiError {
    ApiError::new("ParameterNotFound", format!("Parameter {name} not found."))
}

/// Checks a name given to a lookup; accepts the parameter's ARN too.
pub fn lookup_name<'a>(ctx: &Ctx, name: &'a str) -> Result<&'a str, ApiError> {
    let p = &ctx.principal;
    let name = names::strip_arn(name, &p.region, &p.account).ok_or_else(|| not_found(name))?;
    names::check_name(name).map_err(fault)?;
    Ok(name)
}

/// Reads a head.
pub async fn load_head(ctx: &Ctx, name: &str) -> Result<Option<(Head, i64)>, ApiError> {
    let key = head_key(&ctx.principal.account, &ctx.principal.region, name);
    let item = ctx.env.store.get(&key).await.map_err(store_fault)?;
    item.map(|i| Ok((decode::<Head>(&key, &i.value)?, i.revision))).transpose()
}

/// Every parameter of the caller's account and region (heads: latest version and tags).
pub async fn all_heads(ctx: &Ctx) -> Result<Vec<Head>, ApiError> {
    let p = &ctx.principal;
    crate::base::read_all(ctx.env.store.as_ref(), &format!("param/{}/{}/", p.account, p.region)).await
}

/// Reads one version.
pub async fn load_version(ctx: &Ctx, name: &str, version: i64) -> Result<Option<VersionRecord>, ApiError> {
    let key = version_key(&ctx.principal.account, &ctx.principal.region, name, version);
    let item = ctx.env.store.get(&key).await.map_err(store_fault)?;
    item.map(|i| decode(&key, &i.value)).transpose()
}

/// Every kept version of a parameter, oldest first.
pub async fn load_versions(ctx: &Ctx, name: &str) -> Result<Vec<Item>, ApiError> {
    let prefix = versions_prefix(&ctx.principal.account, &ctx.principal.region, name);
    ctx.env
        .store
        .range(Start::At(&prefix), &prefix_end(&prefix), (MAX_VERSIONS + 1) as usize)
        .await
        .map_err(store_fault)
}

/// Applies `change` to a head under optimistic concurrency and writes it.
pub async fn update_head<T>(
    ctx: &Ctx,
    name: &str,
    mut change: impl FnMut(&mut Head) -> Result<(T, Option<Event>), ApiError>,
) -> Result<T, ApiError> {
    let p = &ctx.principal;
    for _ in 0..8 {
        let Some((mut head, revision)) = load_head(ctx, name).await? else {
            return Err(not_found(name));
        };
        let (out, event) = change(&mut head)?;
        let mut batch = vec![Op::put(head_key(&p.account, &p.region, name), encode(&head)).if_revision(revision)];
        batch.extend(event.as_ref().map(Event::op));
        match ctx.env.store.write(batch).await {
            Ok(()) => {
                if let Some(event) = event {
                    ctx.env.events.deliver(event);
                }
                return Ok(out);
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

/// The encryption context of a parameter's values.
pub fn value_context(arn: &str) -> Vec<u8> {
    format!("{{\"PARAMETER_ARN\":{}}}", serde_json::Value::String(arn.to_owned())).into_bytes()
}

/// Wraps a key-service failure as SSM reports it: `InvalidKeyId` carrying the KMS error.
pub fn key_failure(e: ApiError) -> ApiError {
    if e.status() >= 500 {
        return e;
    }
    ApiError::new(
        "InvalidKeyId",
        format!(
            "{} (Service: AWSKMS; Status Code: 400; Error Code: {}; Request ID: {}; Proxy: null)",
            e.message(),
            e.code(),
            uuid::Uuid::new_v4()
        ),
    )
}

/// The value to return: plaintext when asked and allowed, otherwise as stored.
pub async fn reveal(ctx: &Ctx, record: &VersionRecord, with_decryption: bool) -> Result<String, ApiError> {
    if record.kind != "SecureString" || !with_decryption {
        return Ok(record.value.clone());
    }
    let p = &ctx.principal;
    let blob = base64::engine::general_purpose::STANDARD.decode(&record.value).map_err(|_| ApiError::internal())?;
    // Decrypting needs kms:Decrypt on the value's key as well as the SSM permission.
    if let Some(key_id) = Keyring::key_id_of(&blob) {
        let key_arn = format!("arn:aws:kms:{}:{}:key/{key_id}", p.region, p.account);
        crate::base::access::authorize(ctx, "kms:Decrypt", &[key_arn], |r| r).await?;
    }
    let arn = names::arn(&p.region, &p.account, &record.name);
    let (_, plaintext) = ctx
        .env
        .kms
        .decrypt(&p.account, &p.region, &blob, &value_context(&arn), ctx.env.now())
        .await
        .map_err(key_failure)?;
    String::from_utf8(plaintext).map_err(|_| ApiError::internal())
}

/// Seals a SecureString value under the key the caller named (default `alias/aws/ssm`).
pub async fn seal_value(ctx: &Ctx, name: &str, key_ref: &str, value: &str) -> Result<String, ApiError> {
    let p = &ctx.principal;
    let record = ctx.env.kms.resolve(&p.account, &p.region, key_ref, ctx.env.now()).await.map_err(key_failure)?;
    Keyring::check_usable(&record).map_err(key_failure)?;
    crate::base::access::authorize(ctx, "kms:Encrypt", std::slice::from_ref(&record.arn), |r| r).await?;
    let arn = names::arn(&p.region, &p.account, name);
    let blob = ctx.env.kms.encrypt(&record, value.as_bytes(), &value_context(&arn)).map_err(key_failure)?;
    Ok(base64::engine::general_purpose::STANDARD.encode(blob))
}

/// The wire form of one version.
pub fn to_parameter(ctx: &Ctx, record: &VersionRecord, value: String, selector: Option<String>) -> Parameter {
    let p = &ctx.principal;
    Parameter {
        name: record.name.clone(),
        kind: record.kind.clone(),
        value,
        version: record.version,
        selector,
        source_result: None,
        last_modified_date: steward_api::time::epoch_seconds(record.last_modified),
        arn: names::arn(&p.region, &p.account, &record.name),
        data_type: record.data_type.clone(),
    }
}

/// The wire form of stored policies.
pub fn to_policies(policies: &[StoredPolicy]) -> Vec<ParameterInlinePolicy> {
    policies
        .iter()
        .map(|p| ParameterInlinePolicy {
            policy_text: p.text.clone(),
            policy_type: p.kind.clone(),
            policy_status: p.status.clone(),
        })
        .collect()
}

/// "Parameter Store Change" for a create, update, delete or label change.
pub fn change_event(events: &Events, p: &Principal, record: &VersionRecord, operation: &str, now: i64) -> Event {
    let arn = names::arn(&p.region, &p.account, &record.name);
    let detail = serde_json::json!({
        "operation": operation,
        "name": record.name,
        "type": record.kind,
        "description": record.description.clone().unwrap_or_default(),
    });
    events.event(&p.account, &p.region, "Parameter Store Change", vec![arn], detail, now)
}

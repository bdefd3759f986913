//! IAM's records as every capability reads them: users, groups, roles and managed
//! policies, their store keys, and the principal a service role acts as. The IAM API that
//! writes them is `crate::iam`; the policies they grant are cached by [`super::policy_cache`].
//!
//! IAM is global (no region). Names are unique per account regardless of case, as in IAM,
//! so keys use the lower-cased name: `iam/user/<acct>/<name>`, `iam/group/<acct>/<name>`,
//! `iam/role/<acct>/<name>`, `iam/policy/<acct>/<name>`, and the index of a user's keys
//! `iam/user-key/<acct>/<name>/<key id>`. Access keys themselves are `iam/access-key/<id>`
//! ([`super::credentials`]). Group membership lives on the user record.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use steward_api::ApiError;

use super::{decode, store_fault, Ctx, Identity, Principal};

/// An IAM user.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UserRecord {
    /// Name as given.
    pub name: String,
    /// `AIDA…`.
    pub id: String,
    /// `arn:aws:iam::<acct>:user<path><name>`.
    pub arn: String,
    /// `/` or `/a/b/`.
    pub path: String,
    /// Epoch ms.
    pub created: i64,
    /// Groups (names as given).
    pub groups: Vec<String>,
    /// Inline policies by name.
    pub inline: BTreeMap<String, String>,
    /// Attached managed policy ARNs.
    pub attached: Vec<String>,
    /// Tags (for `aws:PrincipalTag/…`).
    pub tags: BTreeMap<String, String>,
}

/// An IAM group.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GroupRecord {
    /// Name as given.
    pub name: String,
    /// `AGPA…`.
    pub id: String,
    /// ARN.
    pub arn: String,
    /// Path.
    pub path: String,
    /// Epoch ms.
    pub created: i64,
    /// Inline policies by name.
    pub inline: BTreeMap<String, String>,
    /// Attached managed policy ARNs.
    pub attached: Vec<String>,
}

/// An IAM role.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RoleRecord {
    /// Name as given.
    pub name: String,
    /// `AROA…`.
    pub id: String,
    /// ARN.
    pub arn: String,
    /// Path.
    pub path: String,
    /// Epoch ms.
    pub created: i64,
    /// The trust policy (who may assume it).
    pub trust: String,
    /// Description.
    pub description: String,
    /// Longest session in seconds (3600–43200).
    pub max_session: i64,
    /// Inline policies by name.
    pub inline: BTreeMap<String, String>,
    /// Attached managed policy ARNs.
    pub attached: Vec<String>,
    /// Tags (for `aws:PrincipalTag/…` of its sessions).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// One version of a managed policy.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PolicyVersion {
    /// `v1`, `v2`, …
    pub id: String,
    /// The policy text.
    pub document: String,
    /// Epoch ms.
    pub created: i64,
}

/// A customer managed policy.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PolicyRecord {
    /// Name as given.
    pub name: String,
    /// `ANPA…`.
    pub id: String,
    /// ARN.
    pub arn: String,
    /// Path.
    pub path: String,
    /// Description.
    pub description: String,
    /// The default version's document (the one that applies).
    pub document: String,
    /// Epoch ms.
    pub created: i64,
    /// How many users, groups and roles have it attached.
    pub attachments: i64,
    /// Every version kept (empty: only `v1`, which is `document`).
    #[serde(default)]
    pub versions: Vec<PolicyVersion>,
    /// The default version (empty: `v1`).
    #[serde(default)]
    pub default_version: String,
    /// The number the next version gets (numbers are not reused).
    #[serde(default)]
    pub next_version: u32,
}

/// Store key of a user.
pub fn user_key(account: &str, name: &str) -> String {
    format!("iam/user/{account}/{}", name.to_ascii_lowercase())
}

/// Store key of a group.
pub fn group_key(account: &str, name: &str) -> String {
    format!("iam/group/{account}/{}", name.to_ascii_lowercase())
}

/// Store key of a role.
pub fn role_key(account: &str, name: &str) -> String {
    format!("iam/role/{account}/{}", name.to_ascii_lowercase())
}

/// Store key of a managed policy.
pub fn policy_key(account: &str, name: &str) -> String {
    format!("iam/policy/{account}/{}", name.to_ascii_lowercase())
}

/// Prefix of every record of one kind (`user`, `group`, `role`, `policy`) in an account.
pub fn records_prefix(kind: &str, account: &str) -> String {
    format!("iam/{kind}/{account}/")
}

/// Prefix of a user's access-key index.
pub fn user_keys_prefix(account: &str, name: &str) -> String {
    format!("iam/user-key/{account}/{}/", name.to_ascii_lowercase())
}

/// Loads a record, with its revision.
pub async fn load<T: serde::de::DeserializeOwned>(ctx: &Ctx, key: &str) -> Result<Option<(T, i64)>, ApiError> {
    match ctx.env.store.get(key).await.map_err(store_fault)? {
        Some(item) => Ok(Some((decode(key, &item.value)?, item.revision))),
        None => Ok(None),
    }
}

/// The name of a managed policy from its ARN in this account, if it is one.
pub fn policy_name_of_arn<'a>(account: &str, arn: &'a str) -> Option<&'a str> {
    let rest = arn.strip_prefix("arn:aws:iam::")?.strip_prefix(account)?.strip_prefix(":policy/")?;
    Some(rest.rsplit('/').next().unwrap_or(rest))
}

/// The principal a service role acts as: a node's activation role, a maintenance window
/// task's `ServiceRoleArn`. `role` is a name or a role ARN; a service-linked role
/// (`…:role/aws-service-role/…`, SSM's own) is not bounded by the account's policies: None.
pub fn role_session(account: &str, region: &str, role: &str, session: &str) -> Option<Principal> {
    let path = role.split_once(":role/").map_or(role, |(_, path)| path);
    if path.starts_with("aws-service-role/") {
        return None;
    }
    let name = path.rsplit('/').next().unwrap_or(path).to_owned();
    Some(Principal {
        arn: format!("arn:aws:sts::{account}:assumed-role/{name}/{session}"),
        access_key_id: String::new(),
        identity: Identity::Role { role: name, session: session.to_owned() },
        ..Principal::root(account, region)
    })
}

//! Identity and access: users, groups, roles, managed and inline policies, access keys,
//! temporary credentials, and the check every API call passes ([`authz`]).
//!
//! IAM is global (no region). Names are unique per account regardless of case, as in IAM,
//! so keys use the lower-cased name: `iam/user/<acct>/<name>`, `iam/group/<acct>/<name>`,
//! `iam/role/<acct>/<name>`, `iam/policy/<acct>/<name>`, and the index of a user's keys
//! `iam/user-key/<acct>/<name>/<key id>`. Access keys themselves are `iam/access-key/<id>`
//! ([`crate::auth`]). Group membership lives on the user record.

pub mod authz;
pub mod identities;
pub mod query;
pub mod sts;
pub mod xml;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use steward_api::ApiError;
use steward_core::iam::policy::{self, Kind, Policy};

use crate::dispatch::Ctx;
use crate::state::{decode, store_fault, Identity, Principal};

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
}

/// A customer managed policy (one version, `v1`, replaced in place).
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
    /// The document.
    pub document: String,
    /// Epoch ms.
    pub created: i64,
    /// How many users, groups and roles have it attached.
    pub attachments: i64,
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

/// Prefix of a user's access-key index.
pub fn user_keys_prefix(account: &str, name: &str) -> String {
    format!("iam/user-key/{account}/{}/", name.to_ascii_lowercase())
}

/// Loads a record, with its revision.
pub async fn load<T: serde::de::DeserializeOwned>(ctx: &Ctx, key: &str) -> Result<Option<(T, i64)>, ApiError> {
    match ctx.state.store.get(key).await.map_err(store_fault)? {
        Some(item) => Ok(Some((decode(key, &item.value)?, item.revision))),
        None => Ok(None),
    }
}

/// The name of a managed policy from its ARN in this account, if it is one.
pub fn policy_name_of_arn<'a>(account: &str, arn: &'a str) -> Option<&'a str> {
    let rest = arn.strip_prefix("arn:aws:iam::")?.strip_prefix(account)?.strip_prefix(":policy/")?;
    Some(rest.rsplit('/').next().unwrap_or(rest))
}

/// Inline documents plus the documents of attached managed policies.
async fn gather(
    ctx: &Ctx,
    account: &str,
    inline: &BTreeMap<String, String>,
    attached: &[String],
    out: &mut Vec<String>,
) {
    out.extend(inline.values().cloned());
    for arn in attached {
        let Some(name) = policy_name_of_arn(account, arn) else { continue };
        if let Ok(Some((record, _))) = load::<PolicyRecord>(ctx, &policy_key(account, name)).await {
            out.push(record.document);
        }
    }
}

/// The caller's identity record details needed for conditions.
#[derive(Debug, Default)]
pub struct Subject {
    /// Every policy that applies to the caller.
    pub policies: Vec<Policy>,
    /// `aws:userid`.
    pub user_id: String,
    /// `aws:PrincipalTag/…`.
    pub tags: BTreeMap<String, String>,
}

/// Every identity policy that applies to a non-root caller.
pub async fn subject_of(ctx: &Ctx, principal: &Principal) -> Result<Subject, ApiError> {
    let account = &principal.account;
    let mut documents = Vec::new();
    let mut subject = Subject::default();
    match &principal.identity {
        Identity::Root => {}
        Identity::User(name) => {
            if let Some((user, _)) = load::<UserRecord>(ctx, &user_key(account, name)).await? {
                gather(ctx, account, &user.inline, &user.attached, &mut documents).await;
                for group in &user.groups {
                    if let Some((g, _)) = load::<GroupRecord>(ctx, &group_key(account, group)).await? {
                        gather(ctx, account, &g.inline, &g.attached, &mut documents).await;
                    }
                }
                subject.user_id = user.id;
                subject.tags = user.tags;
            }
        }
        Identity::Role { role, session } => {
            if let Some((r, _)) = load::<RoleRecord>(ctx, &role_key(account, role)).await? {
                gather(ctx, account, &r.inline, &r.attached, &mut documents).await;
                subject.user_id = format!("{}:{session}", r.id);
            }
        }
    }
    // Documents were validated when stored; one that no longer parses grants nothing.
    subject.policies = documents.iter().filter_map(|d| policy::parse(d, Kind::Identity).ok()).collect();
    Ok(subject)
}

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
pub mod tagging;
pub mod versions;
pub mod xml;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use steward_api::ApiError;
use steward_core::iam::eval::Decision;
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

/// Parsed policies by the record they come from and its revision: a request re-reads the
/// records (cheap, and always current) but parses a document only once per change.
#[derive(Default)]
pub struct PolicyCache {
    parsed: Mutex<HashMap<RecordVersion, Arc<Vec<Policy>>>>,
    /// Whole subjects by caller, valid while the IAM generation they were built at holds.
    subjects: Mutex<HashMap<String, Stamped<Arc<Subject>>>>,
    /// The generation as last read, and when: changes made here apply at once, changes made
    /// by another server sharing the store within [`GENERATION_TTL`].
    generation: Mutex<Option<(Vec<u8>, std::time::Instant)>>,
}

/// How long a read of the IAM generation is trusted.
pub const GENERATION_TTL: std::time::Duration = std::time::Duration::from_secs(1);

async fn current_generation(ctx: &Ctx) -> Result<Vec<u8>, ApiError> {
    let cache = &ctx.state.policy_cache;
    if let Some((stamp, read_at)) = &*cache.generation.lock().expect("generation lock") {
        if read_at.elapsed() < GENERATION_TTL {
            return Ok(stamp.clone());
        }
    }
    let stamp = ctx.state.store.get(GENERATION_KEY).await.map_err(store_fault)?.map(|i| i.value).unwrap_or_default();
    *cache.generation.lock().expect("generation lock") = Some((stamp.clone(), std::time::Instant::now()));
    Ok(stamp)
}

/// A record's store key and revision.
type RecordVersion = (String, i64);

/// A value and the IAM generation it was built at.
type Stamped<T> = (Vec<u8>, T);

/// Bumped by every change to IAM, so cached subjects are rebuilt at once, on every server.
pub const GENERATION_KEY: &str = "iam/generation";

/// Marks every cached subject stale (after an IAM change).
pub async fn bump_generation(ctx: &Ctx) -> Result<(), ApiError> {
    let stamp = uuid::Uuid::new_v4().as_bytes().to_vec();
    ctx.state.store.write(vec![steward_store::Op::put(GENERATION_KEY, stamp.clone())]).await.map_err(store_fault)?;
    *ctx.state.policy_cache.generation.lock().expect("generation lock") = Some((stamp, std::time::Instant::now()));
    Ok(())
}

impl PolicyCache {
    fn get_or_parse(&self, key: &str, revision: i64, documents: impl FnOnce() -> Vec<String>) -> Arc<Vec<Policy>> {
        let id = (key.to_owned(), revision);
        if let Some(hit) = self.parsed.lock().expect("policy cache lock").get(&id) {
            return hit.clone();
        }
        // Documents were validated when stored; one that no longer parses grants nothing.
        let parsed: Arc<Vec<Policy>> =
            Arc::new(documents().iter().filter_map(|d| policy::parse(d, Kind::Identity).ok()).collect());
        let mut map = self.parsed.lock().expect("policy cache lock");
        if map.len() > 10_000 {
            map.clear();
        }
        map.insert(id, parsed.clone());
        parsed
    }
}

/// A holder's inline policies, then its attached managed policies.
async fn gather(
    ctx: &Ctx,
    account: &str,
    holder: (&str, i64, &BTreeMap<String, String>),
    attached: &[String],
    out: &mut Vec<Arc<Vec<Policy>>>,
) -> Result<(), ApiError> {
    let cache = &ctx.state.policy_cache;
    let (key, revision, inline) = holder;
    out.push(cache.get_or_parse(key, revision, || inline.values().cloned().collect()));
    for arn in attached {
        let Some(name) = policy_name_of_arn(account, arn) else { continue };
        let pkey = policy_key(account, name);
        let Some(item) = ctx.state.store.get(&pkey).await.map_err(store_fault)? else { continue };
        out.push(cache.get_or_parse(&pkey, item.revision, || {
            decode::<PolicyRecord>(&pkey, &item.value).map(|r| vec![r.document]).unwrap_or_default()
        }));
    }
    Ok(())
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

/// The caller's identity record details needed for conditions.
#[derive(Debug, Default)]
pub struct Subject {
    /// Every policy that applies to the caller, grouped by where it is kept.
    pub policies: Vec<Arc<Vec<Policy>>>,
    /// `aws:userid`.
    pub user_id: String,
    /// `aws:PrincipalTag/…`.
    pub tags: BTreeMap<String, String>,
    /// Whether any condition reads a resource's tags (only then are they loaded).
    pub uses_resource_tags: bool,
    /// Decisions by (action, resource, region), kept only when every condition in the
    /// caller's policies reads keys fixed for the caller (so the answer cannot change
    /// before the next IAM change, which builds a new subject).
    decisions: Option<Mutex<HashMap<Asked, Decision>>>,
}

/// (action, resource, region): what a decision answers.
type Asked = (String, String, String);

/// Condition keys whose values are the same for every request of one caller.
fn fixed_for_caller(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    matches!(
        key.as_str(),
        "aws:username" | "aws:userid" | "aws:principalarn" | "aws:principalaccount" | "aws:securetransport"
    ) || key.starts_with("aws:principaltag/")
}

impl Subject {
    /// A decision taken before for the same request, if decisions may be reused.
    pub fn remembered(&self, action: &str, resource: &str, region: &str) -> Option<Decision> {
        let cache = self.decisions.as_ref()?.lock().expect("decision cache lock");
        cache.get(&(action.to_owned(), resource.to_owned(), region.to_owned())).copied()
    }

    /// Keeps a decision, if decisions may be reused.
    pub fn remember(&self, action: &str, resource: &str, region: &str, decision: Decision) {
        if let Some(cache) = &self.decisions {
            let mut cache = cache.lock().expect("decision cache lock");
            if cache.len() > 10_000 {
                cache.clear();
            }
            cache.insert((action.to_owned(), resource.to_owned(), region.to_owned()), decision);
        }
    }
}

impl Subject {
    /// Every policy, one by one.
    pub fn each(&self) -> impl Iterator<Item = &Policy> {
        self.policies.iter().flat_map(|group| group.iter())
    }
}

/// Every identity policy that applies to a non-root caller, from the cache while no IAM
/// change happened since it was built.
pub async fn subject_of(ctx: &Ctx, principal: &Principal) -> Result<Arc<Subject>, ApiError> {
    let generation = current_generation(ctx).await?;
    let who = format!("{}|{:?}", principal.account, principal.identity);
    let cache = &ctx.state.policy_cache;
    if let Some((built_at, subject)) = cache.subjects.lock().expect("subject cache lock").get(&who) {
        if *built_at == generation {
            return Ok(subject.clone());
        }
    }
    let subject = Arc::new(build_subject(ctx, principal).await?);
    let mut subjects = cache.subjects.lock().expect("subject cache lock");
    if subjects.len() > 10_000 {
        subjects.clear();
    }
    subjects.insert(who, (generation, subject.clone()));
    Ok(subject)
}

async fn build_subject(ctx: &Ctx, principal: &Principal) -> Result<Subject, ApiError> {
    let account = &principal.account;
    let mut subject = Subject::default();
    let mut groups = Vec::new();
    match &principal.identity {
        Identity::Root => {}
        Identity::User(name) => {
            let key = user_key(account, name);
            if let Some((user, revision)) = load::<UserRecord>(ctx, &key).await? {
                gather(ctx, account, (&key, revision, &user.inline), &user.attached, &mut groups).await?;
                for group in &user.groups {
                    let gkey = group_key(account, group);
                    if let Some((g, grev)) = load::<GroupRecord>(ctx, &gkey).await? {
                        gather(ctx, account, (&gkey, grev, &g.inline), &g.attached, &mut groups).await?;
                    }
                }
                subject.user_id = user.id;
                subject.tags = user.tags;
            }
        }
        Identity::Role { role, session } => {
            let key = role_key(account, role);
            if let Some((r, revision)) = load::<RoleRecord>(ctx, &key).await? {
                gather(ctx, account, (&key, revision, &r.inline), &r.attached, &mut groups).await?;
                subject.user_id = format!("{}:{session}", r.id);
                subject.tags = r.tags;
            }
        }
    }
    subject.policies = groups;
    let uses_resource_tags = subject.each().flat_map(|p| &p.statements).flat_map(|s| &s.conditions).any(|c| {
        let key = c.key.to_ascii_lowercase();
        key.starts_with("aws:resourcetag/") || key.starts_with("ssm:resourcetag/")
    });
    subject.uses_resource_tags = uses_resource_tags;
    let fixed =
        subject.each().flat_map(|p| &p.statements).flat_map(|s| &s.conditions).all(|c| fixed_for_caller(&c.key));
    subject.decisions = fixed.then(Default::default);
    Ok(subject)
}

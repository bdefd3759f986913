//! Parsed IAM policies and whole subjects (every policy that applies to a caller), cached
//! per IAM generation so a request re-parses nothing that did not change.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use steward_api::ApiError;
use steward_core::iam::eval::Decision;
use steward_core::iam::policy::{self, Kind, Policy};

use super::iam_records::{group_key, load, policy_key, policy_name_of_arn, role_key, user_key};
use super::iam_records::{GroupRecord, PolicyRecord, RoleRecord, UserRecord};
use super::{decode, store_fault, Ctx, Identity, Principal};

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
    let cache = &ctx.env.policy_cache;
    if let Some((stamp, read_at)) = &*cache.generation.lock().expect("generation lock") {
        if read_at.elapsed() < GENERATION_TTL {
            return Ok(stamp.clone());
        }
    }
    let stamp = ctx.env.store.get(GENERATION_KEY).await.map_err(store_fault)?.map(|i| i.value).unwrap_or_default();
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
    ctx.env.store.write(vec![steward_store::Op::put(GENERATION_KEY, stamp.clone())]).await.map_err(store_fault)?;
    *ctx.env.policy_cache.generation.lock().expect("generation lock") = Some((stamp, std::time::Instant::now()));
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
    let cache = &ctx.env.policy_cache;
    let (key, revision, inline) = holder;
    out.push(cache.get_or_parse(key, revision, || inline.values().cloned().collect()));
    for arn in attached {
        let Some(name) = policy_name_of_arn(account, arn) else { continue };
        let pkey = policy_key(account, name);
        let Some(item) = ctx.env.store.get(&pkey).await.map_err(store_fault)? else { continue };
        out.push(cache.get_or_parse(&pkey, item.revision, || {
            decode::<PolicyRecord>(&pkey, &item.value).map(|r| vec![r.document]).unwrap_or_default()
        }));
    }
    Ok(())
}

/// The caller's identity record details needed for conditions.
#[derive(Debug, Default)]
pub struct Subject {
    /// Every policy that applies to the caller, grouped by where it is kept.
    pub policies: Vec<Arc<Vec<Policy>>>,
    /// `aws:userid`.
    pub user_id: String,
    /// `aws:PrincipalArn`: the user's or role's IAM ARN, with its path (a role session's
    /// is its role's, as in IAM); empty for the root.
    pub principal_arn: String,
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
    let cache = &ctx.env.policy_cache;
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
                subject.principal_arn = user.arn;
                subject.tags = user.tags;
            }
        }
        Identity::Role { role, session } => {
            let key = role_key(account, role);
            if let Some((r, revision)) = load::<RoleRecord>(ctx, &key).await? {
                gather(ctx, account, (&key, revision, &r.inline), &r.attached, &mut groups).await?;
                subject.user_id = format!("{}:{session}", r.id);
                subject.principal_arn = r.arn;
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

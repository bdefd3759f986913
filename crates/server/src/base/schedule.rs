//! Scheduling primitives: *when* work is due, never *what* it is (the loop that starts
//! each kind of run is `app::workers`).
//!
//! Due runs are entries `sched/<epoch ms, 15 digits>/<kind>/<account>/<region>/<id>`,
//! ordered by time, so one range read finds everything due. Every server runs this loop, but
//! only the holder of the lease `scheduler/lease` (renewed with a revision check, expiring
//! [`LEASE_MS`] after its last renewal) acts: a leader that dies is replaced within that
//! time. A run is claimed by deleting its entry in the batch that starts it, so a run
//! starts once even when a paused leader wakes up believing it still leads.

use serde::{Deserialize, Serialize};
use steward_store::{Item, Op, Start, StoreError};

use super::{decode, encode, Env};

const LEASE_KEY: &str = "scheduler/lease";
/// How long a lease lasts without renewal.
pub const LEASE_MS: i64 = 15_000;
/// The leader renews when less than this is left.
const RENEW_MS: i64 = 10_000;
/// A due entry.
#[derive(Debug, Clone)]
pub struct Due {
    /// Its key.
    pub key: String,
    /// Its revision (the claim checks it).
    pub revision: i64,
    /// Epoch ms.
    pub at: i64,
    /// What to run.
    pub kind: String,
    /// Account.
    pub account: String,
    /// Region.
    pub region: String,
    /// The association or window id.
    pub id: String,
}

#[derive(Serialize, Deserialize)]
struct Lease {
    owner: String,
    until: i64,
}

/// The key of a due entry.
pub fn due_key(at: i64, kind: &str, account: &str, region: &str, id: &str) -> String {
    format!("sched/{:015}/{kind}/{account}/{region}/{id}", at.max(0))
}

pub fn parse_due(key: &str, revision: i64) -> Option<Due> {
    let parts: Vec<&str> = key.strip_prefix("sched/")?.splitn(5, '/').collect();
    let [at, kind, account, region, id] = parts.as_slice() else { return None };
    Some(Due {
        key: key.to_owned(),
        revision,
        at: at.parse().ok()?,
        kind: (*kind).to_owned(),
        account: (*account).to_owned(),
        region: (*region).to_owned(),
        id: (*id).to_owned(),
    })
}

/// Takes or keeps the lease; true while this server leads.
pub async fn hold_lease(env: &Env, me: &str) -> Result<bool, StoreError> {
    let now = env.now();
    let current = env.store.get(LEASE_KEY).await?;
    let op = match &current {
        None => Op::put(LEASE_KEY, encode(&Lease { owner: me.into(), until: now + LEASE_MS })).if_absent(),
        Some(item) => {
            let lease: Option<Lease> = decode(LEASE_KEY, &item.value).ok();
            match lease {
                Some(l) if l.owner == me && l.until - now > RENEW_MS => return Ok(true),
                Some(l) if l.owner != me && l.until > now => return Ok(false),
                _ => Op::put(LEASE_KEY, encode(&Lease { owner: me.into(), until: now + LEASE_MS }))
                    .if_revision(item.revision),
            }
        }
    };
    match env.store.write(vec![op]).await {
        Ok(_) => Ok(true),
        Err(StoreError::Conflict { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Up to `limit` entries due at or before `now`, oldest first.
pub async fn due(env: &Env, now: i64, limit: usize) -> Result<Vec<Item>, StoreError> {
    let end = format!("sched/{:015}", now + 1);
    env.store.range(Start::At("sched/"), &end, limit).await
}

/// The write that claims a due entry: it fails if another leader claimed it first.
pub fn claim(due: &Due) -> Op {
    Op::delete(&due.key).if_revision(due.revision)
}

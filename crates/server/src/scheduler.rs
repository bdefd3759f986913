//! The scheduler: starts the runs that are due — State Manager associations and
//! maintenance windows — and moves open maintenance-window runs forward.
//!
//! Due runs are entries `sched/<epoch ms, 15 digits>/<kind>/<account>/<region>/<id>`,
//! ordered by time, so one range read finds everything due. Every server runs this loop, but
//! only the holder of the lease `scheduler/lease` (renewed with a revision check, expiring
//! [`LEASE_MS`] after its last renewal) acts: a leader that dies is replaced within that
//! time. A run is claimed by deleting its entry in the batch that starts it, so a run
//! starts once even when a paused leader wakes up believing it still leads.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use steward_store::{Op, Start, StoreError};
use tokio::sync::Notify;

use crate::associations;
use crate::state::{decode, encode, AppState};

/// A scheduled association run; must match the association's `next_due`.
pub const KIND_ASSOCIATION: &str = "assoc";
/// An association run asked for now (creation, update, StartAssociationsOnce).
pub const KIND_ASSOCIATION_NOW: &str = "assocnow";
/// A maintenance window opening; must match the window's `next_due`.
pub const KIND_WINDOW: &str = "window";

const LEASE_KEY: &str = "scheduler/lease";
/// How long a lease lasts without renewal.
pub const LEASE_MS: i64 = 15_000;
/// The leader renews when less than this is left.
const RENEW_MS: i64 = 10_000;
/// Due entries handled per read.
const BATCH: usize = 500;
/// Due runs started at once.
const PARALLEL: usize = 32;

/// Wakes the scheduler.
#[derive(Default)]
pub struct Scheduler {
    wake: Notify,
}

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

fn parse_due(key: &str, revision: i64) -> Option<Due> {
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

/// Asks the scheduler to look now (a run was booked for now).
pub fn wake(state: &AppState) {
    state.scheduler.wake.notify_one();
}

/// Takes or keeps the lease; true while this server leads.
async fn hold_lease(state: &AppState, me: &str) -> Result<bool, StoreError> {
    let now = state.now();
    let current = state.store.get(LEASE_KEY).await?;
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
    match state.store.write(vec![op]).await {
        Ok(_) => Ok(true),
        Err(StoreError::Conflict { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Runs until the process ends.
pub async fn run(state: Arc<AppState>) {
    let me = uuid::Uuid::new_v4().to_string();
    let mut leading = false;
    loop {
        match hold_lease(&state, &me).await {
            Ok(now_leading) => {
                if now_leading != leading {
                    tracing::info!(leading = now_leading, "Scheduler leadership changed.");
                }
                leading = now_leading;
            }
            Err(e) => {
                tracing::warn!(error = %e, "Cannot read the scheduler lease.");
                leading = false;
            }
        }
        let mut more = false;
        if leading {
            match pass(&state).await {
                Ok(full) => more = full,
                Err(e) => tracing::warn!(error = %e, "Scheduler pass failed; will retry."),
            }
        }
        if !more {
            tokio::select! {
                _ = state.scheduler.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(1000)) => {}
            }
        }
    }
}

/// Starts one due run; true when it started.
async fn start_due(state: &Arc<AppState>, item: &steward_store::Item, nodes: &associations::run::NodeCache) -> bool {
    let Some(due) = parse_due(&item.key, item.revision) else {
        state.store.write(vec![Op::delete(&item.key)]).await.ok();
        return false;
    };
    let outcome = match due.kind.as_str() {
        KIND_ASSOCIATION | KIND_ASSOCIATION_NOW => associations::run::on_due(state, &due, nodes).await,
        KIND_WINDOW => crate::windows::run::on_due(state, &due).await,
        _ => {
            tracing::warn!(key = due.key, "Unknown kind of due run; dropped.");
            state.store.write(vec![Op::delete(&due.key)]).await.ok();
            Ok(false)
        }
    };
    outcome.unwrap_or_else(|e| {
        tracing::warn!(key = due.key, error = %e, "Could not start a due run.");
        false
    })
}

/// One look at what is due. True when there may be more due right away.
pub async fn pass(state: &Arc<AppState>) -> anyhow::Result<bool> {
    let now = state.now();
    let end = format!("sched/{:015}", now + 1);
    let items = state.store.range(Start::At("sched/"), &end, BATCH).await?;
    let nodes = associations::run::NodeCache::default();
    // Runs start side by side, so their writes share the store's group commits.
    let nodes = &nodes;
    let outcomes: Vec<bool> = futures_util::stream::iter(items.iter().cloned())
        .map(|item| async move { start_due(state, &item, nodes).await })
        .buffer_unordered(PARALLEL)
        .collect()
        .await;
    let mut started = outcomes.into_iter().filter(|s| *s).count();
    started += associations::run::reconcile_dirty(state).await?;
    started += crate::windows::run::advance_all(state).await?;
    if started > 0 {
        tracing::debug!(started, "Scheduler started runs.");
        crate::commands::dispatch::wake(state);
    }
    Ok(items.len() == BATCH)
}

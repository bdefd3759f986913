//! Session history lasts 30 days, as in Session Manager: records of sessions that ended
//! longer ago are deleted with their index entries. Transcripts stay in the blob store, as
//! SSM's session logs stay in the user's bucket.

use std::sync::Arc;
use std::time::Duration;

use steward_store::Op;

use super::{session_index, SessionRecord};
use crate::base::sweeper::{run_every, Pages};
use crate::base::{decode, Env};

/// How long an ended session stays listed.
pub const HISTORY_MILLIS: i64 = 30 * 24 * 3600 * 1000;
const PAGE: usize = 1000;

/// Sweeps once an hour, starting two minutes after start.
pub async fn run(env: Arc<Env>) {
    let hour = Duration::from_secs(3600);
    run_every(Duration::from_secs(120), hour, "ended sessions past 30 days", || sweep(&env)).await;
}

/// Deletes every session that ended more than [`HISTORY_MILLIS`] ago; returns how many.
pub async fn sweep(env: &Env) -> anyhow::Result<usize> {
    let cutoff = env.now() - HISTORY_MILLIS;
    let mut pages = Pages::new(&*env.store, "session/", PAGE);
    let mut deleted = 0;
    while let Some(items) = pages.next().await? {
        for item in &items {
            let Ok(session) = decode::<SessionRecord>(&item.key, &item.value) else { continue };
            if session.end.is_none_or(|ended| ended >= cutoff) {
                continue;
            }
            let batch = vec![Op::delete(&item.key).if_revision(item.revision), Op::delete(session_index(&session.id))];
            match env.store.write(batch).await {
                Ok(()) => deleted += 1,
                Err(steward_store::StoreError::Conflict { .. }) => {} // Changed meanwhile: next sweep.
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(deleted)
}

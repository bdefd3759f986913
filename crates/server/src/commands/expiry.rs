//! Command history lasts 30 days, as in SSM: finished commands older than that are deleted
//! with their invocations. Their full outputs stay in the blob store, as S3 output does.

use std::sync::Arc;
use std::time::Duration;

use steward_core::commands::is_terminal;
use steward_store::{prefix_end, Op, Start, MAX_BATCH};

use super::*;
use crate::base::sweeper::{run_every, Pages};
use crate::base::{decode, Env};

/// How long a finished command stays listed.
pub const HISTORY_MILLIS: i64 = 30 * 24 * 3600 * 1000;
const PAGE: usize = 1000;

/// Sweeps once an hour, starting a minute after start.
pub async fn run(env: Arc<Env>) {
    let hour = Duration::from_secs(3600);
    run_every(Duration::from_secs(60), hour, "finished commands past 30 days", || sweep(&env)).await;
}

/// Deletes every finished command requested more than [`HISTORY_MILLIS`] ago; returns how many.
pub async fn sweep(env: &Env) -> anyhow::Result<usize> {
    let cutoff = env.now() - HISTORY_MILLIS;
    let mut pages = Pages::new(&*env.store, "cmd/", PAGE);
    let mut deleted = 0;
    while let Some(items) = pages.next().await? {
        for item in &items {
            let Ok(command) = decode::<CommandRecord>(&item.key, &item.value) else { continue };
            if command.requested >= cutoff || !is_terminal(&command.status) {
                continue;
            }
            let inv_prefix = format!("inv/{}/{}/{}/", command.account, command.region, command.command_id);
            let invocations = env.store.range(Start::At(&inv_prefix), &prefix_end(&inv_prefix), 1_000_000).await?;
            // Invocations first: a sweep cut short leaves the command, found again next time.
            for chunk in invocations.chunks(MAX_BATCH) {
                env.store.write(chunk.iter().map(|i| Op::delete(&i.key)).collect()).await?;
            }
            match env.store.write(vec![Op::delete(&item.key).if_revision(item.revision)]).await {
                Ok(()) => deleted += 1,
                Err(steward_store::StoreError::Conflict { .. }) => {} // Changed meanwhile: next sweep.
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(deleted)
}

//! The background loops, wired to the capabilities they serve: Run Command's dispatcher
//! (with State Manager following its commands), the scheduler's policy (which kind of due
//! run goes where), and the sweepers.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use steward_store::Op;

use crate::base::schedule;
use crate::base::Env;
use crate::config::ServerArgs;
use crate::{associations, commands, iam, parameters, windows};

/// Starts every background worker of a server.
pub fn start(app: &Arc<super::App>, args: &ServerArgs) {
    let env = &app.env;
    tokio::spawn(parameters::run_policies(env.clone(), Duration::from_secs(args.policy_interval)));
    tokio::spawn(commands::run_dispatcher(env.clone(), associations::Follower));
    tokio::spawn(commands::run_expiry(env.clone()));
    tokio::spawn(crate::sessions::run_expiry(env.clone()));
    tokio::spawn(iam::run_sweeper(env.clone()));
    tokio::spawn(scheduler(env.clone(), super::inside::Inside::new(app.clone())));
    // Servers sharing a store: a node deregistered through another is cut off here too.
    let cluster = env.clone();
    tokio::spawn(crate::base::sweeper::run_every(
        Duration::from_secs(1),
        Duration::from_secs(1),
        "channels of deregistered nodes",
        move || {
            let env = cluster.clone();
            async move { crate::fleet::drop_deregistered(&env).await }
        },
    ));
    tokio::spawn(crate::base::audit_worker::export_worker(
        env.clone(),
        Duration::from_secs(args.audit_export_interval.max(1)),
        args.audit_retention_days,
    ));
}

/// Due entries handled per read.
const BATCH: usize = 500;
/// Due runs started at once.
const PARALLEL: usize = 32;

/// Runs until the process ends.
async fn scheduler(env: Arc<Env>, inside: super::inside::Inside) {
    let me = uuid::Uuid::new_v4().to_string();
    let mut leading = false;
    loop {
        match schedule::hold_lease(&env, &me).await {
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
            match pass(&env, &inside).await {
                Ok(full) => more = full,
                Err(e) => tracing::warn!(error = %e, "Scheduler pass failed; will retry."),
            }
        }
        if !more {
            tokio::select! {
                _ = env.wake.scheduler_woken() => {}
                _ = tokio::time::sleep(Duration::from_millis(1000)) => {}
            }
        }
    }
}

/// Starts one due run; true when it started.
async fn start_due(env: &Arc<Env>, item: &steward_store::Item, nodes: &associations::NodeCache) -> bool {
    let Some(due) = schedule::parse_due(&item.key, item.revision) else {
        env.store.write(vec![Op::delete(&item.key)]).await.ok();
        return false;
    };
    let outcome = match due.kind.as_str() {
        associations::KIND_ASSOCIATION | associations::KIND_ASSOCIATION_NOW => {
            associations::on_due(env, &due, nodes).await
        }
        windows::KIND_WINDOW => windows::on_due(env, &due).await,
        crate::kms::KIND_KEY_DELETION => crate::kms::on_due(env, &due).await,
        crate::patch::KIND_SNAPSHOT_EXPIRY => crate::patch::on_snapshot_expiry(env, &due).await,
        crate::automation::KIND_PREVIEW_EXPIRY => crate::automation::on_preview_expiry(env, &due).await,
        _ => {
            tracing::warn!(key = due.key, "Unknown kind of due run; dropped.");
            env.store.write(vec![Op::delete(&due.key)]).await.ok();
            Ok(false)
        }
    };
    outcome.unwrap_or_else(|e| {
        tracing::warn!(key = due.key, error = %e, "Could not start a due run.");
        false
    })
}

/// One look at what is due. True when there may be more due right away.
async fn pass(env: &Arc<Env>, inside: &super::inside::Inside) -> anyhow::Result<bool> {
    let now = env.now();
    let items = schedule::due(env, now, BATCH).await?;
    let nodes = associations::NodeCache::default();
    // Runs start side by side, so their writes share the store's group commits.
    let nodes = &nodes;
    let outcomes: Vec<bool> = futures_util::stream::iter(items.iter().cloned())
        .map(|item| async move { start_due(env, &item, nodes).await })
        .buffer_unordered(PARALLEL)
        .collect()
        .await;
    let mut started = outcomes.into_iter().filter(|s| *s).count();
    started += associations::reconcile_dirty(env).await?;
    started += windows::advance_all(env).await?;
    started += crate::automation::advance_all(env, inside).await?;
    started += associations::follow_runbooks(env).await?;
    let exported = crate::inventory::export_pending(env).await?;
    if started > 0 {
        tracing::debug!(started, "Scheduler started runs.");
        env.wake.dispatcher();
    }
    Ok(items.len() == BATCH || exported == crate::inventory::EXPORT_PASS)
}

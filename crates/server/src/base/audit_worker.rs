//! The audit trail's background work on each server: copy new events to the blob store,
//! sign a digest of each copy, and prune what is exported and past retention.

use std::sync::Arc;
use std::time::Duration;

use super::audit_digest;
use super::audit_export::{export_once, prune};
use super::Env;

/// Copies new events to the blob store every `interval`, as `steward-audit/<first>-<last>.jsonl`
/// objects, so the trail survives even if the store is rolled back or edited; then, with a
/// retention, prunes what is both exported and older than it.
pub async fn export_worker(env: Arc<Env>, interval: Duration, retention_days: u64) {
    loop {
        tokio::time::sleep(interval).await;
        match export_once(&*env.store, &*env.blobs).await {
            Ok(Some(file)) => {
                // Signed after the export is recorded: a file is digested by the server that
                // won the export, once.
                let digested = match env.kms.signing_key().await {
                    Ok(key) => {
                        let now = env.now();
                        audit_digest::write(&*env.store, &*env.blobs, &key, &env.fallback_account, &file, now).await
                    }
                    Err(e) => Err(anyhow::anyhow!("no signing key: {}", e.message())),
                };
                if let Err(e) = digested {
                    tracing::warn!(error = %e, file = file.object, "Audit digest not written; that export stays undigested.");
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "Audit export failed; will retry.");
                continue;
            }
        }
        if retention_days > 0 {
            let cutoff = env.now() - retention_days as i64 * 86_400_000;
            match prune(&*env.store, cutoff).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(pruned = n, "Pruned audit events past their retention (exported first)."),
                Err(e) => tracing::warn!(error = %e, "Audit pruning failed; will retry."),
            }
        }
    }
}

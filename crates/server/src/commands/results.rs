//! What agents report about invocations: acknowledgements and results.

use steward_protocol::InvocationResult;
use steward_store::Op;

use super::*;
use crate::base::{decode, encode, Env};
use crate::fleet::{node_index, Locator};

async fn load(env: &Env, instance_id: &str, invocation_id: &str) -> Option<(String, i64, InvocationRecord)> {
    let (command_id, node) = invocation_id.split_once('/')?;
    if node != instance_id {
        tracing::warn!(instance_id, invocation_id, "Agent reported on another node's invocation.");
        return None;
    }
    let index_key = node_index(instance_id);
    let index = env.store.get(&index_key).await.ok()??;
    let locator: Locator = decode(&index_key, &index.value).ok()?;
    let key = invocation_key(&locator.account, &locator.region, command_id, instance_id);
    let item = env.store.get(&key).await.ok()??;
    Some((key.clone(), item.revision, decode(&key, &item.value).ok()?))
}

/// The agent recorded the invocation: it will not be delivered again.
pub async fn on_ack(env: &Env, instance_id: &str, invocation_id: &str) {
    for _ in 0..5 {
        let Some((key, revision, mut inv)) = load(env, instance_id, invocation_id).await else { return };
        if inv.acked {
            return;
        }
        inv.acked = true;
        if inv.status == "Delayed" {
            inv.status = "InProgress".into();
            inv.status_details = "InProgress".into();
        }
        if env.store.write(vec![Op::put(&key, encode(&inv)).if_revision(revision)]).await.is_ok() {
            return;
        }
    }
}

/// Writes each step's whole output to the blob store, under the command's bucket and
/// prefix as SSM lays out S3 output: `PREFIX/COMMAND/NODE/PLUGIN/stdout`.
async fn store_outputs(
    env: &Env,
    instance_id: &str,
    result: &InvocationResult,
) -> (std::collections::HashMap<(String, &'static str), String>, Option<CommandRecord>) {
    let mut urls = std::collections::HashMap::new();
    let Some((command_id, _)) = result.invocation_id.split_once('/') else { return (urls, None) };
    let index_key = node_index(instance_id);
    let Some(locator) =
        env.store.get(&index_key).await.ok().flatten().and_then(|i| decode::<Locator>(&index_key, &i.value).ok())
    else {
        return (urls, None);
    };
    let ckey = command_key(&locator.account, &locator.region, command_id);
    let Some(command) =
        env.store.get(&ckey).await.ok().flatten().and_then(|i| decode::<CommandRecord>(&ckey, &i.value).ok())
    else {
        return (urls, None);
    };
    let bucket = if command.output_bucket.is_empty() { DEFAULT_OUTPUT_BUCKET } else { command.output_bucket.as_str() };
    for plugin in &result.plugins {
        let step: String =
            plugin.name.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')).collect();
        for (stream, text) in [("stdout", &plugin.stdout), ("stderr", &plugin.stderr)] {
            if text.is_empty() {
                continue;
            }
            let mut key = format!("{command_id}/{instance_id}/{step}/{stream}");
            if !command.output_prefix.is_empty() {
                key = format!("{}/{key}", command.output_prefix.trim_matches('/'));
            }
            match env.blobs.put(bucket, &key, text.clone().into_bytes()).await {
                Ok(url) => {
                    urls.insert((plugin.name.clone(), stream), url);
                }
                Err(e) => tracing::warn!(error = %e, command_id, instance_id, "Could not store command output."),
            }
        }
    }
    (urls, Some(command))
}

fn details_of(status: &str) -> &'static str {
    match status {
        "Success" => "Success",
        "TimedOut" => "ExecutionTimedOut",
        "Cancelled" => "Cancelled",
        _ => "Failed",
    }
}

/// The invocation finished on the node. A result for an invocation already final is a
/// redelivery and changes nothing. True when the result is stored (now or before), so the
/// agent may forget it.
pub async fn on_result(env: &std::sync::Arc<Env>, instance_id: &str, result: InvocationResult) -> bool {
    let (urls, command) = store_outputs(env, instance_id, &result).await;
    for _ in 0..5 {
        let Some((key, revision, mut inv)) = load(env, instance_id, &result.invocation_id).await else {
            return true; // Nothing to record it on (the command or node is gone): do not resend.
        };
        if steward_core::commands::is_terminal(&inv.status) {
            return true;
        }
        let status = match result.status.as_str() {
            "Success" | "Failed" | "TimedOut" | "Cancelled" => result.status.clone(),
            _ => "Failed".into(),
        };
        inv.status_details = details_of(&status).into();
        inv.status = status;
        inv.acked = true;
        inv.plugins = result
            .plugins
            .iter()
            .map(|p| PluginOutcome {
                name: p.name.clone(),
                status: p.status.clone(),
                response_code: p.response_code,
                stdout: truncate(&p.stdout, STDOUT_LIMIT),
                stderr: truncate(&p.stderr, STDERR_LIMIT),
                started: Some(p.started),
                ended: Some(p.ended),
                stdout_url: urls.get(&(p.name.clone(), "stdout")).cloned().unwrap_or_default(),
                stderr_url: urls.get(&(p.name.clone(), "stderr")).cloned().unwrap_or_default(),
            })
            .collect();
        if env.store.write(vec![Op::put(&key, encode(&inv)).if_revision(revision)]).await.is_ok() {
            tracing::info!(
                instance_id,
                invocation_id = result.invocation_id,
                status = inv.status,
                "Invocation finished."
            );
            if let Some(command) = &command {
                super::dispatch::notify_invocation(env, command, &inv, env.now()).await;
            }
            env.wake.dispatcher();
            return true;
        }
    }
    false
}

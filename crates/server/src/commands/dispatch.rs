//! The dispatcher: delivers pending invocations within rate limits, redelivers to agents
//! that reconnected before acknowledging, times out what could not be delivered or did not
//! finish, and keeps each command's status and counts.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;

use steward_core::commands::{command_status, is_error, is_terminal, limit};
use steward_protocol::{Invocation, ServerMessage};
use steward_store::{prefix_end, Op, Start};

use super::*;
use crate::base::{decode, encode, Env};

/// Active commands handled at once.
const PARALLEL: usize = 32;

/// Runs until the process ends.
pub async fn run<F: Follow>(env: Arc<Env>, follow: F) {
    loop {
        tokio::select! {
            _ = env.wake.dispatcher_woken() => {}
            _ = tokio::time::sleep(Duration::from_millis(1000)) => {}
        }
        if let Err(e) = pass(&env, &follow).await {
            tracing::warn!(error = %e, "Dispatch pass failed; will retry.");
        }
    }
}

/// One look at every active command.
pub async fn pass<F: Follow>(env: &Arc<Env>, follow: &F) -> anyhow::Result<()> {
    let prefix = "cmdactive/";
    let active = env.store.range(Start::At(prefix), &prefix_end(prefix), 100_000).await?;
    // Commands are independent: handle several at once so their writes share group commits.
    futures_util::stream::iter(active)
        .for_each_concurrent(PARALLEL, |item| async move {
            let parts: Vec<&str> = item.key[prefix.len()..].splitn(3, '/').collect();
            if let [account, region, command_id] = parts.as_slice() {
                if let Err(e) = process(env, follow, account, region, command_id).await {
                    tracing::warn!(command_id, error = %e, "Could not dispatch a command.");
                }
            }
        })
        .await;
    Ok(())
}

async fn process<F: Follow>(
    env: &Arc<Env>,
    follow: &F,
    account: &str,
    region: &str,
    command_id: &str,
) -> anyhow::Result<()> {
    let ckey = command_key(account, region, command_id);
    let Some(citem) = env.store.get(&ckey).await? else {
        env.store.write(vec![Op::delete(active_key(account, region, command_id))]).await?;
        return Ok(());
    };
    let mut command: CommandRecord = decode(&ckey, &citem.value).map_err(|e| anyhow::anyhow!("{e}"))?;
    let prefix = format!("inv/{account}/{region}/{command_id}/");
    let items = env.store.range(Start::At(&prefix), &prefix_end(&prefix), 1_000_000).await?;
    let mut invocations = Vec::with_capacity(items.len());
    for item in &items {
        let inv: InvocationRecord = decode(&item.key, &item.value).map_err(|e| anyhow::anyhow!("{e}"))?;
        invocations.push((item.key.clone(), item.revision, inv));
    }
    let now = env.now();
    let total = invocations.len();
    let max_concurrency = limit(&command.max_concurrency, total).unwrap_or(50).max(1);
    let max_errors = limit(&command.max_errors, total).unwrap_or(0);
    let mut errors = invocations.iter().filter(|(_, _, i)| is_error(&i.status, &i.status_details)).count();
    let mut in_flight =
        invocations.iter().filter(|(_, _, i)| matches!(i.status.as_str(), "InProgress" | "Delayed")).count();
    let delivery_deadline = command.requested + command.timeout_seconds * 1000;
    let mut batch = Vec::new();
    let mut sends = Vec::new();
    let mut cancels = Vec::new();
    let before_statuses: Vec<String> = invocations.iter().map(|(_, _, i)| i.status.clone()).collect();
    let here = env.agents.advertise_url.as_str();
    for (key, revision, inv) in invocations.iter_mut() {
        let before = (inv.status.clone(), inv.sent_on);
        let before_via = inv.sent_via.clone();
        // Only the server holding the node's connection delivers to it; a serial means
        // something only to the server that issued it.
        let serial = env.agents.serial_of(&inv.instance_id);
        let sent_here = inv.sent_via.is_empty() || inv.sent_via == here;
        match inv.status.as_str() {
            "Pending" | "Delayed" if now > delivery_deadline => {
                inv.status = "TimedOut".into();
                inv.status_details = "DeliveryTimedOut".into();
            }
            "Pending" if errors > max_errors => {
                // SSM: the parent exceeded MaxErrors and the system cancelled the rest.
                inv.status = "Cancelled".into();
                inv.status_details = "Terminated".into();
            }
            "Pending" if serial.is_none() && !node_exists(env, &inv.instance_id).await => {
                // Deregistered since the command was sent: it can never be delivered.
                inv.status = "Failed".into();
                inv.status_details = "Undeliverable".into();
                errors += 1;
            }
            "Pending" if in_flight < max_concurrency => {
                if let Some(serial) = serial {
                    inv.status = "InProgress".into();
                    inv.status_details = "InProgress".into();
                    inv.sent_on = serial;
                    inv.sent_via = here.to_owned();
                    inv.sent_at = now;
                    in_flight += 1;
                    sends.push(inv.instance_id.clone());
                }
            }
            "InProgress" if !inv.acked && serial.is_none() && sent_here => {
                // Sent from here, never acknowledged, and the node is gone: SSM's Delayed,
                // retried when the node is back (until the delivery timeout).
                inv.status = "Delayed".into();
                inv.status_details = "Delayed".into();
            }
            "InProgress" | "Delayed" if !inv.acked && serial.is_some_and(|s| !sent_here || s != inv.sent_on) => {
                // The agent reconnected (here, or here after another server) before
                // acknowledging: deliver again; it answers from its own record if it
                // already has this invocation.
                inv.status = "InProgress".into();
                inv.status_details = "InProgress".into();
                inv.sent_on = serial.unwrap_or_default();
                inv.sent_via = here.to_owned();
                sends.push(inv.instance_id.clone());
            }
            "Cancelling" if serial.is_some() && env.agents.first_cancel(&inv.command_id, &inv.instance_id) => {
                // CancelCommand may have come through another server: the one holding the
                // node's connection tells the agent (once per server; a repeat is harmless).
                cancels.push(inv.instance_id.clone());
            }
            "InProgress" | "Cancelling"
                if inv.sent_at > 0 && now > inv.sent_at + (command.execution_timeout_seconds as i64 + 120) * 1000 =>
            {
                inv.status = "TimedOut".into();
                inv.status_details = "ExecutionTimedOut".into();
                errors += 1;
            }
            _ => {}
        }
        if (inv.status.clone(), inv.sent_on) != before || inv.sent_via != before_via {
            batch.push(Op::put(key.clone(), encode(inv)).if_revision(*revision));
        }
    }
    let status = command_status(invocations.iter().map(|(_, _, i)| i.status.as_str()));
    let completed = invocations.iter().filter(|(_, _, i)| is_terminal(&i.status)).count() as i64;
    let error_count = invocations.iter().filter(|(_, _, i)| is_error(&i.status, &i.status_details)).count() as i64;
    let timed_out = invocations.iter().filter(|(_, _, i)| i.status_details == "DeliveryTimedOut").count() as i64;
    notify_invocations(env, &command, &invocations, &before_statuses, now).await;
    let changed = command.status != status
        || command.completed_count != completed
        || command.error_count != error_count
        || command.delivery_timed_out_count != timed_out;
    if changed {
        // Work started for others follows its command (State Manager: node status, compliance).
        batch.extend(follow.progress(env, &command, &invocations, is_terminal(status)).await?);
        command.status = status.into();
        command.completed_count = completed;
        command.error_count = error_count;
        command.delivery_timed_out_count = timed_out;
        batch.push(Op::put(&ckey, encode(&command)).if_revision(citem.revision));
        notify_command(env, &command, now).await;
        if is_terminal(status) {
            batch.push(Op::delete(active_key(account, region, command_id)));
        }
    }
    for instance_id in cancels {
        env.agents.send(&instance_id, ServerMessage::Cancel { invocation_id: invocation_id(command_id, &instance_id) });
    }
    if batch.is_empty() {
        return Ok(());
    }
    if env.store.write(batch).await.is_err() {
        return Ok(()); // A result raced us; the next pass sees it.
    }
    for instance_id in sends {
        let message = ServerMessage::Invoke(Invocation {
            invocation_id: invocation_id(command_id, &instance_id),
            command_id: command_id.to_owned(),
            document_name: command.document_name.clone(),
            plugins: command.plugins.clone(),
            execution_timeout_seconds: command.execution_timeout_seconds,
        });
        let node = format!("arn:aws:ssm:{region}:{account}:managed-instance/{instance_id}");
        let details = serde_json::json!({"commandId": command_id, "instanceId": instance_id, "documentName": command.document_name});
        env.audit
            .record(crate::base::audit::service_event(account, region, "DeliverCommand", &[node], details, now))
            .await;
        if !env.agents.send(&instance_id, message) {
            tracing::debug!(
                instance_id,
                command_id,
                "Agent left before delivery; it gets the invocation on reconnect."
            );
        }
    }
    Ok(())
}

/// Whether the node is still registered.
async fn node_exists(env: &Env, instance_id: &str) -> bool {
    // A store error counts as "exists": never fail an invocation on a read hiccup.
    env.store.get(&crate::fleet::node_index(instance_id)).await.map(|i| i.is_some()).unwrap_or(true)
}

fn wants(config: &steward_api::ssm::commands::NotificationConfig, kind: &str, status: &str) -> bool {
    let kind_ok = config.notification_type.as_deref().is_none_or(|t| t == kind);
    let events = config.notification_events.clone().unwrap_or_else(|| vec!["All".into()]);
    kind_ok && events.iter().any(|e| e == "All" || e == status)
}

/// Announces a command's new status to its NotificationConfig topic.
async fn notify_command(env: &Arc<Env>, command: &CommandRecord, now: i64) {
    let Some(config) = &command.notification else { return };
    if !wants(config, "Command", &command.status) {
        return;
    }
    let body = serde_json::json!({
        "commandId": command.command_id,
        "documentName": command.document_name,
        "instanceIds": command.instance_ids,
        "requestedDateTime": steward_api::time::format_iso8601(command.requested / 1000),
        "expiresAfter": steward_api::time::format_iso8601((command.requested + command.timeout_seconds * 1000) / 1000),
        "outputS3BucketName": command.output_bucket,
        "outputS3KeyPrefix": command.output_prefix,
        "status": command.status,
        "eventTime": steward_api::time::format_iso8601(now / 1000),
    });
    publish(env, command, &body).await;
}

/// Announces invocations whose status this pass changed.
async fn notify_invocations(
    env: &Arc<Env>,
    command: &CommandRecord,
    invocations: &[(String, i64, InvocationRecord)],
    before: &[String],
    now: i64,
) {
    if command.notification.is_none() {
        return;
    }
    for ((_, _, inv), old) in invocations.iter().zip(before) {
        if inv.status != *old {
            notify_invocation(env, command, inv, now).await;
        }
    }
}

/// Announces one invocation's new status to its command's NotificationConfig topic.
pub async fn notify_invocation(env: &Arc<Env>, command: &CommandRecord, inv: &InvocationRecord, now: i64) {
    let Some(config) = &command.notification else { return };
    if !wants(config, "Invocation", &inv.status) {
        return;
    }
    let body = serde_json::json!({
        "commandId": command.command_id,
        "instanceId": inv.instance_id,
        "documentName": command.document_name,
        "requestedDateTime": steward_api::time::format_iso8601(command.requested / 1000),
        "status": inv.status,
        "eventTime": steward_api::time::format_iso8601(now / 1000),
    });
    publish(env, command, &body).await;
}

/// Publishes a notification to the command's topic as SSM would: as the command's service
/// role when it is one of the account's roles, else as whoever sent the command. Either
/// needs `sns:Publish` on the topic now; a refusal is logged and nothing is sent.
async fn publish(env: &Arc<Env>, command: &CommandRecord, body: &serde_json::Value) {
    let Some(topic) = command.notification.as_ref().and_then(|n| n.notification_arn.as_deref()) else { return };
    let (account, region) = (&command.account, &command.region);
    let role = (!command.service_role.is_empty())
        .then(|| crate::base::iam_records::role_session(account, region, &command.service_role, "SSMNotifications"))
        .flatten();
    let ctx = match role {
        Some(principal) => Ok(crate::base::Ctx::system(env, account, region).acting_as(principal)),
        None => crate::base::run_as::resume(env, account, region, command.notify_as.as_ref()).await,
    };
    let published = match ctx {
        Ok(ctx) => crate::sns::publish(&ctx, topic, None, &body.to_string()).await,
        Err(e) => Err(e),
    };
    if let Err(e) = published {
        tracing::warn!(
            command_id = command.command_id,
            topic,
            error = e.message(),
            "A command notification was not published."
        );
    }
}

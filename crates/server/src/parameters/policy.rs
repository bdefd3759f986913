//! Parameter policies at work: the schedule of due actions and the sweeper that acts.
//!
//! Each pending policy has an entry `parampolicy/<due ms>/<account>/<region>/<name>#<type>`
//! listed in its parameter's head, so the sweeper reads only what is due. Expiration
//! deletes the parameter; the notifications emit "Parameter Store Policy Action" events.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;
use steward_core::parameters::{names, policies};
use steward_store::{Op, Start};

use super::{head_key, versions_prefix, Head, VersionRecord};
use crate::base::{decode, encode, Env};

const PREFIX: &str = "parampolicy/";

/// One scheduled policy action.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Due {
    /// Account.
    pub account: String,
    /// Region.
    pub region: String,
    /// The parameter name.
    pub name: String,
    /// The policy type.
    pub kind: String,
}

/// The schedule entries (key, value) for the pending policies of `record`.
pub fn schedule(account: &str, region: &str, record: &VersionRecord) -> Vec<(String, Vec<u8>)> {
    // Parse the set as a whole: a notification's due time depends on the set's expiration.
    let texts: Vec<&str> = record.policies.iter().map(|p| p.text.as_str()).collect();
    let Ok(parsed) = policies::parse_policies(&format!("[{}]", texts.join(","))) else { return Vec::new() };
    let expiration = policies::expiration_of(&parsed);
    parsed
        .iter()
        .zip(&record.policies)
        .filter(|(_, stored)| stored.status == "Pending")
        .filter_map(|(p, _)| {
            let due = p.due_at(expiration, record.last_modified)?.max(0);
            let key = format!("{PREFIX}{due:013}/{account}/{region}/{}#{}", names::key_of(&record.name), p.type_name());
            let value = Due {
                account: account.into(),
                region: region.into(),
                name: record.name.clone(),
                kind: p.type_name().into(),
            };
            Some((key, encode(&value)))
        })
        .collect()
}

/// Runs the sweeper until the process ends.
pub async fn run(env: Arc<Env>, interval: Duration) {
    loop {
        tokio::time::sleep(interval).await;
        if let Err(e) = sweep(&env).await {
            tracing::warn!(error = %e, "Parameter policy sweep failed; will retry.");
        }
    }
}

/// Acts on every policy due now.
pub async fn sweep(env: &Arc<Env>) -> anyhow::Result<usize> {
    let now = env.now();
    let end = format!("{PREFIX}{:013}", now + 1);
    let due = env.store.range(Start::At(PREFIX), &end, 500).await?;
    let mut acted = 0;
    for item in due {
        let entry: Due = decode(&item.key, &item.value).map_err(|e| anyhow::anyhow!("{e}"))?;
        let hkey = head_key(&entry.account, &entry.region, &entry.name);
        let head = match env.store.get(&hkey).await? {
            Some(h) => Some((decode::<Head>(&hkey, &h.value).map_err(|e| anyhow::anyhow!("{e}"))?, h.revision)),
            None => None,
        };
        let Some((mut head, revision)) = head.filter(|(h, _)| h.policy_index.contains(&item.key)) else {
            // Stale: the parameter changed or went away since this was scheduled.
            env.store.write(vec![Op::delete(&item.key)]).await?;
            continue;
        };
        let arn = names::arn(&entry.region, &entry.account, &entry.name);
        let detail = json!({
            "parameter-name": entry.name,
            "parameter-type": head.current.kind,
            "policy-type": entry.kind,
            "policy-content": head.current.policies.iter().find(|p| p.kind == entry.kind).map(|p| p.text.clone()),
            "action-status": "Finished",
        });
        let event =
            env.events.event(&entry.account, &entry.region, "Parameter Store Policy Action", vec![arn], detail, now);
        let mut batch = vec![event.op()];
        let mut change = None;
        if entry.kind == "Expiration" {
            let prefix = versions_prefix(&entry.account, &entry.region, &entry.name);
            let versions = env.store.range(Start::At(&prefix), &steward_store::prefix_end(&prefix), 200).await?;
            batch.extend(versions.into_iter().map(|v| Op::delete(v.key)));
            batch.extend(head.policy_index.iter().map(|k| Op::delete(k.clone())));
            batch.push(Op::delete(&hkey).if_revision(revision));
            let p = crate::base::Principal {
                arn: "arn:aws:iam::aws:policy/parameter-expiration".into(),
                ..crate::base::Ctx::system(env, &entry.account, &entry.region).principal
            };
            let ev = super::change_event(&env.events, &p, &head.current, "Delete", now);
            batch.push(ev.op());
            change = Some(ev);
        } else {
            head.policy_index.retain(|k| *k != item.key);
            for p in head.current.policies.iter_mut().filter(|p| p.kind == entry.kind) {
                p.status = "Finished".into();
            }
            batch.push(Op::delete(&item.key));
            batch.push(Op::put(&hkey, encode(&head)).if_revision(revision));
        }
        if env.store.write(batch).await.is_ok() {
            acted += 1;
            tracing::info!(parameter = entry.name, policy = entry.kind, "Parameter policy acted.");
            env.events.deliver(event);
            if let Some(ev) = change {
                env.events.deliver(ev);
            }
        }
    }
    Ok(acted)
}

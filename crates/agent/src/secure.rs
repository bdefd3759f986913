//! `{{ssm-secure:NAME}}` references: resolved on the node at run time, through the
//! authenticated control channel, and masked in the output the node reports.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use steward_protocol::AgentMessage;
use tokio::sync::{mpsc, oneshot};

type Answer = (BTreeMap<String, String>, Vec<String>);

/// Asks the server for secure values and waits for the answers.
#[derive(Clone)]
pub struct Resolver {
    out: mpsc::Sender<AgentMessage>,
    pending: Arc<Mutex<HashMap<u64, oneshot::Sender<Answer>>>>,
    next: Arc<AtomicU64>,
}

impl Resolver {
    /// A resolver sending on a session's outgoing queue.
    pub fn new(out: mpsc::Sender<AgentMessage>) -> Self {
        Resolver { out, pending: Default::default(), next: Default::default() }
    }

    /// Delivers the server's answer to whoever asked.
    pub fn answer(&self, request_id: u64, values: BTreeMap<String, String>, missing: Vec<String>) {
        if let Some(waiter) = self.pending.lock().expect("resolver lock").remove(&request_id) {
            let _ = waiter.send((values, missing));
        }
    }

    async fn resolve(&self, names: Vec<String>) -> Result<BTreeMap<String, String>, String> {
        let request_id = self.next.fetch_add(1, Ordering::SeqCst);
        let (tx, rx) = oneshot::channel();
        self.pending.lock().expect("resolver lock").insert(request_id, tx);
        self.out
            .send(AgentMessage::ResolveSecure { request_id, names })
            .await
            .map_err(|_| "the connection to the server is closed".to_owned())?;
        match tokio::time::timeout(Duration::from_secs(30), rx).await {
            Ok(Ok((values, missing))) if missing.is_empty() => Ok(values),
            Ok(Ok((_, missing))) => Err(format!("secure parameters not found or not readable: {}", missing.join(", "))),
            _ => Err("the server did not answer the request for secure parameters".to_owned()),
        }
    }
}

/// The `ssm-secure` names referenced in `inputs`, with the full reference text of each.
fn references(inputs: &Value, out: &mut Vec<(String, String)>) {
    match inputs {
        Value::String(s) => {
            let mut from = 0;
            while let Some(open) = s[from..].find("{{").map(|i| from + i) {
                let Some(close) = s[open..].find("}}").map(|i| open + i) else { break };
                let inner = s[open + 2..close].trim();
                if let Some(name) = inner.strip_prefix("ssm-secure:") {
                    out.push((s[open..close + 2].to_owned(), name.trim().to_owned()));
                }
                from = close + 2;
            }
        }
        Value::Array(items) => items.iter().for_each(|i| references(i, out)),
        Value::Object(map) => map.values().for_each(|v| references(v, out)),
        _ => {}
    }
}

fn substitute(inputs: &Value, replacements: &[(String, String)]) -> Value {
    match inputs {
        Value::String(s) => {
            let mut s = s.clone();
            for (token, value) in replacements {
                s = s.replace(token, value);
            }
            Value::String(s)
        }
        Value::Array(items) => Value::Array(items.iter().map(|i| substitute(i, replacements)).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), substitute(v, replacements))).collect())
        }
        other => other.clone(),
    }
}

/// Inputs with secure references replaced, and the secret values to mask afterwards.
pub async fn resolve_inputs(inputs: &Value, resolver: &Resolver) -> Result<(Value, Vec<String>), String> {
    let mut refs = Vec::new();
    references(inputs, &mut refs);
    if refs.is_empty() {
        return Ok((inputs.clone(), Vec::new()));
    }
    let mut names: Vec<String> = refs.iter().map(|(_, n)| n.clone()).collect();
    names.sort();
    names.dedup();
    let values = resolver.resolve(names).await?;
    let replacements: Vec<(String, String)> =
        refs.iter().filter_map(|(token, name)| values.get(name).map(|v| (token.clone(), v.clone()))).collect();
    let secrets = values.into_values().filter(|v| !v.is_empty()).collect();
    Ok((substitute(inputs, &replacements), secrets))
}

/// Replaces every secret value in `text` with `***`.
pub fn mask(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_owned();
    for secret in secrets {
        out = out.replace(secret.as_str(), "***");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn references_substitution_and_masking() {
        let inputs = json!({"runCommand": ["echo {{ ssm-secure:/db/pw }} {{ssm-secure:/db/pw}}", "x"], "n": 1});
        let mut refs = Vec::new();
        references(&inputs, &mut refs);
        assert_eq!(refs.len(), 2);
        assert!(refs.iter().all(|(_, n)| n == "/db/pw"));
        let replaced =
            substitute(&inputs, &refs.iter().map(|(t, _)| (t.clone(), "s3cret".to_owned())).collect::<Vec<_>>());
        assert_eq!(replaced["runCommand"][0], json!("echo s3cret s3cret"));
        assert_eq!(mask("pw=s3cret!", &["s3cret".into()]), "pw=***!");
    }
}

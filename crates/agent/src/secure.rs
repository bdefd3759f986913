//! `{{ssm-secure:NAME}}` references: resolved on the node at run time, through the
//! authenticated control channel, and masked in the output the node reports.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;
use steward_protocol::{AgentMessage, ServerMessage};

use crate::calls::Calls;

/// Asks the server for the plaintext of `names`.
async fn resolve(calls: &Calls, names: Vec<String>) -> Result<BTreeMap<String, String>, String> {
    let answer = calls
        .ask(|request_id| AgentMessage::ResolveSecure { request_id, names }, Duration::from_secs(30))
        .await
        .map_err(|why| format!("secure parameters could not be resolved: {why}"))?;
    match answer {
        ServerMessage::SecureValues { values, missing, .. } if missing.is_empty() => Ok(values),
        ServerMessage::SecureValues { missing, .. } => {
            Err(format!("secure parameters not found or not readable: {}", missing.join(", ")))
        }
        _ => Err("the server answered the request for secure parameters with something else".into()),
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
pub async fn resolve_inputs(inputs: &Value, calls: &Calls) -> Result<(Value, Vec<String>), String> {
    let mut refs = Vec::new();
    references(inputs, &mut refs);
    if refs.is_empty() {
        return Ok((inputs.clone(), Vec::new()));
    }
    let mut names: Vec<String> = refs.iter().map(|(_, n)| n.clone()).collect();
    names.sort();
    names.dedup();
    let values = resolve(calls, names).await?;
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

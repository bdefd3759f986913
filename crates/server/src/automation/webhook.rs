//! `aws:invokeWebhook`: POSTs to a webhook integration — a SecureString parameter under
//! SSM's reserved namespace holding the URL, headers and default payload — as the
//! execution's principal (who needs ssm:GetParameter on it, and kms:Decrypt on its key).
//! The request goes through the outbound rules as every request made for someone; it is
//! recorded as started before it is sent, and a server finding it started by another
//! process fails the step rather than send it twice.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use steward_api::ssm::automation::ParameterMap;

use super::outcome::{failed, Outcome};
use super::{script, OwnApi, StepRecord};
use crate::base::Ctx;

/// Where integrations live in Parameter Store, as SSM reserves it.
pub const NAMESPACE: &str = "/d9d01087-4a3f-49e0-b0b4-d568d7826553/ssm/integrations/webhook/";

/// How long a webhook may take to answer.
const TIMEOUT: Duration = Duration::from_secs(30);
/// The most of an answer kept as the step's Response.
const MAX_RESPONSE: usize = 64 * 1024;

/// What a webhook answered.
#[derive(Clone, Debug)]
enum Call {
    /// Sent; no answer yet.
    Pending,
    /// The status code and the text of the answer.
    Answered(u16, String),
    /// Why it could not be sent.
    Failed(String),
}

fn calls() -> &'static Mutex<HashMap<String, Call>> {
    static CALLS: OnceLock<Mutex<HashMap<String, Call>>> = OnceLock::new();
    CALLS.get_or_init(Mutex::default)
}

/// Drops what this process holds of a step's call (its end is written).
pub fn forget(step_id: &str) {
    calls().lock().expect("webhook calls").remove(step_id);
}

/// An integration as its parameter holds it.
#[derive(Debug, PartialEq)]
struct Integration {
    url: String,
    headers: Vec<(String, String)>,
    payload: Option<String>,
}

/// Reads an integration's value: `url`, optional `headers` (a map, or a list of
/// `{"key": …, "value": …}`) and `payload` (the body when the step gives none).
fn integration(name: &str, value: &str) -> Result<Integration, String> {
    let bad = |why: &str| format!("Integration {name} is not usable: {why}");
    let doc: Value = serde_json::from_str(value).map_err(|_| bad("its parameter is not a JSON object"))?;
    let field = |k: &str| doc.get(k).or_else(|| doc.get(k.to_uppercase())).or_else(|| doc.get(capitalised(k)));
    let url = field("url").and_then(Value::as_str).ok_or_else(|| bad("it has no url"))?.to_owned();
    let mut headers = Vec::new();
    match field("headers") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (k, v) in map {
                headers.push((k.clone(), v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())));
            }
        }
        Some(Value::Array(list)) => {
            for h in list {
                let pick = |k: &str| h.get(k).or_else(|| h.get(capitalised(k))).and_then(Value::as_str);
                let (Some(k), Some(v)) = (pick("key").or(pick("name")), pick("value")) else {
                    return Err(bad("each header needs a key and a value"));
                };
                headers.push((k.to_owned(), v.to_owned()));
            }
        }
        Some(_) => return Err(bad("headers must be a map or a list")),
    }
    let payload = field("payload").or_else(|| field("body")).and_then(|p| match p {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    });
    Ok(Integration { url, headers, payload })
}

fn capitalised(k: &str) -> String {
    let mut c = k.chars();
    c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
}

/// One look at an `aws:invokeWebhook` step.
pub async fn invoke(ctx: &Ctx, own: &impl OwnApi, record: &mut StepRecord) -> Outcome {
    let name = record.inputs["IntegrationName"].as_str().unwrap_or_default().to_owned();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)) {
        return failed(format!("IntegrationName {name:?} must name an integration (letters, digits, '.', '-', '_')."));
    }
    match record.launched_by.as_deref() {
        None => {
            forget(&record.id);
            record.launched_by = Some(script::boot_id().to_owned());
            return Outcome::Wait { changed: true, effect: vec![] };
        }
        Some(other) if other != script::boot_id() => {
            return failed("The server sending this webhook stopped before its answer was recorded; a webhook is never sent twice.");
        }
        Some(_) => {}
    }
    let known = calls().lock().expect("webhook calls").get(&record.id).cloned();
    match known {
        Some(Call::Pending) => Outcome::Wait { changed: false, effect: vec![] },
        Some(Call::Failed(why)) => failed(why),
        Some(Call::Answered(code, text)) => {
            let mut outputs = ParameterMap::new();
            outputs.insert("Response".into(), vec![text]);
            outputs.insert("ResponseCode".into(), vec![code.to_string()]);
            if (200..300).contains(&code) {
                Outcome::Done { outputs, next: None }
            } else {
                record.outputs = outputs;
                failed(format!("Integration {name} answered HTTP {code}."))
            }
        }
        None => match start(ctx, own, &name, &record.inputs["Body"], &record.id).await {
            Ok(()) => Outcome::Wait { changed: false, effect: vec![] },
            Err(why) => failed(why),
        },
    }
}

/// Reads the integration as the execution's principal and sends the request in the
/// background; its answer wakes the scheduler.
async fn start(ctx: &Ctx, own: &impl OwnApi, name: &str, body: &Value, step_id: &str) -> Result<(), String> {
    let input = json!({"Name": format!("{NAMESPACE}{name}"), "WithDecryption": true});
    let answer = own.call(ctx, "ssm", "GetParameter", input).await.map_err(|e| match e.code() {
        "ParameterNotFound" => format!("There is no integration named {name}."),
        code => format!("Integration {name} could not be read: {code}: {}", e.message()),
    })?;
    let value = answer["Parameter"]["Value"].as_str().unwrap_or_default();
    let mut integration = integration(name, value)?;
    let body = match body {
        Value::Null => integration.payload.take().unwrap_or_default(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if !integration.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
        integration.headers.push(("content-type".into(), "application/json".into()));
    }
    calls().lock().expect("webhook calls").insert(step_id.to_owned(), Call::Pending);
    let (env, step_id) = (ctx.env.clone(), step_id.to_owned());
    tokio::spawn(async move {
        let sent = async {
            let response = crate::base::outbound_http::send(
                &env.events,
                &env.outbound_tls,
                http::Method::POST,
                &integration.url,
                &integration.headers,
                Bytes::from(body),
            )
            .await?;
            let code = response.status().as_u16();
            let mut text = Vec::new();
            let mut answer = response.into_body();
            while let Some(frame) = answer.frame().await {
                let Ok(frame) = frame else { break };
                if let Some(chunk) = frame.data_ref() {
                    text.extend_from_slice(&chunk[..chunk.len().min(MAX_RESPONSE - text.len())]);
                    if text.len() >= MAX_RESPONSE {
                        break;
                    }
                }
            }
            Ok::<_, String>(Call::Answered(code, String::from_utf8_lossy(&text).into_owned()))
        };
        let call = match tokio::time::timeout(TIMEOUT, sent).await {
            Ok(Ok(answered)) => answered,
            Ok(Err(why)) => Call::Failed(why),
            Err(_) => Call::Failed(format!("The webhook did not answer within {TIMEOUT:?}.")),
        };
        let mut calls = calls().lock().expect("webhook calls");
        // Unless the step ended meanwhile (a stop): nothing waits for it then.
        if calls.contains_key(&step_id) {
            calls.insert(step_id, call);
        }
        drop(calls);
        env.wake.scheduler();
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integrations_read_as_ssm_writes_them() {
        let i = integration(
            "n",
            r#"{"description": "d", "url": "https://hooks.example/x",
            "headers": [{"key": "Authorization", "value": "Bearer t"}], "payload": "{\"text\": \"hi\"}"}"#,
        )
        .unwrap();
        assert_eq!(i.url, "https://hooks.example/x");
        assert_eq!(i.headers, vec![("Authorization".to_string(), "Bearer t".to_string())]);
        assert_eq!(i.payload.as_deref(), Some("{\"text\": \"hi\"}"));
        let map = integration("n", r#"{"URL": "http://127.0.0.1/x", "headers": {"X-A": "1"}}"#).unwrap();
        assert_eq!(map.headers, vec![("X-A".to_string(), "1".to_string())]);
        for bad in [
            "not json",
            r#"{"headers": {}}"#,
            r#"{"url": "x", "headers": 5}"#,
            r#"{"url": "x", "headers": [{"key": "a"}]}"#,
        ] {
            assert!(integration("n", bad).is_err(), "{bad}");
        }
    }
}

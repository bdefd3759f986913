//! CloudTrail's LookupEvents over the caller's account, newest first.

use base64::Engine;
use serde_json::{json, Value};
use steward_api::ApiError;
use steward_store::{prefix_end, Start};

use super::index_prefix;
use crate::dispatch::Ctx;
use crate::state::store_fault;

fn invalid(code: &'static str, message: &str) -> ApiError {
    ApiError::new(code, message)
}

/// Whether a stored event matches a lookup attribute.
fn matches(event: &Value, key: &str, value: &str) -> bool {
    match key {
        "EventId" => event["eventID"] == value,
        "EventName" => event["eventName"] == value,
        "ReadOnly" => event["readOnly"].as_bool().map(|b| b.to_string()).as_deref() == Some(value),
        "Username" => username(event).as_deref() == Some(value),
        "EventSource" => event["eventSource"] == value,
        "AccessKeyId" => event["userIdentity"]["accessKeyId"] == value,
        "ResourceType" => event["resources"].as_array().into_iter().flatten().any(|r| r["type"] == value),
        "ResourceName" => event["resources"].as_array().into_iter().flatten().any(|r| r["ARN"] == value),
        _ => false,
    }
}

fn username(event: &Value) -> Option<String> {
    let identity = &event["userIdentity"];
    match identity["type"].as_str() {
        Some("IAMUser") => identity["userName"].as_str().map(str::to_owned),
        Some("Root") => Some("root".into()),
        Some("AssumedRole") => identity["arn"].as_str().and_then(|a| a.rsplit('/').next()).map(str::to_owned),
        _ => None,
    }
}

fn seconds(v: &Value) -> Option<f64> {
    v.as_f64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

/// LookupEvents.
pub async fn lookup_events(ctx: Ctx, req: Value) -> Result<Value, ApiError> {
    let account = ctx.principal.account.clone();
    let attributes = req["LookupAttributes"].as_array().cloned().unwrap_or_default();
    if attributes.len() > 1 {
        return Err(invalid("InvalidLookupAttributesException", "You can specify only one lookup attribute."));
    }
    let attribute = attributes.first().map(|a| {
        (
            a["AttributeKey"].as_str().unwrap_or_default().to_owned(),
            a["AttributeValue"].as_str().unwrap_or_default().to_owned(),
        )
    });
    let max = req["MaxResults"].as_i64().unwrap_or(50);
    if !(1..=50).contains(&max) {
        return Err(invalid("InvalidMaxResultsException", "MaxResults must be between 1 and 50."));
    }
    let start_ms = seconds(&req["StartTime"]).map(|s| (s * 1000.0) as i64);
    let end_ms = seconds(&req["EndTime"]).map(|s| (s * 1000.0) as i64);
    if let (Some(s), Some(e)) = (start_ms, end_ms) {
        if s > e {
            return Err(invalid("InvalidTimeRangeException", "Start time must be earlier than end time."));
        }
    }
    let prefix = index_prefix(&account);
    // Newest first: the index holds inverted times, so EndTime is where the scan starts.
    let first = end_ms.map(|e| format!("{prefix}{:020}", i64::MAX - e)).unwrap_or_else(|| prefix.clone());
    let stop = match start_ms {
        Some(s) => format!("{prefix}{:020}~", i64::MAX - s),
        None => prefix_end(&prefix),
    };
    let token = match req["NextToken"].as_str() {
        Some(t) => {
            let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .filter(|k| k.starts_with(&prefix))
                .ok_or_else(|| invalid("InvalidNextTokenException", "The NextToken is not valid."))?;
            Some(raw)
        }
        None => None,
    };
    let mut out = Vec::new();
    let mut cursor = token;
    let mut next_token = None;
    'scan: loop {
        let start = match &cursor {
            Some(k) => Start::After(k),
            None => Start::At(&first),
        };
        let page = ctx.state.store.range(start, &stop, 500).await.map_err(store_fault)?;
        if page.is_empty() {
            break;
        }
        let keys: Vec<String> =
            page.iter().map(|i| super::log_key(super::seq_of_index_key(&i.key).unwrap_or(0))).collect();
        let events = ctx.state.store.get_many(&keys).await.map_err(store_fault)?;
        for (index_item, event) in page.iter().zip(events) {
            cursor = Some(index_item.key.clone());
            let Some(event) = event.and_then(|e| serde_json::from_slice::<Value>(&e.value).ok()) else { continue };
            if let Some((k, v)) = &attribute {
                if !matches(&event, k, v) {
                    continue;
                }
            }
            out.push(event);
            if out.len() as i64 == max {
                next_token = cursor.clone();
                break 'scan;
            }
        }
        if page.len() < 500 {
            break;
        }
    }
    let events: Vec<Value> = out
        .iter()
        .map(|e| {
            let resources: Vec<Value> = e["resources"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| json!({"ResourceType": r["type"], "ResourceName": r["ARN"]}))
                .collect();
            json!({
                "EventId": e["eventID"],
                "EventName": e["eventName"],
                "ReadOnly": e["readOnly"].as_bool().unwrap_or(false).to_string(),
                "AccessKeyId": e["userIdentity"]["accessKeyId"],
                "EventTime": e["eventTimeMillis"].as_i64().unwrap_or(0) as f64 / 1000.0,
                "EventSource": e["eventSource"],
                "Username": username(e),
                "Resources": resources,
                "CloudTrailEvent": e.to_string(),
            })
        })
        .collect();
    let mut answer = json!({"Events": events});
    if let Some(key) = next_token {
        answer["NextToken"] = json!(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key));
    }
    Ok(answer)
}

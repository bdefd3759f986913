//! CloudTrail's LookupEvents over the caller's account, newest first.

use base64::Engine;
use serde_json::{json, Value};
use steward_api::ApiError;
use steward_store::{prefix_end, Start};

use crate::base::audit::{batch_events, log_key_at, LOG_PREFIX};
use crate::base::store_fault;
use crate::base::Ctx;

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
    // Newest first: keys hold inverted times of each batch's newest event. A batch spans
    // moments, so the scan starts a minute past EndTime and filters each event.
    let first = end_ms.map(|e| log_key_at(e.saturating_add(60_000))).unwrap_or_else(|| LOG_PREFIX.to_owned());
    let stop = match start_ms {
        Some(s) => format!("{}~", log_key_at(s)),
        None => prefix_end(LOG_PREFIX),
    };
    // A token names the batch and how many of its events (newest first) were already seen.
    let resume = match req["NextToken"].as_str() {
        Some(t) => {
            let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|k| k.strip_prefix(&format!("{account}:")).map(str::to_owned))
                .and_then(|k| {
                    let (key, skip) = k.rsplit_once('#')?;
                    Some((key.to_owned(), skip.parse::<usize>().ok()?))
                })
                .filter(|(k, _)| k.starts_with(LOG_PREFIX))
                .ok_or_else(|| invalid("InvalidNextTokenException", "The NextToken is not valid."))?;
            Some(raw)
        }
        None => None,
    };
    let in_range = |event: &Value| {
        let t = event["eventTimeMillis"].as_i64().unwrap_or(0);
        start_ms.is_none_or(|s| t >= s) && end_ms.is_none_or(|e| t <= e)
    };
    let mut out = Vec::new();
    let mut next_token = None;
    let (mut cursor, mut skip) = match resume {
        Some((key, skip)) => (Some((key, true)), skip),
        None => (None, 0),
    };
    'scan: loop {
        let start = match &cursor {
            Some((k, true)) => Start::At(k),
            Some((k, false)) => Start::After(k),
            None => Start::At(&first),
        };
        let page = ctx.env.store.range(start, &stop, 100).await.map_err(store_fault)?;
        for item in &page {
            let events = batch_events(&item.value);
            for (position, event) in events.iter().rev().enumerate().skip(std::mem::take(&mut skip)) {
                if event["recipientAccountId"] != account.as_str() || !in_range(event) {
                    continue;
                }
                if let Some((k, v)) = &attribute {
                    if !matches(event, k, v) {
                        continue;
                    }
                }
                out.push(event.clone());
                if out.len() as i64 == max {
                    next_token = Some(format!("{}#{}", item.key, position + 1));
                    break 'scan;
                }
            }
            cursor = Some((item.key.clone(), false));
        }
        if page.len() < 100 {
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
        // The token is bound to the account it was issued to.
        answer["NextToken"] =
            json!(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{account}:{key}")));
    }
    Ok(answer)
}

/// One verification at a time: it reads the whole chain.
static VERIFYING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// Verifies the audit trail as `steward audit verify` does (the store's chain, then the
/// signed digests of its exports) for the console's Audit page. Checked as
/// `cloudtrail:ValidateLogs` — named after `aws cloudtrail validate-logs`, which CloudTrail
/// runs client-side and so has no action of its own — since it reads every account's events
/// (it shows only counts and hashes of them).
pub async fn verify_trail(ctx: &Ctx) -> Result<Value, ApiError> {
    use crate::base::audit_digest::{self, DigestVerdict};
    use crate::base::audit_export::Verdict;
    ctx.authorize("cloudtrail:ValidateLogs", &["*".to_owned()], |r| r).await?;
    let Ok(_one) = VERIFYING.try_acquire() else {
        return Err(ApiError::new("ThrottlingException", "A verification of the trail is already running; try again."));
    };
    let env = &ctx.env;
    let key = env.kms.signing_key().await?;
    let verdict = audit_digest::verify_trail(&*env.store, &*env.blobs, Some(&key))
        .await
        .map_err(|e| ApiError::new("InternalFailure", format!("The trail could not be read: {e}")))?;
    let chain = match verdict.chain {
        Verdict::Intact { events, head } => json!({"Status": "Intact", "Events": events, "LastHash": head}),
        Verdict::Broken { line, reason } => json!({"Status": "Broken", "Event": line, "Reason": reason}),
    };
    let digests = match verdict.digests {
        DigestVerdict::None => json!({"Status": "None"}),
        DigestVerdict::Intact { digests, first_seq, last_seq } => json!({
            "Status": "Intact", "Digests": digests, "FirstEvent": first_seq, "LastEvent": last_seq, "KeyId": key.id,
        }),
        DigestVerdict::Broken(reason) => json!({"Status": "Broken", "Reason": reason}),
    };
    let checkpoint = verdict.checkpoint.map(|cp| json!({"Event": cp.seq, "Hash": cp.hash}));
    Ok(json!({"Chain": chain, "Digests": digests, "PrunedThrough": checkpoint}))
}

//! Refused unauthenticated calls, sampled. Anyone can send unsigned or badly signed
//! requests, as fast as they like; one event each would let them fill the disk. So for
//! each source address and error code, the first refusal of a window is recorded in full
//! and the rest are only counted; when the window closes, one summary event carries the
//! count. Authenticated calls never pass through here: each stays one event.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// How many distinct (source, code) windows are open at once; refusals beyond are counted
/// under one catch-all window, so memory stays bounded whatever the sources.
const MAX_WINDOWS: usize = 1024;
/// How many access key ids and operation names a summary lists.
const MAX_EXAMPLES: usize = 5;
/// The source address of the catch-all window.
const MANY_SOURCES: &str = "(many)";

/// Refusals counted for one source address and error code.
struct Window {
    opened: Instant,
    first_millis: i64,
    last_millis: i64,
    /// Refusals after the first (which was recorded in full).
    suppressed: u64,
    access_key_ids: Vec<String>,
    event_names: Vec<String>,
    /// The first refusal's account and region, for the summary.
    account: String,
    region: String,
}

/// Open windows by (source address, error code), and those closed but not yet summarised.
pub struct Sampler {
    window: Duration,
    open: Mutex<Windows>,
}

#[derive(Default)]
struct Windows {
    open: HashMap<(String, String), Window>,
    closed: Vec<((String, String), Window)>,
}

fn remember(list: &mut Vec<String>, value: &str) {
    if !value.is_empty() && list.len() < MAX_EXAMPLES && !list.iter().any(|v| v == value) {
        list.push(value.to_owned());
    }
}

impl Sampler {
    /// Windows of `window` length.
    pub fn new(window: Duration) -> Sampler {
        Sampler { window, open: Mutex::new(Windows::default()) }
    }

    /// How long a window stays open.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// Whether the refusal `event` is to be recorded in full (the first of its window);
    /// otherwise it has been counted.
    pub fn admit(&self, event: &Value) -> bool {
        let text = |key: &str| event[key].as_str().unwrap_or_default().to_owned();
        let code = text("errorCode");
        let mut source = text("sourceIPAddress");
        let millis = event["eventTimeMillis"].as_i64().unwrap_or(0);
        let mut windows = self.open.lock().expect("sampler lock");
        let Windows { open, closed } = &mut *windows;
        if !open.contains_key(&(source.clone(), code.clone())) && open.len() >= MAX_WINDOWS {
            source = MANY_SOURCES.to_owned();
        }
        let key = (source, code);
        // A window past its length is closed here, not left to absorb refusals until the
        // next sweep: a refusal after the window always shows in full.
        if open.get(&key).is_some_and(|w| w.opened.elapsed() >= self.window) {
            let old = open.remove(&key).expect("checked above");
            closed.push((key.clone(), old));
        }
        let access_key = event["userIdentity"]["accessKeyId"].as_str().unwrap_or_default();
        let name = event["eventName"].as_str().unwrap_or_default();
        if let Some(window) = open.get_mut(&key) {
            window.suppressed += 1;
            window.last_millis = window.last_millis.max(millis);
            remember(&mut window.access_key_ids, access_key);
            remember(&mut window.event_names, name);
            return false;
        }
        let mut window = Window {
            opened: Instant::now(),
            first_millis: millis,
            last_millis: millis,
            suppressed: 0,
            access_key_ids: Vec::new(),
            event_names: Vec::new(),
            account: text("recipientAccountId"),
            region: text("awsRegion"),
        };
        let full = key.0 != MANY_SOURCES;
        if !full {
            // The catch-all window records nothing in full: every refusal is counted.
            window.suppressed = 1;
            remember(&mut window.access_key_ids, access_key);
            remember(&mut window.event_names, name);
        }
        open.insert(key, window);
        full
    }

    /// Closes the windows older than the window length: a summary event for each that
    /// counted refusals beyond its first.
    pub fn close_expired(&self, all: bool) -> Vec<Value> {
        let mut windows = self.open.lock().expect("sampler lock");
        let Windows { open, closed } = &mut *windows;
        let expired: Vec<(String, String)> =
            open.iter().filter(|(_, w)| all || w.opened.elapsed() >= self.window).map(|(k, _)| k.clone()).collect();
        for key in expired {
            let window = open.remove(&key).expect("listed above");
            closed.push((key, window));
        }
        closed
            .drain(..)
            .filter(|(_, w)| w.suppressed > 0)
            .map(|((source, code), window)| summary(&source, &code, &window))
            .collect()
    }
}

/// The event that stands for the refusals a window counted.
fn summary(source: &str, code: &str, w: &Window) -> Value {
    let from = steward_api::time::format_iso8601(w.first_millis / 1000);
    let to = steward_api::time::format_iso8601(w.last_millis / 1000);
    json!({
        "eventVersion": "1.08",
        "userIdentity": {"type": "Unknown"},
        "eventTime": to,
        "eventTimeMillis": w.last_millis,
        "eventSource": "steward",
        "eventName": "RefusedRequestsSummary",
        "awsRegion": w.region,
        "sourceIPAddress": source,
        "userAgent": "",
        "requestParameters": {
            "count": w.suppressed,
            "from": from,
            "to": to,
            "accessKeyIds": w.access_key_ids,
            "eventNames": w.event_names,
        },
        "responseElements": Value::Null,
        "requestID": "",
        "eventID": uuid::Uuid::new_v4().to_string(),
        "readOnly": true,
        "resources": [],
        "eventType": "AwsServiceEvent",
        "managementEvent": true,
        "recipientAccountId": w.account,
        "errorCode": code,
        "errorMessage": format!(
            "{} more unauthenticated requests from {source} were refused with {code} between {from} and {to}.",
            w.suppressed
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(ip: &str, code: &str, key: &str, millis: i64) -> Value {
        json!({"sourceIPAddress": ip, "errorCode": code, "eventTimeMillis": millis, "eventName": "GetParameter",
               "userIdentity": {"type": "Unknown", "accessKeyId": key}, "recipientAccountId": "1", "awsRegion": "r"})
    }

    #[test]
    fn first_refusal_in_full_the_rest_counted() {
        let sampler = Sampler::new(Duration::from_secs(60));
        assert!(sampler.admit(&refusal("10.0.0.1", "InvalidSignatureException", "AKIA1", 1_000)));
        for i in 0..999 {
            assert!(!sampler.admit(&refusal("10.0.0.1", "InvalidSignatureException", &format!("AKIA{i}"), 2_000)));
        }
        // Another reason or another source opens its own window.
        assert!(sampler.admit(&refusal("10.0.0.1", "UnrecognizedClientException", "AKIA1", 2_000)));
        assert!(sampler.admit(&refusal("10.0.0.2", "InvalidSignatureException", "AKIA1", 2_000)));
        assert!(sampler.close_expired(false).is_empty(), "windows are still open");
        let summaries = sampler.close_expired(true);
        assert_eq!(summaries.len(), 1, "only the window that suppressed refusals has a summary");
        let s = &summaries[0];
        assert_eq!(s["requestParameters"]["count"], 999);
        assert_eq!(s["requestParameters"]["accessKeyIds"].as_array().unwrap().len(), MAX_EXAMPLES);
        assert_eq!(s["eventTimeMillis"], 2_000);
    }

    #[test]
    fn a_refusal_after_the_window_shows_in_full() {
        let sampler = Sampler::new(Duration::from_millis(20));
        assert!(sampler.admit(&refusal("10.0.0.1", "X", "A", 1)));
        assert!(!sampler.admit(&refusal("10.0.0.1", "X", "A", 2)));
        std::thread::sleep(Duration::from_millis(30));
        assert!(sampler.admit(&refusal("10.0.0.1", "X", "A", 3)), "the old window is over");
        let summaries = sampler.close_expired(false);
        assert_eq!(summaries.len(), 1);
        assert_eq!(summaries[0]["requestParameters"]["count"], 1);
    }

    #[test]
    fn many_sources_share_one_window() {
        let sampler = Sampler::new(Duration::from_secs(60));
        for i in 0..MAX_WINDOWS + 500 {
            sampler.admit(&refusal(&format!("10.1.{}.{}", i / 256, i % 256), "X", "", 1));
        }
        assert_eq!(sampler.open.lock().unwrap().open.len(), MAX_WINDOWS + 1);
        let summaries = sampler.close_expired(true);
        let many = summaries.iter().find(|s| s["sourceIPAddress"] == MANY_SOURCES).expect("catch-all summary");
        assert_eq!(many["requestParameters"]["count"], 500);
    }
}

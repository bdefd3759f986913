//! Events: what changed, kept in the event log and POSTed to webhook subscribers with the
//! fields EventBridge would carry (`detail-type`, `source`, `resources`, `detail`).
//!
//! An event is written in the same batch as the change it reports, so the log never
//! disagrees with the data; webhook delivery follows the commit, best effort with retries.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use steward_core::parameters::names;
use steward_store::Op;

use crate::parameters::VersionRecord;
use crate::state::Principal;

/// An event ready to be logged and delivered.
pub struct Event {
    key: String,
    body: Value,
}

impl Event {
    /// The store write that logs it.
    pub fn op(&self) -> Op {
        Op::put(self.key.clone(), serde_json::to_vec(&self.body).expect("events serialise"))
    }
}

/// Event construction and delivery.
pub struct Events {
    webhooks: Vec<String>,
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
}

impl Events {
    /// Delivers to `webhooks` (http:// URLs).
    pub fn new(webhooks: Vec<String>) -> Self {
        Events { webhooks, client: Client::builder(TokioExecutor::new()).build_http() }
    }

    /// An event in the EventBridge envelope.
    pub fn event(
        &self,
        account: &str,
        region: &str,
        detail_type: &str,
        resources: Vec<String>,
        detail: Value,
        now: i64,
    ) -> Event {
        let id = uuid::Uuid::new_v4().to_string();
        let body = json!({
            "version": "0",
            "id": id,
            "detail-type": detail_type,
            "source": "aws.ssm",
            "account": account,
            "time": steward_api::time::format_iso8601(now / 1000),
            "region": region,
            "resources": resources,
            "detail": detail,
        });
        Event { key: format!("event/{account}/{region}/{now:013}-{id}"), body }
    }

    /// "Parameter Store Change" for a create, update, delete or label change.
    pub fn parameter_change(&self, p: &Principal, record: &VersionRecord, operation: &str, now: i64) -> Event {
        let arn = names::arn(&p.region, &p.account, &record.name);
        let detail = json!({
            "operation": operation,
            "name": record.name,
            "type": record.kind,
            "description": record.description.clone().unwrap_or_default(),
        });
        self.event(&p.account, &p.region, "Parameter Store Change", vec![arn], detail, now)
    }

    /// Sends the event to every webhook in the background.
    pub fn deliver(&self, event: Event) {
        if self.webhooks.is_empty() {
            return;
        }
        let body = Bytes::from(serde_json::to_vec(&event.body).expect("events serialise"));
        for url in &self.webhooks {
            let (client, url, body) = (self.client.clone(), url.clone(), body.clone());
            tokio::spawn(async move {
                for attempt in 0..3u32 {
                    let request = http::Request::post(&url)
                        .header("content-type", "application/json")
                        .body(Full::new(body.clone()));
                    let Ok(request) = request else {
                        tracing::warn!(url, "Webhook URL is not usable.");
                        return;
                    };
                    match client.request(request).await {
                        Ok(r) if r.status().is_success() => return,
                        Ok(r) => {
                            tracing::warn!(url, status = r.status().as_u16(), attempt, "Webhook refused an event.")
                        }
                        Err(e) => tracing::warn!(url, error = %e, attempt, "Webhook unreachable."),
                    }
                    tokio::time::sleep(Duration::from_millis(500 << attempt)).await;
                }
            });
        }
    }
}

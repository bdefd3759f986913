//! Events: what changed, kept in the event log and POSTed to webhook subscribers with the
//! fields EventBridge would carry (`detail-type`, `source`, `resources`, `detail`).
//!
//! An event is written in the same batch as the change it reports, so the log never
//! disagrees with the data. Webhook delivery follows the commit: each webhook gets its
//! events' first attempts in commit order; a failed event is retried in the background
//! (at-least-once, best effort), so one failure never holds back the events behind it.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use steward_store::Op;
use tokio::sync::mpsc;

use super::outbound::{GuardedConnector, Rules};

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

/// Events waiting for one webhook before new ones are dropped (with a warning).
const QUEUE: usize = 10_000;
/// How long one delivery attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// Event construction and delivery.
pub struct Events {
    queues: Vec<(String, mpsc::Sender<Bytes>)>,
    client: HttpClient,
}

impl Events {
    /// Delivers to `webhooks` (http:// URLs): one queue and one sender task per webhook, so a
    /// slow webhook delays only itself. Every connection follows `rules`. Must be called
    /// inside the runtime.
    pub fn new(webhooks: Vec<String>, rules: Arc<Rules>) -> Self {
        let client = Client::builder(TokioExecutor::new()).build(GuardedConnector::new(rules));
        let queues = webhooks
            .into_iter()
            .map(|url| {
                let (tx, rx) = mpsc::channel(QUEUE);
                tokio::spawn(deliver_in_order(client.clone(), url.clone(), rx));
                (url, tx)
            })
            .collect();
        Events { queues, client }
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

    /// POSTs one JSON body to one URL in the background (Run Command notifications).
    pub fn notify(&self, url: &str, body: &Value) {
        let client = self.client.clone();
        let (url, body) = (url.to_owned(), Bytes::from(serde_json::to_vec(body).expect("JSON serialises")));
        tokio::spawn(async move {
            for n in 0..3u32 {
                if attempt(&client, &url, &body, n).await {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(500 << n)).await;
            }
        });
    }

    /// Queues the event for every webhook.
    pub fn deliver(&self, event: Event) {
        if self.queues.is_empty() {
            return;
        }
        let body = Bytes::from(serde_json::to_vec(&event.body).expect("events serialise"));
        for (url, queue) in &self.queues {
            if queue.try_send(body.clone()).is_err() {
                tracing::warn!(url, "Webhook queue is full; an event was dropped.");
            }
        }
    }
}

type HttpClient = Client<GuardedConnector, Full<Bytes>>;

/// Sends each event once, in order; an event that fails is retried in the background so
/// that a failing webhook does not hold back the events behind it.
async fn deliver_in_order(client: HttpClient, url: String, mut queue: mpsc::Receiver<Bytes>) {
    while let Some(body) = queue.recv().await {
        if attempt(&client, &url, &body, 0).await {
            continue;
        }
        let (client, url) = (client.clone(), url.clone());
        tokio::spawn(async move {
            for n in 1..3u32 {
                tokio::time::sleep(Duration::from_millis(500 << n)).await;
                if attempt(&client, &url, &body, n).await {
                    return;
                }
            }
        });
    }
}

/// One delivery attempt; true when the webhook accepted the event.
async fn attempt(client: &HttpClient, url: &str, body: &Bytes, n: u32) -> bool {
    let request = http::Request::post(url).header("content-type", "application/json").body(Full::new(body.clone()));
    let Ok(request) = request else {
        tracing::warn!(url, "Webhook URL is not usable.");
        return true; // Retrying cannot help.
    };
    match tokio::time::timeout(ATTEMPT_TIMEOUT, client.request(request)).await {
        Ok(Ok(r)) if r.status().is_success() => return true,
        Ok(Err(e)) if refusal(&e).is_some() => {
            let why = refusal(&e).unwrap_or_default();
            tracing::warn!(url, why, "Delivery refused by the outbound rules; not retried.");
            return true; // Retrying cannot help.
        }
        Ok(Ok(r)) => tracing::warn!(url, status = r.status().as_u16(), attempt = n, "Webhook refused an event."),
        Ok(Err(e)) => tracing::warn!(url, error = %e, attempt = n, "Webhook unreachable."),
        Err(_) => tracing::warn!(url, attempt = n, "Webhook did not answer in time."),
    }
    false
}

/// Why a failed request was stopped by the outbound rules, if it was (not worth retrying).
fn refusal(e: &hyper_util::client::legacy::Error) -> Option<String> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return (io.kind() == std::io::ErrorKind::PermissionDenied).then(|| io.to_string());
        }
        source = s.source();
    }
    None
}

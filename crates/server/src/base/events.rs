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

/// Outbound POSTs (SNS deliveries) waiting or retrying at once before new ones are refused.
const MAX_IN_FLIGHT: usize = 10_000;

/// How an outbound POST is retried after its first attempt fails.
#[derive(Clone, Copy, Debug)]
pub struct Retry {
    /// Attempts after the first.
    pub retries: u32,
    /// The wait before the first retry.
    pub min_delay: Duration,
    /// The longest wait between retries.
    pub max_delay: Duration,
    /// Doubling waits (else evenly spaced from `min_delay` to `max_delay`).
    pub exponential: bool,
}

impl Retry {
    /// The wait before retry `n` (1-based).
    pub fn delay(&self, n: u32) -> Duration {
        let n = n.max(1);
        let wait = if self.exponential {
            self.min_delay.saturating_mul(1u32 << (n - 1).min(20))
        } else if self.retries <= 1 {
            self.min_delay
        } else {
            let span = self.max_delay.saturating_sub(self.min_delay);
            self.min_delay + span.mul_f64(f64::from(n - 1) / f64::from(self.retries - 1))
        };
        wait.min(self.max_delay.max(self.min_delay))
    }
}

/// Event construction and delivery.
pub struct Events {
    queues: Vec<(String, mpsc::Sender<Bytes>)>,
    client: HttpClient,
    in_flight: Arc<std::sync::atomic::AtomicUsize>,
    rules: Arc<Rules>,
}

impl Events {
    /// Delivers to `webhooks` (http:// URLs): one queue and one sender task per webhook, so a
    /// slow webhook delays only itself. Every connection follows `rules`. Must be called
    /// inside the runtime.
    pub fn new(webhooks: Vec<String>, rules: Arc<Rules>) -> Self {
        let client = Client::builder(TokioExecutor::new()).build(GuardedConnector::new(rules.clone()));
        let queues = webhooks
            .into_iter()
            .map(|url| {
                let (tx, rx) = mpsc::channel(QUEUE);
                tokio::spawn(deliver_in_order(client.clone(), url.clone(), rx));
                (url, tx)
            })
            .collect();
        Events { queues, client, in_flight: Default::default(), rules }
    }

    /// The rules every outbound connection follows.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// The client outbound calls go through (http:// only; every address checked).
    pub fn client(&self) -> HttpClient {
        self.client.clone()
    }

    /// Why the outbound rules refuse `addr`, if they do (a literal address can be refused
    /// when it is named, before anything is sent).
    pub fn refusal(&self, addr: std::net::SocketAddr) -> Option<String> {
        self.rules.refusal(addr)
    }

    /// POSTs `body` with `headers` to `url` in the background, retried by `retry`; never
    /// blocks the caller. False when too many deliveries are already pending (the body is
    /// dropped, with a warning).
    pub fn post(&self, url: String, headers: Vec<(String, String)>, body: Bytes, retry: Retry) -> bool {
        use std::sync::atomic::Ordering;
        if self.in_flight.fetch_add(1, Ordering::AcqRel) >= MAX_IN_FLIGHT {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            tracing::warn!(url, "Too many deliveries pending; one was dropped.");
            return false;
        }
        let (client, in_flight) = (self.client.clone(), self.in_flight.clone());
        tokio::spawn(async move {
            for n in 0..=retry.retries {
                if n > 0 {
                    tokio::time::sleep(retry.delay(n)).await;
                }
                if attempt(&client, &url, &headers, &body, n).await {
                    break;
                }
            }
            in_flight.fetch_sub(1, Ordering::AcqRel);
        });
        true
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

/// The HTTP client every outbound call shares (its connections follow the outbound rules).
pub type HttpClient = Client<GuardedConnector, Full<Bytes>>;

/// Sends each event once, in order; an event that fails is retried in the background so
/// that a failing webhook does not hold back the events behind it.
async fn deliver_in_order(client: HttpClient, url: String, mut queue: mpsc::Receiver<Bytes>) {
    while let Some(body) = queue.recv().await {
        if attempt(&client, &url, JSON, &body, 0).await {
            continue;
        }
        let (client, url) = (client.clone(), url.clone());
        tokio::spawn(async move {
            for n in 1..3u32 {
                tokio::time::sleep(Duration::from_millis(500 << n)).await;
                if attempt(&client, &url, JSON, &body, n).await {
                    return;
                }
            }
        });
    }
}

/// The headers of webhook events (sent as JSON).
const JSON: &[(String, String)] = &[];

/// One delivery attempt; true when the receiver accepted it (or retrying cannot help).
/// Without headers the body is sent as JSON.
async fn attempt(client: &HttpClient, url: &str, headers: &[(String, String)], body: &Bytes, n: u32) -> bool {
    let mut request = http::Request::post(url);
    if headers.is_empty() {
        request = request.header("content-type", "application/json");
    }
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let request = request.body(Full::new(body.clone()));
    let Ok(request) = request else {
        tracing::warn!(url, "Webhook URL is not usable.");
        return true; // Retrying cannot help.
    };
    match tokio::time::timeout(ATTEMPT_TIMEOUT, client.request(request)).await {
        Ok(Ok(r)) if r.status().is_success() => return true,
        Ok(Err(e)) if outbound_refusal(&e).is_some() => {
            let why = outbound_refusal(&e).unwrap_or_default();
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
pub fn outbound_refusal(e: &hyper_util::client::legacy::Error) -> Option<String> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return (io.kind() == std::io::ErrorKind::PermissionDenied).then(|| io.to_string());
        }
        source = s.source();
    }
    None
}

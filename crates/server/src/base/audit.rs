//! The audit trail: every API call (allowed or denied, successful or failed) and every
//! registration and delivery becomes a CloudTrail-shaped event in one hash chain.
//!
//! Handlers hand events to [`Audit::record`]; one writer task numbers them, links each to
//! the hash of the one before (`hash = SHA-256(prevHash + "\n" + event JSON without
//! "hash")`) and stores each batch as one value of JSON lines (oldest first) under
//! `audit/log/<inverted ms of its newest event>/<inverted last seq>`, so keys sort newest
//! first, the order LookupEvents reads, and a busy server writes one row per batch, not one
//! per call. `audit/head` holds the last seq and hash, written with a revision check so two
//! servers sharing a store never fork the chain. Recording is asynchronous, as CloudTrail's is:
//! the API answers without waiting for its event.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use steward_store::{Op, Store, StoreError};
use tokio::sync::mpsc;

use super::audit_sampling::Sampler;
use crate::base::{Identity, Principal};

/// Key of the chain's head.
pub const HEAD_KEY: &str = "audit/head";
/// Prefix of the events, in sequence.
pub const LOG_PREFIX: &str = "audit/log/";
const BATCH: usize = 500;
/// The hash before the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The chain's last link.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Head {
    /// Sequence number of the last event (0: none yet).
    pub seq: u64,
    /// Its hash.
    pub hash: String,
}

/// Key of the batch whose newest event was recorded at `millis` and whose last is `seq`:
/// inverted, so an ascending scan reads newest first, also within a millisecond.
pub fn log_key(millis: i64, seq: u64) -> String {
    format!("{LOG_PREFIX}{:020}/{:020}", i64::MAX - millis, u64::MAX - seq)
}

/// Where the scan for events at or before `millis` starts.
pub fn log_key_at(millis: i64) -> String {
    format!("{LOG_PREFIX}{:020}", i64::MAX - millis)
}

/// The events of one stored batch, oldest first (unreadable lines are skipped).
pub fn batch_events(value: &[u8]) -> Vec<Value> {
    value.split(|b| *b == b'\n').filter(|l| !l.is_empty()).filter_map(|l| serde_json::from_slice(l).ok()).collect()
}

/// The hash of `event` (its `hash` member ignored) after `prev`.
pub fn chain_hash(prev: &str, event: &Value) -> String {
    let mut body = event.clone();
    if let Value::Object(map) = &mut body {
        map.remove("hash");
    }
    let mut hasher = Sha256::new();
    hasher.update(prev.as_bytes());
    hasher.update(b"\n");
    hasher.update(serde_json::to_vec(&body).expect("events serialise"));
    hex::encode(hasher.finalize())
}

/// The recorder handlers call.
#[derive(Clone)]
pub struct Audit {
    queue: mpsc::Sender<Value>,
    refusals: Arc<Sampler>,
}

impl Audit {
    /// Starts the writer over `store`; refusals of unauthenticated calls are summarised
    /// per `sample_window` (see [`super::audit_sampling`]).
    pub fn start(store: Arc<dyn Store>, sample_window: Duration) -> Audit {
        let (queue, rx) = mpsc::channel(65_536);
        tokio::spawn(writer(store, rx));
        let refusals = Arc::new(Sampler::new(sample_window));
        tokio::spawn(close_windows(refusals.clone(), queue.clone()));
        Audit { queue, refusals }
    }

    /// Queues an event (waits only when the writer is far behind).
    pub async fn record(&self, event: Value) {
        if self.queue.send(event).await.is_err() {
            tracing::error!("The audit writer has stopped; an event is lost.");
        }
    }

    /// Records the refusal of a call whose caller is unknown: in full if it is the first
    /// from its source with its error in the current window, else only counted.
    pub async fn record_unauthenticated(&self, event: Value) {
        if self.refusals.admit(&event) {
            self.record(event).await;
        }
    }
}

/// Queues the summaries of the sampling windows as they close.
async fn close_windows(refusals: Arc<Sampler>, queue: mpsc::Sender<Value>) {
    let mut tick = tokio::time::interval(refusals.window().min(Duration::from_secs(5)));
    loop {
        tick.tick().await;
        for event in refusals.close_expired(false) {
            if queue.send(event).await.is_err() {
                return; // The server is stopping.
            }
        }
    }
}

async fn load_head(store: &dyn Store) -> Result<(Head, Option<i64>), StoreError> {
    Ok(match store.get(HEAD_KEY).await? {
        Some(item) => {
            let head = serde_json::from_slice(&item.value).unwrap_or(Head { seq: 0, hash: GENESIS.into() });
            (head, Some(item.revision))
        }
        None => (Head { seq: 0, hash: GENESIS.into() }, None),
    })
}

async fn writer(store: Arc<dyn Store>, mut rx: mpsc::Receiver<Value>) {
    let mut head: Option<(Head, Option<i64>)> = None;
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(e) => batch.push(e),
                Err(_) => break,
            }
        }
        // Link and store; on a conflict (another server wrote) reload the head and relink.
        let mut attempt = 0;
        loop {
            let (current, revision) = match head.take() {
                Some(h) => h,
                None => match load_head(&*store).await {
                    Ok(h) => h,
                    Err(e) => {
                        tracing::error!(error = %e, "Cannot read the audit head; retrying.");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        continue;
                    }
                },
            };
            let mut lines = Vec::with_capacity(batch.len() * 1024);
            let mut newest = 0;
            let (mut seq, mut hash) = (current.seq, current.hash.clone());
            for event in &batch {
                let mut event = event.clone();
                seq += 1;
                event["seq"] = json!(seq);
                event["prevHash"] = json!(hash);
                hash = chain_hash(&hash, &event);
                event["hash"] = json!(hash);
                newest = newest.max(event["eventTimeMillis"].as_i64().unwrap_or(0));
                serde_json::to_writer(&mut lines, &event).expect("events serialise");
                lines.push(b'\n');
            }
            let mut ops = vec![Op::put(log_key(newest, seq), lines).if_absent()];
            let new_head = Head { seq, hash };
            let head_op = Op::put(HEAD_KEY, serde_json::to_vec(&new_head).expect("heads serialise"));
            ops.push(match revision {
                Some(r) => head_op.if_revision(r),
                None => head_op.if_absent(),
            });
            match store.write(ops).await {
                Ok(()) => {
                    // The next revision is unknown without a read; read it lazily.
                    head = None;
                    break;
                }
                Err(StoreError::Conflict { .. }) if attempt < 20 => attempt += 1,
                Err(e) => {
                    tracing::error!(error = %e, events = batch.len(), "Cannot store audit events; retrying.");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }
}

/// CloudTrail's `userIdentity` of a caller.
pub fn user_identity(p: &Principal) -> Value {
    let (kind, name) = match &p.identity {
        Identity::Root => ("Root", None),
        Identity::User(name) => ("IAMUser", Some(name.clone())),
        Identity::Role { .. } => ("AssumedRole", None),
    };
    let mut identity = json!({"type": kind, "arn": p.arn, "accountId": p.account, "accessKeyId": p.access_key_id});
    if let Some(name) = name {
        identity["userName"] = json!(name);
    }
    if let Identity::Role { role, .. } = &p.identity {
        identity["sessionContext"] = json!({"sessionIssuer": {"type": "Role", "userName": role}});
    }
    identity
}

/// Whether an operation only reads (CloudTrail's `readOnly`).
pub fn read_only(operation: &str) -> bool {
    ["Get", "Describe", "List", "Lookup"].iter().any(|p| operation.starts_with(p))
}

/// What one call is known to be, filled in as the request proceeds.
#[derive(Debug, Default)]
pub struct Draft {
    /// `ssm.amazonaws.com`, …
    pub source: String,
    /// The operation.
    pub name: String,
    /// The signed region (or the server's).
    pub region: String,
    /// The caller, once authenticated.
    pub principal: Option<Principal>,
    /// The access key named in the request, even when unknown.
    pub access_key_id: String,
    /// Parameters with secrets redacted.
    pub parameters: Value,
    /// Resource ARNs.
    pub resources: Vec<String>,
    /// Client address.
    pub source_ip: String,
    /// `User-Agent`.
    pub user_agent: String,
}

impl Draft {
    /// The event for this call, its outcome and its time.
    pub fn finish(self, request_id: &str, error: Option<(&str, &str)>, millis: i64, fallback_account: &str) -> Value {
        let account = self.principal.as_ref().map(|p| p.account.clone()).unwrap_or_else(|| fallback_account.to_owned());
        let identity = match &self.principal {
            Some(p) => user_identity(p),
            None => json!({"type": "Unknown", "accessKeyId": self.access_key_id}),
        };
        let resources: Vec<Value> = self
            .resources
            .iter()
            .filter(|r| r.as_str() != "*")
            .map(|arn| json!({"ARN": arn, "accountId": account, "type": resource_type(arn)}))
            .collect();
        let mut event = json!({
            "eventVersion": "1.08",
            "userIdentity": identity,
            "eventTime": steward_api::time::format_iso8601(millis / 1000),
            "eventTimeMillis": millis,
            "eventSource": self.source,
            "eventName": self.name,
            "awsRegion": self.region,
            "sourceIPAddress": self.source_ip,
            "userAgent": self.user_agent,
            "requestParameters": self.parameters,
            "responseElements": Value::Null,
            "requestID": request_id,
            "eventID": uuid::Uuid::new_v4().to_string(),
            "readOnly": read_only(&self.name),
            "resources": resources,
            "eventType": "AwsApiCall",
            "managementEvent": true,
            "recipientAccountId": account,
        });
        if let Some((code, message)) = error {
            event["errorCode"] = json!(code);
            event["errorMessage"] = json!(message);
        }
        event
    }
}

/// A service event that is not an API call (registrations, deliveries).
pub fn service_event(
    account: &str,
    region: &str,
    name: &str,
    resources: &[String],
    details: Value,
    millis: i64,
) -> Value {
    let draft = Draft {
        source: "ssm.amazonaws.com".into(),
        name: name.into(),
        region: region.into(),
        parameters: details,
        resources: resources.to_vec(),
        ..Default::default()
    };
    let mut event = draft.finish("", None, millis, account);
    event["eventType"] = json!("AwsServiceEvent");
    event["userIdentity"] = json!({"type": "AWSService", "invokedBy": "ssm.amazonaws.com"});
    event
}

/// CloudTrail's resource type for an ARN.
pub fn resource_type(arn: &str) -> &'static str {
    let kind = arn.split(':').nth(5).unwrap_or("").split('/').next().unwrap_or("");
    match (arn.split(':').nth(2).unwrap_or(""), kind) {
        ("ssm", "parameter") => "AWS::SSM::Parameter",
        ("ssm", "document") => "AWS::SSM::Document",
        ("ssm", "managed-instance") => "AWS::SSM::ManagedInstance",
        ("kms", "key") => "AWS::KMS::Key",
        ("kms", "alias") => "AWS::KMS::Alias",
        ("iam", "user") => "AWS::IAM::User",
        ("iam", "group") => "AWS::IAM::Group",
        ("iam", "role") => "AWS::IAM::Role",
        ("iam", "policy") => "AWS::IAM::Policy",
        _ => "AWS::Resource",
    }
}

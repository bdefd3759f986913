//! The context every handler and worker shares. Each field's type lives in `base`, so a
//! capability can reach the store, the clock or the key service without naming another
//! capability; what a capability keeps at run time for itself stays with it.

use std::sync::Arc;

use steward_core::clock::Clock;
use steward_store::blob::BlobStore;
use steward_store::Store;
use tokio::sync::Notify;

use super::access::ResourceTags;
use super::agents::Agents;
use super::audit::Audit;
use super::credentials::Credentials;
use super::events::Events;
use super::kms::Keyring;
use super::policy_cache::PolicyCache;

/// Shared by every handler and worker; built once by `app` (or [`Env::for_tests`]).
pub struct Env {
    /// Durable state.
    pub store: Arc<dyn Store>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Access keys and their secrets.
    pub credentials: Credentials,
    /// The key service.
    pub kms: Keyring,
    /// Event log and webhooks.
    pub events: Events,
    /// Connected agents.
    pub agents: Agents,
    /// Whole command outputs and other large things.
    pub blobs: Arc<dyn BlobStore>,
    /// Whether clients reach this server over TLS (`aws:SecureTransport`).
    pub secure_transport: bool,
    /// The audit trail.
    pub audit: Audit,
    /// Parsed IAM policies.
    pub policy_cache: PolicyCache,
    /// The tags of any resource, for IAM conditions.
    pub resource_tags: Box<dyn ResourceTags>,
    /// The account events of unauthenticated calls are filed under (the root account).
    pub fallback_account: String,
    /// Wakes the background workers.
    pub wake: Wake,
    /// The cap on WebSocket connections that have not authenticated yet.
    pub pre_auth: Arc<super::ws::Gate>,
    /// The largest file a package (document attachment) may have, in bytes.
    pub max_attachment_bytes: u64,
    /// TLS settings of outbound `https://` calls (package SourceUrls).
    pub outbound_tls: Arc<rustls::ClientConfig>,
    /// The clock tests move forward (`--test-clock`; test builds only).
    #[cfg(feature = "test-clock")]
    pub test_clock: Option<Arc<steward_core::clock::OffsetClock>>,
}

impl Env {
    /// Now in epoch milliseconds.
    pub fn now(&self) -> i64 {
        self.clock.now_millis()
    }

    /// A context over `store` for tests that drive handlers and workers directly: blobs
    /// under `dir`, no webhooks, no resource tags, a fixed master key.
    pub fn for_tests(store: Arc<dyn Store>, clock: Arc<dyn Clock>, dir: &std::path::Path, account: &str) -> Env {
        let key = [7u8; 32];
        Env {
            store: store.clone(),
            clock,
            credentials: Credentials::new(store.clone(), key, None),
            kms: Keyring::new(store.clone(), key),
            events: Events::new(Vec::new(), Arc::new(super::outbound::Rules::default())),
            agents: Agents::new(30),
            blobs: Arc::new(steward_store::blob::LocalBlobs::new(dir.join("blobs"))),
            secure_transport: false,
            audit: Audit::start(store, std::time::Duration::from_secs(60)),
            policy_cache: Default::default(),
            resource_tags: Box::new(super::access::NoResourceTags),
            fallback_account: account.to_owned(),
            wake: Wake::default(),
            pre_auth: Arc::new(super::ws::Gate::new(1024, 128)),
            max_attachment_bytes: 64 << 20,
            outbound_tls: super::download::tls_config(None).expect("the system's authorities load"),
            #[cfg(feature = "test-clock")]
            test_clock: None,
        }
    }
}

/// Wake-ups for the two background loops, so work booked now starts now rather than at
/// the loop's next tick.
#[derive(Default)]
pub struct Wake {
    dispatcher: Notify,
    scheduler: Notify,
}

impl Wake {
    /// Asks Run Command's dispatcher to look at the active commands now (a new command, a
    /// new connection, a new result).
    pub fn dispatcher(&self) {
        self.dispatcher.notify_one();
    }

    /// Asks the scheduler to look now (a run was booked for now).
    pub fn scheduler(&self) {
        self.scheduler.notify_one();
    }

    /// Resolves when the dispatcher is woken.
    pub async fn dispatcher_woken(&self) {
        self.dispatcher.notified().await
    }

    /// Resolves when the scheduler is woken.
    pub async fn scheduler_woken(&self) {
        self.scheduler.notified().await
    }
}

//! A server state on a fresh SQLite store in a temporary directory, with a manual clock:
//! for tests that drive the server's own functions through time.

use std::sync::Arc;

use steward_core::clock::{Clock, ManualClock};
use steward_server::dispatch::Ctx;
use steward_server::state::{AppState, Principal};

/// A moment in 2030, far from any real clock.
pub const T0: i64 = 1_900_000_000_000;

/// The state, the root of its account as caller, the clock; the directory goes on drop.
pub struct Fixture {
    pub ctx: Ctx,
    pub clock: Arc<ManualClock>,
    dir: std::path::PathBuf,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A fresh fixture; `tag` names its directory.
pub async fn fixture(tag: &str) -> Fixture {
    let dir = std::env::temp_dir().join(format!("steward-{tag}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = steward_store::open(&format!("sqlite://{}", dir.join("db").display())).await.unwrap();
    let clock = Arc::new(ManualClock::at(T0));
    let key = [7u8; 32];
    let state = Arc::new(AppState {
        store: store.clone(),
        clock: clock.clone() as Arc<dyn Clock>,
        credentials: steward_server::auth::Credentials::new(store.clone(), key, None),
        kms: steward_server::kms::Keyring::new(store.clone(), key),
        events: steward_server::events::Events::new(Vec::new()),
        fleet: steward_server::fleet::Fleet::new(30),
        blobs: Arc::new(steward_store::blob::LocalBlobs::new(dir.join("blobs"))),
        secure_transport: false,
        audit: steward_server::audit::Audit::start(store.clone()),
        fallback_account: "123456789012".into(),
        scheduler: Default::default(),
        sessions: Default::default(),
        #[cfg(feature = "test-clock")]
        test_clock: None,
        policy_cache: Default::default(),
    });
    let principal = Principal::root("123456789012", "us-east-1");
    Fixture { ctx: Ctx { state, principal }, clock, dir }
}

// Each test file compiles this module on its own and uses part of it.
#![allow(dead_code)]

//! A server state on a fresh SQLite store in a temporary directory, with a manual clock:
//! for tests that drive the server's own functions through time.

use std::sync::Arc;

use steward_core::clock::{Clock, ManualClock};
use steward_server::base::{Ctx, Env};

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
    let env = Arc::new(Env::for_tests(store, clock.clone() as Arc<dyn Clock>, &dir, "123456789012"));
    Fixture { ctx: Ctx::system(&env, "123456789012", "us-east-1"), clock, dir }
}

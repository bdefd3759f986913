//! Time as an injected dependency, so that tests can drive expiry and schedules.

use std::sync::atomic::{AtomicI64, Ordering};

/// A source of the current time in milliseconds since the epoch (UTC).
pub trait Clock: Send + Sync {
    /// Now, in epoch milliseconds.
    fn now_millis(&self) -> i64;
}

/// The machine's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> i64 {
        let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        d.as_millis() as i64
    }
}

/// A clock that moves only when told to; for tests.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock stopped at `millis`.
    pub fn at(millis: i64) -> Self {
        ManualClock(AtomicI64::new(millis))
    }

    /// Moves the clock forward.
    pub fn advance(&self, millis: i64) {
        self.0.fetch_add(millis, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_millis(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// The machine's clock moved forward by a settable offset: time keeps flowing, and a test
/// can jump ahead to the next scheduled run. Only test builds of the server construct it.
#[derive(Debug, Default)]
pub struct OffsetClock(AtomicI64);

impl OffsetClock {
    /// Moves the clock forward by `millis` (never back).
    pub fn advance(&self, millis: i64) {
        self.0.fetch_add(millis.max(0), Ordering::SeqCst);
    }
}

impl Clock for OffsetClock {
    fn now_millis(&self) -> i64 {
        SystemClock.now_millis() + self.0.load(Ordering::SeqCst)
    }
}

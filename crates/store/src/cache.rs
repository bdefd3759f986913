//! A read-through cache in front of a store that only this process writes.
//!
//! The embedded SQLite store belongs to one server, so every write passes through here and
//! the cache can be exact: a write drops the keys it touches before and after it commits,
//! and a read only fills the cache if no write finished while it was reading (a global
//! generation counter tells). Range scans are not cached. Not for PostgreSQL, where other
//! servers write too.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;

use crate::{Item, Op, Start, Store, StoreError};

/// Bytes of values the cache holds before it starts over.
const MAX_BYTES: usize = 64 << 20;

/// The caching decorator.
pub struct CachedStore {
    inner: Arc<dyn Store>,
    entries: RwLock<Entries>,
    generation: AtomicU64,
}

#[derive(Default)]
struct Entries {
    items: HashMap<String, Item>,
    bytes: usize,
}

impl CachedStore {
    /// Wraps `inner`, which no other process may write.
    pub fn new(inner: Arc<dyn Store>) -> Self {
        CachedStore { inner, entries: RwLock::new(Entries::default()), generation: AtomicU64::new(0) }
    }

    fn forget(&self, ops: &[Op]) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        let mut entries = self.entries.write().expect("cache lock");
        for op in ops {
            if let Some(old) = entries.items.remove(op.key()) {
                entries.bytes -= old.key.len() + old.value.len();
            }
        }
    }

    fn remember(&self, generation: u64, item: &Item) {
        let mut entries = self.entries.write().expect("cache lock");
        if self.generation.load(Ordering::SeqCst) != generation {
            return; // A write finished meanwhile: what we read may be stale.
        }
        let size = item.key.len() + item.value.len();
        if entries.bytes + size > MAX_BYTES {
            *entries = Entries::default();
        }
        if let Some(old) = entries.items.insert(item.key.clone(), item.clone()) {
            entries.bytes -= old.key.len() + old.value.len();
        }
        entries.bytes += size;
    }
}

#[async_trait]
impl Store for CachedStore {
    async fn get(&self, key: &str) -> Result<Option<Item>, StoreError> {
        if let Some(item) = self.entries.read().expect("cache lock").items.get(key) {
            return Ok(Some(item.clone()));
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let item = self.inner.get(key).await?;
        if let Some(item) = &item {
            self.remember(generation, item);
        }
        Ok(item)
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Item>>, StoreError> {
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            out.push(self.get(key).await?);
        }
        Ok(out)
    }

    async fn range(&self, start: Start<'_>, end: &str, limit: usize) -> Result<Vec<Item>, StoreError> {
        self.inner.range(start, end, limit).await
    }

    async fn write(&self, ops: Vec<Op>) -> Result<(), StoreError> {
        self.forget(&ops);
        let touched: Vec<Op> = ops.iter().map(|op| Op::delete(op.key())).collect();
        let result = self.inner.write(ops).await;
        self.forget(&touched);
        result
    }

    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn conformance_through_the_cache() {
        let dir = std::env::temp_dir().join(format!("steward-cache-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let inner = Arc::new(crate::sqlite::SqliteStore::open(&dir.join("test.db")).unwrap());
        crate::testsuite::run(Arc::new(super::CachedStore::new(inner))).await;
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

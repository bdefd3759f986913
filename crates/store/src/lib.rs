//! Durable state for Steward: one small transactional key-value interface, two backends.
//!
//! Every capability keeps its records as values under hierarchical keys
//! (`param/<account>/<region>/<name>` …) in one [`Store`]. The interface is deliberately
//! narrow — point reads, ordered range scans, and atomic conditional batches — so that
//! each backend is small and one conformance suite ([`testsuite`]) holds both to the same
//! contract. Backends: [`sqlite::SqliteStore`] (embedded default; WAL, group commit,
//! `synchronous=FULL`) and [`postgres::PostgresStore`] (several servers on one database).
//!
//! This crate knows nothing of HTTP, of the SSM wire format, or of what the values mean.
//!
//! ```no_run
//! # async fn demo() -> Result<(), steward_store::StoreError> {
//! use steward_store::{open, Op};
//! let store = open("sqlite:///tmp/steward.db").await?;
//! store.write(vec![Op::put("greeting/1", b"hello".to_vec()).if_absent()]).await?;
//! assert_eq!(store.get("greeting/1").await?.unwrap().value, b"hello");
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

pub mod blob;
pub mod cache;
mod migrations;
pub mod pg_tls;
pub mod postgres;
pub mod sqlite;
pub mod testsuite;

use std::sync::Arc;

use async_trait::async_trait;

/// A stored value and its revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The key.
    pub key: String,
    /// The bytes the capability stored.
    pub value: Vec<u8>,
    /// Changes on every write of this key; never reused, even after delete and re-create.
    pub revision: i64,
}

/// What a write expects of its key before it applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Apply whatever the key holds.
    Any,
    /// The key must not exist.
    Absent,
    /// The key must exist.
    Present,
    /// The key must exist at exactly this revision.
    Revision(i64),
}

/// One operation of an atomic batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Create or replace `key`.
    Put {
        /// The key.
        key: String,
        /// The new value.
        value: Vec<u8>,
        /// Precondition.
        expect: Expect,
    },
    /// Remove `key` (a missing key is not an error unless `expect` says so).
    Delete {
        /// The key.
        key: String,
        /// Precondition.
        expect: Expect,
    },
    /// Only check a precondition.
    Check {
        /// The key.
        key: String,
        /// Precondition.
        expect: Expect,
    },
}

impl Op {
    /// An unconditional put.
    pub fn put(key: impl Into<String>, value: Vec<u8>) -> Op {
        Op::Put { key: key.into(), value, expect: Expect::Any }
    }

    /// An unconditional delete.
    pub fn delete(key: impl Into<String>) -> Op {
        Op::Delete { key: key.into(), expect: Expect::Any }
    }

    /// This op, applying only if its key is absent.
    pub fn if_absent(self) -> Op {
        self.expecting(Expect::Absent)
    }

    /// This op, applying only if its key is at `revision`.
    pub fn if_revision(self, revision: i64) -> Op {
        self.expecting(Expect::Revision(revision))
    }

    /// This op with precondition `expect`.
    pub fn expecting(self, expect: Expect) -> Op {
        match self {
            Op::Put { key, value, .. } => Op::Put { key, value, expect },
            Op::Delete { key, .. } => Op::Delete { key, expect },
            Op::Check { key, .. } => Op::Check { key, expect },
        }
    }

    /// The key this op touches.
    pub fn key(&self) -> &str {
        match self {
            Op::Put { key, .. } | Op::Delete { key, .. } | Op::Check { key, .. } => key,
        }
    }

    fn expect(&self) -> Expect {
        match self {
            Op::Put { expect, .. } | Op::Delete { expect, .. } | Op::Check { expect, .. } => *expect,
        }
    }
}

/// Whether `current` (the key's revision, if it exists) satisfies `expect`.
fn satisfied(expect: Expect, current: Option<i64>) -> bool {
    match expect {
        Expect::Any => true,
        Expect::Absent => current.is_none(),
        Expect::Present => current.is_some(),
        Expect::Revision(r) => current == Some(r),
    }
}

/// Where a range scan begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start<'a> {
    /// At this key, included.
    At(&'a str),
    /// Just after this key.
    After(&'a str),
}

impl Start<'_> {
    fn parts(&self) -> (&str, bool) {
        match self {
            Start::At(k) => (k, true),
            Start::After(k) => (k, false),
        }
    }
}

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A precondition of a batch failed; nothing of the batch was applied.
    #[error("condition failed on key {key}")]
    Conflict {
        /// The first key whose precondition failed.
        key: String,
    },
    /// The batch itself is malformed (empty, too large, or touching a key twice).
    #[error("invalid batch: {0}")]
    InvalidBatch(String),
    /// The store URL or configuration is unusable.
    #[error("store configuration: {0}")]
    Config(String),
    /// The backend failed (I/O, connection, corruption).
    #[error("store backend: {0}")]
    Backend(String),
}

/// The largest batch any backend accepts.
pub const MAX_BATCH: usize = 20_000;

/// The contract every backend keeps.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The item at `key`, or `None`.
    async fn get(&self, key: &str) -> Result<Option<Item>, StoreError>;

    /// Items at each of `keys`, in the same order.
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Item>>, StoreError>;

    /// Items from `start` (included or excluded) up to `end` (excluded), in ascending byte
    /// order of key, at most `limit`. Paging passes the last key seen as `Start::After`.
    async fn range(&self, start: Start<'_>, end: &str, limit: usize) -> Result<Vec<Item>, StoreError>;

    /// Applies every op or none. A failed precondition is [`StoreError::Conflict`]. Once
    /// this returns `Ok`, the batch is durable (it survives a crash of the process).
    async fn write(&self, ops: Vec<Op>) -> Result<(), StoreError>;

    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
}

/// The key just after every key that starts with `prefix`, for use as a range end.
pub fn prefix_end(prefix: &str) -> String {
    // Keys are UTF-8; U+10FFFF sorts after every character that can follow the prefix.
    format!("{prefix}\u{10FFFF}")
}

/// Rejects batches no backend may accept, before any backend sees them.
fn check_batch(ops: &[Op]) -> Result<(), StoreError> {
    if ops.is_empty() {
        return Err(StoreError::InvalidBatch("empty batch".into()));
    }
    if ops.len() > MAX_BATCH {
        return Err(StoreError::InvalidBatch(format!("{} ops exceed the limit of {MAX_BATCH}", ops.len())));
    }
    let mut keys: Vec<&str> = ops.iter().map(Op::key).collect();
    keys.sort_unstable();
    if let Some(w) = keys.windows(2).find(|w| w[0] == w[1]) {
        return Err(StoreError::InvalidBatch(format!("key {} appears twice", w[0])));
    }
    Ok(())
}

/// Opens a store by URL: `sqlite://PATH` or `postgres://…[?schema=NAME]`.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        // The embedded file has one writer, this process, so reads can be cached exactly.
        let sqlite = Arc::new(sqlite::SqliteStore::open(std::path::Path::new(path))?);
        Ok(Arc::new(cache::CachedStore::new(sqlite)))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PostgresStore::connect(url).await?))
    } else {
        Err(StoreError::Config(format!("unsupported store URL scheme in {url:?}; use sqlite:// or postgres://")))
    }
}

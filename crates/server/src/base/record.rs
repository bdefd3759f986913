//! Records kept in the store: encoding, decoding, and how store and domain failures
//! become API errors.

use serde::de::DeserializeOwned;
use serde::Serialize;
use steward_api::ApiError;
use steward_core::Fault;
use steward_store::{Op, Store, StoreError, MAX_BATCH};

/// Decodes a stored record; a record we cannot read is a server fault, logged with its key.
pub fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        tracing::error!(key, error = %e, "Stored record is unreadable.");
        ApiError::internal()
    })
}

/// Encodes a record for the store.
pub fn encode<T: Serialize>(record: &T) -> Vec<u8> {
    serde_json::to_vec(record).expect("records always serialise")
}

/// A store failure seen by a handler. A write that lost a race with another writer (a
/// condition failed) is the caller's to retry, as SSM answers concurrent updates; anything
/// else is logged and answered as an internal error.
pub fn store_fault(e: StoreError) -> ApiError {
    if let StoreError::Conflict { key } = &e {
        tracing::info!(key, "A write lost a race with another; the caller may retry.");
        return ApiError::new(
            "TooManyUpdates",
            "There are concurrent updates for a resource that supports one update at a time; try again.",
        );
    }
    tracing::error!(error = %e, "Store call failed.");
    ApiError::internal()
}

/// Maps a domain fault to its SSM error.
pub fn fault(f: Fault) -> ApiError {
    let code = match &f {
        Fault::Invalid(_) => "ValidationException",
        Fault::HierarchyTooDeep(_) => "HierarchyLevelLimitExceededException",
        Fault::PatternMismatch(_) => "ParameterPatternMismatchException",
        Fault::InvalidAllowedPattern(_) => "InvalidAllowedPatternException",
        Fault::InvalidFilterKey(_) => "InvalidFilterKey",
        Fault::InvalidFilterOption(_) => "InvalidFilterOption",
        Fault::InvalidFilterValue(_) => "InvalidFilterValue",
        Fault::InvalidPolicyType(_) => "InvalidPolicyTypeException",
        Fault::InvalidPolicyAttribute(_) => "InvalidPolicyAttributeException",
        Fault::PoliciesLimit(_) => "PoliciesLimitExceededException",
        Fault::IncompatiblePolicy(_) => "IncompatiblePolicyException",
        Fault::InvalidDocumentContent(_) => "InvalidDocumentContent",
        Fault::InvalidDocumentSchemaVersion(_) => "InvalidDocumentSchemaVersion",
        Fault::InvalidParameters(_) => "InvalidParameters",
    };
    ApiError::new(code, f.message().to_owned())
}

/// Writes `commit` with `ahead` in one batch when they fit in one; otherwise `ahead` first,
/// in batches of the most a store takes, then `commit`. `ahead` must be records nothing
/// finds until `commit` is written (the invocations of a command whose record is in
/// `commit`), so readers never see half of the change; if `commit` then fails, they are
/// left unreferenced.
pub async fn write_staged(store: &dyn Store, mut ahead: Vec<Op>, commit: Vec<Op>) -> Result<(), StoreError> {
    if ahead.len() + commit.len() <= MAX_BATCH {
        ahead.extend(commit);
        return store.write(ahead).await;
    }
    while !ahead.is_empty() {
        let rest = ahead.split_off(ahead.len().min(MAX_BATCH));
        store.write(std::mem::replace(&mut ahead, rest)).await?;
    }
    store.write(commit).await
}

/// Every record under `prefix`, read in batches (a long scan does not hold one huge
/// read open, and memory grows with the records, not with a guessed limit).
pub async fn read_all<T: DeserializeOwned>(store: &dyn Store, prefix: &str) -> Result<Vec<T>, ApiError> {
    const BATCH: usize = 1000;
    let end = steward_store::prefix_end(prefix);
    let mut out = Vec::new();
    let mut last: Option<String> = None;
    loop {
        let start = match &last {
            Some(k) => steward_store::Start::After(k),
            None => steward_store::Start::At(prefix),
        };
        let items = store.range(start, &end, BATCH).await.map_err(store_fault)?;
        for item in &items {
            out.push(decode(&item.key, &item.value)?);
        }
        match items.last() {
            Some(item) if items.len() == BATCH => last = Some(item.key.clone()),
            _ => return Ok(out),
        }
    }
}

/// Runs `attempt` — a read, a change, and a write conditional on what was read — again while
/// its write loses the race to a concurrent writer (`TooManyUpdates`, as [`store_fault`]
/// answers a failed condition), at most `attempts` times in all. For records the server's own
/// work also rewrites, where a user's change should not fail for meeting it.
pub async fn retry_races<T, Fut>(attempts: usize, mut attempt: impl FnMut() -> Fut) -> Result<T, ApiError>
where
    Fut: std::future::Future<Output = Result<T, ApiError>>,
{
    let mut tries = 1;
    loop {
        match attempt().await {
            Err(e) if e.code() == "TooManyUpdates" && tries < attempts => tries += 1,
            outcome => return outcome,
        }
    }
}

//! The state every request shares, and small helpers for records kept in the store.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;
use steward_api::ApiError;
use steward_core::clock::Clock;
use steward_store::{Store, StoreError};

use crate::auth::Credentials;
use crate::events::Events;
use crate::kms::Keyring;

/// Shared by every handler and worker.
pub struct AppState {
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
}

impl AppState {
    /// Now in epoch milliseconds.
    pub fn now(&self) -> i64 {
        self.clock.now_millis()
    }
}

/// Who is calling, once the signature checked out.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The account the call acts in.
    pub account: String,
    /// The region from the credential scope.
    pub region: String,
    /// The caller's ARN.
    pub arn: String,
    /// The access key used.
    pub access_key_id: String,
}

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

/// A store failure seen by a handler: logged, and answered as an internal error.
pub fn store_fault(e: StoreError) -> ApiError {
    tracing::error!(error = %e, "Store call failed.");
    ApiError::internal()
}

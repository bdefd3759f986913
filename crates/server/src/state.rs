//! The state every request shares, and small helpers for records kept in the store.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;
use steward_api::ApiError;
use steward_core::clock::Clock;
use steward_core::Fault;
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
    /// Connected agents.
    pub fleet: crate::fleet::Fleet,
    /// Whole command outputs and other large things.
    pub blobs: Arc<dyn steward_store::blob::BlobStore>,
    /// Whether clients reach this server over TLS (`aws:SecureTransport`).
    pub secure_transport: bool,
    /// The audit trail.
    pub audit: crate::audit::Audit,
    /// Parsed IAM policies.
    pub policy_cache: crate::iam::PolicyCache,
    /// The account events of unauthenticated calls are filed under (the root account).
    pub fallback_account: String,
    /// Wakes the scheduler.
    pub scheduler: crate::scheduler::Scheduler,
    /// Live Session Manager sessions on this server.
    pub sessions: crate::sessions::Hub,
    /// The clock tests move forward (`--test-clock`; test builds only).
    #[cfg(feature = "test-clock")]
    pub test_clock: Option<Arc<steward_core::clock::OffsetClock>>,
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
    /// What kind of identity signed.
    pub identity: Identity,
    /// Where the request came from, for `aws:SourceIp`.
    pub source_ip: Option<std::net::IpAddr>,
    /// The host the caller reached (its `Host` header), for URLs handed back to it.
    pub request_host: Option<String>,
}

/// The identity behind an access key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Identity {
    /// The account's root: may do everything in its account.
    #[default]
    Root,
    /// An IAM user (by name).
    User(String),
    /// A session of an assumed role.
    Role {
        /// The role's name.
        role: String,
        /// The session name.
        session: String,
    },
}

impl Principal {
    /// The root of `account`, acting in `region` (internal work and tests).
    pub fn root(account: &str, region: &str) -> Self {
        Principal {
            account: account.to_owned(),
            region: region.to_owned(),
            arn: format!("arn:aws:iam::{account}:root"),
            access_key_id: String::new(),
            identity: Identity::Root,
            source_ip: None,
            request_host: None,
        }
    }

    /// Whether policies bound this caller (everyone but the root).
    pub fn is_root(&self) -> bool {
        self.identity == Identity::Root
    }
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

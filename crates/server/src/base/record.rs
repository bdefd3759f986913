//! Records kept in the store: encoding, decoding, and how store and domain failures
//! become API errors.

use serde::de::DeserializeOwned;
use serde::Serialize;
use steward_api::ApiError;
use steward_core::Fault;
use steward_store::StoreError;

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

//! The ways a request can break a domain rule.

use std::fmt;

/// A broken rule, with a message for the caller. The server maps each kind to the SSM
/// error code of the same meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Malformed input (`ValidationException`).
    Invalid(String),
    /// A name with more than 15 levels (`HierarchyLevelLimitExceededException`).
    HierarchyTooDeep(String),
    /// The value does not match the parameter's AllowedPattern (`ParameterPatternMismatchException`).
    PatternMismatch(String),
    /// The AllowedPattern is not a valid regular expression (`InvalidAllowedPatternException`).
    InvalidAllowedPattern(String),
    /// A filter key unknown or not allowed here (`InvalidFilterKey`).
    InvalidFilterKey(String),
    /// A filter option not allowed for its key (`InvalidFilterOption`).
    InvalidFilterOption(String),
    /// A filter value not allowed (`InvalidFilterValue`).
    InvalidFilterValue(String),
    /// A policy type Steward does not know (`InvalidPolicyTypeException`).
    InvalidPolicyType(String),
    /// A policy attribute missing or malformed (`InvalidPolicyAttributeException`).
    InvalidPolicyAttribute(String),
    /// Too many policies (`PoliciesLimitExceededException`).
    PoliciesLimit(String),
    /// Policies that cannot go together or on this tier (`IncompatiblePolicyException`).
    IncompatiblePolicy(String),
    /// A document's content is malformed or breaks its schema (`InvalidDocumentContent`).
    InvalidDocumentContent(String),
    /// A schema version the document type does not allow (`InvalidDocumentSchemaVersion`).
    InvalidDocumentSchemaVersion(String),
    /// Parameters given to a document do not fit its definitions (`InvalidParameters`).
    InvalidParameters(String),
}

impl Fault {
    /// The message for the caller.
    pub fn message(&self) -> &str {
        match self {
            Fault::Invalid(m)
            | Fault::HierarchyTooDeep(m)
            | Fault::PatternMismatch(m)
            | Fault::InvalidAllowedPattern(m)
            | Fault::InvalidFilterKey(m)
            | Fault::InvalidFilterOption(m)
            | Fault::InvalidFilterValue(m)
            | Fault::InvalidPolicyType(m)
            | Fault::InvalidPolicyAttribute(m)
            | Fault::PoliciesLimit(m)
            | Fault::IncompatiblePolicy(m)
            | Fault::InvalidDocumentContent(m)
            | Fault::InvalidDocumentSchemaVersion(m)
            | Fault::InvalidParameters(m) => m,
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for Fault {}

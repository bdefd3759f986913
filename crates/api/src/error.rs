//! The one error shape every API failure takes on the wire.

use std::borrow::Cow;
use std::fmt;

/// An error as AWS JSON 1.1 reports it: a code (`__type`), a message and an HTTP status.
///
/// Every client-caused failure is status 400; only a fault of Steward itself is 500, and its
/// message never carries internal detail (that goes to the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    code: Cow<'static, str>,
    message: String,
    status: u16,
}

impl ApiError {
    /// A client error (status 400) with an AWS error code such as `ParameterNotFound`.
    pub fn new(code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        ApiError { code: code.into(), message: message.into(), status: 400 }
    }

    /// `ValidationException` with the given message.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new("ValidationException", message)
    }

    /// `SerializationException`: the body is not the JSON the operation expects.
    pub fn serialization(message: impl Into<String>) -> Self {
        Self::new("SerializationException", message)
    }

    /// A fault of the server. The message shown to the client is generic on purpose.
    pub fn internal() -> Self {
        ApiError {
            code: Cow::Borrowed("InternalServerError"),
            message: "An internal error occurred. The request id is in the response headers.".into(),
            status: 500,
        }
    }

    /// The same error answered with another HTTP status (the query APIs use 403, 404, 409).
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// The AWS error code, e.g. `ValidationException`.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The HTTP status to answer with.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The JSON 1.1 error body: `{"__type": CODE, "message": TEXT}`.
    pub fn to_body(&self) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({"__type": self.code, "message": self.message}))
            .expect("a map of two strings always serialises")
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

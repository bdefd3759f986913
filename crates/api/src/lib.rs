//! The wire format of Steward: what crosses the network, exactly as AWS defines it.
//!
//! This crate owns the AWS JSON 1.1 protocol as the SSM and KMS service models in botocore
//! describe it: the [`error::ApiError`] every failure becomes, the request
//! [`model::Model`] validator derived from those service models, the SigV4
//! [`sigv4`] verifier and signer, and the typed request/response shapes of each
//! capability ([`ssm`], [`kms`]).
//!
//! It knows nothing of Steward's domain or storage: handlers elsewhere turn these shapes
//! into domain calls and back.
//!
//! ```
//! use steward_api::model::{Model, Service};
//! let err = Model::get(Service::Ssm)
//!     .validate("GetParameter", &serde_json::json!({}))
//!     .unwrap_err();
//! assert_eq!(err.code(), "ValidationException");
//! ```
#![deny(missing_docs)]

pub mod error;
pub mod kms;
pub mod model;
pub mod query;
pub mod resource_groups;
pub mod sigv4;
pub mod ssm;
pub mod time;

pub use error::ApiError;

//! Steward's domain rules: pure functions and types, no I/O, no wire format, no runtime.
//!
//! What may be named, how a selector or a filter is read, when a value fits its tier, what a
//! parameter policy says — the rules the SSM user guide states, written once and tested
//! with tables of cases. The server feeds them data it read from the store and turns their
//! [`Fault`]s into SSM error codes at its boundary.
//!
//! ```
//! use steward_core::parameters::names::check_name;
//! assert!(check_name("/app/prod/db").is_ok());
//! assert!(check_name("aws-thing").is_err());
//! ```
#![deny(missing_docs)]

pub mod clock;
pub mod commands;
pub mod documents;
pub mod fault;
pub mod iam;
pub mod parameters;
pub mod schedule;

pub use fault::Fault;

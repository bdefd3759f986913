//! The IAM and STS APIs (query protocol): users, groups, roles, managed and inline
//! policies, policy versions, tags, access keys, console passwords (`login`), AssumeRole and
//! GetCallerIdentity.
//!
//! The records these operations write, and the policy check every call passes, are in
//! `crate::base` (`iam_records`, `policy_cache`, `access`): every capability reads them.
//! The HTTP side of the query protocol (form parsing, XML answers, audit) is `app::query`.

mod common;
mod identities;
mod login;
mod sts;
mod tagging;
mod versions;

pub use identities::{call, resource_of};
pub use login::{principal as console_principal, sign_in as console_sign_in, SignIn as ConsoleSignIn};
pub use sts::{call as sts_call, run_sweeper, sweep_expired, EXPIRED_KEPT_MILLIS};

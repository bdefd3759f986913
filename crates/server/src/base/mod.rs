//! The base every capability stands on, naming none of them: the shared context ([`Env`],
//! [`Ctx`]), who is calling ([`Principal`]), authorization ([`access`]), records and
//! paging, ARNs, tags, the key service's keyring, events, the audit trail, the connected
//! agents, and the scheduling primitives.
//!
//! Rule (checked by `tests/layers.rs`): nothing here imports anything outside `base`.

pub mod access;
pub mod agents;
pub mod arn;
pub mod audit;
pub mod audit_digest;
pub mod audit_export;
pub mod audit_sampling;
pub mod audit_worker;
pub mod buckets;
pub mod credentials;
pub mod crypto;
pub mod ctx;
pub mod download;
pub mod env;
pub mod events;
pub mod iam_records;
pub mod kms;
pub mod outbound;
pub mod outbound_http;
pub mod paging;
pub mod peer;
pub mod policy_cache;
pub mod principal;
pub mod record;
pub mod release_key;
pub mod run_as;
pub mod schedule;
pub mod signing_key;
pub mod sweeper;
pub mod tags;
pub mod ws;

pub use buckets::check_user_bucket;
pub use ctx::Ctx;
pub use env::{Env, Wake};
pub use principal::{Identity, Principal};
pub use record::{decode, encode, fault, read_all, retry_races, store_fault, write_staged};
pub use run_as::RunAs;

//! IAM: the policy grammar ([`policy`]) and how a request is judged against policies ([`eval`]).

pub mod eval;
pub mod policy;

//! Parameter Store rules: names, selectors, labels, values and tiers, policies, filters.
//!
//! Each module is a set of pure checks that the server applies before it touches the store.

pub mod filters;
pub mod labels;
pub mod names;
pub mod policies;
pub mod values;

//! Patch Manager's rules, shared by the server and the agent: what a baseline is, what it
//! approves, how package versions order, and the states a node reports per package. No I/O.

pub mod approval;
pub mod baseline;
pub mod debversion;
pub mod platform;
pub mod report;
pub mod rpmversion;

pub use approval::{approve, glob, Approval, Patch};
pub use baseline::{Baseline, Filter, FilterGroup, Rule, RuleGroup, Snapshot, Source};
pub use report::{NodeReport, PatchEntry, PatchState};

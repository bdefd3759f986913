//! SSM documents: parse content (JSON or YAML), check it against its type's schema, read
//! its parameter definitions, check the values a caller supplies, and interpolate them.
//!
//! [`content`] reads and renders, [`schema`] checks a parsed document and describes it
//! ([`schema::Analysis`]), [`params`] checks supplied values against definitions,
//! [`interpolate`] substitutes `{{ name }}` references, [`runbook`] checks the steps of
//! Automation documents.

pub mod content;
pub mod interpolate;
pub mod package;
pub mod params;
pub mod runbook;
pub mod schema;

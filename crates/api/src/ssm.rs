//! Typed request and response shapes of the SSM operations Steward serves, one module per
//! capability. Field names follow the service model (PascalCase on the wire).

pub mod associations;
pub mod automation;
pub mod commands;
pub mod compliance;
pub mod documents;
pub mod fleet;
pub mod inventory;
pub mod nodes;
pub mod parameters;
pub mod patch;
pub mod sessions;
pub mod tags;
pub mod windows;

use serde::{Deserialize, Serialize};

/// A resource tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    /// The tag key.
    pub key: String,
    /// The tag value.
    pub value: String,
}

/// An empty response body (`{}`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Empty {}

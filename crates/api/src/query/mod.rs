//! The AWS query protocol (IAM, STS, SNS): form parameters in (`Name=value`,
//! `Prefix.member.N.Field`, `Prefix.entry.N.key`), XML out.

mod json;
mod params;
mod xml;

pub use json::{json_from_xml, params_from_json};
pub use params::{validation, Params};
pub use xml::{escape, Xml};

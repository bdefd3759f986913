//! The AWS query protocol (IAM, STS, SNS): form parameters in (`Name=value`,
//! `Prefix.member.N.Field`, `Prefix.entry.N.key`), XML out.

mod params;
mod xml;

pub use params::{validation, Params};
pub use xml::{escape, Xml};

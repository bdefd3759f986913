//! The parameters of a query-protocol request (`Name=value`, `Prefix.member.N.Field`), and
//! IAM's ValidationError for those that are missing or wrong.

use std::collections::BTreeMap;

use steward_api::ApiError;

/// The request's parameters.
pub struct Params(BTreeMap<String, String>);

impl From<BTreeMap<String, String>> for Params {
    fn from(map: BTreeMap<String, String>) -> Self {
        Params(map)
    }
}

impl Params {
    /// A parameter, if given.
    pub fn opt(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// A required parameter; its absence is IAM's ValidationError.
    pub fn req(&self, name: &str) -> Result<&str, ApiError> {
        self.opt(name).ok_or_else(|| {
            let member = lower_first(name);
            validation(format!(
                "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
            ))
        })
    }

    /// `Prefix.member.N.Field` entries as (N-ordered) maps of Field → value.
    pub fn members(&self, prefix: &str) -> Vec<BTreeMap<String, String>> {
        let mut by_index: BTreeMap<u32, BTreeMap<String, String>> = BTreeMap::new();
        let head = format!("{prefix}.member.");
        for (k, v) in &self.0 {
            let Some(rest) = k.strip_prefix(&head) else { continue };
            let (index, field) = rest.split_once('.').unwrap_or((rest, ""));
            if let Ok(i) = index.parse() {
                by_index.entry(i).or_default().insert(field.to_owned(), v.clone());
            }
        }
        by_index.into_values().collect()
    }

    /// `Prefix.member.N` plain values, in N order.
    pub fn list(&self, prefix: &str) -> Vec<String> {
        self.members(prefix).into_iter().filter_map(|m| m.get("").cloned()).collect()
    }
}

fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map(|c| c.to_ascii_lowercase().to_string() + chars.as_str()).unwrap_or_default()
}

/// IAM's `ValidationError` (400).
pub fn validation(message: impl Into<String>) -> ApiError {
    ApiError::new("ValidationError", message)
}

impl Params {
    /// Every parameter but `Action` and `Version` (what the audit trail records).
    pub fn without_action(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter().filter(|(k, _)| *k != "Action" && *k != "Version")
    }
}

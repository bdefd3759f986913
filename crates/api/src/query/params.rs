//! The parameters of a query-protocol request (`Name=value`, `Prefix.member.N.Field`), and
//! the ValidationError the query APIs answer for those that are missing or wrong.

use std::collections::BTreeMap;

use crate::ApiError;

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
        self.indexed(&format!("{prefix}.member."))
    }

    /// `Prefix.entry.N.Field…` entries (SNS's maps) as (N-ordered) maps of Field → value;
    /// a field may itself hold dots (`Value.DataType`).
    pub fn entry_fields(&self, prefix: &str) -> Vec<BTreeMap<String, String>> {
        self.indexed(&format!("{prefix}.entry."))
    }

    fn indexed(&self, head: &str) -> Vec<BTreeMap<String, String>> {
        let mut by_index: BTreeMap<u32, BTreeMap<String, String>> = BTreeMap::new();
        for (k, v) in &self.0 {
            let Some(rest) = k.strip_prefix(head) else { continue };
            let (index, field) = rest.split_once('.').unwrap_or((rest, ""));
            if let Ok(i) = index.parse() {
                by_index.entry(i).or_default().insert(field.to_owned(), v.clone());
            }
        }
        by_index.into_values().collect()
    }

    /// `Prefix.entry.N.key` / `Prefix.entry.N.value` pairs (SNS's attribute maps); a
    /// later entry with the same key wins, as a map would.
    pub fn entries(&self, prefix: &str) -> BTreeMap<String, String> {
        self.entry_fields(prefix)
            .into_iter()
            .filter_map(|mut e| Some((e.remove("key")?, e.remove("value").unwrap_or_default())))
            .collect()
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

/// The query APIs' `ValidationError` (400).
pub fn validation(message: impl Into<String>) -> ApiError {
    ApiError::new("ValidationError", message)
}

impl Params {
    /// Every parameter but `Action` and `Version` (what the audit trail records).
    pub fn without_action(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter().filter(|(k, _)| *k != "Action" && *k != "Version")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_and_entries() {
        let p = Params::from(BTreeMap::from(
            [
                ("Tags.member.2.Key", "b"),
                ("Tags.member.1.Key", "a"),
                ("Attributes.entry.1.key", "DisplayName"),
                ("Attributes.entry.1.value", "Ops"),
                ("Attributes.entry.2.key", "Empty"),
                ("MessageAttributes.entry.1.Name", "n"),
                ("MessageAttributes.entry.1.Value.DataType", "String"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        ));
        let tags: Vec<_> = p.members("Tags").into_iter().map(|m| m["Key"].clone()).collect();
        assert_eq!(tags, ["a", "b"]);
        let attributes = p.entries("Attributes");
        assert_eq!(attributes["DisplayName"], "Ops");
        assert_eq!(attributes["Empty"], "");
        assert_eq!(p.entry_fields("MessageAttributes")[0]["Value.DataType"], "String");
    }
}

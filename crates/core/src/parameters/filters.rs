//! ParameterStringFilters of DescribeParameters and GetParametersByPath, and the legacy
//! `Filters` of DescribeParameters.
//!
//! Filters combine with AND; the values of one filter combine with OR.

use super::names::{key_of, path_prefix};
use crate::Fault;

/// Which operation the filters are for; each allows different keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// DescribeParameters: every key but Label.
    Describe,
    /// GetParametersByPath: Type, KeyId, Label.
    ByPath,
}

/// What a filter looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    /// The name.
    Name,
    /// String, StringList, SecureString.
    Type,
    /// The KMS key.
    KeyId,
    /// The hierarchy the name is in.
    Path,
    /// Standard or Advanced.
    Tier,
    /// text, aws:ec2:image, …
    DataType,
    /// A label on any version.
    Label,
    /// A tag with this key.
    Tag(String),
}

/// How values compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// Exactly.
    Equals,
    /// As a prefix.
    BeginsWith,
    /// As a substring (Name only).
    Contains,
    /// Path: anywhere below.
    Recursive,
    /// Path: directly below.
    OneLevel,
}

/// A checked filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// What it looks at.
    pub key: Key,
    /// How.
    pub option: Match,
    /// Any of these (empty only for `tag:` filters, meaning "has the tag").
    pub values: Vec<String>,
}

/// What filters see of a parameter.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    /// The name.
    pub name: &'a str,
    /// The type.
    pub kind: &'a str,
    /// The KMS key (SecureString only).
    pub key_id: Option<&'a str>,
    /// The tier.
    pub tier: &'a str,
    /// The data type.
    pub data_type: &'a str,
    /// Labels on any version.
    pub labels: &'a [String],
    /// Tags.
    pub tags: &'a [(String, String)],
}

fn key_name(key: &Key) -> String {
    match key {
        Key::Name => "Name".into(),
        Key::Type => "Type".into(),
        Key::KeyId => "KeyId".into(),
        Key::Path => "Path".into(),
        Key::Tier => "Tier".into(),
        Key::DataType => "DataType".into(),
        Key::Label => "Label".into(),
        Key::Tag(k) => format!("tag:{k}"),
    }
}

fn parse_key(raw: &str) -> Option<Key> {
    Some(match raw {
        "Name" => Key::Name,
        "Type" => Key::Type,
        "KeyId" => Key::KeyId,
        "Path" => Key::Path,
        "Tier" => Key::Tier,
        "DataType" => Key::DataType,
        "Label" => Key::Label,
        _ => Key::Tag(raw.strip_prefix("tag:").filter(|k| !k.is_empty())?.to_owned()),
    })
}

fn option_name(m: Match) -> &'static str {
    match m {
        Match::Equals => "Equals",
        Match::BeginsWith => "BeginsWith",
        Match::Contains => "Contains",
        Match::Recursive => "Recursive",
        Match::OneLevel => "OneLevel",
    }
}

/// A filter as the caller sent it, before any check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFilter {
    /// The key text.
    pub key: String,
    /// The option text, if given.
    pub option: Option<String>,
    /// The values, if given.
    pub values: Option<Vec<String>>,
}

/// Checks raw filters for `op`.
pub fn parse(op: Operation, raw: &[RawFilter]) -> Result<Vec<Filter>, Fault> {
    let mut filters: Vec<Filter> = Vec::new();
    for RawFilter { key: raw_key, option: raw_option, values: raw_values } in raw {
        let allowed_keys: &[&str] = match op {
            Operation::Describe => &["Path", "Name", "Type", "KeyId", "Tier", "DataType"],
            Operation::ByPath => &["Type", "KeyId", "Label"],
        };
        let key = parse_key(raw_key).filter(|k| match (op, k) {
            (Operation::Describe, Key::Label) => false,
            (Operation::Describe, _) => true,
            (Operation::ByPath, k) => matches!(k, Key::Type | Key::KeyId | Key::Label),
        });
        let Some(key) = key else {
            return Err(Fault::InvalidFilterKey(format!(
                "The following filter key is not valid: {raw_key}. Valid filter keys include: [{}].",
                allowed_keys.join(", ")
            )));
        };
        if filters.iter().any(|f| f.key == key) {
            return Err(Fault::InvalidFilterKey(format!(
                "The following filter is duplicated in the request: {raw_key}. A request can contain only one occurrence of a specific filter."
            )));
        }
        let allowed_options: &[Match] = match key {
            Key::Path => &[Match::Recursive, Match::OneLevel],
            Key::Name if op == Operation::Describe => &[Match::Equals, Match::BeginsWith, Match::Contains],
            Key::Label => &[Match::Equals],
            _ => &[Match::Equals, Match::BeginsWith],
        };
        let option = match raw_option.as_deref() {
            None => allowed_options[if key == Key::Path { 1 } else { 0 }],
            Some(text) => *allowed_options.iter().find(|o| option_name(**o) == text).ok_or_else(|| {
                Fault::InvalidFilterOption(format!(
                    "The following filter option is not valid: {text}. Valid options include: [{}].",
                    allowed_options.iter().map(|o| option_name(*o)).collect::<Vec<_>>().join(", ")
                ))
            })?,
        };
        let values = raw_values.clone().unwrap_or_default();
        if values.is_empty() && !matches!(key, Key::Tag(_)) {
            return Err(Fault::InvalidFilterValue(format!(
                "The following filter values are missing : null for filter key {raw_key}."
            )));
        }
        check_values(&key, &values)?;
        filters.push(Filter { key, option, values });
    }
    Ok(filters)
}

fn check_values(key: &Key, values: &[String]) -> Result<(), Fault> {
    let allowed: &[&str] = match key {
        Key::Type => &["String", "StringList", "SecureString"],
        Key::Tier => &["Standard", "Advanced", "Intelligent-Tiering"],
        Key::Path => {
            for v in values {
                if v.strip_prefix('/').is_some_and(|r| {
                    let l = r.get(..3).map(str::to_ascii_lowercase);
                    matches!(l.as_deref(), Some("aws") | Some("ssm"))
                }) {
                    return Err(Fault::Invalid("Filters for common parameters can't be prefixed with \"aws\" or \"ssm\" (case-insensitive). When using global parameters, please specify within a global namespace.".into()));
                }
                path_prefix(v)?;
            }
            return Ok(());
        }
        _ => return Ok(()),
    };
    match values.iter().find(|v| !allowed.contains(&v.as_str())) {
        Some(bad) => Err(Fault::InvalidFilterValue(format!(
            "The following filter value is not valid: {bad}. Valid values include: [{}].",
            allowed.join(", ")
        ))),
        None => Ok(()),
    }
}

/// Converts legacy `Filters` (Name, Type, KeyId) to filters; Name matches as a prefix.
pub fn from_legacy(raw: &[(String, Vec<String>)]) -> Result<Vec<Filter>, Fault> {
    let converted: Vec<RawFilter> = raw
        .iter()
        .map(|(k, v)| RawFilter {
            key: k.clone(),
            option: (k == "Name").then(|| "BeginsWith".to_owned()),
            values: Some(v.clone()),
        })
        .collect();
    parse(Operation::Describe, &converted)
}

fn compare(option: Match, actual: &str, wanted: &str) -> bool {
    match option {
        Match::Equals => actual == wanted,
        Match::BeginsWith => actual.starts_with(wanted),
        Match::Contains => actual.contains(wanted),
        Match::Recursive | Match::OneLevel => false,
    }
}

impl Filter {
    /// Whether the parameter passes this filter.
    pub fn matches(&self, p: &View<'_>) -> bool {
        let any = |actual: &str| self.values.iter().any(|v| compare(self.option, actual, v));
        match &self.key {
            Key::Name => self.values.iter().any(|v| match self.option {
                Match::Contains => p.name.contains(v.as_str()),
                _ => compare(self.option, key_of(p.name), key_of(v)),
            }),
            Key::Type => any(p.kind),
            Key::KeyId => p.key_id.is_some_and(any),
            Key::Tier => self.values.iter().any(|v| v == "Intelligent-Tiering" || compare(self.option, p.tier, v)),
            Key::DataType => any(p.data_type),
            Key::Label => p.labels.iter().any(|l| any(l)),
            Key::Tag(tag) => p.tags.iter().any(|(k, v)| k == tag && (self.values.is_empty() || any(v))),
            Key::Path => self.values.iter().any(|path| {
                let Ok(prefix) = path_prefix(path) else {
                    return false;
                };
                let key = key_of(p.name);
                let Some(rest) = key.strip_prefix(prefix.as_str()) else {
                    return false;
                };
                // Under `/` only hierarchical names count; `foo` has no path.
                if prefix.is_empty() && !p.name.starts_with('/') {
                    return false;
                }
                !rest.is_empty() && (self.option == Match::Recursive || !rest.contains('/'))
            }),
        }
    }

    /// The key's wire name (`Name`, `tag:Env`, …).
    pub fn key_name(&self) -> String {
        key_name(&self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(key: &str, option: Option<&str>, values: &[&str]) -> RawFilter {
        RawFilter {
            key: key.into(),
            option: option.map(Into::into),
            values: Some(values.iter().map(|v| v.to_string()).collect()),
        }
    }

    fn fault_kind(f: Fault) -> &'static str {
        match f {
            Fault::InvalidFilterKey(_) => "key",
            Fault::InvalidFilterOption(_) => "option",
            Fault::InvalidFilterValue(_) => "value",
            Fault::Invalid(_) => "invalid",
            _ => "other",
        }
    }

    #[test]
    fn keys_and_options_per_operation() {
        use Operation::*;
        let cases: &[(Operation, RawFilter, Result<(), &str>)] = &[
            (Describe, raw("Name", Some("Contains"), &["x"]), Ok(())),
            (Describe, raw("Label", None, &["x"]), Err("key")),
            (Describe, raw("Bogus", None, &["x"]), Err("key")),
            (Describe, raw("Path", Some("Equals"), &["/a"]), Err("option")),
            (Describe, raw("Path", Some("Recursive"), &["/a"]), Ok(())),
            (Describe, raw("Path", None, &["a"]), Err("invalid")),
            (Describe, raw("Path", None, &["/ssm/x"]), Err("invalid")),
            (Describe, raw("Type", None, &["Number"]), Err("value")),
            (Describe, raw("Type", None, &[]), Err("value")),
            (Describe, raw("tag:Env", None, &[]), Ok(())),
            (ByPath, raw("Name", None, &["x"]), Err("key")),
            (ByPath, raw("Label", Some("BeginsWith"), &["x"]), Err("option")),
            (ByPath, raw("Label", None, &["x"]), Ok(())),
            (ByPath, raw("Type", Some("BeginsWith"), &["Secure"]), Err("value")),
        ];
        for (op, r, expected) in cases {
            let got = parse(*op, std::slice::from_ref(r)).map(|_| ()).map_err(fault_kind);
            assert_eq!(&got, expected, "{op:?} {r:?}");
        }
        let dup = parse(Describe, &[raw("Name", None, &["a"]), raw("Name", None, &["b"])]).unwrap_err();
        assert_eq!(fault_kind(dup), "key");
    }

    #[test]
    fn matching() {
        let tags = vec![("Env".to_owned(), "prod".to_owned())];
        let labels = vec!["stable".to_owned()];
        let view = View {
            name: "/app/prod/db",
            kind: "SecureString",
            key_id: Some("alias/aws/ssm"),
            tier: "Standard",
            data_type: "text",
            labels: &labels,
            tags: &tags,
        };
        let check = |op, r: RawFilter| parse(op, &[r]).unwrap()[0].matches(&view);
        use Operation::*;
        assert!(check(Describe, raw("Name", None, &["/app/prod/db"])));
        assert!(check(Describe, raw("Name", None, &["app/prod/db"])));
        assert!(check(Describe, raw("Name", Some("BeginsWith"), &["/app"])));
        assert!(check(Describe, raw("Name", Some("Contains"), &["prod"])));
        assert!(!check(Describe, raw("Name", None, &["/app"])));
        assert!(check(Describe, raw("Path", None, &["/app/prod"])));
        assert!(!check(Describe, raw("Path", None, &["/app"])));
        assert!(check(Describe, raw("Path", Some("Recursive"), &["/app"])));
        assert!(check(Describe, raw("Path", Some("Recursive"), &["/"])));
        assert!(check(Describe, raw("tag:Env", None, &[])));
        assert!(check(Describe, raw("tag:Env", None, &["prod", "dev"])));
        assert!(!check(Describe, raw("tag:Env", None, &["dev"])));
        assert!(!check(Describe, raw("tag:Team", None, &[])));
        assert!(check(Describe, raw("KeyId", None, &["alias/aws/ssm"])));
        assert!(check(ByPath, raw("Type", None, &["SecureString", "String"])));
        assert!(check(ByPath, raw("Label", None, &["stable"])));
    }
}

//! `{{ name }}` references in document steps.
//!
//! A string that is exactly one reference takes the parameter's typed value (a StringList
//! becomes a list); a list element that is exactly a reference to a list is spliced into
//! the enclosing list; a reference inside longer text is replaced by the value's text
//! (strings as they are, anything else as JSON). References with a prefix — `ssm:`,
//! `ssm-secure:`, `global:`, `automation:` — and step outputs (`Step.Output`) are left for
//! the stages that resolve them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use serde_json::Value;

fn reference() -> &'static regex::Regex {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    RE.get_or_init(|| regex::Regex::new(r"\{\{\s*([^{}\s]+)\s*\}\}").expect("valid"))
}

/// What kind of thing a reference names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// A document parameter.
    Parameter(String),
    /// `ssm:NAME[:selector]`, resolved from Parameter Store when a command is sent.
    Ssm(String),
    /// `ssm-secure:NAME`, resolved on the node at run time.
    SsmSecure(String),
    /// `global:…`, `automation:…` or `Step.Output`.
    Other(String),
}

fn classify(inner: &str) -> Reference {
    if let Some(name) = inner.strip_prefix("ssm:") {
        Reference::Ssm(name.to_owned())
    } else if let Some(name) = inner.strip_prefix("ssm-secure:") {
        Reference::SsmSecure(name.to_owned())
    } else if inner.contains(':') || inner.contains('.') {
        Reference::Other(inner.to_owned())
    } else {
        Reference::Parameter(inner.to_owned())
    }
}

/// Every reference in `tree` (values only; keys are never interpolated).
pub fn references(tree: &Value) -> Vec<Reference> {
    let mut out = Vec::new();
    walk_strings(tree, &mut |s| {
        for cap in reference().captures_iter(s) {
            out.push(classify(&cap[1]));
        }
    });
    out
}

/// The names of parameters referenced in `tree`, sorted.
pub fn parameter_names(tree: &Value) -> BTreeSet<String> {
    references(tree)
        .into_iter()
        .filter_map(|r| match r {
            Reference::Parameter(n) => Some(n),
            _ => None,
        })
        .collect()
}

fn walk_strings(tree: &Value, f: &mut impl FnMut(&str)) {
    match tree {
        Value::String(s) => f(s),
        Value::Array(items) => items.iter().for_each(|i| walk_strings(i, f)),
        Value::Object(map) => map.values().for_each(|v| walk_strings(v, f)),
        _ => {}
    }
}

/// If `s` is exactly one reference to a parameter we have, its value.
fn whole<'a>(s: &str, values: &'a BTreeMap<String, Value>) -> Option<&'a Value> {
    let cap = reference().captures(s)?;
    let m = cap.get(0)?;
    if m.start() != 0 || m.end() != s.len() {
        return None;
    }
    values.get(&cap[1])
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Substitutes parameter values into `tree`.
pub fn apply(tree: &Value, values: &BTreeMap<String, Value>) -> Value {
    match tree {
        Value::String(s) => {
            if let Some(v) = whole(s, values) {
                return v.clone();
            }
            if !s.contains("{{") {
                return tree.clone();
            }
            let replaced = reference().replace_all(s, |cap: &regex::Captures<'_>| match values.get(&cap[1]) {
                Some(v) => as_text(v),
                None => cap[0].to_owned(),
            });
            Value::String(replaced.into_owned())
        }
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match item.as_str().and_then(|s| whole(s, values)) {
                    Some(Value::Array(spliced)) => out.extend(spliced.iter().cloned()),
                    _ => out.push(apply(item, values)),
                }
            }
            Value::Array(out)
        }
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), apply(v, values))).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn values() -> BTreeMap<String, Value> {
        [
            ("commands".to_owned(), json!(["uptime", "id"])),
            ("dir".to_owned(), json!("/tmp")),
            ("count".to_owned(), json!(3)),
        ]
        .into_iter()
        .collect()
    }

    #[test]
    fn substitution_by_position() {
        let cases = [
            (json!("{{ commands }}"), json!(["uptime", "id"])),
            (json!("{{commands}}"), json!(["uptime", "id"])),
            (json!(["{{ commands }}", "echo done"]), json!(["uptime", "id", "echo done"])),
            (json!("cd {{ dir }} && ls"), json!("cd /tmp && ls")),
            (json!("{{ count }}"), json!(3)),
            (json!("n={{ count }} c={{ commands }}"), json!("n=3 c=[\"uptime\",\"id\"]")),
            (json!("{{ ssm:/app/x }} {{ unknown }}"), json!("{{ ssm:/app/x }} {{ unknown }}")),
            (json!({"{{ dir }}": "{{ dir }}"}), json!({"{{ dir }}": "/tmp"})),
        ];
        for (input, expected) in cases {
            assert_eq!(apply(&input, &values()), expected, "{input}");
        }
    }

    #[test]
    fn references_are_classified() {
        let tree = json!({"a": ["{{ p }}", "x {{ssm:/a/b:2}} {{ ssm-secure:/s }}"], "b": "{{ global:REGION }} {{ step.Out }}"});
        assert_eq!(
            references(&tree),
            vec![
                Reference::Parameter("p".into()),
                Reference::Ssm("/a/b:2".into()),
                Reference::SsmSecure("/s".into()),
                Reference::Other("global:REGION".into()),
                Reference::Other("step.Out".into()),
            ]
        );
        assert_eq!(parameter_names(&tree).into_iter().collect::<Vec<_>>(), ["p"]);
    }
}

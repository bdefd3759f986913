//! `{{ name }}` references in document steps.
//!
//! A string that is exactly one reference takes the parameter's typed value (a StringList
//! becomes a list); a list element that is exactly a reference to a list is spliced into
//! the enclosing list; a reference inside longer text is replaced by the value's text
//! (strings as they are, anything else as JSON). References with a prefix — `ssm:`,
//! `ssm-secure:`, `global:`, `automation:` — and step outputs (`Step.Output`) are left for
//! the stages that resolve them.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// The references in `s`, as (start, end, inner name) byte spans: `{{`, optional spaces, a
/// name without spaces or braces, optional spaces, `}}`. A hand-written scan: documents
/// hold thousands of strings, and this runs on every one of them.
fn scan(s: &str) -> Vec<(usize, usize, &str)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(open) = s[from..].find("{{").map(|i| from + i) {
        let body_start = open + 2;
        let Some(close) = s[body_start..].find("}}").map(|i| body_start + i) else { break };
        let inner = s[body_start..close].trim_matches(|c: char| c.is_whitespace());
        if !inner.is_empty() && !inner.contains(|c: char| c.is_whitespace() || c == '{' || c == '}') {
            out.push((open, close + 2, inner));
            from = close + 2;
        } else {
            from = open + 1;
        }
    }
    out
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
        for (_, _, inner) in scan(s) {
            out.push(classify(inner));
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
    if !(s.starts_with("{{") && s.ends_with("}}")) {
        return None;
    }
    match scan(s).as_slice() {
        [(0, end, inner)] if *end == s.len() => values.get(*inner),
        _ => None,
    }
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
            let mut replaced = String::with_capacity(s.len());
            let mut last = 0;
            for (start, end, inner) in scan(s) {
                replaced.push_str(&s[last..start]);
                match values.get(inner) {
                    Some(v) => replaced.push_str(&as_text(v)),
                    None => replaced.push_str(&s[start..end]),
                }
                last = end;
            }
            replaced.push_str(&s[last..]);
            Value::String(replaced)
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

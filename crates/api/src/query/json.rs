//! The query protocol seen as JSON, for callers that speak JSON to every service (a
//! runbook's `aws:executeAwsApi` step names IAM, STS and SNS operations with the same
//! PascalCase JSON parameters as SSM's): JSON input flattened into form parameters, and
//! the XML answer read back as JSON the way an SDK presents it (lists of `member`s as
//! arrays, `entry` key/value pairs as objects; every leaf a string, as the XML has no types).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::Params;

/// Form parameters for a JSON input: `{"A": "x", "L": ["p"], "T": [{"Key": "k"}], "M": {"a": "b"}}`
/// becomes `A=x`, `L.member.1=p`, `T.member.1.Key=k`, `M.entry.1.key=a`, `M.entry.1.value=b`.
/// A nested object under a name is flattened with dots (`Settings.Field=…`).
pub fn params_from_json(action: &str, input: &Value) -> Params {
    let mut out = BTreeMap::new();
    out.insert("Action".to_owned(), action.to_owned());
    if let Value::Object(fields) = input {
        for (name, value) in fields {
            flatten(name, value, &mut out);
        }
    }
    Params::from(out)
}

fn flatten(prefix: &str, value: &Value, out: &mut BTreeMap<String, String>) {
    match value {
        Value::Null => {}
        Value::String(s) => {
            out.insert(prefix.to_owned(), s.clone());
        }
        Value::Bool(_) | Value::Number(_) => {
            out.insert(prefix.to_owned(), value.to_string());
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                flatten(&format!("{prefix}.member.{}", i + 1), item, out);
            }
        }
        Value::Object(fields) => {
            // A map of plain values (SNS attributes) is written as entries; a structure's
            // fields (PascalCase names) are written by name.
            let is_map = fields.keys().any(|k| k.chars().next().is_some_and(|c| !c.is_ascii_uppercase()))
                && fields.values().all(|v| v.is_string());
            if is_map {
                for (i, (key, v)) in fields.iter().enumerate() {
                    out.insert(format!("{prefix}.entry.{}.key", i + 1), key.clone());
                    flatten(&format!("{prefix}.entry.{}.value", i + 1), v, out);
                }
            } else {
                for (name, v) in fields {
                    flatten(&format!("{prefix}.{name}"), v, out);
                }
            }
        }
    }
}

/// Reads the inside of a query answer's `…Result` element (as the handlers write it) as
/// JSON; text that is not well-formed reads as far as it is.
pub fn json_from_xml(xml: &str) -> Value {
    let mut reader = Reader { rest: xml };
    elements_to_value(reader.children())
}

/// A parsed element: its name, and either its text or its children.
enum Node {
    Leaf(String, String),
    Parent(String, Vec<Node>),
}

impl Node {
    fn name(&self) -> &str {
        match self {
            Node::Leaf(n, _) | Node::Parent(n, _) => n,
        }
    }
}

struct Reader<'a> {
    rest: &'a str,
}

impl Reader<'_> {
    /// Elements until the enclosing element's closing tag (consumed) or the end.
    fn children(&mut self) -> Vec<Node> {
        let mut out = Vec::new();
        loop {
            let Some(at) = self.rest.find('<') else {
                self.rest = "";
                return out;
            };
            self.rest = &self.rest[at..];
            if self.rest.starts_with("</") {
                self.rest = self.rest.find('>').map(|e| &self.rest[e + 1..]).unwrap_or("");
                return out;
            }
            let Some(end) = self.rest.find('>') else {
                self.rest = "";
                return out;
            };
            let tag = &self.rest[1..end];
            self.rest = &self.rest[end + 1..];
            if let Some(name) = tag.strip_suffix('/') {
                out.push(Node::Leaf(tag_name(name), String::new()));
                continue;
            }
            let name = tag_name(tag);
            // Text up to the next tag; children if that tag opens one.
            let text_end = self.rest.find('<').unwrap_or(self.rest.len());
            let text = &self.rest[..text_end];
            if self.rest[text_end..].starts_with("</") {
                self.rest = &self.rest[text_end..];
                self.rest = self.rest.find('>').map(|e| &self.rest[e + 1..]).unwrap_or("");
                out.push(Node::Leaf(name, unescape(text)));
            } else {
                self.rest = &self.rest[text_end..];
                let children = self.children();
                out.push(Node::Parent(name, children));
            }
        }
    }
}

fn tag_name(tag: &str) -> String {
    tag.split_whitespace().next().unwrap_or_default().to_owned()
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&#13;", "\r")
        .replace("&#10;", "\n")
        .replace("&amp;", "&")
}

fn node_value(node: Node) -> Value {
    match node {
        // An empty list is written as an empty element, like an empty string: lists are
        // named in the plural (Users, Tags, PolicyNames), so an empty plural is a list.
        Node::Leaf(name, text) if text.is_empty() && name.ends_with('s') && !name.ends_with("ss") => {
            Value::Array(vec![])
        }
        Node::Leaf(_, text) => Value::String(text),
        Node::Parent(_, children) => elements_to_value(children),
    }
}

fn elements_to_value(children: Vec<Node>) -> Value {
    if !children.is_empty() && children.iter().all(|c| c.name() == "member") {
        return Value::Array(children.into_iter().map(node_value).collect());
    }
    if !children.is_empty() && children.iter().all(|c| c.name() == "entry") {
        let mut map = Map::new();
        for entry in children {
            let Value::Object(mut fields) = node_value(entry) else { continue };
            let key = fields.remove("key").and_then(|k| k.as_str().map(str::to_owned)).unwrap_or_default();
            map.insert(key, fields.remove("value").unwrap_or(Value::Null));
        }
        return Value::Object(map);
    }
    let mut map = Map::new();
    for child in children {
        let name = child.name().to_owned();
        let value = node_value(child);
        match map.get_mut(&name) {
            Some(Value::Array(items)) => items.push(value),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, value]);
            }
            None => {
                map.insert(name, value);
            }
        }
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::query::Xml;

    #[test]
    fn json_input_flattens_into_form_parameters() {
        let input = json!({
            "UserName": "ann",
            "Tags": [{"Key": "team", "Value": "ops"}],
            "PolicyArns": ["arn:a", "arn:b"],
            "Attributes": {"DisplayName": "x", "lowercase": "y"},
            "MaxItems": 5,
        });
        let p = params_from_json("TagUser", &input);
        assert_eq!(p.opt("Action"), Some("TagUser"));
        assert_eq!(p.opt("UserName"), Some("ann"));
        assert_eq!(p.members("Tags")[0]["Key"], "team");
        assert_eq!(p.list("PolicyArns"), vec!["arn:a", "arn:b"]);
        assert_eq!(p.entries("Attributes")["lowercase"], "y");
        assert_eq!(p.opt("MaxItems"), Some("5"));
    }

    #[test]
    fn answers_read_back_as_an_sdk_shows_them() {
        let mut x = Xml::new();
        x.open("User").leaf("UserName", "a<b&c").leaf("Arn", "arn:x").close("User");
        x.list("Tags", &["t1", "t2"], |x, t| {
            x.leaf("Key", t);
        });
        x.open("Attributes");
        x.open("entry").leaf("key", "k").leaf("value", "v").close("entry");
        x.close("Attributes");
        x.open("Empty").close("Empty");
        let v = json_from_xml(&x.finish());
        assert_eq!(v["User"]["UserName"], "a<b&c");
        assert_eq!(v["Tags"], json!([{"Key": "t1"}, {"Key": "t2"}]));
        assert_eq!(v["Attributes"], json!({"k": "v"}));
        assert_eq!(v["Empty"], json!(""));
        assert_eq!(json_from_xml("<Users></Users><Address></Address>"), json!({"Users": [], "Address": ""}));
        assert_eq!(json_from_xml("<a><b>1</b><b>2</b></a><broken"), json!({"a": {"b": ["1", "2"]}}));
    }
}

//! Document text in and out: JSON and YAML, converted through one tree.

use serde_json::Value;

use crate::Fault;

/// How a document's text is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON.
    Json,
    /// YAML.
    Yaml,
    /// Plain text (ChangeCalendar); not parsed.
    Text,
}

impl Format {
    /// Parses `JSON`, `YAML` or `TEXT`.
    pub fn parse(name: &str) -> Option<Format> {
        match name {
            "JSON" => Some(Format::Json),
            "YAML" => Some(Format::Yaml),
            "TEXT" => Some(Format::Text),
            _ => None,
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "JSON",
            Format::Yaml => "YAML",
            Format::Text => "TEXT",
        }
    }
}

/// Parses document text into a tree; the message names the line and column of a fault.
pub fn parse(text: &str, format: Format) -> Result<Value, Fault> {
    match format {
        Format::Json => serde_json::from_str(text).map_err(|e| {
            Fault::InvalidDocumentContent(format!(
                "JSON not well-formed. at Line: {}, Column: {}",
                e.line(),
                e.column()
            ))
        }),
        Format::Yaml => serde_yaml_ng::from_str::<Value>(text).map_err(|e| {
            let at =
                e.location().map(|l| format!(" at Line: {}, Column: {}", l.line(), l.column())).unwrap_or_default();
            Fault::InvalidDocumentContent(format!("YAML not well-formed.{at}"))
        }),
        Format::Text => Ok(Value::String(text.to_owned())),
    }
}

/// Renders a tree in `format` (JSON pretty-printed with four spaces, like SSM's own).
pub fn render(value: &Value, format: Format) -> String {
    match format {
        Format::Json | Format::Text => {
            let mut out = Vec::new();
            let mut ser = serde_json::Serializer::with_formatter(
                &mut out,
                serde_json::ser::PrettyFormatter::with_indent(b"    "),
            );
            serde::Serialize::serialize(value, &mut ser).expect("a JSON tree always serialises");
            String::from_utf8(out).expect("serde_json writes UTF-8")
        }
        Format::Yaml => serde_yaml_ng::to_string(value).expect("a JSON tree always serialises as YAML"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_yaml_round_trip_with_key_order() {
        let yaml = "schemaVersion: '2.2'\ndescription: d\nmainSteps:\n  - action: aws:runShellScript\n    name: one\n    inputs:\n      runCommand: [echo hi]\n";
        let tree = parse(yaml, Format::Yaml).unwrap();
        let json = render(&tree, Format::Json);
        assert!(json.find("schemaVersion").unwrap() < json.find("mainSteps").unwrap(), "order kept");
        assert_eq!(parse(&json, Format::Json).unwrap(), tree);
        assert_eq!(parse(&render(&tree, Format::Yaml), Format::Yaml).unwrap(), tree);
    }

    #[test]
    fn malformed_text_names_the_place() {
        let Err(Fault::InvalidDocumentContent(m)) = parse("{\n  \"a\": ", Format::Json) else { panic!() };
        assert!(m.starts_with("JSON not well-formed. at Line: 2"), "{m}");
        assert!(matches!(parse("a: [", Format::Yaml), Err(Fault::InvalidDocumentContent(_))));
    }
}

//! Custom inventory: `Custom:…` types the node's owner describes in JSON files in the
//! agent's custom-inventory folder, one type a file:
//! `{"SchemaVersion": "1.0", "TypeName": "Custom:RackInfo", "Content": {…} or [{…}, …]}`.

use std::path::Path;

use serde_json::Value;

use super::Entry;

/// One custom type read from its file.
pub struct CustomType {
    /// `Custom:…`.
    pub type_name: String,
    /// As the file says (`1.0` when it does not).
    pub schema_version: String,
    /// Its entries, every value as text.
    pub content: Vec<Entry>,
}

/// Every readable custom type of the folder, and a note for each file that was not.
pub fn read(folder: &Path) -> (Vec<CustomType>, Vec<String>) {
    let (mut types, mut problems) = (Vec::new(), Vec::new());
    let Ok(entries) = std::fs::read_dir(folder) else { return (types, problems) };
    let mut paths: Vec<_> =
        entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "json")).collect();
    paths.sort();
    for path in paths {
        match std::fs::read_to_string(&path).map_err(|e| e.to_string()).and_then(|t| parse(&t)) {
            Ok(t) => types.push(t),
            Err(why) => problems.push(format!("{}: {why}", path.display())),
        }
    }
    (types, problems)
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn entry(v: &Value) -> Result<Entry, String> {
    let Value::Object(map) = v else { return Err("each Content entry must be an object".into()) };
    Ok(map.iter().map(|(k, v)| (k.clone(), text(v))).collect())
}

fn parse(body: &str) -> Result<CustomType, String> {
    let v: Value = serde_json::from_str(body).map_err(|e| format!("not JSON: {e}"))?;
    let type_name = v["TypeName"].as_str().ok_or("TypeName is missing")?;
    if !type_name.starts_with("Custom:") {
        return Err(format!("{type_name} is not a custom type (Custom:NAME)"));
    }
    let content = match &v["Content"] {
        Value::Array(items) => items.iter().map(entry).collect::<Result<_, _>>()?,
        object @ Value::Object(_) => vec![entry(object)?],
        _ => return Err("Content must be an object or a list of objects".into()),
    };
    Ok(CustomType {
        type_name: type_name.to_owned(),
        schema_version: v["SchemaVersion"].as_str().unwrap_or("1.0").to_owned(),
        content,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_or_list_content() {
        let one =
            parse(r#"{"SchemaVersion":"1.0","TypeName":"Custom:Rack","Content":{"Location":"R1","Units":4}}"#).unwrap();
        assert_eq!(one.content[0]["Units"], "4");
        let many = parse(r#"{"TypeName":"Custom:Disks","Content":[{"Id":"a"},{"Id":"b"}]}"#).unwrap();
        assert_eq!(many.content.len(), 2);
        assert!(parse(r#"{"TypeName":"AWS:Application","Content":{}}"#).is_err());
        assert!(parse(r#"{"TypeName":"Custom:X","Content":[1]}"#).is_err());
    }
}

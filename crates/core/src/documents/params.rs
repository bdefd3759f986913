//! Parameter definitions of a document, and the values callers give them.
//!
//! Callers give every value as a list of strings (the `Parameters` map of SendCommand and
//! friends); [`resolve`] turns them into typed values — a string, a list, an integer, a
//! boolean, a map or a list of maps — after checking each definition's constraints, and
//! fills in defaults. Every failure is [`Fault::InvalidParameters`] naming the parameter.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::Fault;

/// The types a document parameter can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    /// One string.
    String,
    /// A list of strings.
    StringList,
    /// A whole number.
    Integer,
    /// true or false.
    Boolean,
    /// A list of maps.
    MapList,
    /// A map.
    StringMap,
}

impl ParamType {
    fn parse(name: &str) -> Option<ParamType> {
        Some(match name {
            "String" => ParamType::String,
            "StringList" => ParamType::StringList,
            "Integer" => ParamType::Integer,
            "Boolean" => ParamType::Boolean,
            "MapList" => ParamType::MapList,
            "StringMap" => ParamType::StringMap,
            _ => return None,
        })
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ParamType::String => "String",
            ParamType::StringList => "StringList",
            ParamType::Integer => "Integer",
            ParamType::Boolean => "Boolean",
            ParamType::MapList => "MapList",
            ParamType::StringMap => "StringMap",
        }
    }
}

/// One declared parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamDef {
    /// The name.
    pub name: String,
    /// The type.
    pub kind: ParamType,
    /// Description.
    pub description: Option<String>,
    /// Default; a parameter without one is required.
    pub default: Option<Value>,
    /// Values allowed (for lists: for each item).
    pub allowed_values: Option<Vec<String>>,
    /// A regex each string must match whole.
    pub allowed_pattern: Option<String>,
    /// Least items of a list.
    pub min_items: Option<u64>,
    /// Most items of a list.
    pub max_items: Option<u64>,
    /// Fewest characters of each string.
    pub min_chars: Option<u64>,
    /// Most characters of each string.
    pub max_chars: Option<u64>,
    /// `textfield` or `textarea`.
    pub display_type: Option<String>,
}

impl ParamDef {
    /// The default as text, as DescribeDocument shows it.
    pub fn default_text(&self) -> Option<String> {
        self.default.as_ref().map(|d| match d {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    }
}

const KNOWN_KEYS: &[&str] = &[
    "type",
    "description",
    "default",
    "allowedValues",
    "allowedPattern",
    "displayType",
    "minItems",
    "maxItems",
    "minChars",
    "maxChars",
];

fn content_fault(message: String) -> Fault {
    Fault::InvalidDocumentContent(message)
}

/// Reads the `parameters` object of a document, in declaration order.
pub fn parse_definitions(parameters: Option<&Value>) -> Result<Vec<ParamDef>, Fault> {
    let Some(parameters) = parameters else { return Ok(Vec::new()) };
    let Some(map) = parameters.as_object() else {
        return Err(content_fault("The parameters section must be an object of parameter definitions.".into()));
    };
    let mut defs = Vec::with_capacity(map.len());
    for (name, def) in map {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return Err(content_fault(format!("Parameter name \"{name}\" may contain only letters, digits, - and _.")));
        }
        let Some(def) = def.as_object() else {
            return Err(content_fault(format!("The definition of parameter \"{name}\" must be an object.")));
        };
        if let Some(unknown) = def.keys().find(|k| !KNOWN_KEYS.contains(&k.as_str())) {
            return Err(content_fault(format!("Parameter \"{name}\" has an unknown property \"{unknown}\".")));
        }
        let type_name = def.get("type").and_then(Value::as_str).unwrap_or("");
        let kind = ParamType::parse(type_name).ok_or_else(|| {
            content_fault(format!(
                "Parameter \"{name}\" has type \"{type_name}\"; the type must be one of String, StringList, Integer, Boolean, MapList, StringMap."
            ))
        })?;
        let number = |key: &str| -> Result<Option<u64>, Fault> {
            match def.get(key) {
                None => Ok(None),
                Some(v) => v
                    .as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                    .map(Some)
                    .ok_or_else(|| content_fault(format!("Parameter \"{name}\": {key} must be a whole number."))),
            }
        };
        let allowed_values = match def.get("allowedValues") {
            None => None,
            Some(Value::Array(items)) => {
                Some(items.iter().map(scalar_text).collect::<Option<Vec<_>>>().ok_or_else(|| {
                    content_fault(format!("Parameter \"{name}\": allowedValues must be a list of strings."))
                })?)
            }
            Some(_) => return Err(content_fault(format!("Parameter \"{name}\": allowedValues must be a list."))),
        };
        let allowed_pattern = match def.get("allowedPattern") {
            None => None,
            Some(Value::String(p)) => {
                regex::Regex::new(p).map_err(|_| {
                    content_fault(format!("Parameter \"{name}\": allowedPattern is not a valid regular expression."))
                })?;
                Some(p.clone())
            }
            Some(_) => return Err(content_fault(format!("Parameter \"{name}\": allowedPattern must be a string."))),
        };
        let param = ParamDef {
            name: name.clone(),
            kind,
            description: def.get("description").and_then(Value::as_str).map(str::to_owned),
            default: def.get("default").cloned(),
            allowed_values,
            allowed_pattern,
            min_items: number("minItems")?,
            max_items: number("maxItems")?,
            min_chars: number("minChars")?,
            max_chars: number("maxChars")?,
            display_type: def.get("displayType").and_then(Value::as_str).map(str::to_owned),
        };
        if let Some(default) = &param.default {
            if !default_fits(kind, default) {
                return Err(content_fault(format!(
                    "The default value of parameter \"{name}\" is not of type {}.",
                    kind.as_str()
                )));
            }
        }
        defs.push(param);
    }
    Ok(defs)
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn default_fits(kind: ParamType, value: &Value) -> bool {
    match kind {
        // SSM's own documents give numbers and booleans as strings, so strings fit every scalar type.
        ParamType::String => value.is_string() || value.is_number() || value.is_boolean(),
        ParamType::StringList => value.as_array().is_some_and(|a| a.iter().all(|v| scalar_text(v).is_some())),
        ParamType::Integer => value.is_i64() || value.as_str().is_some_and(|s| s.parse::<i64>().is_ok()),
        ParamType::Boolean => value.is_boolean() || matches!(value.as_str(), Some("true" | "false")),
        ParamType::StringMap => value.is_object(),
        ParamType::MapList => value.as_array().is_some_and(|a| a.iter().all(Value::is_object)),
    }
}

fn invalid(message: String) -> Fault {
    Fault::InvalidParameters(message)
}

/// Converts a caller's string list to the parameter's typed value.
fn typed(def: &ParamDef, given: &[String]) -> Result<Value, Fault> {
    let name = &def.name;
    let one = || -> Result<&str, Fault> {
        match given {
            [single] => Ok(single.as_str()),
            _ => Err(invalid(format!("Parameter \"{name}\" takes exactly one value, {} given.", given.len()))),
        }
    };
    Ok(match def.kind {
        ParamType::String => Value::String(if given.is_empty() { String::new() } else { one()?.to_owned() }),
        ParamType::StringList => Value::Array(given.iter().cloned().map(Value::String).collect()),
        ParamType::Integer => {
            let text = one()?;
            Value::from(
                text.trim()
                    .parse::<i64>()
                    .map_err(|_| invalid(format!("Parameter \"{name}\" must be an Integer, got \"{text}\".")))?,
            )
        }
        ParamType::Boolean => match one()? {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            other => return Err(invalid(format!("Parameter \"{name}\" must be true or false, got \"{other}\"."))),
        },
        ParamType::StringMap => {
            let v: Value = serde_json::from_str(one()?)
                .map_err(|_| invalid(format!("Parameter \"{name}\" must be a JSON object (StringMap).")))?;
            if !v.is_object() {
                return Err(invalid(format!("Parameter \"{name}\" must be a JSON object (StringMap).")));
            }
            v
        }
        ParamType::MapList => {
            let items: Result<Vec<Value>, Fault> = given
                .iter()
                .map(|text| {
                    let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
                    match v {
                        Value::Object(_) => Ok(v),
                        Value::Array(a) if given.len() == 1 && a.iter().all(Value::is_object) => Ok(Value::Array(a)),
                        _ => Err(invalid(format!("Parameter \"{name}\" must be a list of JSON objects (MapList)."))),
                    }
                })
                .collect();
            let items = items?;
            match items.as_slice() {
                [Value::Array(a)] => Value::Array(a.clone()),
                _ => Value::Array(items),
            }
        }
    })
}

/// Normalises a default to the parameter's type (string scalars become numbers/booleans).
fn typed_default(def: &ParamDef, value: &Value) -> Value {
    match (def.kind, value) {
        (ParamType::Integer, Value::String(s)) => s.parse::<i64>().map(Value::from).unwrap_or_else(|_| value.clone()),
        (ParamType::Boolean, Value::String(s)) => Value::Bool(s == "true"),
        (ParamType::String, v) if !v.is_string() => Value::String(scalar_text(v).unwrap_or_default()),
        _ => value.clone(),
    }
}

fn check_constraints(def: &ParamDef, value: &Value) -> Result<(), Fault> {
    let name = &def.name;
    let strings: Vec<String> = match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().filter_map(scalar_text).collect(),
        Value::Number(n) => vec![n.to_string()],
        Value::Bool(b) => vec![b.to_string()],
        _ => Vec::new(),
    };
    if let Value::Array(items) = value {
        let n = items.len() as u64;
        if def.min_items.is_some_and(|m| n < m) || def.max_items.is_some_and(|m| n > m) {
            return Err(invalid(format!(
                "Parameter \"{name}\" has {n} items; it must have between {} and {} items.",
                def.min_items.unwrap_or(0),
                def.max_items.map(|m| m.to_string()).unwrap_or_else(|| "any number of".into())
            )));
        }
    }
    if matches!(def.kind, ParamType::String | ParamType::StringList | ParamType::Integer | ParamType::Boolean) {
        for s in &strings {
            let chars = s.chars().count() as u64;
            if def.min_chars.is_some_and(|m| chars < m) || def.max_chars.is_some_and(|m| chars > m) {
                return Err(invalid(format!(
                    "A value of parameter \"{name}\" has {chars} characters, outside the allowed length."
                )));
            }
            if let Some(allowed) = &def.allowed_values {
                if !allowed.contains(s) {
                    return Err(invalid(format!(
                        "Parameter \"{name}\" does not allow the value \"{s}\". Allowed values: [{}].",
                        allowed.join(", ")
                    )));
                }
            }
            if let Some(pattern) = &def.allowed_pattern {
                let re = regex::Regex::new(&format!("^(?:{pattern})$"))
                    .map_err(|_| invalid(format!("Parameter \"{name}\" has an invalid allowedPattern.")))?;
                if !re.is_match(s) {
                    return Err(invalid(format!(
                        "A value of parameter \"{name}\" does not match its allowed pattern {pattern}."
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Checks `given` against `defs` and returns every parameter's typed value, defaults
/// filled in.
pub fn resolve(defs: &[ParamDef], given: &BTreeMap<String, Vec<String>>) -> Result<BTreeMap<String, Value>, Fault> {
    if let Some(unknown) = given.keys().find(|k| !defs.iter().any(|d| &d.name == *k)) {
        return Err(invalid(format!("Parameter \"{unknown}\" is not declared by the document.")));
    }
    let mut out = BTreeMap::new();
    for def in defs {
        let value = match (given.get(&def.name), &def.default) {
            (Some(values), _) => typed(def, values)?,
            (None, Some(default)) => typed_default(def, default),
            (None, None) => return Err(invalid(format!("Parameter \"{}\" is required and has no value.", def.name))),
        };
        check_constraints(def, &value)?;
        out.insert(def.name.clone(), value);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn defs() -> Vec<ParamDef> {
        parse_definitions(Some(&json!({
            "commands": {"type": "StringList", "minItems": 1},
            "workingDirectory": {"type": "String", "default": "", "maxChars": 10},
            "executionTimeout": {"type": "String", "default": "3600", "allowedPattern": "[0-9]{1,6}"},
            "mode": {"type": "String", "default": "fast", "allowedValues": ["fast", "slow"]},
            "count": {"type": "Integer", "default": 3},
            "flag": {"type": "Boolean", "default": false},
            "tags": {"type": "StringMap", "default": {}},
        })))
        .unwrap()
    }

    fn given(pairs: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect())).collect()
    }

    #[test]
    fn values_are_typed_and_defaulted() {
        let out = resolve(&defs(), &given(&[("commands", &["uptime", "id"]), ("count", &["7"]), ("flag", &["true"])]))
            .unwrap();
        assert_eq!(out["commands"], json!(["uptime", "id"]));
        assert_eq!(out["executionTimeout"], json!("3600"));
        assert_eq!(out["count"], json!(7));
        assert_eq!(out["flag"], json!(true));
        assert_eq!(out["tags"], json!({}));
    }

    #[test]
    fn bad_values_name_the_parameter() {
        type Given<'a> = &'a [(&'a str, &'a [&'a str])];
        let cases: &[(Given, &str)] = &[
            (&[], "commands"),
            (&[("commands", &[])], "commands"),
            (&[("commands", &["x"]), ("bogus", &["1"])], "bogus"),
            (&[("commands", &["x"]), ("mode", &["medium"])], "mode"),
            (&[("commands", &["x"]), ("executionTimeout", &["soon"])], "executionTimeout"),
            (&[("commands", &["x"]), ("workingDirectory", &["/a/very/long/path"])], "workingDirectory"),
            (&[("commands", &["x"]), ("count", &["many"])], "count"),
            (&[("commands", &["x"]), ("flag", &["yes"])], "flag"),
            (&[("commands", &["x"]), ("tags", &["[1]"])], "tags"),
            (&[("commands", &["x"]), ("mode", &["fast", "slow"])], "mode"),
        ];
        for (g, name) in cases {
            let Err(Fault::InvalidParameters(m)) = resolve(&defs(), &given(g)) else { panic!("{g:?} passed") };
            assert!(m.contains(&format!("\"{name}\"")), "{m}");
        }
    }

    #[test]
    fn definitions_are_checked() {
        for bad in [
            json!({"p": {"type": "Number"}}),
            json!({"p": {"type": "String", "colour": "red"}}),
            json!({"p": {"type": "Integer", "default": "x"}}),
            json!({"p": {"type": "StringList", "default": "x"}}),
            json!({"p": {"type": "String", "allowedPattern": "("}}),
            json!({"p p": {"type": "String"}}),
            json!(["p"]),
        ] {
            assert!(matches!(parse_definitions(Some(&bad)), Err(Fault::InvalidDocumentContent(_))), "{bad}");
        }
    }
}

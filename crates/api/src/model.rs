//! Request validation derived from the botocore service models.
//!
//! `tools/gen-model.py` distils botocore's SSM and KMS models into `model/*.json`: for every
//! shape its type, required members, length and value ranges, pattern and enum. [`Model`]
//! walks a request body against the operation's input shape and answers exactly as AWS
//! does: a type mismatch is a `SerializationException`; every constraint broken is one
//! clause of a single `ValidationException` ("2 validation errors detected: …"), each
//! naming the member by its path (`parameterFilters.1.member.key`).

use std::collections::HashMap;
use std::sync::OnceLock;

use base64::Engine;
use serde_json::Value;

use crate::ApiError;

/// The services whose models Steward serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// Systems Manager, `X-Amz-Target: AmazonSSM.*`, signing name `ssm`.
    Ssm,
    /// Key Management Service, `X-Amz-Target: TrentService.*`, signing name `kms`.
    Kms,
    /// CloudTrail (the audit trail's LookupEvents), signing name `cloudtrail`.
    CloudTrail,
    /// Resource Groups, REST-JSON (routed by method and path), signing name `resource-groups`.
    ResourceGroups,
}

impl Service {
    /// The service whose `X-Amz-Target` prefix this is.
    pub fn from_target_prefix(prefix: &str) -> Option<Service> {
        match prefix {
            "AmazonSSM" => Some(Service::Ssm),
            "TrentService" => Some(Service::Kms),
            "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101" => Some(Service::CloudTrail),
            _ => None,
        }
    }

    /// The SigV4 signing name (the service part of the credential scope).
    pub fn signing_name(self) -> &'static str {
        match self {
            Service::Ssm => "ssm",
            Service::Kms => "kms",
            Service::CloudTrail => "cloudtrail",
            Service::ResourceGroups => "resource-groups",
        }
    }

    /// The `eventSource` of this service's audit events.
    pub fn event_source(self) -> &'static str {
        match self {
            Service::Ssm => "ssm.amazonaws.com",
            Service::Kms => "kms.amazonaws.com",
            Service::CloudTrail => "cloudtrail.amazonaws.com",
            Service::ResourceGroups => "resource-groups.amazonaws.com",
        }
    }

    fn source(self) -> &'static str {
        match self {
            Service::Ssm => include_str!("../model/ssm.json"),
            Service::Kms => include_str!("../model/kms.json"),
            Service::CloudTrail => include_str!("../model/cloudtrail.json"),
            Service::ResourceGroups => include_str!("../model/resource-groups.json"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Structure,
    List,
    Map,
    String,
    Integer,
    Boolean,
    Timestamp,
    Blob,
    Other,
}

#[derive(Debug)]
struct Shape {
    kind: Kind,
    required: Vec<String>,
    members: Vec<(String, String)>,
    member: Option<String>,
    key: Option<String>,
    value: Option<String>,
    min: Option<i64>,
    max: Option<i64>,
    pattern: Option<(String, fancy_regex::Regex)>,
    enum_values: Option<Vec<String>>,
    sensitive: bool,
}

/// One service's operations and shapes, ready to validate requests.
#[derive(Debug)]
pub struct Model {
    operations: HashMap<String, Option<String>>,
    shapes: HashMap<String, Shape>,
}

impl Model {
    /// The model of `service`, parsed once per process.
    pub fn get(service: Service) -> &'static Model {
        static SSM: OnceLock<Model> = OnceLock::new();
        static KMS: OnceLock<Model> = OnceLock::new();
        static CLOUDTRAIL: OnceLock<Model> = OnceLock::new();
        static RESOURCE_GROUPS: OnceLock<Model> = OnceLock::new();
        let cell = match service {
            Service::Ssm => &SSM,
            Service::Kms => &KMS,
            Service::CloudTrail => &CLOUDTRAIL,
            Service::ResourceGroups => &RESOURCE_GROUPS,
        };
        cell.get_or_init(|| Model::parse(service.source()))
    }

    fn parse(source: &str) -> Model {
        let raw: Value = serde_json::from_str(source).expect("the embedded model is valid JSON");
        let operations = raw["operations"]
            .as_object()
            .expect("model has operations")
            .iter()
            .map(|(name, op)| (name.clone(), op["input"].as_str().map(str::to_owned)))
            .collect();
        let shapes = raw["shapes"]
            .as_object()
            .expect("model has shapes")
            .iter()
            .map(|(name, s)| (name.clone(), Shape::parse(s)))
            .collect();
        Model { operations, shapes }
    }

    /// Whether the service defines an operation of this name.
    pub fn has_operation(&self, operation: &str) -> bool {
        self.operations.contains_key(operation)
    }

    /// Checks `input` against the operation's input shape.
    ///
    /// Errors: `UnknownOperationException` for an operation the model lacks,
    /// `SerializationException` for a value of the wrong JSON type, `ValidationException`
    /// listing every broken constraint.
    pub fn validate(&self, operation: &str, input: &Value) -> Result<(), ApiError> {
        let Some(input_shape) = self.operations.get(operation) else {
            return Err(ApiError::new("UnknownOperationException", format!("Unknown operation {operation}")));
        };
        let Some(shape_name) = input_shape else {
            return Ok(());
        };
        let mut faults = Vec::new();
        self.check(shape_name, input, "", &mut faults)?;
        match faults.len() {
            0 => Ok(()),
            1 => Err(ApiError::validation(format!("1 validation error detected: {}", faults[0]))),
            n => Err(ApiError::validation(format!("{n} validation errors detected: {}", faults.join("; ")))),
        }
    }

    /// Replaces every value of a `sensitive` shape in `input` (SecureString values, key
    /// material, plaintexts) with `HIDDEN_DUE_TO_SECURITY_REASONS`, as CloudTrail shows them.
    pub fn redact(&self, operation: &str, input: &mut Value) {
        if let Some(Some(shape)) = self.operations.get(operation) {
            self.redact_shape(shape, input);
        }
    }

    fn redact_shape(&self, shape_name: &str, value: &mut Value) {
        let Some(shape) = self.shapes.get(shape_name) else { return };
        if shape.sensitive {
            *value = Value::String("HIDDEN_DUE_TO_SECURITY_REASONS".into());
            return;
        }
        match (shape.kind, value) {
            (Kind::Structure, Value::Object(object)) => {
                for (member, member_shape) in &shape.members {
                    if let Some(v) = object.get_mut(member) {
                        self.redact_shape(member_shape, v);
                    }
                }
            }
            (Kind::List, Value::Array(items)) => {
                if let Some(member) = &shape.member {
                    items.iter_mut().for_each(|i| self.redact_shape(member, i));
                }
            }
            (Kind::Map, Value::Object(entries)) => {
                if let Some(value_shape) = &shape.value {
                    entries.values_mut().for_each(|v| self.redact_shape(value_shape, v));
                }
            }
            _ => {}
        }
    }

    fn check(&self, shape_name: &str, value: &Value, path: &str, faults: &mut Vec<String>) -> Result<(), ApiError> {
        let Some(shape) = self.shapes.get(shape_name) else {
            return Ok(());
        };
        let wrong_type = |expected: &str| {
            let at = if path.is_empty() { "the request body".to_owned() } else { format!("'{path}'") };
            Err(ApiError::serialization(format!("Expected {expected} at {at}")))
        };
        match shape.kind {
            Kind::Structure => {
                let Some(object) = value.as_object() else {
                    return wrong_type("an object");
                };
                for required in &shape.required {
                    if object.get(required).is_none_or(Value::is_null) {
                        faults.push(format!(
                            "Value null at '{}' failed to satisfy constraint: Member must not be null",
                            join(path, required)
                        ));
                    }
                }
                for (member, member_shape) in &shape.members {
                    if let Some(v) = object.get(member).filter(|v| !v.is_null()) {
                        self.check(member_shape, v, &join(path, member), faults)?;
                    }
                }
            }
            Kind::List => {
                let Some(items) = value.as_array() else {
                    return wrong_type("a list");
                };
                shape.check_length(items.len(), value, path, faults);
                if let Some(member) = &shape.member {
                    for (i, item) in items.iter().enumerate() {
                        let item_path = format!("{path}.{}.member", i + 1);
                        if item.is_null() {
                            faults.push(format!(
                                "Value null at '{item_path}' failed to satisfy constraint: Member must not be null"
                            ));
                        } else {
                            self.check(member, item, &item_path, faults)?;
                        }
                    }
                }
            }
            Kind::Map => {
                let Some(entries) = value.as_object() else {
                    return wrong_type("a map");
                };
                shape.check_length(entries.len(), value, path, faults);
                for (k, v) in entries {
                    if let Some(key_shape) = &shape.key {
                        self.check(key_shape, &Value::String(k.clone()), &format!("{path}.{k}.key"), faults)?;
                    }
                    if let (Some(value_shape), false) = (&shape.value, v.is_null()) {
                        self.check(value_shape, v, &format!("{path}.{k}.value"), faults)?;
                    }
                }
            }
            Kind::String => {
                let Some(text) = value.as_str() else {
                    return wrong_type("a string");
                };
                shape.check_string(text, path, faults);
            }
            Kind::Integer => {
                let Some(n) = value.as_i64() else {
                    return wrong_type("an integer");
                };
                if let Some(min) = shape.min.filter(|&m| n < m) {
                    faults.push(shape.fault(
                        value,
                        path,
                        &format!("Member must have value greater than or equal to {min}"),
                    ));
                }
                if let Some(max) = shape.max.filter(|&m| n > m) {
                    faults.push(shape.fault(
                        value,
                        path,
                        &format!("Member must have value less than or equal to {max}"),
                    ));
                }
            }
            Kind::Boolean => {
                if !value.is_boolean() {
                    return wrong_type("a boolean");
                }
            }
            Kind::Timestamp => {
                if !value.is_number() {
                    return wrong_type("a timestamp in epoch seconds");
                }
            }
            Kind::Blob => {
                let decoded = value.as_str().and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok());
                let Some(bytes) = decoded else {
                    return wrong_type("base64-encoded bytes");
                };
                shape.check_length(bytes.len(), value, path, faults);
            }
            Kind::Other => {}
        }
        Ok(())
    }
}

impl Shape {
    fn parse(s: &Value) -> Shape {
        let strings = |v: &Value| -> Vec<String> {
            v.as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect()).unwrap_or_default()
        };
        let kind = match s["type"].as_str().unwrap_or("") {
            "structure" => Kind::Structure,
            "list" => Kind::List,
            "map" => Kind::Map,
            "string" => Kind::String,
            "integer" | "long" => Kind::Integer,
            "boolean" => Kind::Boolean,
            "timestamp" => Kind::Timestamp,
            "blob" => Kind::Blob,
            _ => Kind::Other,
        };
        // AWS matches patterns against the whole value (Java's `matches`). A pattern our
        // engine cannot compile is skipped rather than refusing every request.
        let pattern = s["pattern"].as_str().and_then(|p| {
            fancy_regex::Regex::new(&format!("^(?:{})$", relax_huge_repetitions(p))).ok().map(|re| (p.to_owned(), re))
        });
        Shape {
            kind,
            required: strings(&s["required"]),
            members: s["members"]
                .as_object()
                .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect())
                .unwrap_or_default(),
            member: s["member"].as_str().map(str::to_owned),
            key: s["key"].as_str().map(str::to_owned),
            value: s["value"].as_str().map(str::to_owned),
            min: s["min"].as_i64(),
            max: s["max"].as_i64(),
            pattern,
            enum_values: s.get("enum").map(strings),
            sensitive: s["sensitive"].as_bool().unwrap_or(false),
        }
    }

    fn check_length(&self, len: usize, value: &Value, path: &str, faults: &mut Vec<String>) {
        let len = len as i64;
        if let Some(min) = self.min.filter(|&m| len < m) {
            faults.push(self.fault(value, path, &format!("Member must have length greater than or equal to {min}")));
        }
        if let Some(max) = self.max.filter(|&m| len > m) {
            faults.push(self.fault(value, path, &format!("Member must have length less than or equal to {max}")));
        }
    }

    fn check_string(&self, text: &str, path: &str, faults: &mut Vec<String>) {
        let value = Value::String(text.to_owned());
        self.check_length(text.chars().count(), &value, path, faults);
        if let Some(allowed) = &self.enum_values {
            if !allowed.iter().any(|a| a == text) {
                faults.push(self.fault(
                    &value,
                    path,
                    &format!("Member must satisfy enum value set: [{}]", allowed.join(", ")),
                ));
            }
        }
        if let Some((source, re)) = &self.pattern {
            if !re.is_match(text).unwrap_or(true) {
                faults.push(self.fault(
                    &value,
                    path,
                    &format!("Member must satisfy regular expression pattern: {source}"),
                ));
            }
        }
    }

    fn fault(&self, value: &Value, path: &str, constraint: &str) -> String {
        let shown = if self.sensitive { "***".to_owned() } else { render(value) };
        format!("Value '{shown}' at '{path}' failed to satisfy constraint: {constraint}")
    }
}

/// `.{1,100000}` is legal in Java but exceeds our engine's size limit; the length bound is
/// checked separately from the shape's min/max, so an open upper bound is equivalent.
fn relax_huge_repetitions(pattern: &str) -> String {
    static HUGE: OnceLock<fancy_regex::Regex> = OnceLock::new();
    let huge = HUGE.get_or_init(|| fancy_regex::Regex::new(r"\{(\d+),\d{4,}\}").expect("valid"));
    huge.replace_all(pattern, "{$1,}").into_owned()
}

/// AWS names members in validation messages by their camelCase path.
fn join(path: &str, member: &str) -> String {
    let mut chars = member.chars();
    let camel: String = chars.next().map(|c| c.to_lowercase().chain(chars).collect()).unwrap_or_default();
    if path.is_empty() {
        camel
    } else {
        format!("{path}.{camel}")
    }
}

fn render(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => format!("[{}]", items.iter().map(render).collect::<Vec<_>>().join(", ")),
        Value::Object(map) => {
            format!("{{{}}}", map.iter().map(|(k, v)| format!("{k}={}", render(v))).collect::<Vec<_>>().join(", "))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(operation: &str, input: Value) -> Result<(), (String, String)> {
        Model::get(Service::Ssm).validate(operation, &input).map_err(|e| (e.code().to_owned(), e.message().to_owned()))
    }

    #[test]
    fn every_embedded_pattern_compiles() {
        for service in [Service::Ssm, Service::Kms, Service::CloudTrail] {
            let raw: Value = serde_json::from_str(service.source()).unwrap();
            let model = Model::get(service);
            for (name, shape) in raw["shapes"].as_object().unwrap() {
                if shape.get("pattern").is_some() {
                    assert!(model.shapes[name].pattern.is_some(), "pattern of {name} does not compile");
                }
            }
        }
    }

    #[test]
    fn valid_requests_pass() {
        assert_eq!(check("PutParameter", json!({"Name": "/a/b", "Value": "v", "Type": "String"})), Ok(()));
        assert_eq!(check("DescribeParameters", json!({})), Ok(()));
    }

    #[test]
    fn missing_required_member_is_named() {
        let (code, message) = check("PutParameter", json!({"Name": "/a"})).unwrap_err();
        assert_eq!(code, "ValidationException");
        assert_eq!(
            message,
            "1 validation error detected: Value null at 'value' failed to satisfy constraint: Member must not be null"
        );
    }

    #[test]
    fn nested_faults_carry_their_path_and_are_counted() {
        let (_, message) = check(
            "DescribeParameters",
            json!({"MaxResults": 51, "ParameterFilters": [{"Key": "Bogus", "Values": ["x"]}]}),
        )
        .unwrap_err();
        assert!(message.starts_with("2 validation errors detected: "), "{message}");
        assert!(message.contains("at 'maxResults'"), "{message}");
        assert!(message.contains("at 'parameterFilters.1.member.key'"), "{message}");
    }

    #[test]
    fn enum_and_type_faults() {
        let (code, message) = check("PutParameter", json!({"Name": "a", "Value": "v", "Type": "Number"})).unwrap_err();
        assert_eq!(code, "ValidationException");
        assert!(message.contains("enum value set: [String, StringList, SecureString]"), "{message}");
        let (code, _) = check("GetParameter", json!({"Name": 5})).unwrap_err();
        assert_eq!(code, "SerializationException");
    }

    #[test]
    fn sensitive_values_are_never_echoed() {
        let long = "s".repeat(5000);
        let result = check("PutParameter", json!({"Name": "a", "Value": "secret", "Type": "Bogus"}));
        assert!(result.is_err());
        let (_, message) = check("PutParameter", json!({"Name": "a", "Value": long, "Tier": "Nope"})).unwrap_err();
        assert!(!message.contains("sss"), "{message}");
    }

    #[test]
    fn redacts_sensitive_members() {
        let mut put = json!({"Name": "/a", "Value": "hunter2", "Type": "SecureString"});
        Model::get(Service::Ssm).redact("PutParameter", &mut put);
        assert_eq!(put["Value"], "HIDDEN_DUE_TO_SECURITY_REASONS");
        assert_eq!(put["Name"], "/a");
        let mut encrypt = json!({"KeyId": "k", "Plaintext": "c2VjcmV0"});
        Model::get(Service::Kms).redact("Encrypt", &mut encrypt);
        assert_eq!(encrypt["Plaintext"], "HIDDEN_DUE_TO_SECURITY_REASONS");
    }

    #[test]
    fn unknown_operation() {
        assert_eq!(check("Frobnicate", json!({})).unwrap_err().0, "UnknownOperationException");
    }
}

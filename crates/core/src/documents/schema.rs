//! What each document type and schema version must look like, and what a valid document
//! says about itself (its parameters, steps and platforms).

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::interpolate::parameter_names;
use super::params::{parse_definitions, ParamDef};
use crate::Fault;

/// Node plugins of Command and Policy documents, with the platforms each runs on.
pub const COMMAND_PLUGINS: &[(&str, &[&str])] = &[
    ("aws:runShellScript", &["Linux", "MacOS"]),
    ("aws:runPowerShellScript", &["Windows", "Linux"]),
    ("aws:runDocument", &["Windows", "Linux"]),
    ("aws:downloadContent", &["Windows", "Linux"]),
    ("aws:configurePackage", &["Windows", "Linux"]),
    ("aws:configureDocker", &["Windows", "Linux"]),
    ("aws:runDockerAction", &["Windows", "Linux"]),
    ("aws:domainJoin", &["Windows", "Linux"]),
    ("aws:softwareInventory", &["Windows", "Linux", "MacOS"]),
    ("aws:runPatchBaseline", &["Windows", "Linux"]),
    ("aws:refreshAssociation", &["Windows", "Linux", "MacOS"]),
    ("aws:updateSsmAgent", &["Windows", "Linux", "MacOS"]),
    ("aws:updateAgent", &["Windows"]),
    ("aws:applications", &["Windows"]),
    ("aws:cloudWatch", &["Windows"]),
    ("aws:psModule", &["Windows"]),
];

/// Actions of Automation documents.
pub const AUTOMATION_ACTIONS: &[&str] = &[
    "aws:approve",
    "aws:assertAwsResourceProperty",
    "aws:branch",
    "aws:changeInstanceState",
    "aws:copyImage",
    "aws:createImage",
    "aws:createStack",
    "aws:createTags",
    "aws:deleteImage",
    "aws:deleteStack",
    "aws:executeAutomation",
    "aws:executeAwsApi",
    "aws:executeScript",
    "aws:executeStateMachine",
    "aws:invokeLambdaFunction",
    "aws:invokeWebhook",
    "aws:loop",
    "aws:pause",
    "aws:runCommand",
    "aws:runInstances",
    "aws:sleep",
    "aws:waitForAwsResourceProperty",
];

/// Session types of Session documents.
pub const SESSION_TYPES: &[&str] = &["Standard_Stream", "InteractiveCommands", "NonInteractiveCommands", "Port"];

const ALL_PLATFORMS: &[&str] = &["Windows", "Linux", "MacOS"];

/// Document types Steward validates and runs.
pub const SUPPORTED_TYPES: &[&str] =
    &["Command", "Policy", "Automation", "Automation.ChangeTemplate", "Session", "Package"];

/// One step of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Its name (for 1.2 documents, the plugin id).
    pub name: String,
    /// The plugin or action.
    pub action: String,
}

/// What a valid document says about itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// `schemaVersion`.
    pub schema_version: String,
    /// `description`, if any.
    pub description: Option<String>,
    /// Declared parameters, in order.
    pub parameters: Vec<ParamDef>,
    /// Platforms its plugins run on, ordered Windows, Linux, MacOS.
    pub platform_types: Vec<&'static str>,
    /// Steps in order.
    pub steps: Vec<Step>,
    /// For Session documents.
    pub session_type: Option<String>,
}

pub(super) fn bad(message: impl Into<String>) -> Fault {
    Fault::InvalidDocumentContent(message.into())
}

fn schema_versions(doc_type: &str) -> &'static [&'static str] {
    match doc_type {
        "Command" => &["1.2", "2.0", "2.2"],
        "Policy" => &["2.0", "2.2"],
        "Automation" | "Automation.ChangeTemplate" => &["0.3"],
        "Session" => &["1.0"],
        "Package" => &["2.0"],
        _ => &[],
    }
}

/// Checks a parsed document of `doc_type` and describes it.
pub fn analyze(doc_type: &str, tree: &Value) -> Result<Analysis, Fault> {
    if !SUPPORTED_TYPES.contains(&doc_type) {
        return Err(bad(format!("Steward does not support documents of type {doc_type} yet.")));
    }
    let Some(doc) = tree.as_object() else { return Err(bad("The document must be an object at its top level.")) };
    let schema_version = match doc.get("schemaVersion") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => return Err(bad("schemaVersion must be a string such as \"2.2\".")),
        None => return Err(bad("The document has no schemaVersion.")),
    };
    if doc_type.starts_with("Automation") && schema_version != "0.3" {
        return Err(bad(format!("Document schema version is invalid. Value: {schema_version}")));
    }
    if !schema_versions(doc_type).contains(&schema_version.as_str()) {
        return Err(Fault::InvalidDocumentSchemaVersion(format!(
            "{schema_version} is not a valid schema version for {doc_type} document type"
        )));
    }
    let description = match doc.get("description") {
        None => None,
        Some(Value::String(d)) => Some(d.clone()),
        Some(_) => return Err(bad("description must be a string.")),
    };
    let parameters = parse_definitions(doc.get("parameters"))?;
    let (steps, platform_types, session_type) = match (doc_type, schema_version.as_str()) {
        ("Command", "1.2") => runtime_config(doc)?,
        ("Command" | "Policy", version) => main_steps(doc, version)?,
        ("Automation", _) => (super::runbook::check(doc)?, ALL_PLATFORMS.to_vec(), None),
        ("Automation.ChangeTemplate", _) => (super::runbook::check_template(doc)?, ALL_PLATFORMS.to_vec(), None),
        ("Session", _) => session(doc)?,
        _ => package(doc)?,
    };
    let declared: BTreeSet<&str> = parameters.iter().map(|p| p.name.as_str()).collect();
    for section in ["runtimeConfig", "mainSteps", "inputs", "properties", "outputs"] {
        if let Some(body) = doc.get(section) {
            if let Some(missing) = parameter_names(body).into_iter().find(|n| !declared.contains(n.as_str())) {
                return Err(bad(format!("Parameter \"{missing}\" is not declared.")));
            }
        }
    }
    check_script_parameter_types(doc, &parameters)?;
    Ok(Analysis { schema_version, description, parameters, platform_types, steps, session_type })
}

/// Script plugins take strings and string lists only: an Integer, Boolean or map parameter
/// in their `runCommand` is refused when the document is created, as SSM does.
fn check_script_parameter_types(doc: &Map<String, Value>, parameters: &[ParamDef]) -> Result<(), Fault> {
    use super::params::ParamType;
    let scripts = ["aws:runShellScript", "aws:runPowerShellScript"];
    let mut commands: Vec<&Value> = Vec::new();
    for step in doc.get("mainSteps").and_then(Value::as_array).into_iter().flatten() {
        if step.get("action").and_then(Value::as_str).is_some_and(|a| scripts.contains(&a)) {
            commands.extend(step.get("inputs").and_then(|i| i.get("runCommand")));
        }
    }
    for (plugin, body) in doc.get("runtimeConfig").and_then(Value::as_object).into_iter().flatten() {
        if scripts.contains(&plugin.as_str()) {
            match body.get("properties") {
                Some(Value::Array(items)) => commands.extend(items.iter().filter_map(|p| p.get("runCommand"))),
                Some(props) => commands.extend(props.get("runCommand")),
                None => {}
            }
        }
    }
    for command in commands {
        for name in parameter_names(command) {
            if let Some(p) = parameters.iter().find(|p| p.name == name) {
                if !matches!(p.kind, ParamType::String | ParamType::StringList) {
                    return Err(bad(format!(
                        "Parameter \"{name}\" of type {} cannot be used in runCommand; use a String or StringList parameter.",
                        p.kind.as_str()
                    )));
                }
            }
        }
    }
    Ok(())
}

type Shape = (Vec<Step>, Vec<&'static str>, Option<String>);

fn platforms_of(actions: &[&str]) -> Vec<&'static str> {
    let mut set = BTreeSet::new();
    for action in actions {
        if let Some((_, platforms)) = COMMAND_PLUGINS.iter().find(|(name, _)| name == action) {
            set.extend(platforms.iter().copied());
        }
    }
    ALL_PLATFORMS.iter().copied().filter(|p| set.contains(p)).collect()
}

fn known_plugin(action: &str) -> bool {
    COMMAND_PLUGINS.iter().any(|(name, _)| *name == action)
}

fn runtime_config(doc: &Map<String, Value>) -> Result<Shape, Fault> {
    let Some(config) = doc.get("runtimeConfig").and_then(Value::as_object) else {
        return Err(bad("A schema 1.2 document needs a runtimeConfig object."));
    };
    if config.is_empty() {
        return Err(bad("runtimeConfig must name at least one plugin."));
    }
    let mut steps = Vec::new();
    for (plugin, body) in config {
        if !known_plugin(plugin) {
            return Err(bad(format!("runtimeConfig names an unknown plugin {plugin}.")));
        }
        let properties = body.get("properties").ok_or_else(|| bad(format!("Plugin {plugin} has no properties.")))?;
        let count = match properties {
            Value::Array(items) if items.iter().all(Value::is_object) && !items.is_empty() => items.len(),
            Value::Object(_) => 1,
            _ => return Err(bad(format!("The properties of plugin {plugin} must be an object or a list of objects."))),
        };
        for i in 0..count {
            steps.push(Step { name: format!("{i}.{plugin}"), action: plugin.clone() });
        }
    }
    let actions: Vec<&str> = steps.iter().map(|s| s.action.as_str()).collect();
    Ok((steps.clone(), platforms_of(&actions), None))
}

/// Steps with the JSON object each came from.
pub(super) type CheckedSteps<'a> = (Vec<Step>, Vec<&'a Map<String, Value>>);

/// The document's `mainSteps`, checked by [`check_steps`].
pub(super) fn check_main_steps<'a>(
    doc: &'a Map<String, Value>,
    known: impl Fn(&str) -> bool,
    what: &str,
) -> Result<CheckedSteps<'a>, Fault> {
    let Some(list) = doc.get("mainSteps").and_then(Value::as_array) else {
        return Err(bad("The document needs a mainSteps list."));
    };
    if list.is_empty() {
        return Err(bad("mainSteps must contain at least one step."));
    }
    check_steps(list, known, what)
}

/// Each step of `list` is an object with a unique name, a `known` action and inputs.
pub(super) fn check_steps<'a>(
    list: &'a [Value],
    known: impl Fn(&str) -> bool,
    what: &str,
) -> Result<CheckedSteps<'a>, Fault> {
    let mut steps = Vec::new();
    let mut bodies = Vec::new();
    for (i, step) in list.iter().enumerate() {
        let Some(step) = step.as_object() else { return Err(bad(format!("Step {} must be an object.", i + 1))) };
        let name = step.get("name").and_then(Value::as_str).unwrap_or("");
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')) {
            return Err(bad(format!(
                "Step {} needs a name made of letters, digits, '.', '-' and '_'; got \"{name}\".",
                i + 1
            )));
        }
        if steps.iter().any(|s: &Step| s.name == name) {
            return Err(bad(format!("Step name {name} is used more than once.")));
        }
        let action = step.get("action").and_then(Value::as_str).unwrap_or("");
        if !known(action) {
            return Err(bad(format!("Step {name} has an unknown {what} \"{action}\".")));
        }
        if !step.get("inputs").is_some_and(Value::is_object) {
            return Err(bad(format!("Step {name} needs an inputs object.")));
        }
        steps.push(Step { name: name.to_owned(), action: action.to_owned() });
        bodies.push(step);
    }
    Ok((steps, bodies))
}

fn main_steps(doc: &Map<String, Value>, version: &str) -> Result<Shape, Fault> {
    let (steps, bodies) = check_main_steps(doc, known_plugin, "action")?;
    for (step, body) in steps.iter().zip(bodies) {
        if let Some(pre) = body.get("precondition") {
            if version != "2.2" {
                return Err(bad(format!("Step {}: preconditions need schemaVersion 2.2.", step.name)));
            }
            let ok = pre
                .as_object()
                .filter(|m| m.len() == 1)
                .and_then(|m| m.get("StringEquals"))
                .and_then(Value::as_array)
                .is_some_and(|operands| operands.len() == 2 && operands.iter().all(Value::is_string));
            if !ok {
                return Err(bad(format!(
                    "Step {}: a precondition must be {{\"StringEquals\": [\"platformType\", \"Linux\"]}} or similar.",
                    step.name
                )));
            }
        }
    }
    let actions: Vec<&str> = steps.iter().map(|s| s.action.as_str()).collect();
    Ok((steps.clone(), platforms_of(&actions), None))
}

fn session(doc: &Map<String, Value>) -> Result<Shape, Fault> {
    let kind = doc.get("sessionType").and_then(Value::as_str).unwrap_or("");
    if !SESSION_TYPES.contains(&kind) {
        return Err(bad(format!("sessionType \"{kind}\" must be one of {}.", SESSION_TYPES.join(", "))));
    }
    for key in ["inputs", "properties"] {
        if doc.get(key).is_some_and(|v| !v.is_object()) {
            return Err(bad(format!("{key} must be an object.")));
        }
    }
    if let Some(inputs) = doc.get("inputs") {
        for (key, range) in [("idleSessionTimeout", 1..=60), ("maxSessionDuration", 1..=1440)] {
            if let Some(v) = inputs.get(key) {
                let minutes = v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok()));
                if minutes.is_some_and(|m| !range.contains(&m)) || (minutes.is_none() && v.as_str() != Some("")) {
                    return Err(bad(format!(
                        "inputs.{key} must be a number of minutes from {} to {}.",
                        range.start(),
                        range.end()
                    )));
                }
            }
        }
    }
    Ok((Vec::new(), ALL_PLATFORMS.to_vec(), Some(kind.to_owned())))
}

fn package(doc: &Map<String, Value>) -> Result<Shape, Fault> {
    super::package::parse(doc)?;
    Ok((Vec::new(), ALL_PLATFORMS.to_vec(), None))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kind(r: Result<Analysis, Fault>) -> &'static str {
        match r {
            Ok(_) => "ok",
            Err(Fault::InvalidDocumentContent(_)) => "content",
            Err(Fault::InvalidDocumentSchemaVersion(_)) => "schema",
            Err(_) => "other",
        }
    }

    #[test]
    fn command_documents() {
        let good = json!({
            "schemaVersion": "2.2",
            "description": "d",
            "parameters": {"commands": {"type": "StringList"}},
            "mainSteps": [
                {"action": "aws:runShellScript", "name": "run", "inputs": {"runCommand": "{{ commands }}"},
                 "precondition": {"StringEquals": ["platformType", "Linux"]}},
                {"action": "aws:runPowerShellScript", "name": "ps", "inputs": {"runCommand": ["x"]}}
            ]
        });
        let a = analyze("Command", &good).unwrap();
        assert_eq!(a.platform_types, ["Windows", "Linux", "MacOS"]);
        assert_eq!(a.steps.len(), 2);
        let cases = [
            (json!({"mainSteps": []}), "content"),
            (json!({"schemaVersion": "3.0", "mainSteps": []}), "schema"),
            (json!({"schemaVersion": "2.2", "mainSteps": []}), "content"),
            (
                json!({"schemaVersion": "2.2", "mainSteps": [{"action": "aws:nope", "name": "a", "inputs": {}}]}),
                "content",
            ),
            (
                json!({"schemaVersion": "2.2", "mainSteps": [{"action": "aws:runShellScript", "name": "a", "inputs": []}]}),
                "content",
            ),
            (
                json!({"schemaVersion": "2.2", "mainSteps": [
                {"action": "aws:runShellScript", "name": "a", "inputs": {}},
                {"action": "aws:runShellScript", "name": "a", "inputs": {}}]}),
                "content",
            ),
            (
                json!({"schemaVersion": "2.2", "mainSteps": [
                {"action": "aws:runShellScript", "name": "a", "inputs": {"runCommand": "{{ missing }}"}}]}),
                "content",
            ),
            (
                json!({"schemaVersion": "2.0", "mainSteps": [
                {"action": "aws:runShellScript", "name": "a", "inputs": {}, "precondition": {"StringEquals": ["platformType", "Linux"]}}]}),
                "content",
            ),
            (
                json!({"schemaVersion": "1.2", "runtimeConfig": {"aws:runShellScript": {"properties": [{"runCommand": ["x"]}]}}}),
                "ok",
            ),
            (json!({"schemaVersion": "1.2", "mainSteps": []}), "content"),
            (json!("text"), "content"),
        ];
        for (doc, expected) in cases {
            assert_eq!(kind(analyze("Command", &doc)), expected, "{doc}");
        }
    }

    #[test]
    fn other_types() {
        let auto = json!({"schemaVersion": "0.3", "mainSteps": [
            {"name": "wait", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}, "onFailure": "step:wait"}],
            "outputs": ["wait.Output"]});
        assert_eq!(kind(analyze("Automation", &auto)), "ok");
        let bad_auto = json!({"schemaVersion": "0.3", "mainSteps": [
            {"name": "wait", "action": "aws:sleep", "inputs": {}, "nextStep": "nowhere"}]});
        assert_eq!(kind(analyze("Automation", &bad_auto)), "content");
        assert_eq!(kind(analyze("Automation", &json!({"schemaVersion": "2.2", "mainSteps": []}))), "content");
        let step = |name: &str, extra: Value| {
            let mut s = json!({"name": name, "action": "aws:sleep", "inputs": {"Duration": "PT1S"}});
            s.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            s
        };
        let runbook = |steps: Vec<Value>| json!({"schemaVersion": "0.3", "mainSteps": steps});
        // A loop with a branch on the way out is a loop a runbook may have; one without never ends.
        let endless = runbook(vec![step("a", json!({})), step("b", json!({"nextStep": "a"}))]);
        assert_eq!(kind(analyze("Automation", &endless)), "content");
        let branch = json!({"name": "check", "action": "aws:branch", "inputs": {
            "Choices": [{"NextStep": "a", "Variable": "x", "StringEquals": "y"}], "Default": "done"}});
        let looping = runbook(vec![step("a", json!({})), branch, step("done", json!({"isEnd": true}))]);
        assert_eq!(kind(analyze("Automation", &looping)), "ok");
        let nowhere = json!({"name": "check", "action": "aws:branch", "inputs": {
            "Choices": [{"NextStep": "gone", "Variable": "x", "StringEquals": "y"}]}});
        assert_eq!(kind(analyze("Automation", &runbook(vec![nowhere]))), "content");
        let typed =
            |t: &str| runbook(vec![step("a", json!({"outputs": [{"Name": "o", "Selector": "$.x", "Type": t}]}))]);
        assert_eq!(kind(analyze("Automation", &typed("StringList"))), "ok");
        assert_eq!(kind(analyze("Automation", &typed("Float"))), "content");
        let int_in_script = json!({"schemaVersion": "2.2", "parameters": {"n": {"type": "Integer", "default": 3}},
            "mainSteps": [{"action": "aws:runShellScript", "name": "a", "inputs": {"runCommand": ["echo {{ n }}"]}}]});
        assert_eq!(kind(analyze("Command", &int_in_script)), "content");
        let port = json!({"schemaVersion": "1.0", "sessionType": "Port", "parameters": {"portNumber": {"type": "String", "default": "80"}},
            "properties": {"portNumber": "{{ portNumber }}", "type": "LocalPortForwarding"}});
        let a = analyze("Session", &port).unwrap();
        assert_eq!(a.session_type.as_deref(), Some("Port"));
        assert_eq!(kind(analyze("Session", &json!({"schemaVersion": "1.0", "sessionType": "Telnet"}))), "content");
        assert_eq!(
            kind(analyze(
                "Session",
                &json!({"schemaVersion": "1.0", "sessionType": "Standard_Stream", "inputs": {"idleSessionTimeout": "90"}})
            )),
            "content"
        );
        assert_eq!(kind(analyze("Session", &json!({"schemaVersion": "2.0", "sessionType": "Port"}))), "schema");
        let sha = "ab".repeat(32);
        let pkg = json!({"schemaVersion": "2.0", "version": "1.0",
            "packages": {"_any": {"_any": {"_any": {"file": "p.zip"}}}},
            "files": {"p.zip": {"checksums": {"sha256": sha}}}});
        assert_eq!(kind(analyze("Package", &pkg)), "ok");
        assert_eq!(kind(analyze("Package", &json!({"schemaVersion": "2.0"}))), "content");
        assert_eq!(kind(analyze("ChangeCalendar", &json!({}))), "content");
    }
}

//! A runbook (an Automation document, schema 0.3) as an execution follows it: its steps
//! with their controls, its declared outputs. The document itself was checked when it was
//! created; an execution keeps its own copy, so editing the runbook never changes a run.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use steward_api::ApiError;

/// The actions this server runs.
pub const SUPPORTED: &[&str] = &[
    "aws:sleep",
    "aws:pause",
    "aws:approve",
    "aws:branch",
    "aws:runCommand",
    "aws:executeScript",
    "aws:executeAwsApi",
    "aws:waitForAwsResourceProperty",
    "aws:assertAwsResourceProperty",
    "aws:executeAutomation",
    "aws:createTags",
    "aws:loop",
    "aws:invokeWebhook",
];

/// One step and its controls.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Step {
    /// Unique in the runbook.
    pub name: String,
    /// `aws:…`.
    pub action: String,
    /// Before interpolation.
    pub inputs: Value,
    /// The step that follows; else the next one listed.
    pub next_step: Option<String>,
    /// The runbook ends after this step.
    pub is_end: bool,
    /// `Abort` (default), `Continue` or `step:NAME`.
    pub on_failure: String,
    /// `step:NAME`: the step that cleans up when the execution is cancelled during this one.
    #[serde(default)]
    pub on_cancel: Option<String>,
    /// Attempts before it fails (default 1).
    pub max_attempts: u32,
    /// How long one attempt may take.
    pub timeout_seconds: Option<i64>,
    /// Whether a failure fails the execution (default true).
    pub is_critical: bool,
    /// Outputs it declares: (Name, Selector, Type).
    pub outputs: Vec<(String, String, String)>,
    /// The `aws:loop` step whose Steps it is one of (an index), none for main steps.
    #[serde(default)]
    pub parent: Option<usize>,
}

/// A runbook as executions follow it: the main steps first, then each loop's steps, in
/// the order listed (a loop's own inputs lose their Steps, which are steps here).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Runbook {
    /// The steps in the order listed.
    pub steps: Vec<Step>,
    /// `Step.Output` names the execution reports.
    pub outputs: Vec<String>,
    /// `assumeRole`, before interpolation.
    pub assume_role: Option<String>,
    /// Files its scripts run from (`files`): name → SHA-256, stored when the runbook was.
    #[serde(default)]
    pub files: std::collections::BTreeMap<String, String>,
}

impl Runbook {
    /// The index of the step named `name`.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.steps.iter().position(|s| s.name == name)
    }

    /// The first of the steps loop `index` repeats.
    pub fn loop_entry(&self, index: usize) -> Option<usize> {
        self.steps.iter().position(|s| s.parent == Some(index))
    }
}

fn bad(message: String) -> ApiError {
    ApiError::new("InvalidAutomationExecutionParametersException", message)
}

/// Reads a checked document's content.
pub fn parse(doc: &Value) -> Result<Runbook, ApiError> {
    let main = doc["mainSteps"].as_array().cloned().unwrap_or_default();
    let mut out: Vec<Step> = main.iter().map(|s| parse_step(s, None)).collect();
    for index in 0..out.len() {
        if out[index].action == "aws:loop" {
            let inner = out[index].inputs.as_object_mut().and_then(|i| i.remove("Steps"));
            let inner = inner.as_ref().and_then(Value::as_array).cloned().unwrap_or_default();
            out.extend(inner.iter().map(|s| parse_step(s, Some(index))));
        }
    }
    if out.is_empty() {
        return Err(bad("The runbook has no steps.".into()));
    }
    let outputs =
        doc["outputs"].as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect();
    let assume_role = doc["assumeRole"].as_str().filter(|r| !r.is_empty()).map(str::to_owned);
    let files = match doc.get("files") {
        Some(listed) => steward_core::documents::package::parse_files(listed).map_err(|f| bad(f.to_string()))?,
        None => Vec::new(),
    };
    let files = files.into_iter().map(|f| (f.name, f.sha256)).collect();
    Ok(Runbook { steps: out, outputs, assume_role, files })
}

fn parse_step(step: &Value, parent: Option<usize>) -> Step {
    {
        let name = step["name"].as_str().unwrap_or_default().to_owned();
        let number = |key: &str| step[key].as_i64().or_else(|| step[key].as_str().and_then(|s| s.parse().ok()));
        let flag = |key: &str, default: bool| {
            step[key]
                .as_bool()
                .or_else(|| step[key].as_str().map(|s| s.eq_ignore_ascii_case("true")))
                .unwrap_or(default)
        };
        let outputs = step["outputs"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|o| {
                let text = |k: &str| o[k].as_str().unwrap_or_default().to_owned();
                let kind = Some(text("Type")).filter(|t| !t.is_empty()).unwrap_or_else(|| "String".into());
                (text("Name"), text("Selector"), kind)
            })
            .collect();
        let action = step["action"].as_str().unwrap_or_default().to_owned();
        // A wait ends within an hour unless the runbook says otherwise, as SSM's does.
        let default_timeout = (action == "aws:waitForAwsResourceProperty").then_some(3600);
        // A loop is not retried as a whole; its steps retry as they say.
        let max_attempts = if action == "aws:loop" { 1 } else { number("maxAttempts").unwrap_or(1).clamp(1, 100) };
        Step {
            timeout_seconds: number("timeoutSeconds").or(default_timeout),
            action,
            inputs: step["inputs"].clone(),
            next_step: step["nextStep"].as_str().map(str::to_owned),
            is_end: flag("isEnd", false),
            on_failure: step["onFailure"].as_str().unwrap_or("Abort").to_owned(),
            on_cancel: step["onCancel"].as_str().and_then(|c| c.strip_prefix("step:")).map(str::to_owned),
            max_attempts: max_attempts as u32,
            is_critical: flag("isCritical", true),
            outputs,
            name,
            parent,
        }
    }
}

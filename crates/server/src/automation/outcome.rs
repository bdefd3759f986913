//! What a look at a step's action found, shared by the actions.

use serde_json::Value;
use steward_api::ssm::automation::ParameterMap;
use steward_store::Op;

/// What a look at an action found.
pub enum Outcome {
    /// Not finished. `changed`: the step's record changed (write it, with `effect`).
    Wait { changed: bool, effect: Vec<Op> },
    /// An `aws:loop` began: its record stays open while its steps run, from `first`.
    Enter { first: usize },
    /// Finished well: its outputs, and the step to go to when the action chose one.
    Done { outputs: ParameterMap, next: Option<String> },
    /// Finished badly: the step's status (`Failed`, `TimedOut`) and why.
    Failed { status: &'static str, why: String },
}

/// A plain failure.
pub fn failed(why: impl Into<String>) -> Outcome {
    Outcome::Failed { status: "Failed", why: why.into() }
}

/// A declared output's value as Automation lists it.
pub fn as_list(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) if items.iter().all(Value::is_string) => {
            items.iter().filter_map(Value::as_str).map(str::to_owned).collect()
        }
        other => vec![other.to_string()],
    }
}

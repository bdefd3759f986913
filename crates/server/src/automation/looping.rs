//! `aws:loop`: repeats its Steps for each item of Iterators, or while LoopCondition holds
//! after each pass (a do-while), at most MaxIterations times (100). The loop's own record
//! stays open while its steps run, its outputs (CurrentIteration, CurrentIteratorValue)
//! those of the pass under way, so its steps read them as `{{ loop.CurrentIteratorValue }}`.

use serde_json::Value;
use steward_api::ssm::automation::ParameterMap;
use steward_core::documents::runbook::MAX_ITERATIONS;

use super::outcome::{failed, Outcome};
use super::runbook::Runbook;
use super::{branch, StepRecord};

/// Output names of a loop.
const ITERATION: &str = "CurrentIteration";
const VALUE: &str = "CurrentIteratorValue";

/// The first look at loop `index`, whose record (inputs resolved) is `record`: its first
/// pass begins (Enter), or it ends at once over an empty list.
pub fn begin(runbook: &Runbook, index: usize, record: &mut StepRecord) -> Outcome {
    let Some(first) = runbook.loop_entry(index) else { return failed("The loop has no steps.") };
    if let Err(why) = max_iterations(&record.inputs) {
        return failed(why);
    }
    let items = match items(&record.inputs) {
        Ok(items) => items,
        Err(why) => return failed(why),
    };
    let mut outputs = ParameterMap::new();
    if let Some(items) = &items {
        if items.is_empty() {
            outputs.insert(ITERATION.into(), vec!["0".into()]);
            return Outcome::Done { outputs, next: None };
        }
        outputs.insert(VALUE.into(), vec![text(&items[0])]);
    }
    outputs.insert(ITERATION.into(), vec!["1".into()]);
    record.outputs = outputs;
    Outcome::Enter { first }
}

/// After a pass of the loop whose record is `record`: whether another pass begins (its
/// outputs moved on), with `condition` (LoopCondition resolved now; Null for Iterators).
pub fn again(record: &mut StepRecord, condition: &Value) -> Result<bool, String> {
    let done: i64 = record.outputs.get(ITERATION).and_then(|v| v.first()).and_then(|n| n.parse().ok()).unwrap_or(1);
    let max = max_iterations(&record.inputs)?;
    if done >= max {
        return Ok(false);
    }
    match items(&record.inputs)? {
        Some(items) => {
            let Some(next) = items.get(done as usize) else { return Ok(false) };
            record.outputs.insert(VALUE.into(), vec![text(next)]);
        }
        None => {
            if !branch::holds(condition).map_err(|why| format!("LoopCondition: {why}"))? {
                return Ok(false);
            }
        }
    }
    record.outputs.insert(ITERATION.into(), vec![(done + 1).to_string()]);
    Ok(true)
}

/// The declared type of a loop's output `name`, as its steps read it.
pub fn output_type<'a>(name: &str, inputs: &'a Value) -> Option<&'a str> {
    match name {
        ITERATION => Some("Integer"),
        VALUE => Some(match inputs["IteratorDataType"].as_str() {
            Some("Integer") => "Integer",
            Some("Boolean") => "Boolean",
            Some("StringMap") => "StringMap",
            _ => "String",
        }),
        _ => None,
    }
}

/// The items of an Iterators loop (None for a LoopCondition loop).
fn items(inputs: &Value) -> Result<Option<Vec<Value>>, String> {
    let items = match &inputs["Iterators"] {
        Value::Null => return Ok(None),
        Value::Array(items) => items.clone(),
        Value::String(s) if s.contains("{{") => return Err(format!("Iterators {s} is not a list of values.")),
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Array(items)) => items,
            _ => vec![Value::String(s.clone())],
        },
        other => vec![other.clone()],
    };
    if items.len() as i64 > MAX_ITERATIONS {
        return Err(format!("Iterators has {} items; a loop iterates over at most {MAX_ITERATIONS}.", items.len()));
    }
    Ok(Some(items))
}

fn max_iterations(inputs: &Value) -> Result<i64, String> {
    let max = &inputs["MaxIterations"];
    if max.is_null() {
        return Ok(MAX_ITERATIONS);
    }
    max.as_i64()
        .or_else(|| max.as_str().and_then(|s| s.trim().parse().ok()))
        .filter(|n| (1..=MAX_ITERATIONS).contains(n))
        .ok_or_else(|| format!("MaxIterations {max} is not a number from 1 to {MAX_ITERATIONS}."))
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(inputs: Value) -> StepRecord {
        serde_json::from_value(json!({"id": "s", "index": 0, "status": "InProgress", "start": 0, "end": null,
            "inputs": inputs, "outputs": {}, "failure_message": null, "attempt": 1, "wake_at": null,
            "command_id": null, "approvals": [], "next": null}))
        .unwrap()
    }

    #[test]
    fn iterators_pass_once_per_item() {
        let mut r = record(json!({"Iterators": ["a", "b", "c"], "MaxIterations": 2}));
        r.outputs.insert(ITERATION.into(), vec!["1".into()]);
        assert!(again(&mut r, &Value::Null).unwrap());
        assert_eq!(r.outputs[VALUE], vec!["b".to_string()]);
        assert!(!again(&mut r, &Value::Null).unwrap(), "MaxIterations 2");
    }

    #[test]
    fn conditions_repeat_while_they_hold() {
        let mut r = record(json!({"LoopCondition": {}}));
        r.outputs.insert(ITERATION.into(), vec!["1".into()]);
        let holds = json!({"Variable": "yes", "StringEquals": "yes"});
        assert!(again(&mut r, &holds).unwrap());
        assert_eq!(r.outputs[ITERATION], vec!["2".to_string()]);
        assert!(!again(&mut r, &json!({"Variable": "no", "StringEquals": "yes"})).unwrap());
        assert!(again(&mut r, &json!({"Variable": "x"})).is_err(), "no operator");
    }
}

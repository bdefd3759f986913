//! Runbooks (Automation documents, schema 0.3): the steps of `mainSteps` and of each
//! `aws:loop`'s `Steps`, where each may go next, their outputs. A step jumps only within
//! its own list (the main steps, or one loop's steps), and loops do not nest. Scripts may
//! run from files attached to the runbook (`files`, as package manifests list theirs).

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::package::PackageFile;
use super::schema::{bad, check_main_steps, check_steps, Step, AUTOMATION_ACTIONS};
use crate::Fault;

/// Most iterations of an `aws:loop`, and most items it iterates over, as SSM allows.
pub const MAX_ITERATIONS: i64 = 100;

/// Actions an `onCancel` step may not be, as SSM refuses them: they wait, or make things.
const NO_CLEANUP: &[&str] = &["aws:approve", "aws:pause", "aws:sleep", "aws:loop", "aws:createTags"];

/// Types an `aws:loop`'s Iterators may have.
const ITERATOR_TYPES: &[&str] = &["Boolean", "Integer", "String", "StringMap"];

/// Checks a runbook; its main steps, in order.
pub fn check(doc: &Map<String, Value>) -> Result<Vec<Step>, Fault> {
    let (steps, bodies) = check_main_steps(doc, |a| AUTOMATION_ACTIONS.contains(&a), "action")?;
    let mut all: BTreeSet<String> = steps.iter().map(|s| s.name.clone()).collect();
    let mut scopes = vec![(None, steps.clone(), bodies.clone())];
    for (step, body) in steps.iter().zip(bodies.iter().copied()) {
        if step.action != "aws:loop" {
            continue;
        }
        let inner = check_loop(&step.name, &body["inputs"])?;
        let nested = |a: &str| a != "aws:loop" && AUTOMATION_ACTIONS.contains(&a);
        let (inner_steps, inner_bodies) = check_steps(inner, nested, "action (loops do not nest)")?;
        for s in &inner_steps {
            if !all.insert(s.name.clone()) {
                return Err(bad(format!("Step name {} is used more than once.", s.name)));
            }
        }
        scopes.push((Some(step.name.as_str()), inner_steps, inner_bodies));
    }
    let files = match doc.get("files") {
        Some(listed) => super::package::parse_files(listed)?,
        None => Vec::new(),
    };
    for (owner, steps, bodies) in &scopes {
        check_scope(*owner, steps, bodies, &all)?;
        check_attachments(steps, bodies, &files)?;
    }
    if let Some(outputs) = doc.get("outputs") {
        let ok = outputs.as_array().is_some_and(|o| {
            o.iter().all(|x| x.as_str().and_then(|s| s.split_once('.')).is_some_and(|(st, _)| all.contains(st)))
        });
        if !ok {
            return Err(bad("outputs must list StepName.OutputName entries of existing steps."));
        }
    }
    Ok(steps)
}

/// Checks a change template (type `Automation.ChangeTemplate`): a runbook of approval
/// steps, with the runbooks it allows (`executableRunBooks`: `{"name", "version"}`) and its
/// `autoApprovable` and `emergencyChange` flags.
pub fn check_template(doc: &Map<String, Value>) -> Result<Vec<Step>, Fault> {
    let steps = check(doc)?;
    if let Some(other) = steps.iter().find(|s| s.action != "aws:approve") {
        return Err(bad(format!(
            "Step {}: a change template's steps are approvals (aws:approve), not {}.",
            other.name, other.action
        )));
    }
    if let Some(listed) = doc.get("executableRunBooks") {
        let ok = listed.as_array().is_some_and(|l| {
            l.iter()
                .all(|r| r.get("name").is_some_and(Value::is_string) && r.get("version").is_none_or(Value::is_string))
        });
        if !ok {
            return Err(bad("executableRunBooks must list {\"name\": …, \"version\": …} entries."));
        }
    }
    for flag in ["autoApprovable", "emergencyChange"] {
        if doc.get(flag).is_some_and(|v| !v.is_boolean()) {
            return Err(bad(format!("{flag} must be true or false.")));
        }
    }
    Ok(steps)
}

/// An `aws:loop`'s inputs: Iterators or LoopCondition (one of them), MaxIterations, and
/// the Steps it repeats (returned).
fn check_loop<'a>(name: &str, inputs: &'a Value) -> Result<&'a [Value], Fault> {
    let Some(steps) = inputs.get("Steps").and_then(Value::as_array).filter(|s| !s.is_empty()) else {
        return Err(bad(format!("Step {name}: aws:loop needs a non-empty list of Steps.")));
    };
    match (inputs.get("Iterators"), inputs.get("LoopCondition")) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(bad(format!("Step {name}: aws:loop takes either Iterators or LoopCondition, not both.")))
        }
        (Some(Value::Array(items)), None) if items.len() as i64 > MAX_ITERATIONS => {
            return Err(bad(format!("Step {name}: Iterators lists at most {MAX_ITERATIONS} items.")))
        }
        (Some(Value::Array(_) | Value::String(_)), None) => {}
        (Some(_), None) => return Err(bad(format!("Step {name}: Iterators must be a list or a reference to one."))),
        (None, Some(Value::Object(_))) => {}
        (None, Some(_)) => {
            return Err(bad(format!(
                "Step {name}: LoopCondition must be a condition such as {{\"Variable\": …, \"BooleanEquals\": true}}."
            )))
        }
    }
    if let Some(kind) = inputs.get("IteratorDataType") {
        if !kind.as_str().is_some_and(|k| ITERATOR_TYPES.contains(&k)) {
            return Err(bad(format!("Step {name}: IteratorDataType must be one of {}.", ITERATOR_TYPES.join(", "))));
        }
    }
    if let Some(max) = inputs.get("MaxIterations") {
        let reference = max.as_str().is_some_and(|s| s.contains("{{"));
        let n = max.as_i64().or_else(|| max.as_str().and_then(|s| s.parse().ok()));
        if !reference && !n.is_some_and(|n| (1..=MAX_ITERATIONS).contains(&n)) {
            return Err(bad(format!("Step {name}: MaxIterations must be a number from 1 to {MAX_ITERATIONS}.")));
        }
    }
    Ok(steps)
}

/// Scripts that run from an attachment name a file the runbook's `files` lists.
fn check_attachments(steps: &[Step], bodies: &[&Map<String, Value>], files: &[PackageFile]) -> Result<(), Fault> {
    for (step, body) in steps.iter().zip(bodies.iter().copied()) {
        let Some(attachment) = body["inputs"].get("Attachment") else { continue };
        let name = attachment.as_str().unwrap_or_default();
        if step.action != "aws:executeScript" {
            return Err(bad(format!("Step {}: only aws:executeScript steps take an Attachment.", step.name)));
        }
        if !files.iter().any(|f| f.name == name) {
            return Err(bad(format!(
                "Step {}: Attachment {name:?} is not a file the runbook's files lists.",
                step.name
            )));
        }
    }
    Ok(())
}

/// One list of steps (`owner`: the loop holding them, none for the main steps): where each
/// goes stays in the list, outputs are well formed, and no run of steps loops for ever.
fn check_scope(
    owner: Option<&str>,
    steps: &[Step],
    bodies: &[&Map<String, Value>],
    all: &BTreeSet<String>,
) -> Result<(), Fault> {
    let names: BTreeSet<&str> = steps.iter().map(|s| s.name.as_str()).collect();
    let reach = |step: &str, what: &str, target: &str| -> Result<(), Fault> {
        if names.contains(target) {
            return Ok(());
        }
        if all.contains(target) {
            let here = owner.map(|o| format!("the steps of loop {o}")).unwrap_or_else(|| "the main steps".into());
            return Err(bad(format!(
                "Step {step}: {what} {target}, which is not among {here}; a step goes only to steps of its own list."
            )));
        }
        Err(bad(format!("Step {step}: {what} no step named {target}.")))
    };
    for (step, body) in steps.iter().zip(bodies.iter().copied()) {
        for key in ["onFailure", "nextStep", "onCancel"] {
            if let Some(target) = body.get(key).and_then(Value::as_str) {
                let target = target.strip_prefix("step:").unwrap_or(target);
                let fixed = match key {
                    "onFailure" => matches!(target, "Abort" | "Continue"),
                    "onCancel" => target == "Abort",
                    _ => false,
                };
                if !fixed {
                    reach(&step.name, &format!("{key} refers to"), target)?;
                }
                if key == "onCancel" && !fixed {
                    let cleanup = steps.iter().find(|s| s.name == target).map(|s| s.action.as_str());
                    if cleanup.is_some_and(|a| NO_CLEANUP.contains(&a)) {
                        return Err(bad(format!(
                            "Step {}: onCancel goes to {target}, a step of a kind that cannot clean up ({}).",
                            step.name,
                            NO_CLEANUP.join(", ")
                        )));
                    }
                }
            }
        }
        if step.action == "aws:branch" {
            let inputs = &body["inputs"];
            let choices = inputs.get("Choices").and_then(Value::as_array);
            let targets = choices
                .into_iter()
                .flatten()
                .map(|c| c.get("NextStep").and_then(Value::as_str))
                .chain(inputs.get("Default").map(Value::as_str));
            for target in targets {
                match target {
                    Some(t) => reach(&step.name, "a choice goes to", t)?,
                    None => {
                        return Err(bad(format!("Step {}: every choice needs a NextStep naming a step.", step.name)))
                    }
                }
            }
            if choices.is_none_or(|c| c.is_empty()) {
                return Err(bad(format!("Step {}: aws:branch needs a list of Choices.", step.name)));
            }
        }
        check_outputs(&step.name, body)?;
    }
    check_endless_loops(steps, bodies)
}

/// Types a runbook step's outputs may have.
const OUTPUT_TYPES: &[&str] = &["String", "Integer", "Boolean", "StringList", "StringMap", "MapList"];

fn check_outputs(step: &str, body: &Map<String, Value>) -> Result<(), Fault> {
    let Some(outputs) = body.get("outputs") else { return Ok(()) };
    let Some(list) = outputs.as_array() else { return Err(bad(format!("Step {step}: outputs must be a list."))) };
    for output in list {
        let field = |k: &str| output.get(k).and_then(Value::as_str);
        let (Some(name), Some(selector)) = (field("Name"), field("Selector")) else {
            return Err(bad(format!("Step {step}: each output needs a Name and a Selector.")));
        };
        if !selector.starts_with('$') {
            return Err(bad(format!("Step {step}: output {name}'s Selector {selector:?} must be a JSONPath from $.")));
        }
        let kind = field("Type").unwrap_or("String");
        if !OUTPUT_TYPES.contains(&kind) {
            return Err(bad(format!(
                "Step {step}: output {name} has type {kind}; outputs are one of {}.",
                OUTPUT_TYPES.join(", ")
            )));
        }
    }
    Ok(())
}

/// Refuses runbooks that can never end: steps whose only way on (nextStep, or the next step
/// listed) leads back to themselves without an aws:branch or isEnd on the way.
fn check_endless_loops(steps: &[Step], bodies: &[&Map<String, Value>]) -> Result<(), Fault> {
    let index = |name: &str| steps.iter().position(|s| s.name == name);
    let successor = |i: usize| -> Option<usize> {
        let body = bodies[i];
        if steps[i].action == "aws:branch" || body.get("isEnd").and_then(Value::as_bool) == Some(true) {
            return None;
        }
        match body.get("nextStep").and_then(Value::as_str) {
            Some(next) => index(next),
            None => Some(i + 1).filter(|n| *n < steps.len()),
        }
    };
    for start in 0..steps.len() {
        let mut path = vec![start];
        let mut at = start;
        while let Some(next) = successor(at) {
            if let Some(from) = path.iter().position(|p| *p == next) {
                let names: Vec<&str> = path[from..].iter().map(|i| steps[*i].name.as_str()).collect();
                return Err(bad(format!(
                    "Steps {} -> {} loop for ever: no aws:branch or isEnd on the way out.",
                    names.join(" -> "),
                    steps[next].name
                )));
            }
            path.push(next);
            at = next;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn checked(steps: Value) -> Result<Vec<Step>, Fault> {
        let doc = json!({"schemaVersion": "0.3", "mainSteps": steps});
        check(doc.as_object().unwrap())
    }

    fn sleep(name: &str) -> Value {
        json!({"name": name, "action": "aws:sleep", "inputs": {"Duration": "PT1S"}})
    }

    fn each(inputs: Value) -> Value {
        json!({"name": "each", "action": "aws:loop", "inputs": inputs})
    }

    #[test]
    fn loops_hold_their_own_steps() {
        let ok = checked(json!([each(json!({"Iterators": ["a", "b"], "Steps": [sleep("inner")]})), sleep("after")]));
        assert_eq!(ok.unwrap().len(), 2, "main steps only");
        let until = json!({"Variable": "{{ inner.Done }}", "BooleanEquals": true});
        assert!(checked(json!([each(json!({"LoopCondition": until, "MaxIterations": 3, "Steps": [sleep("inner")]}))]))
            .is_ok());
    }

    #[test]
    fn loops_are_refused_when_malformed() {
        let bad_inputs = [
            json!({"Steps": [sleep("inner")]}),
            json!({"Iterators": ["a"], "LoopCondition": {"Variable": "x", "StringEquals": "y"}, "Steps": [sleep("i")]}),
            json!({"Iterators": ["a"], "Steps": []}),
            json!({"Iterators": 5, "Steps": [sleep("i")]}),
            json!({"Iterators": (0..101).collect::<Vec<_>>(), "Steps": [sleep("i")]}),
            json!({"Iterators": ["a"], "MaxIterations": 0, "Steps": [sleep("i")]}),
            json!({"Iterators": ["a"], "IteratorDataType": "Float", "Steps": [sleep("i")]}),
            json!({"Iterators": ["a"], "Steps": [each(json!({"Iterators": ["b"], "Steps": [sleep("deep")]}))]}),
            json!({"Iterators": ["a"], "Steps": [sleep("each")]}),
        ];
        for inputs in bad_inputs {
            assert!(checked(json!([each(inputs.clone())])).is_err(), "{inputs}");
        }
    }

    #[test]
    fn cancellation_goes_to_a_cleanup_step() {
        let mut long = sleep("long");
        long["onCancel"] = json!("step:cleanup");
        let cleanup = json!({"name": "cleanup", "action": "aws:executeScript", "isEnd": true,
            "inputs": {"Runtime": "bash", "Script": "true"}});
        assert!(checked(json!([long.clone(), cleanup])).is_ok());
        assert!(checked(json!([long.clone(), sleep("cleanup")])).is_err(), "a sleep cannot clean up");
        long["onCancel"] = json!("step:nowhere");
        assert!(checked(json!([long.clone()])).is_err());
        long["onCancel"] = json!("Continue");
        assert!(checked(json!([long])).is_err());
    }

    #[test]
    fn change_templates_hold_approvals() {
        let approve = json!({"name": "ok", "action": "aws:approve", "inputs": {"Approvers": ["alice"]}});
        let template = |steps: Value, extra: Value| {
            let mut doc = json!({"schemaVersion": "0.3", "mainSteps": steps});
            doc.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            doc
        };
        let good = template(json!([approve]), json!({"executableRunBooks": [{"name": "Restart", "version": "1"}]}));
        assert!(check_template(good.as_object().unwrap()).is_ok());
        let sleeping = template(json!([sleep("s")]), json!({}));
        assert!(check_template(sleeping.as_object().unwrap()).is_err());
        let listed = template(json!([approve]), json!({"executableRunBooks": ["Restart"]}));
        assert!(check_template(listed.as_object().unwrap()).is_err());
        let flag = template(json!([approve]), json!({"autoApprovable": "yes"}));
        assert!(check_template(flag.as_object().unwrap()).is_err());
    }

    #[test]
    fn scripts_run_from_listed_files() {
        let sha = "ab".repeat(32);
        let script = json!({"name": "s", "action": "aws:executeScript",
            "inputs": {"Runtime": "python3.11", "Handler": "tool.main", "Attachment": "tool.zip"}});
        let doc = |files: Value| json!({"schemaVersion": "0.3", "mainSteps": [script.clone()], "files": files});
        let listed = doc(json!({"tool.zip": {"checksums": {"sha256": sha}}}));
        assert!(check(listed.as_object().unwrap()).is_ok());
        let other = doc(json!({"other.zip": {"checksums": {"sha256": sha}}}));
        assert!(check(other.as_object().unwrap()).is_err());
        let unhashed = doc(json!({"tool.zip": {"checksums": {}}}));
        assert!(check(unhashed.as_object().unwrap()).is_err());
    }

    #[test]
    fn steps_jump_only_within_their_list() {
        let mut into = sleep("before");
        into["nextStep"] = json!("inner");
        let body = json!({"Iterators": ["a"], "Steps": [sleep("inner")]});
        let err = checked(json!([into, each(body)])).unwrap_err();
        assert!(format!("{err:?}").contains("its own list"), "{err:?}");
        let mut out = sleep("inner");
        out["onFailure"] = json!("step:after");
        assert!(checked(json!([each(json!({"Iterators": ["a"], "Steps": [out]})), sleep("after")])).is_err());
        let mut round = sleep("inner");
        round["nextStep"] = json!("inner");
        assert!(checked(json!([each(json!({"Iterators": ["a"], "Steps": [round]}))])).is_err(), "endless");
    }
}

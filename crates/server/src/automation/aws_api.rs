//! The steps that call Steward's own API: `aws:executeAwsApi` (one call, outputs picked
//! from its answer), `aws:waitForAwsResourceProperty` (polls until a property holds one of
//! the desired values) and `aws:assertAwsResourceProperty` (one look; fails unless it does).
//!
//! Every call goes through [`OwnApi`] as the execution's principal. A call that only reads
//! (`Get…`, `Describe…`, `List…`) may be made again after a server dies mid-step; one that
//! changes something is recorded as started before it is made, and a server finding it
//! started by another process fails the step rather than make it twice.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use steward_api::ssm::automation::ParameterMap;
use steward_api::ApiError;

use super::outcome::{as_list, failed, Outcome};
use super::runbook::Step;
use super::{script, selector, OwnApi, StepRecord};
use crate::base::Ctx;

/// The services a runbook may call here.
pub const SERVICES: &[&str] = &["ssm", "kms", "iam", "sts", "sns", "resource-groups"];

/// How often `aws:waitForAwsResourceProperty` looks again.
const POLL_EVERY: Duration = Duration::from_secs(2);

/// Answers of changing calls made by this process, kept until the step's end is written
/// (a lost write must not make the call again), and when each waiting step last polled.
#[derive(Default)]
struct Memory {
    answers: HashMap<String, Result<Value, ApiError>>,
    polled: HashMap<String, Instant>,
}

fn memory() -> &'static Mutex<Memory> {
    static MEMORY: OnceLock<Mutex<Memory>> = OnceLock::new();
    MEMORY.get_or_init(Mutex::default)
}

/// Drops what this process remembers of a step's calls (its end is written).
pub fn forget(step_id: &str) {
    let mut m = memory().lock().expect("api memory");
    m.answers.remove(step_id);
    m.polled.remove(step_id);
}

/// Whether `api` only reads, so making it twice changes nothing.
pub fn reads_only(api: &str) -> bool {
    ["Get", "Describe", "List"].iter().any(|p| api.starts_with(p))
}

/// A step's call: the service, the operation and its input (the step's other inputs).
#[derive(Debug)]
struct Call {
    service: String,
    api: String,
    input: Value,
}

/// Reads the call out of a step's inputs, less the names of `reserved` inputs.
fn call_of(inputs: &Value, reserved: &[&str]) -> Result<Call, String> {
    let text = |k: &str| inputs[k].as_str().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    let service = text("Service").ok_or("The step needs a Service (ssm, kms, iam, sts, sns, resource-groups).")?;
    let service = service.to_ascii_lowercase();
    if !SERVICES.contains(&service.as_str()) {
        return Err(format!(
            "Service {service:?} is not one this server serves (ssm, kms, iam, sts, sns, resource-groups)."
        ));
    }
    let api =
        text("Api").ok_or("The step needs an Api, the operation to call (such as DescribeInstanceInformation).")?;
    // SDK method names (describe_instance_information) name the same operation.
    let api = if api.contains('_') {
        api.split('_')
            .map(|w| {
                let mut c = w.chars();
                c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
            })
            .collect()
    } else {
        let mut c = api.chars();
        c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
    };
    let mut input = Map::new();
    if let Value::Object(fields) = inputs {
        for (k, v) in fields {
            if !["Service", "Api"].contains(&k.as_str()) && !reserved.contains(&k.as_str()) {
                input.insert(k.clone(), v.clone());
            }
        }
    }
    Ok(Call { service, api, input: Value::Object(input) })
}

fn refusal(call: &Call, e: &ApiError) -> String {
    format!("{}.{} was refused: {}: {}", call.service, call.api, e.code(), e.message())
}

/// `aws:executeAwsApi`.
pub async fn execute(ctx: &Ctx, own: &impl OwnApi, step: &Step, record: &mut StepRecord) -> Outcome {
    let call = match call_of(&record.inputs, &[]) {
        Ok(c) => c,
        Err(why) => return failed(why),
    };
    let answer = if reads_only(&call.api) {
        own.call(ctx, &call.service, &call.api, call.input.clone()).await
    } else {
        match once(record, &call.api, || own.call(ctx, &call.service, &call.api, call.input.clone())).await {
            Some(answer) => answer,
            None if record.launched_by.as_deref() == Some(script::boot_id()) => {
                return Outcome::Wait { changed: true, effect: vec![] }
            }
            None => {
                return failed(format!(
                    "The server making the {} call stopped before its answer was recorded; a call that \
                     changes something is never made twice.",
                    call.api
                ))
            }
        }
    };
    let answer = match answer {
        Ok(a) => a,
        Err(e) => return failed(refusal(&call, &e)),
    };
    let mut outputs = ParameterMap::new();
    for (name, path, _) in &step.outputs {
        match selector::select(&answer, path) {
            Some(value) => {
                outputs.insert(name.clone(), as_list(&value));
            }
            None => return failed(format!("Output {name}: the answer of {} has nothing at {path}.", call.api)),
        }
    }
    Outcome::Done { outputs, next: None }
}

/// A call that changes something, made at most once: the first look records this process
/// as making it (None: write that first); the next makes it and keeps the answer until the
/// step's end is written; a record naming another process also gives None (its answer is
/// unknown: the caller fails the step).
async fn once<F, Fut>(record: &mut StepRecord, what: &str, call: F) -> Option<Result<Value, ApiError>>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<Value, ApiError>>,
{
    match record.launched_by.as_deref() {
        None => {
            forget(&record.id);
            record.launched_by = Some(script::boot_id().to_owned());
            None
        }
        Some(launcher) if launcher != script::boot_id() => {
            tracing::info!(step_execution_id = record.id, what, "A call started by another server is not made again.");
            None
        }
        Some(_) => {
            let known = memory().lock().expect("api memory").answers.get(&record.id).cloned();
            if known.is_some() {
                return known;
            }
            let answer = call().await;
            memory().lock().expect("api memory").answers.insert(record.id.clone(), answer.clone());
            Some(answer)
        }
    }
}

/// Resource types `aws:createTags` tags here (SSM's, less EC2).
const TAGGABLE: &[&str] = &["ManagedInstance", "MaintenanceWindow", "Parameter", "Document", "PatchBaseline"];

/// `aws:createTags`: ResourceIds of one ResourceType (default ManagedInstance) get Tags,
/// through AddTagsToResource as the execution's principal; made once, like any change.
pub async fn create_tags(ctx: &Ctx, own: &impl OwnApi, record: &mut StepRecord) -> Outcome {
    let kind = record.inputs["ResourceType"].as_str().unwrap_or("ManagedInstance").to_owned();
    if !TAGGABLE.contains(&kind.as_str()) {
        return failed(format!("ResourceType {kind} is not one Steward tags ({}).", TAGGABLE.join(", ")));
    }
    let ids: Vec<String> = match &record.inputs["ResourceIds"] {
        Value::Array(items) => items.iter().flat_map(as_list).collect(),
        Value::String(s) => vec![s.clone()],
        _ => vec![],
    };
    let tags = record.inputs["Tags"].clone();
    if ids.is_empty() || !tags.is_array() {
        return failed("aws:createTags needs ResourceIds and Tags ([{\"Key\": …, \"Value\": …}]).");
    }
    let tag_all = || async {
        for id in &ids {
            let input = serde_json::json!({"ResourceType": kind, "ResourceId": id, "Tags": tags});
            own.call(ctx, "ssm", "AddTagsToResource", input).await?;
        }
        Ok(Value::Null)
    };
    match once(record, "AddTagsToResource", tag_all).await {
        Some(Ok(_)) => Outcome::Done { outputs: ParameterMap::new(), next: None },
        Some(Err(e)) => failed(format!("AddTagsToResource was refused: {}: {}", e.code(), e.message())),
        None if record.launched_by.as_deref() == Some(script::boot_id()) => {
            Outcome::Wait { changed: true, effect: vec![] }
        }
        None => failed("The server tagging stopped before it recorded the result; tags are never applied twice."),
    }
}

/// What a property check reads: the call, the selector, the values wanted.
fn check_of(inputs: &Value) -> Result<(Call, String, Vec<String>), String> {
    let call = call_of(inputs, &["PropertySelector", "DesiredValues"])?;
    if !reads_only(&call.api) {
        return Err(format!(
            "{} changes something; property checks call operations that only read (Get…, Describe…, List…).",
            call.api
        ));
    }
    let selector = inputs["PropertySelector"].as_str().filter(|s| !s.trim().is_empty());
    let selector = selector.ok_or("The step needs a PropertySelector, a JSONPath into the answer.")?.to_owned();
    let desired: Vec<String> = match &inputs["DesiredValues"] {
        Value::Array(items) => items.iter().flat_map(as_list).collect(),
        Value::Null => vec![],
        other => as_list(other),
    };
    if desired.is_empty() {
        return Err("The step needs DesiredValues, the values the property may hold.".into());
    }
    Ok((call, selector, desired))
}

/// Looks at the property once: whether it holds a desired value (every item of it, when
/// the selector picks a list), and what it was.
async fn property_holds(ctx: &Ctx, own: &impl OwnApi, inputs: &Value) -> Result<(bool, Vec<String>), String> {
    let (call, path, desired) = check_of(inputs)?;
    let answer = own.call(ctx, &call.service, &call.api, call.input.clone()).await.map_err(|e| refusal(&call, &e))?;
    let found = selector::select(&answer, &path).map(|v| as_list(&v)).unwrap_or_default();
    let holds = !found.is_empty() && found.iter().all(|f| desired.contains(f));
    Ok((holds, found))
}

/// `aws:assertAwsResourceProperty`.
pub async fn assert(ctx: &Ctx, own: &impl OwnApi, record: &StepRecord) -> Outcome {
    match property_holds(ctx, own, &record.inputs).await {
        Ok((true, _)) => Outcome::Done { outputs: ParameterMap::new(), next: None },
        Ok((false, found)) => {
            let wanted = check_of(&record.inputs).map(|(_, _, d)| d).unwrap_or_default();
            failed(format!("The property is {found:?}, not one of the desired values {wanted:?}."))
        }
        Err(why) => failed(why),
    }
}

/// `aws:waitForAwsResourceProperty`: polls every few seconds until the property holds
/// (the step's timeoutSeconds, an hour by default, bounds the wait).
pub async fn wait_for(ctx: &Ctx, own: &impl OwnApi, record: &StepRecord) -> Outcome {
    {
        let mut m = memory().lock().expect("api memory");
        let now = Instant::now();
        if m.polled.get(&record.id).is_some_and(|at| now.duration_since(*at) < POLL_EVERY) {
            return Outcome::Wait { changed: false, effect: vec![] };
        }
        m.polled.insert(record.id.clone(), now);
    }
    match property_holds(ctx, own, &record.inputs).await {
        Ok((true, _)) => Outcome::Done { outputs: ParameterMap::new(), next: None },
        Ok((false, _)) => Outcome::Wait { changed: false, effect: vec![] },
        Err(why) => failed(why),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_call_reads_service_api_and_the_rest_as_input() {
        let c = call_of(&json!({"Service": "SSM", "Api": "get_parameter", "Name": "/x"}), &[]).unwrap();
        assert_eq!((c.service.as_str(), c.api.as_str()), ("ssm", "GetParameter"));
        assert_eq!(c.input, json!({"Name": "/x"}));
        assert!(call_of(&json!({"Service": "ec2", "Api": "DescribeInstances"}), &[]).unwrap_err().contains("ec2"));
        assert!(call_of(&json!({"Service": "ssm"}), &[]).is_err());
    }

    #[test]
    fn checks_read_only_and_need_what_they_compare() {
        let ok = json!({"Service": "ssm", "Api": "DescribeInstanceInformation",
                        "PropertySelector": "$.X", "DesiredValues": ["Online"]});
        let (c, s, d) = check_of(&ok).unwrap();
        assert_eq!((c.input, s, d), (json!({}), "$.X".to_owned(), vec!["Online".to_owned()]));
        let mut changing = ok.clone();
        changing["Api"] = json!("DeleteParameter");
        assert!(check_of(&changing).unwrap_err().contains("changes"));
        let mut none = ok;
        none["DesiredValues"] = json!([]);
        assert!(check_of(&none).is_err());
    }
}

//! SendCommand.

use std::collections::BTreeMap;

use serde_json::Value;
use steward_api::ssm::commands::{SendCommandRequest, SendCommandResponse};
use steward_api::ApiError;
use steward_core::documents::content::{self, Format};
use steward_core::documents::interpolate::{self, Reference};
use steward_core::documents::{params, schema};
use steward_protocol::PluginRun;
use steward_store::Op;

use super::*;
use crate::base::Ctx;
use crate::base::{encode, fault, store_fault, write_staged};
use crate::documents;
use crate::fleet::target_nodes;
use crate::fleet::NodeRecord;

fn invalid_parameters(message: impl Into<String>) -> ApiError {
    ApiError::new("InvalidParameters", message)
}

/// Replaces `{{ssm:NAME}}` references in parameter values with Parameter Store values.
async fn resolve_ssm(
    ctx: &Ctx,
    given: BTreeMap<String, Vec<String>>,
) -> Result<BTreeMap<String, Vec<String>>, ApiError> {
    let mut out = BTreeMap::new();
    for (name, values) in given {
        let mut resolved = Vec::with_capacity(values.len());
        for value in values {
            let refs: Vec<String> = interpolate::references(&Value::String(value.clone()))
                .into_iter()
                .filter_map(|r| match r {
                    Reference::Ssm(n) => Some(n),
                    _ => None,
                })
                .collect();
            let mut substitutions = BTreeMap::new();
            for parameter in refs {
                let found = crate::parameters::find(ctx, &parameter).await.ok().flatten();
                let Some((record, _)) = found else {
                    return Err(invalid_parameters(format!("Input contains invalid parameters [{parameter}].")));
                };
                // The caller reads the value through the command: they must be allowed to.
                let arn = crate::base::arn::parameter_arn(&ctx.principal, &record.name);
                ctx.authorize("ssm:GetParameter", &[arn], |r| r).await?;
                if record.kind == "SecureString" {
                    return Err(invalid_parameters(format!(
                        "Parameters [{parameter}] of type SecureString are not supported; use {{{{ssm-secure:{parameter}}}}}."
                    )));
                }
                substitutions.insert(format!("ssm:{parameter}"), Value::String(record.value));
            }
            match interpolate::apply(&Value::String(value.clone()), &substitutions) {
                Value::String(s) => resolved.push(s),
                _ => resolved.push(value),
            }
        }
        out.insert(name, resolved);
    }
    Ok(out)
}

/// The steps of a Command document with parameters substituted.
fn steps(tree: &Value, schema_version: &str, values: &BTreeMap<String, Value>) -> Vec<PluginRun> {
    let mut runs = Vec::new();
    if schema_version.starts_with("1.") {
        for (plugin, body) in tree["runtimeConfig"].as_object().into_iter().flatten() {
            let properties = match &body["properties"] {
                Value::Array(items) => items.clone(),
                other => vec![other.clone()],
            };
            let count = properties.len();
            for (i, props) in properties.iter().enumerate() {
                let name = if count == 1 { plugin.clone() } else { format!("{plugin}.{i}") };
                runs.push(PluginRun {
                    name,
                    action: plugin.clone(),
                    inputs: interpolate::apply(props, values),
                    precondition_platform: None,
                });
            }
        }
    } else {
        for step in tree["mainSteps"].as_array().into_iter().flatten() {
            let precondition = step["precondition"]["StringEquals"]
                .as_array()
                .filter(|ops| ops.first().and_then(Value::as_str) == Some("platformType"))
                .and_then(|ops| ops.get(1))
                .map(|v| interpolate::apply(v, values))
                .and_then(|v| v.as_str().map(str::to_owned));
            runs.push(PluginRun {
                name: step["name"].as_str().unwrap_or_default().to_owned(),
                action: step["action"].as_str().unwrap_or_default().to_owned(),
                inputs: interpolate::apply(&step["inputs"], values),
                precondition_platform: precondition,
            });
        }
    }
    runs
}

/// How deep `aws:runDocument` may nest documents.
const MAX_NESTING: usize = 3;

/// Document types Run Command runs.
const RUN_COMMAND_TYPES: &[&str] = &["Command"];
/// Document types State Manager runs: Policy documents (such as
/// AWS-GatherSoftwareInventory) only through associations, as in SSM.
const ASSOCIATION_TYPES: &[&str] = &["Command", "Policy"];

/// A Command (or, for `types` that allow it, Policy) document's steps for `parameters`,
/// with nested `aws:runDocument` steps expanded (their steps travel in the step's `steps`
/// input, run by the agent in order).
async fn document_steps(
    ctx: &Ctx,
    name: &str,
    version: Option<&str>,
    hash: Option<&str>,
    given: BTreeMap<String, Vec<String>>,
    depth: usize,
    types: &[&str],
) -> Result<(Vec<PluginRun>, BTreeMap<String, Value>), ApiError> {
    let found = documents::find(ctx, name).await?;
    if !types.contains(&found.head.doc_type.as_str()) {
        let why = if found.head.doc_type == "Policy" {
            format!("{name} is a Policy document; it runs through State Manager associations, not Run Command.")
        } else {
            format!("{name} is a {} document; Run Command runs Command documents.", found.head.doc_type)
        };
        return Err(ApiError::new("InvalidDocument", why));
    }
    let number = documents::select(&found.head, version, None)?;
    let version = documents::load_version(ctx, &found.head, number).await?;
    if let Some(hash) = hash {
        if *hash != version.hash {
            return Err(ApiError::new("InvalidDocument", "The document hash does not match the document's content."));
        }
    }
    let format = Format::parse(&version.format).unwrap_or(Format::Json);
    let tree = content::parse(&version.content, format).map_err(fault)?;
    let analysis = schema::analyze(&found.head.doc_type, &tree).map_err(fault)?;
    let given = resolve_ssm(ctx, given).await?;
    let values = params::resolve(&analysis.parameters, &given).map_err(fault)?;
    let mut plugins = steps(&tree, &analysis.schema_version, &values);
    for plugin in plugins.iter_mut().filter(|p| p.action == "aws:runDocument") {
        if plugin.inputs["documentType"].as_str().unwrap_or("SSMDocument") != "SSMDocument" {
            // LocalPath documents are read on the node.
            continue;
        }
        if depth >= MAX_NESTING {
            return Err(ApiError::new(
                "InvalidDocument",
                format!("aws:runDocument nests documents more than {MAX_NESTING} deep (step {}).", plugin.name),
            ));
        }
        // A name, or AWS-RunDocument's sourceInfo map `{"name": …}`.
        let path = match &plugin.inputs["documentPath"] {
            Value::Object(info) => info.get("name").and_then(Value::as_str),
            other => other.as_str(),
        };
        let Some(path) = path.filter(|p| !p.is_empty()) else {
            return Err(invalid_parameters(format!("Step {} (aws:runDocument) needs documentPath.", plugin.name)));
        };
        let nested_given = nested_parameters(&plugin.inputs["documentParameters"])
            .map_err(|why| invalid_parameters(format!("Step {}: {why}", plugin.name)))?;
        let path = path.to_owned();
        let (nested, _) =
            Box::pin(document_steps(ctx, &path, None, None, nested_given, depth + 1, RUN_COMMAND_TYPES)).await?;
        plugin.inputs["steps"] = serde_json::to_value(&nested).expect("steps serialise");
    }
    for plugin in plugins.iter_mut() {
        match plugin.action.as_str() {
            super::packages::ACTION => super::packages::resolve(ctx, plugin).await?,
            super::packages::UPDATE_ACTION => super::packages::resolve_update(ctx, plugin).await?,
            _ => {}
        }
    }
    Ok((plugins, values))
}

/// Checks that `name` (at `version`) is a document an association runs (Command or Policy)
/// that `parameters` satisfy, as a run would find it.
pub async fn check_document(
    ctx: &Ctx,
    name: &str,
    version: Option<&str>,
    parameters: BTreeMap<String, Vec<String>>,
) -> Result<(), ApiError> {
    document_steps(ctx, name, version, None, parameters, 1, ASSOCIATION_TYPES).await.map(|_| ())
}

/// `documentParameters` of `aws:runDocument`: an object or a JSON string of one, whose
/// values are strings or lists of strings.
fn nested_parameters(raw: &Value) -> Result<BTreeMap<String, Vec<String>>, String> {
    let parsed;
    let object = match raw {
        Value::Null => return Ok(BTreeMap::new()),
        Value::String(s) if s.trim().is_empty() => return Ok(BTreeMap::new()),
        Value::String(s) => {
            parsed = serde_json::from_str::<Value>(s).map_err(|_| "documentParameters is not a JSON object.")?;
            &parsed
        }
        other => other,
    };
    let object = object.as_object().ok_or("documentParameters must be an object.")?;
    object
        .iter()
        .map(|(k, v)| {
            let values = match v {
                Value::String(s) => vec![s.clone()],
                Value::Array(items) => items
                    .iter()
                    .map(|i| i.as_str().map(str::to_owned).ok_or(format!("documentParameters.{k} must hold strings.")))
                    .collect::<Result<_, _>>()?,
                Value::Number(_) | Value::Bool(_) => vec![v.to_string()],
                _ => return Err(format!("documentParameters.{k} must be a string or a list of strings.")),
            };
            Ok((k.clone(), values))
        })
        .collect()
}

/// SendCommand.
pub async fn send_command(ctx: Ctx, req: SendCommandRequest) -> Result<SendCommandResponse, ApiError> {
    let Planned { command, invocations, commit } = plan(&ctx, &req, None, None).await?;
    write_staged(&*ctx.env.store, invocations, commit).await.map_err(store_fault)?;
    ctx.env.wake.dispatcher();
    Ok(SendCommandResponse { command: query::to_wire(&command) })
}

/// A command ready to be stored.
pub struct Planned {
    /// The command.
    pub command: CommandRecord,
    /// One invocation per node: found only through the command, so they may be written
    /// ahead of it when a fleet is larger than one store batch (`base::write_staged`).
    pub invocations: Vec<Op>,
    /// The command record and its entry in the active index: the write that makes it real.
    pub commit: Vec<Op>,
}

/// Checks a NotificationConfig and records who its notifications are published as: the
/// caller now (`sns:Publish` is checked as them, or as the service role, each time).
/// NotificationArn must be an SNS topic of the caller's account and region: the server
/// never posts to a URL a caller names.
async fn notification_publisher(
    ctx: &Ctx,
    config: &steward_api::ssm::commands::NotificationConfig,
    service_role: Option<&str>,
    scheduled: bool,
) -> Result<crate::base::RunAs, ApiError> {
    let arn = config.notification_arn.as_deref().unwrap_or_default();
    let p = &ctx.principal;
    match crate::sns::parse_topic_arn(arn) {
        Some(topic) if topic.account == p.account && topic.region == p.region => {}
        Some(_) => {
            return Err(ApiError::validation("NotificationArn must name an SNS topic of this account and region."))
        }
        None => {
            return Err(ApiError::validation(format!(
                "NotificationArn must be the ARN of an SNS topic (arn:aws:sns:REGION:ACCOUNT:NAME), not {arn:?}: \
                 create one with `aws sns create-topic` and subscribe your endpoint to it."
            )))
        }
    }
    // Work scheduled for someone had its role passed when it was set up.
    if let (Some(role), false) = (service_role, scheduled) {
        ctx.pass_role(role).await?;
    }
    crate::base::RunAs::of(ctx).await
}

/// A command for `req` and the writes that store it with its invocations, for SendCommand
/// and for the work State Manager and maintenance windows start (`origin`).
pub async fn plan(
    ctx: &Ctx,
    req: &SendCommandRequest,
    origin: Option<Origin>,
    resolved: Option<Vec<NodeRecord>>,
) -> Result<Planned, ApiError> {
    let ids = req.instance_ids.clone().unwrap_or_default();
    let targets = req.targets.clone().unwrap_or_default();
    if ids.is_empty() == targets.is_empty() {
        return Err(ApiError::validation("Specify either InstanceIds or Targets, not both and not neither."));
    }
    // Whoever sends (a caller, an association, a window task) writes output only where a
    // caller may: never into the server's own buckets.
    if let Some(bucket) = req.output_s3_bucket_name.as_deref().filter(|b| !b.is_empty()) {
        crate::base::check_user_bucket(bucket).map_err(|why| ApiError::new("InvalidOutputFolder", why))?;
    }
    let notify_as = match &req.notification_config {
        Some(n) => Some(notification_publisher(ctx, n, req.service_role_arn.as_deref(), origin.is_some()).await?),
        None => None,
    };
    let (plugins, values) = document_steps(
        ctx,
        &req.document_name,
        req.document_version.as_deref(),
        req.document_hash.as_deref(),
        req.parameters.clone().unwrap_or_default(),
        1,
        if origin.as_ref().is_some_and(|o| o.kind == "Association") { ASSOCIATION_TYPES } else { RUN_COMMAND_TYPES },
    )
    .await?;
    let execution_timeout = values
        .get("executionTimeout")
        .and_then(|v| v.as_str().and_then(|s| s.parse().ok()).or_else(|| v.as_u64()))
        .unwrap_or(3600);
    let nodes = match resolved {
        Some(nodes) => nodes,
        None => {
            let p = &ctx.principal;
            crate::groups::check_targets(ctx, &targets).await?;
            let targets = crate::groups::as_node_targets(&*ctx.env.store, &p.account, &p.region, &targets).await?;
            target_nodes(ctx, &ids, &targets).await?
        }
    };
    // SendCommand's explicit ids were checked before the call. Targets name nodes only now,
    // and work started later on someone's behalf (`origin`) is checked as them, now: the
    // document and every node it reaches.
    if origin.is_some() || !targets.is_empty() {
        let p = &ctx.principal;
        let mut arns = vec![crate::base::arn::document_arn(p, &req.document_name)];
        arns.extend(nodes.iter().map(|n| crate::base::arn::node_arn(p, &n.instance_id)));
        ctx.authorize("ssm:SendCommand", &arns, |r| r).await?;
    }
    let p = &ctx.principal;
    let now = ctx.env.now();
    let command_id = uuid::Uuid::new_v4().to_string();
    let record = CommandRecord {
        command_id: command_id.clone(),
        account: p.account.clone(),
        region: p.region.clone(),
        document_name: req.document_name.clone(),
        document_version: req.document_version.clone().unwrap_or_else(|| "$DEFAULT".into()),
        comment: req.comment.clone().unwrap_or_default(),
        parameters: req.parameters.clone().unwrap_or_default(),
        instance_ids: ids,
        targets,
        requested: now,
        timeout_seconds: req.timeout_seconds.unwrap_or(3600),
        notification: req.notification_config.clone(),
        max_concurrency: req.max_concurrency.clone().unwrap_or_else(|| "50".into()),
        max_errors: req.max_errors.clone().unwrap_or_else(|| "0".into()),
        plugins: plugins.clone(),
        execution_timeout_seconds: execution_timeout,
        output_bucket: req.output_s3_bucket_name.clone().unwrap_or_default(),
        output_prefix: req.output_s3_key_prefix.clone().unwrap_or_default(),
        service_role: req.service_role_arn.clone().unwrap_or_default(),
        notify_as,
        status: if nodes.is_empty() { "Success".into() } else { "Pending".into() },
        target_count: nodes.len() as i64,
        completed_count: 0,
        error_count: 0,
        delivery_timed_out_count: 0,
        origin,
    };
    let mut commit = vec![Op::put(command_key(&p.account, &p.region, &command_id), encode(&record)).if_absent()];
    let mut invocations = Vec::with_capacity(nodes.len());
    for node in &nodes {
        let invocation = InvocationRecord {
            command_id: command_id.clone(),
            instance_id: node.instance_id.clone(),
            instance_name: node.name.clone(),
            status: "Pending".into(),
            status_details: "Pending".into(),
            sent_on: 0,
            sent_via: String::new(),
            sent_at: 0,
            acked: false,
            plugins: plugins
                .iter()
                .map(|pl| PluginOutcome { name: pl.name.clone(), status: "Pending".into(), ..Default::default() })
                .collect(),
        };
        invocations
            .push(Op::put(invocation_key(&p.account, &p.region, &command_id, &node.instance_id), encode(&invocation)));
    }
    if !nodes.is_empty() {
        commit.push(Op::put(active_key(&p.account, &p.region, &command_id), b"{}".to_vec()));
    }
    Ok(Planned { command: record, invocations, commit })
}

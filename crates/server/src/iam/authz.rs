//! The check every API call passes: the IAM action and resource ARNs of the operation,
//! the request context, and the caller's policies. The root of an account passes always.

use serde_json::Value;
use steward_api::model::Service;
use steward_api::ApiError;
use steward_core::iam::eval::{evaluate, Decision, Request};

use super::subject_of;
use crate::dispatch::Ctx;
use crate::state::{Identity, Principal};

/// `AccessDeniedException` (JSON APIs answer 400) with IAM's wording.
pub fn denied(principal: &Principal, action: &str, resource: &str, explicit: bool) -> ApiError {
    let why = if explicit {
        "with an explicit deny in an identity-based policy".to_owned()
    } else {
        format!("because no identity-based policy allows the {action} action")
    };
    ApiError::new(
        "AccessDeniedException",
        format!("User: {} is not authorized to perform: {action} on resource: {resource} {why}", principal.arn),
    )
}

/// The ARN of a parameter named `name` (a name, or already an ARN; selectors dropped).
pub fn parameter_arn(p: &Principal, name: &str) -> String {
    if name.starts_with("arn:") {
        return name.to_owned();
    }
    let bare = name.split(':').next().unwrap_or(name);
    format!("arn:aws:ssm:{}:{}:parameter/{}", p.region, p.account, bare.trim_start_matches('/'))
}

/// The ARN of a document (built-in `AWS-*` documents belong to no account).
pub fn document_arn(p: &Principal, name: &str) -> String {
    if name.starts_with("arn:") {
        return name.to_owned();
    }
    let account = if name.starts_with("AWS-") || name.starts_with("AWSSupport-") || name.starts_with("SSM-") {
        ""
    } else {
        p.account.as_str()
    };
    format!("arn:aws:ssm:{}:{account}:document/{name}", p.region)
}

/// The ARN of a managed node.
pub fn node_arn(p: &Principal, instance_id: &str) -> String {
    format!("arn:aws:ssm:{}:{}:managed-instance/{instance_id}", p.region, p.account)
}

/// The ARN of an association.
pub fn association_arn(p: &Principal, id: &str) -> String {
    format!("arn:aws:ssm:{}:{}:association/{id}", p.region, p.account)
}

/// An association named by id, or (legacy form) by document and node.
fn association_resources(p: &Principal, input: &Value) -> Vec<String> {
    if let Some(id) = input["AssociationId"].as_str() {
        let mut out = vec![association_arn(p, id)];
        out.extend(input["Name"].as_str().map(|n| document_arn(p, n)));
        return out;
    }
    let mut out: Vec<String> = input["Name"].as_str().map(|n| document_arn(p, n)).into_iter().collect();
    out.extend(input["InstanceId"].as_str().map(|i| node_arn(p, i)));
    out
}

fn kms_arn(p: &Principal, key: &str) -> String {
    if key.starts_with("arn:") {
        key.to_owned()
    } else if key.starts_with("alias/") {
        format!("arn:aws:kms:{}:{}:{key}", p.region, p.account)
    } else {
        format!("arn:aws:kms:{}:{}:key/{key}", p.region, p.account)
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect()
}

/// The resources an operation acts on, from its (validated) input.
pub fn resources(p: &Principal, service: Service, op: &str, input: &Value) -> Vec<String> {
    let name = input["Name"].as_str();
    let list = match (service, op) {
        (Service::Ssm, "GetParameters" | "DeleteParameters") => {
            strings(&input["Names"]).iter().map(|n| parameter_arn(p, n)).collect()
        }
        (Service::Ssm, "GetParametersByPath") => vec![parameter_arn(p, input["Path"].as_str().unwrap_or("/"))],
        (
            Service::Ssm,
            "PutParameter"
            | "GetParameter"
            | "GetParameterHistory"
            | "DeleteParameter"
            | "LabelParameterVersion"
            | "UnlabelParameterVersion",
        ) => name.map(|n| vec![parameter_arn(p, n)]).unwrap_or_default(),
        (
            Service::Ssm,
            "CreateDocument"
            | "GetDocument"
            | "DescribeDocument"
            | "UpdateDocument"
            | "UpdateDocumentDefaultVersion"
            | "DeleteDocument"
            | "ListDocumentVersions"
            | "ModifyDocumentPermission"
            | "DescribeDocumentPermission",
        ) => name.map(|n| vec![document_arn(p, n)]).unwrap_or_default(),
        (Service::Ssm, "SendCommand") => {
            let mut out = vec![document_arn(p, input["DocumentName"].as_str().unwrap_or_default())];
            // Targets resolve to nodes inside SendCommand, which checks each of them.
            out.extend(strings(&input["InstanceIds"]).iter().map(|i| node_arn(p, i)));
            out
        }
        (
            Service::Ssm,
            "CreateAssociation"
            | "DescribeAssociation"
            | "UpdateAssociation"
            | "DeleteAssociation"
            | "UpdateAssociationStatus"
            | "ListAssociationVersions"
            | "DescribeAssociationExecutions"
            | "DescribeAssociationExecutionTargets",
        ) => association_resources(p, input),
        (Service::Ssm, "CreateAssociationBatch") => input["Entries"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|entry| association_resources(p, entry))
            .collect(),
        (Service::Ssm, "StartAssociationsOnce") => {
            strings(&input["AssociationIds"]).iter().map(|id| association_arn(p, id)).collect()
        }
        (Service::Ssm, "DescribeInstanceAssociationsStatus" | "DescribeEffectiveInstanceAssociations") => {
            vec![node_arn(p, input["InstanceId"].as_str().unwrap_or_default())]
        }
        (Service::Ssm, op) if op.contains("MaintenanceWindow") && input["WindowId"].is_string() => {
            vec![format!(
                "arn:aws:ssm:{}:{}:maintenancewindow/{}",
                p.region,
                p.account,
                input["WindowId"].as_str().unwrap_or_default()
            )]
        }
        (Service::Ssm, "StartSession") => vec![
            node_arn(p, input["Target"].as_str().unwrap_or_default()),
            document_arn(p, input["DocumentName"].as_str().unwrap_or(crate::sessions::api::DEFAULT_DOCUMENT)),
        ],
        (Service::Ssm, "GetConnectionStatus") => vec![node_arn(p, input["Target"].as_str().unwrap_or_default())],
        (Service::Ssm, "ResumeSession" | "TerminateSession") => vec![format!(
            "arn:aws:ssm:{}:{}:session/{}",
            p.region,
            p.account,
            input["SessionId"].as_str().unwrap_or_default()
        )],
        (Service::Ssm, "PutComplianceItems") => vec![node_arn(p, input["ResourceId"].as_str().unwrap_or_default())],
        (Service::Ssm, "DeregisterManagedInstance" | "UpdateManagedInstanceRole") => {
            vec![node_arn(p, input["InstanceId"].as_str().unwrap_or_default())]
        }
        (Service::Ssm, "AddTagsToResource" | "RemoveTagsFromResource" | "ListTagsForResource") => {
            let id = input["ResourceId"].as_str().unwrap_or_default();
            match input["ResourceType"].as_str() {
                Some("Parameter") => vec![parameter_arn(p, id)],
                Some("Document") => vec![document_arn(p, id)],
                Some("ManagedInstance") => vec![node_arn(p, id)],
                _ => vec!["*".into()],
            }
        }
        (Service::Kms, _) => match input["KeyId"].as_str().or(input["TargetKeyId"].as_str()) {
            Some(key) => vec![kms_arn(p, key)],
            // Decrypt names its key inside the ciphertext.
            None if op == "Decrypt" => {
                use base64::Engine;
                let blob = base64::engine::general_purpose::STANDARD
                    .decode(input["CiphertextBlob"].as_str().unwrap_or_default())
                    .unwrap_or_default();
                match crate::kms::Keyring::key_id_of(&blob) {
                    Some(id) => vec![kms_arn(p, id)],
                    None => vec!["*".into()],
                }
            }
            None if op == "CreateAlias" || op == "DeleteAlias" => {
                vec![kms_arn(p, input["AliasName"].as_str().unwrap_or("alias/"))]
            }
            None => vec!["*".into()],
        },
        _ => vec!["*".into()],
    };
    if list.is_empty() {
        vec!["*".into()]
    } else {
        list
    }
}

/// Context keys the operation's input supplies.
fn input_context(service: Service, op: &str, input: &Value, request: Request) -> Request {
    let mut request = request;
    if service == Service::Ssm && op == "GetParametersByPath" {
        request = request.with("ssm:Recursive", [input["Recursive"].as_bool().unwrap_or(false).to_string()]);
    }
    if service == Service::Ssm && op == "PutParameter" {
        request = request.with("ssm:Overwrite", [input["Overwrite"].as_bool().unwrap_or(false).to_string()]);
    }
    let tags: Vec<(String, String)> = input["Tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| Some((t["Key"].as_str()?.to_owned(), t["Value"].as_str().unwrap_or_default().to_owned())))
        .collect();
    if !tags.is_empty() {
        request = request.with("aws:TagKeys", tags.iter().map(|(k, _)| k.clone()));
        for (k, v) in tags {
            request = request.with(&format!("aws:RequestTag/{k}"), [v]);
        }
    }
    request
}

/// The tags of the resource an ARN names (parameters, documents, nodes of the caller's
/// account), for `aws:ResourceTag/…` and `ssm:resourceTag/…`.
async fn resource_tags(ctx: &Ctx, arn: &str) -> Vec<(String, String)> {
    let p = &ctx.principal;
    let own = format!("arn:aws:ssm:{}:{}:", p.region, p.account);
    let Some(resource) = arn.strip_prefix(&own) else { return Vec::new() };
    if let Some(id) = resource.strip_prefix("managed-instance/") {
        return crate::fleet::nodes::load_node(ctx, id).await.ok().flatten().map(|(n, _)| n.tags).unwrap_or_default();
    }
    if resource.starts_with("association/") || resource.starts_with("maintenancewindow/") {
        let (kind, id) = resource.split_once('/').unwrap_or_default();
        let key = match kind {
            "association" => crate::associations::association_key(&p.account, &p.region, id),
            _ => crate::windows::window_key(&p.account, &p.region, id),
        };
        let Ok(Some(item)) = ctx.state.store.get(&key).await else { return Vec::new() };
        let tags = serde_json::from_slice::<serde_json::Value>(&item.value).ok().map(|v| v["tags"].clone());
        return serde_json::from_value(tags.unwrap_or_default()).unwrap_or_default();
    }
    if let Some(name) = resource.strip_prefix("document/") {
        return crate::documents::load_head(ctx, &p.account, name)
            .await
            .ok()
            .flatten()
            .map(|(d, _)| d.tags)
            .unwrap_or_default();
    }
    if let Some(name) = resource.strip_prefix("parameter/") {
        for candidate in [format!("/{name}"), name.to_owned()] {
            if let Ok(Some((head, _))) = crate::parameters::load_head(ctx, &candidate).await {
                return head.tags;
            }
        }
    }
    Vec::new()
}

/// `iam:PassRole` on `role` (a role name, with or without a path, or a role ARN): handing a
/// role to work that acts as it later (an activation's nodes, a window task) needs it, or
/// anyone allowed to set that up could act as any role.
pub async fn pass_role(ctx: &Ctx, role: &str) -> Result<(), ApiError> {
    let arn = if role.starts_with("arn:") {
        role.to_owned()
    } else {
        format!("arn:aws:iam::{}:role/{}", ctx.principal.account, role.trim_start_matches('/'))
    };
    authorize(ctx, "iam:PassRole", &[arn], |r| r).await
}

/// Allows or refuses `action` on each of `resources` for the caller. `input_keys` adds
/// context from the request body.
pub async fn authorize(
    ctx: &Ctx,
    action: &str,
    resources: &[String],
    extra: impl Fn(Request) -> Request,
) -> Result<(), ApiError> {
    let p = &ctx.principal;
    if p.is_root() {
        return Ok(());
    }
    let subject = subject_of(ctx, p).await?;
    let now = steward_api::time::format_iso8601(ctx.state.now() / 1000);
    for resource in resources {
        // Same caller, same IAM generation, no request-dependent condition: same answer.
        if let Some(decision) = subject.remembered(action, resource, &p.region) {
            match decision {
                Decision::Allow => continue,
                Decision::ExplicitDeny => return Err(denied(p, action, resource, true)),
                Decision::ImplicitDeny => return Err(denied(p, action, resource, false)),
            }
        }
        let mut request = Request::new(action, resource.clone())
            .with("aws:PrincipalArn", [p.arn.clone()])
            .with("aws:PrincipalAccount", [p.account.clone()])
            .with("aws:userid", [subject.user_id.clone()])
            .with("aws:CurrentTime", [now.clone()])
            .with("aws:SecureTransport", [ctx.state.secure_transport.to_string()])
            .with("aws:RequestedRegion", [p.region.clone()]);
        if let Identity::User(name) = &p.identity {
            request = request.with("aws:username", [name.clone()]);
        }
        if let Some(ip) = p.source_ip {
            request = request.with("aws:SourceIp", [ip.to_string()]);
        }
        for (k, v) in &subject.tags {
            request = request.with(&format!("aws:PrincipalTag/{k}"), [v.clone()]);
        }
        if subject.uses_resource_tags && resource != "*" {
            for (k, v) in resource_tags(ctx, resource).await {
                request = request.with(&format!("aws:ResourceTag/{k}"), [v.clone()]);
                request = request.with(&format!("ssm:resourceTag/{k}"), [v]);
            }
        }
        let request = extra(request);
        let decision = evaluate(subject.each(), &request);
        subject.remember(action, resource, &p.region, decision);
        match decision {
            Decision::Allow => {}
            Decision::ExplicitDeny => return Err(denied(p, action, resource, true)),
            Decision::ImplicitDeny => return Err(denied(p, action, resource, false)),
        }
    }
    Ok(())
}

/// The check before an SSM or KMS operation runs.
pub async fn check_operation(ctx: &Ctx, service: Service, op: &str, input: &Value) -> Result<(), ApiError> {
    if ctx.principal.is_root() {
        return Ok(());
    }
    let action = format!("{}:{op}", service.signing_name());
    let resources = resources(&ctx.principal, service, op, input);
    authorize(ctx, &action, &resources, |r| input_context(service, op, input, r)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_arns() {
        let p = Principal::root("123456789012", "eu-west-1");
        assert_eq!(parameter_arn(&p, "/app/dev/x"), "arn:aws:ssm:eu-west-1:123456789012:parameter/app/dev/x");
        assert_eq!(parameter_arn(&p, "plain:3"), "arn:aws:ssm:eu-west-1:123456789012:parameter/plain");
        assert_eq!(document_arn(&p, "AWS-RunShellScript"), "arn:aws:ssm:eu-west-1::document/AWS-RunShellScript");
        assert_eq!(document_arn(&p, "Mine"), "arn:aws:ssm:eu-west-1:123456789012:document/Mine");
        let input = serde_json::json!({"Names": ["/a", "b"]});
        assert_eq!(resources(&p, Service::Ssm, "GetParameters", &input).len(), 2);
        assert_eq!(resources(&p, Service::Ssm, "DescribeParameters", &serde_json::json!({})), vec!["*"]);
        let send = serde_json::json!({"DocumentName": "AWS-RunShellScript", "InstanceIds": ["mi-0123456789abcdef0"]});
        assert_eq!(
            resources(&p, Service::Ssm, "SendCommand", &send),
            vec![
                "arn:aws:ssm:eu-west-1::document/AWS-RunShellScript".to_owned(),
                "arn:aws:ssm:eu-west-1:123456789012:managed-instance/mi-0123456789abcdef0".to_owned()
            ]
        );
    }
}

//! PutParameter.

use steward_api::ssm::parameters::{PutParameterRequest, PutParameterResponse};
use steward_api::ApiError;
use steward_core::parameters::{names, policies, values};
use steward_store::{Expect, Op, StoreError};

use super::*;
use crate::base::encode;
use crate::base::events::Event;
use crate::base::kms::DEFAULT_SSM_ALIAS;
use crate::base::tags::tag_pairs;

/// Attempts before concurrent writers to one parameter get `TooManyUpdates`.
const ATTEMPTS: usize = 8;

/// PutParameter.
pub async fn put_parameter(ctx: Ctx, req: PutParameterRequest) -> Result<PutParameterResponse, ApiError> {
    let name = req.name.trim().to_owned();
    if names::is_reserved_aws_path(&name) {
        return Err(ApiError::new("AccessDeniedException", format!("No access to reserved parameter name: {name}.")));
    }
    names::check_name(&name).map_err(fault)?;
    let p = &ctx.principal;
    names::check_arn_length(&names::arn(&p.region, &p.account, &name)).map_err(fault)?;
    values::check_value(&req.value).map_err(fault)?;
    let overwrite = req.overwrite.unwrap_or(false);
    if overwrite && req.tags.as_ref().is_some_and(|t| !t.is_empty()) {
        return Err(ApiError::validation("Invalid request: tags and overwrite can't be used together. To create a parameter with tags, please remove overwrite flag. To update tags for an existing parameter, please use AddTagsToResource or RemoveTagsFromResource."));
    }
    if let Some(tags) = &req.tags {
        crate::base::tags::check_new_tags(&[], tags)?;
    }
    let new_policies = req.policies.as_deref().map(policies::parse_policies).transpose().map_err(fault)?;
    for _ in 0..ATTEMPTS {
        let existing = load_head(&ctx, &name).await?;
        let (batch, response, event) = plan(&ctx, &req, &name, existing, new_policies.as_deref()).await?;
        match ctx.env.store.write(batch).await {
            Ok(()) => {
                ctx.env.events.deliver(event);
                return Ok(response);
            }
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(store_fault(e)),
        }
    }
    Err(ApiError::new(
        "TooManyUpdates",
        "There are concurrent updates for a resource that supports one update at a time.",
    ))
}

/// Decides everything a put changes and returns it as one batch.
async fn plan(
    ctx: &Ctx,
    req: &PutParameterRequest,
    name: &str,
    existing: Option<(Head, i64)>,
    new_policies: Option<&[policies::Policy]>,
) -> Result<(Vec<Op>, PutParameterResponse, Event), ApiError> {
    let p = &ctx.principal;
    let now = ctx.env.now();
    let previous = existing.as_ref().map(|(h, _)| &h.current);
    if existing.is_some() && !req.overwrite.unwrap_or(false) {
        return Err(ApiError::new(
            "ParameterAlreadyExists",
            "The parameter already exists. To overwrite this value, set the overwrite option in the request to true.",
        ));
    }
    let kind = req
        .kind
        .clone()
        .or_else(|| previous.map(|v| v.kind.clone()))
        .ok_or_else(|| ApiError::validation("A parameter type is required when you create a parameter."))?;
    if kind != "SecureString" && req.key_id.is_some() {
        return Err(ApiError::validation("KeyId is valid only for parameters of type SecureString."));
    }
    let description = req.description.clone().or_else(|| previous.and_then(|v| v.description.clone()));
    let allowed_pattern = req.allowed_pattern.clone().or_else(|| previous.and_then(|v| v.allowed_pattern.clone()));
    if let Some(pattern) = allowed_pattern.as_deref().filter(|p| !p.is_empty()) {
        values::check_pattern(pattern, &req.value).map_err(fault)?;
    }
    let data_type_in = req.data_type.clone().or_else(|| previous.map(|v| v.data_type.clone()));
    let data_type = values::check_data_type(data_type_in.as_deref(), &kind, &req.value).map_err(fault)?;
    let stored_policies: Vec<StoredPolicy> = match new_policies {
        Some(list) => list
            .iter()
            .map(|pol| StoredPolicy { text: pol.text.clone(), kind: pol.type_name().into(), status: "Pending".into() })
            .collect(),
        None => previous.map(|v| v.policies.clone()).unwrap_or_default(),
    };
    let current_tier = previous.and_then(|v| values::Tier::parse(&v.tier));
    let tier = values::resolve_tier(req.tier.as_deref(), current_tier, &req.value, !stored_policies.is_empty())
        .map_err(fault)?;
    let key_id = (kind == "SecureString").then(|| {
        req.key_id
            .clone()
            .or_else(|| previous.filter(|v| v.kind == "SecureString").and_then(|v| v.key_id.clone()))
            .unwrap_or_else(|| DEFAULT_SSM_ALIAS.to_owned())
    });
    let stored_name = previous.map(|v| v.name.clone()).unwrap_or_else(|| name.to_owned());
    let value = match &key_id {
        Some(key_ref) => seal_value(ctx, &stored_name, key_ref, &req.value).await?,
        None => req.value.clone(),
    };
    let version = previous.map(|v| v.version + 1).unwrap_or(1);
    let record = VersionRecord {
        name: stored_name.clone(),
        kind: kind.clone(),
        value,
        version,
        tier: tier.as_str().into(),
        description,
        allowed_pattern,
        key_id,
        data_type,
        policies: stored_policies,
        last_modified: now,
        last_modified_user: p.arn.clone(),
    };
    let mut batch = Vec::new();
    let (mut head, expect) = match existing {
        Some((head, revision)) => (head, Expect::Revision(revision)),
        None => {
            let head = Head {
                current: record.clone(),
                first_version: 1,
                labels: Default::default(),
                tags: req.tags.as_deref().map(tag_pairs).unwrap_or_default(),
                policy_index: Vec::new(),
            };
            (head, Expect::Absent)
        }
    };
    if version - head.first_version >= MAX_VERSIONS {
        let oldest = head.first_version;
        if head.labels.values().any(|v| *v == oldest) {
            return Err(ApiError::new(
                "ParameterMaxVersionLimitExceeded",
                format!("You attempted to create a new version of {stored_name} by calling the PutParameter API with the overwrite flag. Version {oldest}, the oldest version, can't be deleted because it has a label associated with it. Move the label to another version of the parameter, and try again."),
            ));
        }
        batch.push(Op::delete(version_key(&p.account, &p.region, name, oldest)));
        head.first_version += 1;
    }
    let scheduled = policy::schedule(&p.account, &p.region, &record);
    for old in head.policy_index.iter().filter(|k| !scheduled.iter().any(|(n, _)| n == *k)) {
        batch.push(Op::delete(old.clone()));
    }
    head.policy_index = scheduled.iter().map(|(k, _)| k.clone()).collect();
    batch.extend(scheduled.into_iter().map(|(k, v)| Op::put(k, v)));
    head.current = record.clone();
    batch.push(Op::Put { key: head_key(&p.account, &p.region, name), value: encode(&head), expect });
    batch.push(Op::put(version_key(&p.account, &p.region, name, version), encode(&record)));
    let operation = if version == 1 { "Create" } else { "Update" };
    let event = super::change_event(&ctx.env.events, p, &record, operation, now);
    batch.push(event.op());
    Ok((batch, PutParameterResponse { version, tier: tier.as_str().into() }, event))
}

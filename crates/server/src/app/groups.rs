//! A resource group's members: the resources of every type Steward holds whose tags its
//! query matches, found when asked (a "living" query: a node tagged a minute ago is a
//! member now). Lives above the capabilities because it reads every type's records.

use steward_api::resource_groups::*;
use steward_api::ApiError;

use crate::base::arn::{document_arn, node_arn, parameter_arn, window_arn};
use crate::base::Ctx;
use crate::groups::{self, page_token, token_value, TagQuery};
use crate::{documents, fleet, parameters, windows};

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::new("BadRequestException", message)
}

/// Every resource of the caller's account and region the query finds, ordered by ARN.
pub async fn members(ctx: &Ctx, query: &TagQuery) -> Result<Vec<ResourceIdentifier>, ApiError> {
    let p = &ctx.principal;
    let mut found = Vec::new();
    let mut add = |resource_type: &str, arn: String, tags: &[(String, String)]| {
        if query.matches(resource_type, tags) {
            found.push(ResourceIdentifier { resource_arn: arn, resource_type: resource_type.to_owned() });
        }
    };
    if query.covers(groups::NODE_TYPE) {
        for n in fleet::all_nodes(ctx).await? {
            add(groups::NODE_TYPE, node_arn(p, &n.instance_id), &n.tags);
        }
    }
    if query.covers("AWS::SSM::Document") {
        for d in documents::owned_heads(ctx).await? {
            add("AWS::SSM::Document", document_arn(p, &d.name), &d.tags);
        }
    }
    if query.covers("AWS::SSM::Parameter") {
        for h in parameters::all_heads(ctx).await? {
            add("AWS::SSM::Parameter", parameter_arn(p, &h.current.name), &h.tags);
        }
    }
    if query.covers("AWS::SSM::MaintenanceWindow") {
        for w in windows::all_windows(ctx).await? {
            add("AWS::SSM::MaintenanceWindow", window_arn(p, w.id()), &w.tags);
        }
    }
    found.sort();
    Ok(found)
}

/// Types a query names that Steward holds none of, as Resource Groups reports them.
fn query_errors(query: &TagQuery) -> Vec<QueryError> {
    query
        .unsupported_types()
        .into_iter()
        .map(|t| QueryError {
            error_code: "RESOURCE_TYPE_NOT_SUPPORTED".into(),
            message: format!(
                "Steward holds no resources of type {t}; supported: {}.",
                groups::SUPPORTED_TYPES.join(", ")
            ),
        })
        .collect()
}

/// One page of `members`, after the ARN a token carries.
fn page(
    members: Vec<ResourceIdentifier>,
    max_results: Option<i64>,
    token: Option<&str>,
) -> Result<(Vec<ResourceIdentifier>, Option<String>), ApiError> {
    let limit = max_results.unwrap_or(50);
    if !(1..=50).contains(&limit) {
        return Err(bad("MaxResults must be between 1 and 50."));
    }
    let after = token.map(token_value).transpose()?;
    let rest: Vec<ResourceIdentifier> =
        members.into_iter().filter(|m| after.as_ref().is_none_or(|a| m.resource_arn > *a)).collect();
    let more = rest.len() > limit as usize;
    let shown: Vec<ResourceIdentifier> = rest.into_iter().take(limit as usize).collect();
    let next = more.then(|| page_token(&shown.last().expect("a full page").resource_arn));
    Ok((shown, next))
}

/// ListGroupResources: the group's members now, optionally of some types only.
pub async fn list_group_resources(
    ctx: Ctx,
    req: ListGroupResourcesRequest,
) -> Result<ListGroupResourcesResponse, ApiError> {
    let group = groups::named_group(&ctx, &req.group).await?;
    let mut query = group.tag_query()?;
    let wanted: Vec<String> = req.filters.iter().flatten().flat_map(|f| f.values.iter().cloned()).collect();
    if let Some(f) = req.filters.iter().flatten().find(|f| f.name != "resource-type") {
        return Err(bad(format!("The filter name {} is not valid; use resource-type.", f.name)));
    }
    if !wanted.is_empty() {
        if !query.resource_types.iter().any(|t| t == groups::ALL_SUPPORTED) {
            let invalid: Vec<&String> = wanted.iter().filter(|t| !query.resource_types.contains(t)).collect();
            if !invalid.is_empty() {
                return Err(bad(format!(
                    "The resource types specified as filters in the request are not valid: {invalid:?}."
                )));
            }
        }
        query.resource_types = wanted;
    }
    let (shown, next_token) = page(members(&ctx, &query).await?, req.max_results, req.next_token.as_deref())?;
    Ok(ListGroupResourcesResponse {
        resources: shown.iter().map(|m| ListGroupResourcesItem { identifier: m.clone() }).collect(),
        resource_identifiers: shown,
        query_errors: query_errors(&query),
        next_token,
    })
}

/// SearchResources: what a query would find, without a group.
pub async fn search_resources(ctx: Ctx, req: SearchResourcesRequest) -> Result<SearchResourcesResponse, ApiError> {
    let query = groups::parse_query(&req.resource_query.kind, &req.resource_query.query)?;
    let (shown, next_token) = page(members(&ctx, &query).await?, req.max_results, req.next_token.as_deref())?;
    Ok(SearchResourcesResponse { resource_identifiers: shown, query_errors: query_errors(&query), next_token })
}

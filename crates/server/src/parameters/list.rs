//! GetParametersByPath and DescribeParameters: filtered scans in name order, paged by the
//! last key returned (so a page boundary is stable while parameters come and go).

use steward_api::ssm::parameters::*;
use steward_api::ApiError;
use steward_core::parameters::filters::{self, Filter, Key, Operation, RawFilter, View};
use steward_core::parameters::names;
use steward_store::{prefix_end, Start};

use super::*;
use crate::base::paging::{decode_token, encode_token};

const CHUNK: usize = 256;

fn view<'a>(head: &'a Head, labels: &'a [String]) -> View<'a> {
    let c = &head.current;
    View {
        name: &c.name,
        kind: &c.kind,
        key_id: c.key_id.as_deref(),
        tier: &c.tier,
        data_type: &c.data_type,
        labels,
        tags: &head.tags,
    }
}

/// Scans heads under `scope` (a store key prefix), keeping those `keep` accepts, up to `limit`.
async fn scan(
    ctx: &Ctx,
    scope: &str,
    token: Option<&str>,
    limit: usize,
    mut keep: impl FnMut(&str, &Head) -> bool,
) -> Result<(Vec<Head>, Option<String>), ApiError> {
    let account_prefix = format!("param/{}/{}/", ctx.principal.account, ctx.principal.region);
    let mut cursor = match token {
        Some(t) => Some(decode_token(t, &account_prefix)?),
        None => None,
    };
    let end = prefix_end(scope);
    let mut page = Vec::new();
    loop {
        let start = cursor.as_deref().map(Start::After).unwrap_or(Start::At(scope));
        let items = ctx.env.store.range(start, &end, CHUNK).await.map_err(store_fault)?;
        let exhausted = items.len() < CHUNK;
        for item in &items {
            let head: Head = crate::base::decode(&item.key, &item.value)?;
            if keep(&item.key[account_prefix.len()..], &head) {
                page.push(head);
                if page.len() == limit {
                    return Ok((page, Some(encode_token(&item.key))));
                }
            }
        }
        match items.last() {
            Some(last) if !exhausted => cursor = Some(last.key.clone()),
            _ => return Ok((page, None)),
        }
    }
}

fn string_filters(raw: &Option<Vec<ParameterStringFilter>>) -> Vec<RawFilter> {
    raw.iter()
        .flatten()
        .map(|f| RawFilter { key: f.key.clone(), option: f.option.clone(), values: f.values.clone() })
        .collect()
}

/// GetParametersByPath.
pub async fn get_parameters_by_path(
    ctx: Ctx,
    req: GetParametersByPathRequest,
) -> Result<GetParametersByPathResponse, ApiError> {
    let prefix = names::path_prefix(req.path.trim()).map_err(fault)?;
    let filters = filters::parse(Operation::ByPath, &string_filters(&req.parameter_filters)).map_err(fault)?;
    let recursive = req.recursive.unwrap_or(false);
    let limit = req.max_results.unwrap_or(10) as usize;
    let scope = format!("param/{}/{}/{prefix}", ctx.principal.account, ctx.principal.region);
    let at_root = prefix.is_empty();
    let (heads, next_token) = scan(&ctx, &scope, req.next_token.as_deref(), limit, |key, head| {
        let rest = &key[prefix.len()..];
        if at_root && !head.current.name.starts_with('/') {
            return false; // `foo` is not under `/`: only hierarchical names have a path.
        }
        if !recursive && rest.contains('/') {
            return false;
        }
        let labels: Vec<String> = head.labels.keys().cloned().collect();
        filters.iter().all(|f| f.matches(&view(head, &labels)))
    })
    .await?;
    let label_filter: Option<&Filter> = filters.iter().find(|f| f.key == Key::Label);
    let with_decryption = req.with_decryption.unwrap_or(false);
    let mut parameters = Vec::with_capacity(heads.len());
    for head in heads {
        // With a Label filter, the labelled version is the one returned.
        let labelled = label_filter.and_then(|f| f.values.iter().find_map(|l| head.labels.get(l).copied()));
        let record = match labelled {
            Some(v) if v != head.current.version => match load_version(&ctx, &head.current.name, v).await? {
                Some(r) => r,
                None => continue,
            },
            _ => head.current,
        };
        let value = reveal(&ctx, &record, with_decryption).await?;
        parameters.push(to_parameter(&ctx, &record, value, None));
    }
    Ok(GetParametersByPathResponse { parameters, next_token })
}

/// DescribeParameters.
pub async fn describe_parameters(
    ctx: Ctx,
    req: DescribeParametersRequest,
) -> Result<DescribeParametersResponse, ApiError> {
    if req.filters.is_some() && req.parameter_filters.is_some() {
        return Err(ApiError::validation("You can use either Filters or ParameterFilters in a single request."));
    }
    let filters = match &req.filters {
        Some(legacy) => {
            let raw: Vec<(String, Vec<String>)> = legacy.iter().map(|f| (f.key.clone(), f.values.clone())).collect();
            filters::from_legacy(&raw).map_err(fault)?
        }
        None => filters::parse(Operation::Describe, &string_filters(&req.parameter_filters)).map_err(fault)?,
    };
    let limit = req.max_results.unwrap_or(10) as usize;
    let scope = format!("param/{}/{}/", ctx.principal.account, ctx.principal.region);
    if req.shared.unwrap_or(false) {
        // No parameters are shared between accounts yet.
        return Ok(DescribeParametersResponse { parameters: Vec::new(), next_token: None });
    }
    let (heads, next_token) = scan(&ctx, &scope, req.next_token.as_deref(), limit, |_, head| {
        filters.iter().all(|f| f.matches(&view(head, &[])))
    })
    .await?;
    let p = &ctx.principal;
    let parameters = heads
        .into_iter()
        .map(|head| {
            let c = head.current;
            ParameterMetadata {
                arn: names::arn(&p.region, &p.account, &c.name),
                name: c.name,
                kind: c.kind,
                key_id: c.key_id,
                last_modified_date: steward_api::time::epoch_seconds(c.last_modified),
                last_modified_user: c.last_modified_user,
                description: c.description,
                allowed_pattern: c.allowed_pattern,
                version: c.version,
                tier: c.tier,
                policies: to_policies(&c.policies),
                data_type: c.data_type,
            }
        })
        .collect();
    Ok(DescribeParametersResponse { parameters, next_token })
}

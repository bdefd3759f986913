//! GetParameter, GetParameters, GetParameterHistory.

use steward_api::ssm::parameters::*;
use steward_api::ApiError;
use steward_core::parameters::names::{self, Selector};

use super::*;
use crate::base::paging::{decode_token, encode_token};

/// Resolves `name[:selector]` (or an ARN with one) to a version record; `Ok(None)` when
/// nothing matches.
pub async fn find(ctx: &Ctx, input: &str) -> Result<Option<(VersionRecord, Option<String>)>, ApiError> {
    let p = &ctx.principal;
    let Some((name, selector, shown)) = names::parse_lookup(input, &p.region, &p.account) else { return Ok(None) };
    names::check_name(name).map_err(fault)?;
    let Some((head, _)) = load_head(ctx, name).await? else { return Ok(None) };
    let version = match &selector {
        Selector::Latest => return Ok(Some((head.current, None))),
        Selector::Version(v) => *v,
        Selector::Label(l) => match head.labels.get(l) {
            Some(v) => *v,
            None => return Ok(None),
        },
    };
    let shown = Some(shown.to_owned());
    if version == head.current.version {
        return Ok(Some((head.current, shown)));
    }
    Ok(load_version(ctx, name, version).await?.map(|r| (r, shown)))
}

/// GetParameter.
pub async fn get_parameter(ctx: Ctx, req: GetParameterRequest) -> Result<GetParameterResponse, ApiError> {
    let Some((record, selector)) = find(&ctx, &req.name).await? else {
        let p = &ctx.principal;
        let missing_version = match names::parse_lookup(&req.name, &p.region, &p.account) {
            Some((base, Selector::Version(v), _)) if load_head(&ctx, base).await?.is_some() => {
                Some((base, v.to_string()))
            }
            Some((base, Selector::Label(l), _)) if load_head(&ctx, base).await?.is_some() => Some((base, l)),
            _ => None,
        };
        return Err(match missing_version {
            Some((base, v)) => ApiError::new(
                "ParameterVersionNotFound",
                format!("Systems Manager could not find version {v} of {base}. Verify the version and try again."),
            ),
            None => not_found(&req.name),
        });
    };
    let value = reveal(&ctx, &record, req.with_decryption.unwrap_or(false)).await?;
    Ok(GetParameterResponse { parameter: to_parameter(&ctx, &record, value, selector) })
}

/// GetParameters: found ones sorted by name, the rest in InvalidParameters.
pub async fn get_parameters(ctx: Ctx, req: GetParametersRequest) -> Result<GetParametersResponse, ApiError> {
    let mut parameters = Vec::new();
    let mut invalid = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for input in &req.names {
        if !seen.insert(input.clone()) {
            continue;
        }
        let found = match find(&ctx, input).await {
            Ok(found) => found,
            Err(e) if e.code() == "ValidationException" => None,
            Err(e) => return Err(e),
        };
        match found {
            Some((record, selector)) => {
                let value = reveal(&ctx, &record, req.with_decryption.unwrap_or(false)).await?;
                parameters.push(to_parameter(&ctx, &record, value, selector));
            }
            None => invalid.push(input.clone()),
        }
    }
    parameters.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(GetParametersResponse { parameters, invalid_parameters: invalid })
}

/// GetParameterHistory: oldest first, paged by version.
pub async fn get_parameter_history(
    ctx: Ctx,
    req: GetParameterHistoryRequest,
) -> Result<GetParameterHistoryResponse, ApiError> {
    let name = lookup_name(&ctx, &req.name)?;
    let Some((head, _)) = load_head(&ctx, name).await? else {
        return Err(not_found(&req.name));
    };
    let limit = req.max_results.unwrap_or(50) as usize;
    let after: i64 = match &req.next_token {
        Some(t) => decode_token(t, "v:")?[2..]
            .parse()
            .map_err(|_| ApiError::new("InvalidNextToken", "The specified token isn't valid."))?,
        None => 0,
    };
    let mut parameters = Vec::new();
    let mut next_token = None;
    for item in load_versions(&ctx, name).await? {
        let record: VersionRecord = crate::base::decode(&item.key, &item.value)?;
        if record.version <= after {
            continue;
        }
        if parameters.len() == limit {
            next_token = Some(encode_token(&format!("v:{after_last}", after_last = after_last(&parameters))));
            break;
        }
        let value = reveal(&ctx, &record, req.with_decryption.unwrap_or(false)).await?;
        parameters.push(ParameterHistory {
            name: record.name.clone(),
            kind: record.kind.clone(),
            key_id: record.key_id.clone(),
            last_modified_date: steward_api::time::epoch_seconds(record.last_modified),
            last_modified_user: record.last_modified_user.clone(),
            description: record.description.clone(),
            value,
            allowed_pattern: record.allowed_pattern.clone(),
            version: record.version,
            labels: head.labels_of(record.version),
            tier: record.tier.clone(),
            policies: to_policies(&record.policies),
            data_type: record.data_type.clone(),
        });
    }
    Ok(GetParameterHistoryResponse { parameters, next_token })
}

fn after_last(page: &[ParameterHistory]) -> i64 {
    page.last().map(|p| p.version).unwrap_or(0)
}

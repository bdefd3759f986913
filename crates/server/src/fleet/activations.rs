//! CreateActivation, DescribeActivations, DeleteActivation.

use sha2::{Digest, Sha256};
use steward_api::ssm::fleet::*;
use steward_api::ssm::{Empty, Tag};
use steward_api::ApiError;
use steward_store::{prefix_end, Expect, Op, Start, StoreError};

use super::*;
use crate::base::Ctx;
use crate::base::{decode, encode, store_fault};

const DAY_MS: i64 = 86_400_000;

/// SHA-256 of an activation code, hex.
pub fn code_hash(code: &str) -> String {
    hex::encode(Sha256::digest(code.as_bytes()))
}

/// CreateActivation.
pub async fn create_activation(ctx: Ctx, req: CreateActivationRequest) -> Result<CreateActivationResponse, ApiError> {
    let p = &ctx.principal;
    // The nodes act as the activation's role: creating it passes the role.
    crate::base::access::pass_role(&ctx, &req.iam_role).await?;
    let now = ctx.env.now();
    let expires = match req.expiration_date {
        None => now + DAY_MS,
        Some(seconds) => {
            let at = (seconds * 1000.0) as i64;
            if at <= now || at > now + 30 * DAY_MS {
                return Err(ApiError::validation("ExpirationDate must be in the future and at most 30 days from now."));
            }
            at
        }
    };
    if let Some(tags) = &req.tags {
        crate::base::tags::check_new_tags(&[], tags)?;
    }
    let id = uuid::Uuid::new_v4().to_string();
    let code =
        crate::base::crypto::random_string(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 20);
    let record = ActivationRecord {
        id: id.clone(),
        code_hash: code_hash(&code),
        account: p.account.clone(),
        region: p.region.clone(),
        description: req.description,
        default_instance_name: req.default_instance_name,
        iam_role: req.iam_role,
        limit: req.registration_limit.unwrap_or(1),
        count: 0,
        expires,
        created: now,
        tags: req.tags.as_deref().map(crate::base::tags::tag_pairs).unwrap_or_default(),
    };
    let locator = Locator { account: p.account.clone(), region: p.region.clone() };
    ctx.env
        .store
        .write(vec![
            Op::put(activation_key(&p.account, &p.region, &id), encode(&record)).if_absent(),
            Op::put(activation_index(&id), encode(&locator)).if_absent(),
        ])
        .await
        .map_err(store_fault)?;
    Ok(CreateActivationResponse { activation_id: id, activation_code: code })
}

fn to_wire(r: &ActivationRecord, now: i64) -> Activation {
    Activation {
        activation_id: r.id.clone(),
        description: r.description.clone(),
        default_instance_name: r.default_instance_name.clone(),
        iam_role: r.iam_role.clone(),
        registration_limit: r.limit,
        registrations_count: r.count,
        expiration_date: r.expires as f64 / 1000.0,
        expired: r.expires <= now,
        created_date: r.created as f64 / 1000.0,
        tags: r.tags.iter().map(|(key, value)| Tag { key: key.clone(), value: value.clone() }).collect(),
    }
}

/// DescribeActivations.
pub async fn describe_activations(
    ctx: Ctx,
    req: DescribeActivationsRequest,
) -> Result<DescribeActivationsResponse, ApiError> {
    let p = &ctx.principal;
    let prefix = format!("activation/{}/{}/", p.account, p.region);
    let after = match &req.next_token {
        Some(t) => Some(crate::base::paging::decode_token(t, &prefix)?),
        None => None,
    };
    for f in req.filters.iter().flatten() {
        let key = f.filter_key.as_deref().unwrap_or("");
        if !matches!(key, "ActivationIds" | "DefaultInstanceName" | "IamRole") {
            return Err(ApiError::new("InvalidFilter", format!("The filter key {key} is not valid.")));
        }
    }
    let limit = req.max_results.unwrap_or(50) as usize;
    let start = after.as_deref().map(Start::After).unwrap_or(Start::At(&prefix));
    let items = ctx.env.store.range(start, &prefix_end(&prefix), 100_000).await.map_err(store_fault)?;
    let now = ctx.env.now();
    let mut list = Vec::new();
    let mut next_token = None;
    for item in items {
        let r: ActivationRecord = decode(&item.key, &item.value)?;
        let keep = req.filters.iter().flatten().all(|f| {
            let values = f.filter_values.clone().unwrap_or_default();
            let actual = match f.filter_key.as_deref() {
                Some("ActivationIds") => Some(r.id.as_str()),
                Some("DefaultInstanceName") => r.default_instance_name.as_deref(),
                _ => Some(r.iam_role.as_str()),
            };
            actual.is_some_and(|a| values.iter().any(|v| v == a))
        });
        if !keep {
            continue;
        }
        if list.len() == limit {
            next_token =
                Some(crate::base::paging::encode_token(&activation_key(&p.account, &p.region, &list_last(&list))));
            break;
        }
        list.push(to_wire(&r, now));
    }
    Ok(DescribeActivationsResponse { activation_list: list, next_token })
}

fn list_last(list: &[Activation]) -> String {
    list.last().map(|a| a.activation_id.clone()).unwrap_or_default()
}

/// DeleteActivation: nodes already registered stay; no new ones can use it.
pub async fn delete_activation(ctx: Ctx, req: DeleteActivationRequest) -> Result<Empty, ApiError> {
    let p = &ctx.principal;
    let result = ctx
        .env
        .store
        .write(vec![
            Op::delete(activation_key(&p.account, &p.region, &req.activation_id)).expecting(Expect::Present),
            Op::delete(activation_index(&req.activation_id)),
        ])
        .await;
    match result {
        Ok(()) => Ok(Empty {}),
        Err(StoreError::Conflict { .. }) => Err(ApiError::new(
            "InvalidActivationId",
            format!("The activation ID {} is not valid. Verify the ID and try again.", req.activation_id),
        )),
        Err(e) => Err(store_fault(e)),
    }
}

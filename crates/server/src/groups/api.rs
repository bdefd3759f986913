//! The Resource Groups operations on groups themselves: create, read, update, delete, list,
//! and the groups' own tags. Errors are Resource Groups' (`BadRequestException` 400,
//! `NotFoundException` 404).

use std::collections::BTreeMap;

use steward_api::resource_groups::*;
use steward_api::ApiError;
use steward_store::{prefix_end, Op, Start};

use super::{find, group_arn, group_key, page_token, query, token_value, GroupRecord};
use crate::base::{decode, encode, store_fault, Ctx};

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::new("BadRequestException", message)
}

fn not_found(name: &str) -> ApiError {
    ApiError::new("NotFoundException", format!("Cannot find group {name}.")).with_status(404)
}

fn check_name(name: &str) -> Result<(), ApiError> {
    if name.is_empty() || name.len() > 300 || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b)) {
        return Err(bad(format!("The group name {name:?} must be 1 to 300 letters, digits, '_', '.' or '-'.")));
    }
    if name.to_ascii_lowercase().starts_with("aws") {
        return Err(bad("Group names starting with AWS are reserved."));
    }
    Ok(())
}

fn check_description(text: &str) -> Result<(), ApiError> {
    if text.chars().count() > 1024
        || !text.chars().all(|c| c.is_whitespace() || c.is_ascii_alphanumeric() || "_.-".contains(c))
    {
        return Err(bad("A description holds at most 1024 letters, digits, spaces, '_', '.' or '-'."));
    }
    Ok(())
}

fn check_tags(tags: &BTreeMap<String, String>) -> Result<(), ApiError> {
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 || v.chars().count() > 256 {
            return Err(bad("Tag keys are 1 to 128 characters, values at most 256."));
        }
        if k.to_ascii_lowercase().starts_with("aws:") {
            return Err(bad("Tag keys must not start with aws:."));
        }
    }
    Ok(())
}

fn shown(ctx: &Ctx, g: &GroupRecord) -> Group {
    Group {
        group_arn: group_arn(ctx, &g.name),
        name: g.name.clone(),
        description: (!g.description.is_empty()).then(|| g.description.clone()),
    }
}

fn resource_query(g: &GroupRecord) -> ResourceQuery {
    ResourceQuery { kind: g.query_type.clone(), query: g.query.clone() }
}

/// The group a request names (`Group`, else `GroupName`), which must exist.
async fn named(ctx: &Ctx, r: &GroupRef) -> Result<(GroupRecord, i64), ApiError> {
    let Some(name) = r.group.as_deref().or(r.group_name.as_deref()).filter(|n| !n.is_empty()) else {
        return Err(bad("Name the group with Group (a name or an ARN) or GroupName."));
    };
    find(ctx, name).await?.ok_or_else(|| not_found(name))
}

/// The group named by a request, for callers above this rank (ListGroupResources).
pub async fn named_group(ctx: &Ctx, r: &GroupRef) -> Result<GroupRecord, ApiError> {
    Ok(named(ctx, r).await?.0)
}

/// CreateGroup.
pub async fn create_group(ctx: Ctx, req: CreateGroupRequest) -> Result<CreateGroupResponse, ApiError> {
    check_name(&req.name)?;
    let description = req.description.unwrap_or_default();
    check_description(&description)?;
    if req.configuration.as_ref().is_some_and(|c| !c.is_null()) {
        return Err(bad("Group configurations (service-linked groups) are not supported; use a ResourceQuery."));
    }
    let Some(rq) = req.resource_query else {
        return Err(bad("A group needs a ResourceQuery."));
    };
    query::parse(&rq.kind, &rq.query)?;
    let tags = req.tags.unwrap_or_default();
    check_tags(&tags)?;
    let record = GroupRecord {
        name: req.name.clone(),
        description,
        query_type: rq.kind.clone(),
        query: rq.query.clone(),
        tags: tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        created: ctx.now(),
    };
    let p = &ctx.principal;
    let write = ctx
        .env
        .store
        .write(vec![Op::put(group_key(&p.account, &p.region, &req.name), encode(&record)).if_absent()])
        .await;
    match write {
        Err(steward_store::StoreError::Conflict { .. }) => {
            return Err(bad("Cannot create group: group already exists"))
        }
        other => other.map_err(store_fault)?,
    }
    Ok(CreateGroupResponse { group: shown(&ctx, &record), resource_query: rq, tags })
}

/// GetGroup.
pub async fn get_group(ctx: Ctx, req: GroupRef) -> Result<GroupResponse, ApiError> {
    let (g, _) = named(&ctx, &req).await?;
    Ok(GroupResponse { group: shown(&ctx, &g) })
}

/// GetGroupQuery.
pub async fn get_group_query(ctx: Ctx, req: GroupRef) -> Result<GroupQueryResponse, ApiError> {
    let (g, _) = named(&ctx, &req).await?;
    Ok(GroupQueryResponse {
        group_query: GroupQuery { group_name: g.name.clone(), resource_query: resource_query(&g) },
    })
}

async fn replace(ctx: &Ctx, g: &GroupRecord, revision: i64) -> Result<(), ApiError> {
    let p = &ctx.principal;
    let op = Op::put(group_key(&p.account, &p.region, &g.name), encode(g)).if_revision(revision);
    ctx.env.store.write(vec![op]).await.map_err(store_fault)
}

/// UpdateGroup: the description (a group's name never changes).
pub async fn update_group(ctx: Ctx, req: UpdateGroupRequest) -> Result<GroupResponse, ApiError> {
    let (mut g, revision) = named(&ctx, &req.group).await?;
    if let Some(d) = req.description {
        check_description(&d)?;
        g.description = d;
    }
    replace(&ctx, &g, revision).await?;
    Ok(GroupResponse { group: shown(&ctx, &g) })
}

/// UpdateGroupQuery.
pub async fn update_group_query(ctx: Ctx, req: UpdateGroupQueryRequest) -> Result<GroupQueryResponse, ApiError> {
    let (mut g, revision) = named(&ctx, &req.group).await?;
    query::parse(&req.resource_query.kind, &req.resource_query.query)?;
    g.query_type = req.resource_query.kind;
    g.query = req.resource_query.query;
    replace(&ctx, &g, revision).await?;
    Ok(GroupQueryResponse {
        group_query: GroupQuery { group_name: g.name.clone(), resource_query: resource_query(&g) },
    })
}

/// DeleteGroup: the group only, never its members.
pub async fn delete_group(ctx: Ctx, req: GroupRef) -> Result<GroupResponse, ApiError> {
    let (g, revision) = named(&ctx, &req).await?;
    let p = &ctx.principal;
    let op = Op::delete(group_key(&p.account, &p.region, &g.name)).if_revision(revision);
    ctx.env.store.write(vec![op]).await.map_err(store_fault)?;
    Ok(GroupResponse { group: shown(&ctx, &g) })
}

/// ListGroups, by name; `resource-type` filters keep groups whose query covers a type.
pub async fn list_groups(ctx: Ctx, req: ListGroupsRequest) -> Result<ListGroupsResponse, ApiError> {
    let limit = req.max_results.unwrap_or(50);
    if !(1..=50).contains(&limit) {
        return Err(bad("MaxResults must be between 1 and 50."));
    }
    let mut types = Vec::new();
    for f in req.filters.iter().flatten() {
        match f.name.as_str() {
            "resource-type" => types.extend(f.values.iter().cloned()),
            "configuration-type" | "owner" | "display-name" | "criticality" => {
                // No group here has a configuration, owner, display name or criticality.
                return Ok(ListGroupsResponse { group_identifiers: Vec::new(), groups: Vec::new(), next_token: None });
            }
            other => return Err(bad(format!("The filter name {other} is not valid."))),
        }
    }
    let p = &ctx.principal;
    let prefix = group_key(&p.account, &p.region, "");
    let start = match &req.next_token {
        Some(t) => {
            token_value(t).ok().filter(|k| k.starts_with(&prefix)).ok_or_else(|| bad("The NextToken is not valid."))?
        }
        None => String::new(),
    };
    let begin = if start.is_empty() { Start::At(&prefix) } else { Start::After(&start) };
    let mut groups = Vec::new();
    let mut last = None;
    let mut cursor = begin;
    let mut owned;
    'scan: loop {
        let batch = ctx.env.store.range(cursor, &prefix_end(&prefix), 200).await.map_err(store_fault)?;
        let done = batch.len() < 200;
        for item in &batch {
            let g: GroupRecord = decode(&item.key, &item.value)?;
            let wanted = types.is_empty() || g.tag_query().is_ok_and(|q| types.iter().any(|t| q.covers(t)));
            if wanted {
                if groups.len() == limit as usize {
                    break 'scan;
                }
                last = Some(item.key.clone());
                groups.push(g);
            }
        }
        match batch.last() {
            Some(item) if !done => {
                owned = item.key.clone();
                cursor = Start::After(&owned);
            }
            _ => {
                last = None;
                break;
            }
        }
    }
    let next_token = last.filter(|_| groups.len() == limit as usize).map(|k| page_token(&k));
    Ok(ListGroupsResponse {
        group_identifiers: groups
            .iter()
            .map(|g| GroupIdentifier {
                group_name: g.name.clone(),
                group_arn: group_arn(&ctx, &g.name),
                description: shown(&ctx, g).description,
            })
            .collect(),
        groups: groups.iter().map(|g| shown(&ctx, g)).collect(),
        next_token,
    })
}

async fn by_arn(ctx: &Ctx, arn: &str) -> Result<(GroupRecord, i64), ApiError> {
    if !arn.starts_with("arn:") {
        return Err(bad(format!("{arn} is not a group ARN.")));
    }
    find(ctx, arn).await?.ok_or_else(|| not_found(arn))
}

/// Tag: adds or changes the group's tags.
pub async fn tag(ctx: Ctx, req: TagRequest) -> Result<TagsResponse, ApiError> {
    check_tags(&req.tags)?;
    let (mut g, revision) = by_arn(&ctx, &req.arn).await?;
    for (k, v) in &req.tags {
        match g.tags.iter_mut().find(|(key, _)| key == k) {
            Some(pair) => pair.1 = v.clone(),
            None => g.tags.push((k.clone(), v.clone())),
        }
    }
    if g.tags.len() > 50 {
        return Err(bad("A group has at most 50 tags."));
    }
    replace(&ctx, &g, revision).await?;
    Ok(TagsResponse { arn: req.arn, tags: req.tags })
}

/// Untag: removes keys (a key the group does not have is no error).
pub async fn untag(ctx: Ctx, req: UntagRequest) -> Result<UntagResponse, ApiError> {
    let (mut g, revision) = by_arn(&ctx, &req.arn).await?;
    g.tags.retain(|(k, _)| !req.keys.contains(k));
    replace(&ctx, &g, revision).await?;
    Ok(UntagResponse { arn: req.arn, keys: req.keys })
}

/// GetTags.
pub async fn get_tags(ctx: Ctx, req: GetTagsRequest) -> Result<TagsResponse, ApiError> {
    let (g, _) = by_arn(&ctx, &req.arn).await?;
    Ok(TagsResponse { arn: req.arn, tags: g.tags.into_iter().collect() })
}

//! The IAM operations: users, access keys, groups, managed and inline policies, roles.

use std::collections::BTreeMap;

use serde::Serialize;
use steward_api::ApiError;
use steward_core::iam::policy::Kind;
use steward_store::{prefix_end, Op, Start, StoreError};

use super::common::*;
use crate::base::credentials::{key_of, last_used_key, AccessKeyRecord, LastUsed};
use crate::base::iam_records::*;
use crate::base::Ctx;
use crate::base::{encode, store_fault};
use steward_api::query::Xml;
use steward_api::query::{validation, Params};

const MAX_KEYS_PER_USER: usize = 2;

fn exists(kind: &str, name: &str) -> ApiError {
    ApiError::new("EntityAlreadyExists", format!("{kind} with name {name} already exists.")).with_status(409)
}

/// IAM names: 1–`max` of letters, digits and `+=,.@_-`.
fn check_name(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    let ok = !value.is_empty()
        && value.len() <= max
        && value.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(validation(format!(
            "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+ and have length between 1 and {max}"
        )))
    }
}

fn check_path(value: &str) -> Result<(), ApiError> {
    let ok = value == "/"
        || (value.len() <= 512
            && value.starts_with('/')
            && value.ends_with('/')
            && value.chars().all(|c| ('!'..='~').contains(&c)));
    if ok {
        Ok(())
    } else {
        Err(validation(format!(
            "The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters. ({value})"
        )))
    }
}

fn new_id(prefix: &str) -> String {
    format!("{prefix}{}", crate::base::crypto::random_string(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 17))
}

fn arn(account: &str, kind: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:{kind}{path}{name}")
}

async fn put_new<T: Serialize>(ctx: &Ctx, key: &str, record: &T, kind: &str, name: &str) -> Result<(), ApiError> {
    match ctx.env.store.write(vec![Op::put(key, encode(record)).if_absent()]).await {
        Ok(()) => Ok(()),
        Err(StoreError::Conflict { .. }) => Err(exists(kind, name)),
        Err(e) => Err(store_fault(e)),
    }
}

fn user_xml(x: &mut Xml, u: &UserRecord) {
    x.leaf("Path", &u.path).leaf("UserName", &u.name).leaf("UserId", &u.id).leaf("Arn", &u.arn);
    x.leaf("CreateDate", &iso(u.created));
}

fn group_xml(x: &mut Xml, g: &GroupRecord) {
    x.leaf("Path", &g.path).leaf("GroupName", &g.name).leaf("GroupId", &g.id).leaf("Arn", &g.arn);
    x.leaf("CreateDate", &iso(g.created));
}

fn role_xml(x: &mut Xml, r: &RoleRecord) {
    x.leaf("Path", &r.path).leaf("RoleName", &r.name).leaf("RoleId", &r.id).leaf("Arn", &r.arn);
    x.leaf("CreateDate", &iso(r.created));
    x.leaf("AssumeRolePolicyDocument", &url_encode(&r.trust));
    if !r.description.is_empty() {
        x.leaf("Description", &r.description);
    }
    x.leaf("MaxSessionDuration", &r.max_session.to_string());
    if !r.tags.is_empty() {
        let tags: Vec<_> = r.tags.iter().collect();
        x.list("Tags", &tags, |x, (k, v)| {
            x.leaf("Key", k).leaf("Value", v);
        });
    }
}

fn policy_xml(x: &mut Xml, p: &PolicyRecord) {
    x.leaf("PolicyName", &p.name).leaf("PolicyId", &p.id).leaf("Arn", &p.arn).leaf("Path", &p.path);
    x.leaf("DefaultVersionId", super::versions::default_of(p)).leaf("AttachmentCount", &p.attachments.to_string());
    x.leaf("PermissionsBoundaryUsageCount", "0").leaf("IsAttachable", "true");
    if !p.description.is_empty() {
        x.leaf("Description", &p.description);
    }
    let updated = p.versions.iter().map(|v| v.created).max().unwrap_or(p.created);
    x.leaf("CreateDate", &iso(p.created)).leaf("UpdateDate", &iso(updated));
}

async fn need_group(ctx: &Ctx, name: &str) -> Result<(GroupRecord, i64), ApiError> {
    load(ctx, &group_key(&ctx.principal.account, name)).await?.ok_or_else(|| no_such("group", name))
}

/// The user an operation names, or the caller when it names none.
fn user_or_caller<'a>(ctx: &'a Ctx, params: &'a Params) -> Result<&'a str, ApiError> {
    match (params.opt("UserName"), &ctx.principal.identity) {
        (Some(name), _) => Ok(name),
        (None, crate::base::Identity::User(name)) => Ok(name),
        _ => Err(validation("UserName is required for a caller that is not an IAM user.")),
    }
}

/// The ARN of an identity as IAM names it: with its path when it exists (a policy naming
/// `user/ops/*` covers ops users), or with the path a create call gives it.
async fn identity_arn(ctx: &Ctx, kind: &str, name: &str, params: &Params) -> Result<String, ApiError> {
    let account = &ctx.principal.account;
    let stored = match kind {
        "user" => load::<UserRecord>(ctx, &user_key(account, name)).await?.map(|(r, _)| r.arn),
        "group" => load::<GroupRecord>(ctx, &group_key(account, name)).await?.map(|(r, _)| r.arn),
        "role" => load::<RoleRecord>(ctx, &role_key(account, name)).await?.map(|(r, _)| r.arn),
        _ => None,
    };
    Ok(stored.unwrap_or_else(|| arn(account, kind, params.opt("Path").unwrap_or("/"), name)))
}

/// The resource an IAM action is checked against, as IAM chooses it: the user, group or
/// role an action names (AttachUserPolicy acts on the user; the policy it attaches is the
/// `iam:PolicyARN` condition key, see [`policy_context`]), else the policy, else the
/// caller for self-service calls.
pub async fn resource_of(ctx: &Ctx, params: &Params) -> Result<String, ApiError> {
    for (param, kind) in [("UserName", "user"), ("GroupName", "group"), ("RoleName", "role")] {
        if let Some(name) = params.opt(param) {
            return identity_arn(ctx, kind, name, params).await;
        }
    }
    if let Some(p) = params.opt("PolicyArn") {
        return Ok(p.to_owned());
    }
    if let Some(p) = params.opt("PolicyName") {
        let path = params.opt("Path").unwrap_or("/");
        return Ok(arn(&ctx.principal.account, "policy", path, p));
    }
    // Self-service calls without a user name act on the caller.
    if let crate::base::Identity::User(_) = ctx.principal.identity {
        return Ok(ctx.principal.arn.clone());
    }
    Ok("*".into())
}

/// `iam:PolicyARN` for the actions that attach or detach a managed policy, so a policy can
/// allow attaching some policies and not others.
fn policy_context(action: &str, params: &Params) -> Option<String> {
    let attaching = action.starts_with("Attach") || action.starts_with("Detach");
    params.opt("PolicyArn").filter(|_| attaching || action.ends_with("PermissionsBoundary")).map(str::to_owned)
}

/// Runs IAM `action`.
pub async fn call(ctx: &Ctx, action: &str, params: &Params) -> Result<Option<String>, ApiError> {
    if !KNOWN.contains(&action) {
        return Err(ApiError::new(
            "InvalidAction",
            format!("Could not find operation {action} for version 2010-05-08"),
        )
        .with_status(400));
    }
    // A user may always look at itself and manage its own keys, as IAM's console policies
    // commonly allow; everything else needs a policy.
    let resource = resource_of(ctx, params).await?;
    let policy = policy_context(action, params);
    ctx.authorize(&format!("iam:{action}"), &[resource], |r| match &policy {
        Some(arn) => r.with("iam:PolicyARN", [arn.clone()]),
        None => r,
    })
    .await
    .map_err(|e| ApiError::new("AccessDenied", e.message()).with_status(403))?;
    let account = ctx.principal.account.clone();
    let now = ctx.env.now();
    match action {
        "CreateLoginProfile" | "GetLoginProfile" | "UpdateLoginProfile" | "DeleteLoginProfile" => {
            super::login::call(ctx, action, params).await
        }
        "CreateUser" => {
            let name = params.req("UserName")?;
            check_name("userName", name, 64)?;
            let path = params.opt("Path").unwrap_or("/");
            check_path(path)?;
            let tags = super::tagging::tags_of(params)?;
            let user = UserRecord {
                name: name.into(),
                id: new_id("AIDA"),
                arn: arn(&account, "user", path, name),
                path: path.into(),
                created: now,
                tags,
                ..Default::default()
            };
            put_new(ctx, &user_key(&account, name), &user, "User", name).await?;
            one(|x| {
                x.open("User");
                user_xml(x, &user);
                x.close("User");
            })
        }
        "GetUser" => {
            if ctx.principal.is_root() && params.opt("UserName").is_none() {
                let root = UserRecord {
                    name: String::new(),
                    id: account.clone(),
                    arn: ctx.principal.arn.clone(),
                    path: "/".into(),
                    ..Default::default()
                };
                return one(|x| {
                    x.open("User");
                    user_xml(x, &root);
                    x.close("User");
                });
            }
            let (user, _) = need_user(ctx, user_or_caller(ctx, params)?).await?;
            one(|x| {
                x.open("User");
                user_xml(x, &user);
                if !user.tags.is_empty() {
                    let tags: Vec<_> = user.tags.iter().collect();
                    x.list("Tags", &tags, |x, (k, v)| {
                        x.leaf("Key", k).leaf("Value", v);
                    });
                }
                x.close("User");
            })
        }
        "ListUsers" => list_under_path(ctx, params, "user", "Users", |u: &UserRecord| &u.path, user_xml).await,
        "DeleteUser" => {
            let name = params.req("UserName")?;
            let (user, revision) = need_user(ctx, name).await?;
            let keys = scan_keys(ctx, &user_keys_prefix(&account, name)).await?;
            let in_use = !keys.is_empty() || !user.inline.is_empty() || !user.attached.is_empty();
            if in_use || !user.groups.is_empty() || super::login::exists(ctx, name).await? {
                return Err(conflict(
                    "Cannot delete entity, must remove access keys, login profile, policies and group memberships first.",
                ));
            }
            let key = user_key(&account, name);
            ctx.env.store.write(vec![Op::delete(&key).if_revision(revision)]).await.map_err(write_error)?;
            Ok(None)
        }
        "CreateAccessKey" => {
            let name = user_or_caller(ctx, params)?.to_owned();
            let (user, _) = need_user(ctx, &name).await?;
            let prefix = user_keys_prefix(&account, &name);
            if scan_keys(ctx, &prefix).await?.len() >= MAX_KEYS_PER_USER {
                return Err(
                    ApiError::new("LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2").with_status(409)
                );
            }
            let (id, secret, mut record) = ctx.env.credentials.mint("AKIA", &account, &user.arn, now);
            record.user = Some(user.name.clone());
            ctx.env
                .store
                .write(vec![
                    Op::put(key_of(&id), encode(&record)).if_absent(),
                    Op::put(format!("{prefix}{id}"), b"{}".to_vec()),
                ])
                .await
                .map_err(store_fault)?;
            one(|x| {
                x.open("AccessKey").leaf("UserName", &user.name).leaf("AccessKeyId", &id).leaf("Status", "Active");
                x.leaf("SecretAccessKey", &secret).leaf("CreateDate", &iso(now)).close("AccessKey");
            })
        }
        "ListAccessKeys" => {
            let name = user_or_caller(ctx, params)?.to_owned();
            let (user, _) = need_user(ctx, &name).await?;
            let mut keys = Vec::new();
            for id in scan_keys(ctx, &user_keys_prefix(&account, &name)).await? {
                if let Some((record, _)) = load::<AccessKeyRecord>(ctx, &key_of(&id)).await? {
                    keys.push((id, record));
                }
            }
            one(|x| {
                x.list("AccessKeyMetadata", &keys, |x, (id, k)| {
                    x.leaf("UserName", &user.name).leaf("AccessKeyId", id).leaf("Status", &k.status);
                    x.leaf("CreateDate", &iso(k.created));
                });
                x.leaf("IsTruncated", "false");
            })
        }
        "UpdateAccessKey" | "DeleteAccessKey" => {
            let name = user_or_caller(ctx, params)?.to_owned();
            let id = params.req("AccessKeyId")?.to_owned();
            let index = format!("{}{id}", user_keys_prefix(&account, &name));
            let missing = || {
                ApiError::new("NoSuchEntity", format!("The Access Key with id {id} cannot be found.")).with_status(404)
            };
            if ctx.env.store.get(&index).await.map_err(store_fault)?.is_none() {
                return Err(missing());
            }
            let (mut record, revision) = load::<AccessKeyRecord>(ctx, &key_of(&id)).await?.ok_or_else(missing)?;
            let ops = if action == "DeleteAccessKey" {
                vec![Op::delete(key_of(&id)), Op::delete(&index), Op::delete(last_used_key(&id))]
            } else {
                let status = params.req("Status")?;
                if status != "Active" && status != "Inactive" {
                    return Err(validation(format!("Status must be Active or Inactive, not {status}.")));
                }
                record.status = status.into();
                vec![Op::put(key_of(&id), encode(&record)).if_revision(revision)]
            };
            ctx.env.store.write(ops).await.map_err(write_error)?;
            ctx.env.credentials.forget(&id);
            Ok(None)
        }
        "GetAccessKeyLastUsed" => {
            let id = params.req("AccessKeyId")?.to_owned();
            let missing = || {
                ApiError::new("NoSuchEntity", format!("The Access Key with id {id} cannot be found.")).with_status(404)
            };
            let (record, _) = load::<AccessKeyRecord>(ctx, &key_of(&id)).await?.ok_or_else(missing)?;
            if record.account != account || record.user.is_none() {
                return Err(missing());
            }
            // The check above was on the caller; the key belongs to its user.
            if record.user.as_deref() != user_or_caller(ctx, params).ok() {
                ctx.authorize("iam:GetAccessKeyLastUsed", std::slice::from_ref(&record.arn), |r| r)
                    .await
                    .map_err(|e| ApiError::new("AccessDenied", e.message()).with_status(403))?;
            }
            let used = load::<LastUsed>(ctx, &last_used_key(&id)).await?.map(|(u, _)| u);
            one(|x| {
                x.leaf("UserName", record.user.as_deref().unwrap_or_default()).open("AccessKeyLastUsed");
                match &used {
                    Some(u) => {
                        x.leaf("LastUsedDate", &iso(u.date)).leaf("ServiceName", &u.service).leaf("Region", &u.region)
                    }
                    None => x.leaf("ServiceName", "N/A").leaf("Region", "N/A"),
                };
                x.close("AccessKeyLastUsed");
            })
        }
        "CreateGroup" => {
            let name = params.req("GroupName")?;
            check_name("groupName", name, 128)?;
            let path = params.opt("Path").unwrap_or("/");
            check_path(path)?;
            let group = GroupRecord {
                name: name.into(),
                id: new_id("AGPA"),
                arn: arn(&account, "group", path, name),
                path: path.into(),
                created: now,
                ..Default::default()
            };
            put_new(ctx, &group_key(&account, name), &group, "Group", name).await?;
            one(|x| {
                x.open("Group");
                group_xml(x, &group);
                x.close("Group");
            })
        }
        "GetGroup" => {
            let (group, _) = need_group(ctx, params.req("GroupName")?).await?;
            let members: Vec<UserRecord> = scan::<UserRecord>(ctx, &records_prefix("user", &account))
                .await?
                .into_iter()
                .filter(|u| u.groups.iter().any(|g| g.eq_ignore_ascii_case(&group.name)))
                .collect();
            one(|x| {
                x.open("Group");
                group_xml(x, &group);
                x.close("Group").list("Users", &members, user_xml).leaf("IsTruncated", "false");
            })
        }
        "DeleteGroup" => {
            let name = params.req("GroupName")?;
            let (group, revision) = need_group(ctx, name).await?;
            let members = scan::<UserRecord>(ctx, &records_prefix("user", &account))
                .await?
                .into_iter()
                .any(|u| u.groups.iter().any(|g| g.eq_ignore_ascii_case(name)));
            if members || !group.inline.is_empty() || !group.attached.is_empty() {
                return Err(conflict("Cannot delete entity, must remove users and policies from group first."));
            }
            ctx.env
                .store
                .write(vec![Op::delete(group_key(&account, name)).if_revision(revision)])
                .await
                .map_err(write_error)?;
            Ok(None)
        }
        "AddUserToGroup" | "RemoveUserFromGroup" => {
            let (group, _) = need_group(ctx, params.req("GroupName")?).await?;
            let (mut user, revision) = need_user(ctx, params.req("UserName")?).await?;
            user.groups.retain(|g| !g.eq_ignore_ascii_case(&group.name));
            if action == "AddUserToGroup" {
                user.groups.push(group.name.clone());
            }
            save(ctx, &user_key(&account, &user.name), &user, revision).await?;
            Ok(None)
        }
        "ListGroupsForUser" => {
            let (user, _) = need_user(ctx, params.req("UserName")?).await?;
            let mut groups = Vec::new();
            for g in &user.groups {
                if let Some((group, _)) = load::<GroupRecord>(ctx, &group_key(&account, g)).await? {
                    groups.push(group);
                }
            }
            one(|x| {
                x.list("Groups", &groups, group_xml).leaf("IsTruncated", "false");
            })
        }
        "CreatePolicy" => {
            let name = params.req("PolicyName")?;
            check_name("policyName", name, 128)?;
            let path = params.opt("Path").unwrap_or("/");
            check_path(path)?;
            let document = params.req("PolicyDocument")?;
            parse_document(document, Kind::Identity)?;
            let record = PolicyRecord {
                name: name.into(),
                id: new_id("ANPA"),
                arn: arn(&account, "policy", path, name),
                path: path.into(),
                description: params.opt("Description").unwrap_or_default().into(),
                document: document.into(),
                created: now,
                ..Default::default()
            };
            put_new(ctx, &policy_key(&account, name), &record, "A policy", name).await?;
            one(|x| {
                x.open("Policy");
                policy_xml(x, &record);
                x.close("Policy");
            })
        }
        "GetPolicy" => {
            let (record, _, _) = need_policy(ctx, params.req("PolicyArn")?).await?;
            one(|x| {
                x.open("Policy");
                policy_xml(x, &record);
                x.close("Policy");
            })
        }
        "CreatePolicyVersion"
        | "GetPolicyVersion"
        | "ListPolicyVersions"
        | "SetDefaultPolicyVersion"
        | "DeletePolicyVersion" => super::versions::call(ctx, action, params, now).await,
        "TagUser" | "UntagUser" | "ListUserTags" | "TagRole" | "UntagRole" | "ListRoleTags" => {
            super::tagging::call(ctx, action, params).await
        }
        "ListGroups" => list_under_path(ctx, params, "group", "Groups", |g: &GroupRecord| &g.path, group_xml).await,
        "ListRoles" => list_under_path(ctx, params, "role", "Roles", |r: &RoleRecord| &r.path, role_xml).await,
        "ListPolicies" => {
            let policies = if params.opt("Scope") == Some("AWS") {
                Vec::new()
            } else {
                scan::<PolicyRecord>(ctx, &records_prefix("policy", &account)).await?
            };
            let (page, marker) = paginate(policies, params)?;
            one(|x| {
                x.list("Policies", &page, policy_xml);
                truncation(x, marker);
            })
        }
        "DeletePolicy" => {
            let (record, revision, key) = need_policy(ctx, params.req("PolicyArn")?).await?;
            if record.attachments > 0 {
                return Err(conflict("Cannot delete a policy attached to entities."));
            }
            ctx.env.store.write(vec![Op::delete(&key).if_revision(revision)]).await.map_err(write_error)?;
            Ok(None)
        }
        "AttachUserPolicy" | "DetachUserPolicy" | "AttachGroupPolicy" | "DetachGroupPolicy" | "AttachRolePolicy"
        | "DetachRolePolicy" => attach(ctx, action, params).await,
        "ListAttachedUserPolicies" | "ListAttachedGroupPolicies" | "ListAttachedRolePolicies" => {
            let attached = match action {
                "ListAttachedUserPolicies" => need_user(ctx, params.req("UserName")?).await?.0.attached,
                "ListAttachedGroupPolicies" => need_group(ctx, params.req("GroupName")?).await?.0.attached,
                _ => need_role(ctx, params.req("RoleName")?).await?.0.attached,
            };
            one(|x| {
                x.list("AttachedPolicies", &attached, |x, a| {
                    let name = a.rsplit('/').next().unwrap_or(a);
                    x.leaf("PolicyName", name).leaf("PolicyArn", a);
                });
                x.leaf("IsTruncated", "false");
            })
        }
        "PutUserPolicy" | "GetUserPolicy" | "DeleteUserPolicy" | "ListUserPolicies" | "PutGroupPolicy"
        | "GetGroupPolicy" | "DeleteGroupPolicy" | "ListGroupPolicies" | "PutRolePolicy" | "GetRolePolicy"
        | "DeleteRolePolicy" | "ListRolePolicies" => inline(ctx, action, params).await,
        "CreateRole" => {
            let name = params.req("RoleName")?;
            check_name("roleName", name, 64)?;
            let path = params.opt("Path").unwrap_or("/");
            check_path(path)?;
            let trust = params.req("AssumeRolePolicyDocument")?;
            parse_document(trust, Kind::Trust)?;
            let max_session = match params.opt("MaxSessionDuration") {
                Some(v) => v.parse::<i64>().ok().filter(|s| (3600..=43200).contains(s)).ok_or_else(|| {
                    validation("1 validation error detected: Value at 'maxSessionDuration' failed to satisfy constraint: Member must have value between 3600 and 43200")
                })?,
                None => 3600,
            };
            let role = RoleRecord {
                name: name.into(),
                id: new_id("AROA"),
                arn: arn(&account, "role", path, name),
                path: path.into(),
                created: now,
                trust: trust.into(),
                description: params.opt("Description").unwrap_or_default().into(),
                max_session,
                tags: super::tagging::tags_of(params)?,
                ..Default::default()
            };
            put_new(ctx, &role_key(&account, name), &role, "Role", name).await?;
            one(|x| {
                x.open("Role");
                role_xml(x, &role);
                x.close("Role");
            })
        }
        "GetRole" => {
            let (role, _) = need_role(ctx, params.req("RoleName")?).await?;
            one(|x| {
                x.open("Role");
                role_xml(x, &role);
                x.close("Role");
            })
        }
        "DeleteRole" => {
            let name = params.req("RoleName")?;
            let (role, revision) = need_role(ctx, name).await?;
            if !role.inline.is_empty() || !role.attached.is_empty() {
                return Err(conflict("Cannot delete entity, must detach all policies first."));
            }
            ctx.env
                .store
                .write(vec![Op::delete(role_key(&account, name)).if_revision(revision)])
                .await
                .map_err(write_error)?;
            Ok(None)
        }
        _ => unreachable!("KNOWN lists every action matched above"),
    }
}

/// The IAM actions served.
const KNOWN: &[&str] = &[
    "CreateUser",
    "GetUser",
    "ListUsers",
    "DeleteUser",
    "CreateAccessKey",
    "ListAccessKeys",
    "UpdateAccessKey",
    "DeleteAccessKey",
    "GetAccessKeyLastUsed",
    "CreateLoginProfile",
    "GetLoginProfile",
    "UpdateLoginProfile",
    "DeleteLoginProfile",
    "CreateGroup",
    "GetGroup",
    "DeleteGroup",
    "AddUserToGroup",
    "RemoveUserFromGroup",
    "ListGroupsForUser",
    "CreatePolicy",
    "GetPolicy",
    "GetPolicyVersion",
    "CreatePolicyVersion",
    "ListPolicyVersions",
    "SetDefaultPolicyVersion",
    "DeletePolicyVersion",
    "ListPolicies",
    "DeletePolicy",
    "AttachUserPolicy",
    "DetachUserPolicy",
    "AttachGroupPolicy",
    "DetachGroupPolicy",
    "AttachRolePolicy",
    "DetachRolePolicy",
    "ListAttachedUserPolicies",
    "ListAttachedGroupPolicies",
    "ListAttachedRolePolicies",
    "PutUserPolicy",
    "GetUserPolicy",
    "DeleteUserPolicy",
    "ListUserPolicies",
    "PutGroupPolicy",
    "GetGroupPolicy",
    "DeleteGroupPolicy",
    "ListGroupPolicies",
    "PutRolePolicy",
    "GetRolePolicy",
    "DeleteRolePolicy",
    "ListRolePolicies",
    "CreateRole",
    "GetRole",
    "DeleteRole",
    "ListRoles",
    "ListGroups",
    "TagUser",
    "UntagUser",
    "ListUserTags",
    "TagRole",
    "UntagRole",
    "ListRoleTags",
];

/// Attaches or detaches a managed policy, keeping its attachment count.
async fn attach(ctx: &Ctx, action: &str, params: &Params) -> Result<Option<String>, ApiError> {
    let account = ctx.principal.account.clone();
    let policy_arn = params.req("PolicyArn")?.to_owned();
    let (mut policy, policy_revision, pkey) = need_policy(ctx, &policy_arn).await?;
    let attaching = action.starts_with("Attach");
    // The holder's record, its key and revision, and its attached list.
    let (key, revision, mut value): (String, i64, serde_json::Value) = if action.ends_with("UserPolicy") {
        let (u, r) = need_user(ctx, params.req("UserName")?).await?;
        (user_key(&account, &u.name), r, serde_json::to_value(u).expect("records serialise"))
    } else if action.ends_with("GroupPolicy") {
        let (g, r) = need_group(ctx, params.req("GroupName")?).await?;
        (group_key(&account, &g.name), r, serde_json::to_value(g).expect("records serialise"))
    } else {
        let (ro, r) = need_role(ctx, params.req("RoleName")?).await?;
        (role_key(&account, &ro.name), r, serde_json::to_value(ro).expect("records serialise"))
    };
    let mut attached: Vec<String> = serde_json::from_value(value["attached"].take()).unwrap_or_default();
    let present = attached.contains(&policy_arn);
    match (attaching, present) {
        (true, true) => return Ok(None),
        (true, false) => {
            if attached.len() >= 10 {
                return Err(
                    ApiError::new("LimitExceeded", "Cannot exceed quota for PoliciesPerUser: 10").with_status(409)
                );
            }
            attached.push(policy_arn.clone());
            policy.attachments += 1;
        }
        (false, true) => {
            attached.retain(|a| *a != policy_arn);
            policy.attachments = (policy.attachments - 1).max(0);
        }
        (false, false) => {
            return Err(ApiError::new("NoSuchEntity", format!("Policy {policy_arn} was not found.")).with_status(404))
        }
    }
    value["attached"] = serde_json::to_value(attached).expect("strings serialise");
    let bytes = serde_json::to_vec(&value).expect("records serialise");
    ctx.env
        .store
        .write(vec![
            Op::put(&key, bytes).if_revision(revision),
            Op::put(&pkey, encode(&policy)).if_revision(policy_revision),
        ])
        .await
        .map_err(write_error)?;
    Ok(None)
}

/// Inline policies of users, groups and roles.
async fn inline(ctx: &Ctx, action: &str, params: &Params) -> Result<Option<String>, ApiError> {
    let account = ctx.principal.account.clone();
    let (holder_field, holder) = if action.ends_with("UserPolicy") || action == "ListUserPolicies" {
        ("UserName", "user")
    } else if action.ends_with("GroupPolicy") || action == "ListGroupPolicies" {
        ("GroupName", "group")
    } else {
        ("RoleName", "role")
    };
    let holder_name = params.req(holder_field)?.to_owned();
    let key = match holder {
        "user" => user_key(&account, &holder_name),
        "group" => group_key(&account, &holder_name),
        _ => role_key(&account, &holder_name),
    };
    let (mut value, revision) =
        load::<serde_json::Value>(ctx, &key).await?.ok_or_else(|| no_such(holder, &holder_name))?;
    let mut policies: BTreeMap<String, String> = serde_json::from_value(value["inline"].take()).unwrap_or_default();
    let verb = action.trim_end_matches("UserPolicy").trim_end_matches("GroupPolicy").trim_end_matches("RolePolicy");
    if action.starts_with("List") {
        let names: Vec<&String> = policies.keys().collect();
        return one(|x| {
            x.list_text("PolicyNames", &names).leaf("IsTruncated", "false");
        });
    }
    let name = params.req("PolicyName")?.to_owned();
    match verb {
        "Put" => {
            check_name("policyName", &name, 128)?;
            let document = params.req("PolicyDocument")?;
            parse_document(document, Kind::Identity)?;
            policies.insert(name, document.to_owned());
        }
        "Get" => {
            let document = policies.get(&name).ok_or_else(|| no_such("policy", &name))?;
            return one(|x| {
                x.leaf(&format!("{}Name", capitalised(holder)), &holder_name).leaf("PolicyName", &name);
                x.leaf("PolicyDocument", &url_encode(document));
            });
        }
        _ => {
            policies.remove(&name).ok_or_else(|| no_such("policy", &name))?;
        }
    }
    value["inline"] = serde_json::to_value(policies).expect("strings serialise");
    let bytes = serde_json::to_vec(&value).expect("records serialise");
    ctx.env.store.write(vec![Op::put(&key, bytes).if_revision(revision)]).await.map_err(write_error)?;
    Ok(None)
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
}

/// Every record under `prefix`.
/// ListUsers, ListGroups, ListRoles: the account's records of `kind` whose path starts
/// with `PathPrefix`, paged, as `<element>` members.
async fn list_under_path<T: serde::de::DeserializeOwned>(
    ctx: &Ctx,
    params: &Params,
    kind: &str,
    element: &str,
    path: impl Fn(&T) -> &str,
    xml: fn(&mut Xml, &T),
) -> Result<Option<String>, ApiError> {
    let prefix = params.opt("PathPrefix").unwrap_or("/");
    let records: Vec<T> = scan::<T>(ctx, &records_prefix(kind, &ctx.principal.account))
        .await?
        .into_iter()
        .filter(|r| path(r).starts_with(prefix))
        .collect();
    let (page, marker) = paginate(records, params)?;
    one(|x| {
        x.list(element, &page, xml);
        truncation(x, marker);
    })
}

async fn scan<T: serde::de::DeserializeOwned>(ctx: &Ctx, prefix: &str) -> Result<Vec<T>, ApiError> {
    let items = ctx.env.store.range(Start::At(prefix), &prefix_end(prefix), 100_000).await.map_err(store_fault)?;
    items.iter().map(|i| crate::base::decode(&i.key, &i.value)).collect()
}

/// The key ids in a user's key index.
async fn scan_keys(ctx: &Ctx, prefix: &str) -> Result<Vec<String>, ApiError> {
    let items = ctx.env.store.range(Start::At(prefix), &prefix_end(prefix), 100).await.map_err(store_fault)?;
    Ok(items.into_iter().map(|i| i.key[prefix.len()..].to_owned()).collect())
}

/// `Marker`/`MaxItems` paging (the marker is an offset).
fn paginate<T>(items: Vec<T>, params: &Params) -> Result<(Vec<T>, Option<String>), ApiError> {
    let start: usize = match params.opt("Marker") {
        Some(m) => m.parse().map_err(|_| validation("The marker is not valid."))?,
        None => 0,
    };
    let max: usize = match params.opt("MaxItems") {
        Some(m) => m
            .parse()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| validation("MaxItems must be between 1 and 1000."))?,
        None => 100,
    };
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(start).take(max).collect();
    let next = (start + max < total).then(|| (start + max).to_string());
    Ok((page, next))
}

fn truncation(x: &mut Xml, marker: Option<String>) {
    match marker {
        Some(m) => {
            x.leaf("IsTruncated", "true").leaf("Marker", &m);
        }
        None => {
            x.leaf("IsTruncated", "false");
        }
    }
}

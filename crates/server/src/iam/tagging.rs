//! Tags on users and roles: TagUser, UntagUser, ListUserTags, TagRole, UntagRole,
//! ListRoleTags. They are what `aws:PrincipalTag/…` conditions and Session Manager's
//! `SSMSessionRunAs` read.

use std::collections::BTreeMap;

use steward_api::ApiError;

use super::common::{need_role, need_user, one, save};
use crate::base::iam_records::{role_key, user_key};
use crate::base::Ctx;
use steward_api::query::{validation, Params};

/// Tags an IAM user or role may carry.
const MAX_TAGS: usize = 50;

/// The `Tags.member.N` of a request, checked as IAM checks them.
pub fn tags_of(params: &Params) -> Result<BTreeMap<String, String>, ApiError> {
    let mut tags = BTreeMap::new();
    for member in params.members("Tags") {
        let key = member.get("Key").cloned().unwrap_or_default();
        let value = member.get("Value").cloned().unwrap_or_default();
        check_tag(&key, &value)?;
        tags.insert(key, value);
    }
    Ok(tags)
}

fn allowed(c: char) -> bool {
    c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c)
}

fn check_tag(key: &str, value: &str) -> Result<(), ApiError> {
    if key.is_empty() || key.chars().count() > 128 || !key.chars().all(allowed) {
        return Err(validation(format!(
            "1 validation error detected: Value '{key}' at 'tags.key' failed to satisfy constraint: Member must have length between 1 and 128 and satisfy regular expression pattern: [\\p{{L}}\\p{{Z}}\\p{{N}}_.:/=+\\-@]+"
        )));
    }
    if value.chars().count() > 256 || !value.chars().all(allowed) {
        return Err(validation(format!(
            "1 validation error detected: Value '{value}' at 'tags.value' failed to satisfy constraint: Member must have length less than or equal to 256 and satisfy regular expression pattern: [\\p{{L}}\\p{{Z}}\\p{{N}}_.:/=+\\-@]*"
        )));
    }
    Ok(())
}

fn too_many() -> ApiError {
    ApiError::new("LimitExceeded", format!("Cannot exceed quota for TagsPerEntity: {MAX_TAGS}")).with_status(409)
}

/// Adds `new` to `tags` (replacing values of keys already there) or removes `TagKeys`.
fn change(tags: &mut BTreeMap<String, String>, action: &str, params: &Params) -> Result<(), ApiError> {
    if action.starts_with("Tag") {
        let new = tags_of(params)?;
        if new.is_empty() {
            return Err(validation("Tags must name at least one tag."));
        }
        tags.extend(new);
        if tags.len() > MAX_TAGS {
            return Err(too_many());
        }
    } else {
        for key in params.list("TagKeys") {
            tags.remove(&key);
        }
    }
    Ok(())
}

fn tag_list(tags: &BTreeMap<String, String>) -> Result<Option<String>, ApiError> {
    let pairs: Vec<_> = tags.iter().collect();
    one(|x| {
        x.list("Tags", &pairs, |x, (k, v)| {
            x.leaf("Key", k).leaf("Value", v);
        });
        x.leaf("IsTruncated", "false");
    })
}

/// Runs one of the tagging actions.
pub async fn call(ctx: &Ctx, action: &str, params: &Params) -> Result<Option<String>, ApiError> {
    let account = ctx.principal.account.clone();
    match action {
        "TagUser" | "UntagUser" | "ListUserTags" => {
            let (mut user, revision) = need_user(ctx, params.req("UserName")?).await?;
            if action == "ListUserTags" {
                return tag_list(&user.tags);
            }
            change(&mut user.tags, action, params)?;
            save(ctx, &user_key(&account, &user.name), &user, revision).await?;
            Ok(None)
        }
        "TagRole" | "UntagRole" | "ListRoleTags" => {
            let (mut role, revision) = need_role(ctx, params.req("RoleName")?).await?;
            if action == "ListRoleTags" {
                return tag_list(&role.tags);
            }
            change(&mut role.tags, action, params)?;
            save(ctx, &role_key(&account, &role.name), &role, revision).await?;
            Ok(None)
        }
        _ => unreachable!("only tagging actions are routed here"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_keys_and_values_are_checked() {
        assert!(check_tag("SSMSessionRunAs", "ec2-user").is_ok());
        assert!(check_tag("team name", "a/b:c=d+e@f").is_ok());
        assert!(check_tag("", "x").is_err());
        assert!(check_tag(&"k".repeat(129), "x").is_err());
        assert!(check_tag("k", &"v".repeat(257)).is_err());
        assert!(check_tag("k;", "x").is_err());
        assert!(check_tag("k", "x<y").is_err());
    }
}

//! Managed policy versions, as IAM keeps them: at most five per policy, numbered `v1`,
//! `v2`, … and never reused; exactly one is the default, and only the default applies.
//! The record's `document` is always the default version's text, so evaluation never
//! looks at versions.

use steward_api::ApiError;
use steward_core::iam::policy::Kind;

use super::common::{conflict, iso, need_policy, no_such, one, parse_document, save, url_encode};
use crate::base::iam_records::{PolicyRecord, PolicyVersion};
use crate::base::Ctx;
use steward_api::query::Xml;
use steward_api::query::{validation, Params};

/// Versions a policy may keep.
const MAX_VERSIONS: usize = 5;

/// The policy's versions (a policy from before versions has its document as `v1`).
pub fn versions_of(record: &PolicyRecord) -> Vec<PolicyVersion> {
    if record.versions.is_empty() {
        vec![PolicyVersion { id: "v1".into(), document: record.document.clone(), created: record.created }]
    } else {
        record.versions.clone()
    }
}

/// The default version's id.
pub fn default_of(record: &PolicyRecord) -> &str {
    if record.default_version.is_empty() {
        "v1"
    } else {
        &record.default_version
    }
}

fn version_xml(x: &mut Xml, version: &PolicyVersion, default: &str, with_document: bool) {
    if with_document {
        x.leaf("Document", &url_encode(&version.document));
    }
    x.leaf("VersionId", &version.id);
    x.leaf("IsDefaultVersion", if version.id == default { "true" } else { "false" });
    x.leaf("CreateDate", &iso(version.created));
}

fn check_version_id(id: &str) -> Result<(), ApiError> {
    let digits = id.strip_prefix('v').unwrap_or_default();
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(validation(format!(
            "1 validation error detected: Value '{id}' at 'versionId' failed to satisfy constraint: Member must satisfy regular expression pattern: v[1-9][0-9]*(\\.[A-Za-z0-9-]*)?"
        )));
    }
    Ok(())
}

fn find<'a>(versions: &'a [PolicyVersion], id: &str, policy_arn: &str) -> Result<&'a PolicyVersion, ApiError> {
    versions.iter().find(|v| v.id == id).ok_or_else(|| no_such("policy version", &format!("{id} of {policy_arn}")))
}

/// CreatePolicyVersion, GetPolicyVersion, ListPolicyVersions, SetDefaultPolicyVersion and
/// DeletePolicyVersion.
pub async fn call(ctx: &Ctx, action: &str, params: &Params, now: i64) -> Result<Option<String>, ApiError> {
    let policy_arn = params.req("PolicyArn")?;
    let (mut record, revision, key) = need_policy(ctx, policy_arn).await?;
    let mut versions = versions_of(&record);
    let default = default_of(&record).to_owned();
    match action {
        "CreatePolicyVersion" => {
            let document = params.req("PolicyDocument")?;
            parse_document(document, Kind::Identity)?;
            if versions.len() >= MAX_VERSIONS {
                return Err(ApiError::new(
                    "LimitExceeded",
                    format!("A managed policy can have up to {MAX_VERSIONS} versions. Before you create a new version, you must delete an existing version."),
                )
                .with_status(409));
            }
            // Numbers are never reused, even after a version is deleted.
            let highest = versions.iter().filter_map(|v| v.id[1..].parse::<u32>().ok()).max().unwrap_or(1);
            let number = record.next_version.max(highest + 1);
            let version = PolicyVersion { id: format!("v{number}"), document: document.into(), created: now };
            let make_default = params.opt("SetAsDefault").is_some_and(|v| v.eq_ignore_ascii_case("true"));
            versions.push(version.clone());
            record.next_version = number + 1;
            record.default_version = default.clone();
            if make_default {
                record.default_version = version.id.clone();
                record.document = version.document.clone();
            }
            record.versions = versions;
            save(ctx, &key, &record, revision).await?;
            let shown_default = default_of(&record).to_owned();
            one(|x| {
                x.open("PolicyVersion");
                version_xml(x, &version, &shown_default, false);
                x.close("PolicyVersion");
            })
        }
        "GetPolicyVersion" => {
            let id = params.req("VersionId")?;
            check_version_id(id)?;
            let version = find(&versions, id, policy_arn)?;
            one(|x| {
                x.open("PolicyVersion");
                version_xml(x, version, &default, true);
                x.close("PolicyVersion");
            })
        }
        "ListPolicyVersions" => {
            let mut listed = versions.clone();
            listed.reverse(); // Newest first, as IAM lists them.
            one(|x| {
                x.list("Versions", &listed, |x, v| version_xml(x, v, &default, true));
                x.leaf("IsTruncated", "false");
            })
        }
        "SetDefaultPolicyVersion" => {
            let id = params.req("VersionId")?;
            check_version_id(id)?;
            let document = find(&versions, id, policy_arn)?.document.clone();
            record.versions = versions;
            record.default_version = id.into();
            record.document = document;
            save(ctx, &key, &record, revision).await?;
            Ok(None)
        }
        "DeletePolicyVersion" => {
            let id = params.req("VersionId")?;
            check_version_id(id)?;
            find(&versions, id, policy_arn)?;
            if id == default {
                return Err(conflict("Cannot delete the default version of a policy."));
            }
            let highest = versions.iter().filter_map(|v| v.id[1..].parse::<u32>().ok()).max().unwrap_or(1);
            record.next_version = record.next_version.max(highest + 1);
            versions.retain(|v| v.id != id);
            record.default_version = default;
            record.versions = versions;
            save(ctx, &key, &record, revision).await?;
            Ok(None)
        }
        _ => unreachable!("only version actions are routed here"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_from_before_versions_is_its_own_v1() {
        let record = PolicyRecord { document: "{}".into(), created: 5, ..Default::default() };
        let versions = versions_of(&record);
        assert_eq!(versions.len(), 1);
        assert_eq!((versions[0].id.as_str(), default_of(&record)), ("v1", "v1"));
    }

    #[test]
    fn version_ids_are_checked() {
        assert!(check_version_id("v1").is_ok());
        assert!(check_version_id("v12").is_ok());
        for bad in ["", "v", "1", "vx", "V1", "v1;"] {
            assert!(check_version_id(bad).is_err(), "{bad}");
        }
    }
}

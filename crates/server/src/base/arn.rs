//! ARNs of the resources policies name, as IAM sees them.

use super::Principal;

/// The ARN of a parameter named `name` (a name, or already an ARN), with any `:version` or
/// `:label` selector dropped: policies name parameters, so `x:3`, `x:prod` and `x`'s ARN
/// with a selector are all checked as `x`, and a Deny on `x` holds for each.
pub fn parameter_arn(p: &Principal, name: &str) -> String {
    if name.starts_with("arn:") {
        // arn:partition:service:region:account:parameter/NAME[:selector]
        let mut parts = name.splitn(6, ':');
        let head: Vec<&str> = parts.by_ref().take(5).collect();
        let resource = parts.next().unwrap_or_default();
        let resource = resource.split(':').next().unwrap_or(resource);
        return format!("{}:{resource}", head.join(":"));
    }
    let bare = name.split(':').next().unwrap_or(name);
    format!("arn:aws:ssm:{}:{}:parameter/{}", p.region, p.account, bare.trim_start_matches('/'))
}

/// The ARN IAM policies name a runbook's version by when it is started
/// (`automation-definition/NAME:VERSION`, the version `$DEFAULT` unless given).
pub fn automation_definition_arn(p: &Principal, name: &str, version: &str) -> String {
    format!("arn:aws:ssm:{}:{}:automation-definition/{name}:{version}", p.region, p.account)
}

/// The ARN of a document. Built-in `AWS-*` documents belong to no account; the Session
/// Manager preferences document `SSM-SessionManagerRunShell` is the account's own (its
/// built-in form only stands in until the account writes one), so policies name it with
/// the account, as SSM's do.
pub fn document_arn(p: &Principal, name: &str) -> String {
    if name.starts_with("arn:") {
        return name.to_owned();
    }
    let account = if name.starts_with("AWS-") || name.starts_with("AWSSupport-") { "" } else { p.account.as_str() };
    format!("arn:aws:ssm:{}:{account}:document/{name}", p.region)
}

/// The ARN of a managed node.
pub fn node_arn(p: &Principal, instance_id: &str) -> String {
    format!("arn:aws:ssm:{}:{}:managed-instance/{instance_id}", p.region, p.account)
}

/// The ARN of a resource group (a name, or already an ARN).
pub fn group_arn(p: &Principal, name: &str) -> String {
    if name.starts_with("arn:") {
        return name.to_owned();
    }
    format!("arn:aws:resource-groups:{}:{}:group/{name}", p.region, p.account)
}

/// The ARN of a maintenance window.
pub fn window_arn(p: &Principal, id: &str) -> String {
    format!("arn:aws:ssm:{}:{}:maintenancewindow/{id}", p.region, p.account)
}

/// The ARN of an association.
pub fn association_arn(p: &Principal, id: &str) -> String {
    format!("arn:aws:ssm:{}:{}:association/{id}", p.region, p.account)
}

/// The ARN of a KMS key or alias (an id, an alias name, or already an ARN).
pub fn kms_arn(p: &Principal, key: &str) -> String {
    if key.starts_with("arn:") {
        key.to_owned()
    } else if key.starts_with("alias/") {
        format!("arn:aws:kms:{}:{}:{key}", p.region, p.account)
    } else {
        format!("arn:aws:kms:{}:{}:key/{key}", p.region, p.account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_selectors_name_the_parameter() {
        let p = Principal::root("123456789012", "us-east-1");
        let plain = "arn:aws:ssm:us-east-1:123456789012:parameter/app/db";
        for asked in ["/app/db", "/app/db:3", "/app/db:prod", plain, &format!("{plain}:3"), &format!("{plain}:prod")] {
            assert_eq!(parameter_arn(&p, asked), plain, "{asked}");
        }
        assert_eq!(parameter_arn(&p, "single:2"), "arn:aws:ssm:us-east-1:123456789012:parameter/single");
    }
}

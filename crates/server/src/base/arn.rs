//! ARNs of the resources policies name, as IAM sees them.

use super::Principal;

/// The ARN of a parameter named `name` (a name, or already an ARN; selectors dropped).
pub fn parameter_arn(p: &Principal, name: &str) -> String {
    if name.starts_with("arn:") {
        return name.to_owned();
    }
    let bare = name.split(':').next().unwrap_or(name);
    format!("arn:aws:ssm:{}:{}:parameter/{}", p.region, p.account, bare.trim_start_matches('/'))
}

/// The ARN of a document (built-in `AWS-*` documents belong to no account).
pub fn document_arn(p: &Principal, name: &str) -> String {
    if name.starts_with("arn:") {
        return name.to_owned();
    }
    let account = if name.starts_with("AWS-") || name.starts_with("AWSSupport-") || name.starts_with("SSM-") {
        ""
    } else {
        p.account.as_str()
    };
    format!("arn:aws:ssm:{}:{account}:document/{name}", p.region)
}

/// The ARN of a managed node.
pub fn node_arn(p: &Principal, instance_id: &str) -> String {
    format!("arn:aws:ssm:{}:{}:managed-instance/{instance_id}", p.region, p.account)
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

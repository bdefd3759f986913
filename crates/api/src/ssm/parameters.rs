//! Parameter Store operations.

use serde::{Deserialize, Serialize};

use super::Tag;

/// PutParameter input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutParameterRequest {
    /// The parameter name (not an ARN).
    pub name: String,
    /// The value; plaintext for SecureString.
    pub value: String,
    /// Description.
    pub description: Option<String>,
    /// String, StringList or SecureString; required on creation.
    #[serde(rename = "Type")]
    pub kind: Option<String>,
    /// KMS key for SecureString.
    pub key_id: Option<String>,
    /// Replace an existing parameter.
    pub overwrite: Option<bool>,
    /// A regex the value must match.
    pub allowed_pattern: Option<String>,
    /// Tags at creation.
    pub tags: Option<Vec<Tag>>,
    /// Standard, Advanced or Intelligent-Tiering.
    pub tier: Option<String>,
    /// Parameter policies, a JSON array as text.
    pub policies: Option<String>,
    /// `text` or `aws:ec2:image`.
    pub data_type: Option<String>,
}

/// PutParameter output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutParameterResponse {
    /// The new version.
    pub version: i64,
    /// The tier the parameter is in.
    pub tier: String,
}

/// GetParameter input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetParameterRequest {
    /// Name, optionally with `:version` or `:label`.
    pub name: String,
    /// Decrypt SecureString values.
    pub with_decryption: Option<bool>,
}

/// A parameter value as GetParameter and friends return it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Parameter {
    /// Name without selector.
    pub name: String,
    /// The type.
    #[serde(rename = "Type")]
    pub kind: String,
    /// The value (ciphertext for SecureString without decryption).
    pub value: String,
    /// The version returned.
    pub version: i64,
    /// The selector asked for, e.g. `:3` or `:prod`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    /// Set for values fetched from other sources (unused).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_result: Option<String>,
    /// Epoch seconds.
    pub last_modified_date: f64,
    /// The parameter's ARN.
    #[serde(rename = "ARN")]
    pub arn: String,
    /// The data type.
    pub data_type: String,
}

/// GetParameter output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetParameterResponse {
    /// The parameter.
    pub parameter: Parameter,
}

/// GetParameters input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetParametersRequest {
    /// Up to 10 names, each optionally with a selector.
    pub names: Vec<String>,
    /// Decrypt SecureString values.
    pub with_decryption: Option<bool>,
}

/// GetParameters output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetParametersResponse {
    /// Found parameters.
    pub parameters: Vec<Parameter>,
    /// Names not found.
    pub invalid_parameters: Vec<String>,
}

/// A `ParameterStringFilter`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ParameterStringFilter {
    /// Name, Type, KeyId, Path, Tier, DataType, Label or `tag:KEY`.
    pub key: String,
    /// Equals, BeginsWith, Contains, Recursive, OneLevel.
    pub option: Option<String>,
    /// Values to match.
    pub values: Option<Vec<String>>,
}

/// A legacy `ParametersFilter`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ParametersFilter {
    /// Name, Type or KeyId.
    pub key: String,
    /// Values to match.
    pub values: Vec<String>,
}

/// GetParametersByPath input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetParametersByPathRequest {
    /// The hierarchy path.
    pub path: String,
    /// Descend into sub-paths.
    pub recursive: Option<bool>,
    /// Filters.
    pub parameter_filters: Option<Vec<ParameterStringFilter>>,
    /// Decrypt SecureString values.
    pub with_decryption: Option<bool>,
    /// Page size, at most 10.
    pub max_results: Option<i64>,
    /// Continuation.
    pub next_token: Option<String>,
}

/// GetParametersByPath output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetParametersByPathResponse {
    /// The page.
    pub parameters: Vec<Parameter>,
    /// Continuation, if more remain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// DescribeParameters input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeParametersRequest {
    /// Legacy filters.
    pub filters: Option<Vec<ParametersFilter>>,
    /// Filters.
    pub parameter_filters: Option<Vec<ParameterStringFilter>>,
    /// Page size, at most 50.
    pub max_results: Option<i64>,
    /// Continuation.
    pub next_token: Option<String>,
    /// List parameters shared with this account (none are, yet).
    pub shared: Option<bool>,
}

/// A parameter policy as described.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ParameterInlinePolicy {
    /// The policy JSON.
    pub policy_text: String,
    /// Expiration, ExpirationNotification, NoChangeNotification.
    pub policy_type: String,
    /// Pending, Finished, Failed.
    pub policy_status: String,
}

/// DescribeParameters item.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ParameterMetadata {
    /// Name.
    pub name: String,
    /// ARN.
    #[serde(rename = "ARN")]
    pub arn: String,
    /// Type.
    #[serde(rename = "Type")]
    pub kind: String,
    /// KMS key, for SecureString.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// Epoch seconds.
    pub last_modified_date: f64,
    /// The modifying principal's ARN.
    pub last_modified_user: String,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// AllowedPattern.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_pattern: Option<String>,
    /// Latest version.
    pub version: i64,
    /// Tier.
    pub tier: String,
    /// Policies.
    pub policies: Vec<ParameterInlinePolicy>,
    /// Data type.
    pub data_type: String,
}

/// DescribeParameters output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeParametersResponse {
    /// The page.
    pub parameters: Vec<ParameterMetadata>,
    /// Continuation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// GetParameterHistory input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetParameterHistoryRequest {
    /// Name (no selector).
    pub name: String,
    /// Decrypt SecureString values.
    pub with_decryption: Option<bool>,
    /// Page size, at most 50.
    pub max_results: Option<i64>,
    /// Continuation.
    pub next_token: Option<String>,
}

/// One version in a history.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ParameterHistory {
    /// Name.
    pub name: String,
    /// Type.
    #[serde(rename = "Type")]
    pub kind: String,
    /// KMS key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// Epoch seconds.
    pub last_modified_date: f64,
    /// The modifying principal.
    pub last_modified_user: String,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Value.
    pub value: String,
    /// AllowedPattern.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_pattern: Option<String>,
    /// Version.
    pub version: i64,
    /// Labels on this version.
    pub labels: Vec<String>,
    /// Tier.
    pub tier: String,
    /// Policies.
    pub policies: Vec<ParameterInlinePolicy>,
    /// Data type.
    pub data_type: String,
}

/// GetParameterHistory output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetParameterHistoryResponse {
    /// The page, oldest first.
    pub parameters: Vec<ParameterHistory>,
    /// Continuation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// DeleteParameter input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteParameterRequest {
    /// Name.
    pub name: String,
}

/// DeleteParameters input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteParametersRequest {
    /// Up to 10 names.
    pub names: Vec<String>,
}

/// DeleteParameters output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteParametersResponse {
    /// Deleted.
    pub deleted_parameters: Vec<String>,
    /// Not found.
    pub invalid_parameters: Vec<String>,
}

/// LabelParameterVersion input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LabelParameterVersionRequest {
    /// Name.
    pub name: String,
    /// Version; latest when absent.
    pub parameter_version: Option<i64>,
    /// Labels to attach.
    pub labels: Vec<String>,
}

/// LabelParameterVersion output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LabelParameterVersionResponse {
    /// Labels refused by the label rules.
    pub invalid_labels: Vec<String>,
    /// The version labelled.
    pub parameter_version: i64,
}

/// UnlabelParameterVersion input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UnlabelParameterVersionRequest {
    /// Name.
    pub name: String,
    /// Version.
    pub parameter_version: i64,
    /// Labels to remove.
    pub labels: Vec<String>,
}

/// UnlabelParameterVersion output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UnlabelParameterVersionResponse {
    /// Removed.
    pub removed_labels: Vec<String>,
    /// Not on that version.
    pub invalid_labels: Vec<String>,
}

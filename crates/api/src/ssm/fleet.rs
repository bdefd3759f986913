//! Activations and managed nodes.

use serde::{Deserialize, Serialize};

use super::Tag;

/// CreateActivation input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateActivationRequest {
    /// Description.
    pub description: Option<String>,
    /// Name given to registered nodes.
    pub default_instance_name: Option<String>,
    /// The role nodes act as.
    pub iam_role: String,
    /// How many nodes may register (default 1).
    pub registration_limit: Option<i64>,
    /// Epoch seconds; default 24 h from now, at most 30 days.
    pub expiration_date: Option<f64>,
    /// Tags given to the activation and its nodes.
    pub tags: Option<Vec<Tag>>,
    /// Extra metadata (stored).
    pub registration_metadata: Option<Vec<RegistrationMetadataItem>>,
}

/// A key/value of registration metadata.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RegistrationMetadataItem {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
}

/// CreateActivation output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateActivationResponse {
    /// The id.
    pub activation_id: String,
    /// The secret code.
    pub activation_code: String,
}

/// A DescribeActivations filter.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeActivationsFilter {
    /// ActivationIds, DefaultInstanceName, IamRole.
    pub filter_key: Option<String>,
    /// Values.
    pub filter_values: Option<Vec<String>>,
}

/// DescribeActivations input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeActivationsRequest {
    /// Filters.
    pub filters: Option<Vec<DescribeActivationsFilter>>,
    /// Page size.
    pub max_results: Option<i64>,
    /// Continuation.
    pub next_token: Option<String>,
}

/// One activation.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Activation {
    /// Id.
    pub activation_id: String,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Default instance name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_instance_name: Option<String>,
    /// Role.
    pub iam_role: String,
    /// Limit.
    pub registration_limit: i64,
    /// Registrations so far.
    pub registrations_count: i64,
    /// Epoch seconds.
    pub expiration_date: f64,
    /// Whether it has expired.
    pub expired: bool,
    /// Epoch seconds.
    pub created_date: f64,
    /// Tags.
    pub tags: Vec<Tag>,
}

/// DescribeActivations output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeActivationsResponse {
    /// The page.
    pub activation_list: Vec<Activation>,
    /// Continuation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// DeleteActivation input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteActivationRequest {
    /// Id.
    pub activation_id: String,
}

/// A legacy InstanceInformationFilter.
#[derive(Debug, Clone, Deserialize)]
pub struct InstanceInformationFilter {
    /// Key.
    pub key: String,
    /// Values.
    #[serde(rename = "valueSet")]
    pub value_set: Vec<String>,
}

/// An InstanceInformationStringFilter.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstanceInformationStringFilter {
    /// Key.
    pub key: String,
    /// Values.
    pub values: Vec<String>,
}

/// DescribeInstanceInformation input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeInstanceInformationRequest {
    /// Legacy filters.
    pub instance_information_filter_list: Option<Vec<InstanceInformationFilter>>,
    /// Filters.
    pub filters: Option<Vec<InstanceInformationStringFilter>>,
    /// Page size.
    pub max_results: Option<i64>,
    /// Continuation.
    pub next_token: Option<String>,
}

/// One managed node.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstanceInformation {
    /// `mi-…`.
    pub instance_id: String,
    /// Online, ConnectionLost, Inactive.
    pub ping_status: String,
    /// Epoch seconds.
    pub last_ping_date_time: f64,
    /// Agent version.
    pub agent_version: String,
    /// Always true for now.
    pub is_latest_version: bool,
    /// Linux, Windows, MacOS.
    pub platform_type: String,
    /// e.g. Debian GNU/Linux.
    pub platform_name: String,
    /// e.g. 12.
    pub platform_version: String,
    /// Activation.
    pub activation_id: String,
    /// Role.
    pub iam_role: String,
    /// Epoch seconds.
    pub registration_date: f64,
    /// ManagedInstance.
    pub resource_type: String,
    /// Name.
    pub name: String,
    /// IP.
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    /// Host name.
    pub computer_name: String,
    /// `mi-…`.
    pub source_id: String,
    /// AWS::SSM::ManagedInstance.
    pub source_type: String,
}

/// DescribeInstanceInformation output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeInstanceInformationResponse {
    /// The page.
    pub instance_information_list: Vec<InstanceInformation>,
    /// Continuation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// DeregisterManagedInstance input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeregisterManagedInstanceRequest {
    /// The node.
    pub instance_id: String,
}

/// UpdateManagedInstanceRole input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateManagedInstanceRoleRequest {
    /// The node.
    pub instance_id: String,
    /// The new role.
    pub iam_role: String,
}

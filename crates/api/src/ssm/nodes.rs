//! The node views: ListNodes, ListNodesSummary and DescribeInstanceProperties.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A ListNodes / ListNodesSummary filter.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeFilter {
    /// `AgentVersion`, `PlatformName`, …
    pub key: String,
    /// Accepted values.
    pub values: Vec<String>,
    /// `Equal` (default), `NotEqual` or `BeginWith`.
    #[serde(rename = "Type")]
    pub kind: Option<String>,
}

/// ListNodes input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListNodesRequest {
    /// A resource data sync to read from (cross-account views).
    pub sync_name: Option<String>,
    /// Filters (all must match).
    pub filters: Option<Vec<NodeFilter>>,
    /// Page size.
    pub max_results: Option<i64>,
    /// From a previous page.
    pub next_token: Option<String>,
}

/// The account a node belongs to.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeOwnerInfo {
    /// The account.
    pub account_id: String,
}

/// What a managed node is.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstanceInfo {
    /// The agent.
    pub agent_type: String,
    /// Its version.
    pub agent_version: String,
    /// Host name.
    pub computer_name: String,
    /// `Active` or `ConnectionLost`.
    pub instance_status: String,
    /// Primary address.
    pub ip_address: String,
    /// `Managed`.
    pub managed_status: String,
    /// OS name.
    pub platform_name: String,
    /// `Linux`, …
    pub platform_type: String,
    /// OS version.
    pub platform_version: String,
    /// `ManagedInstance`.
    pub resource_type: String,
}

/// The kind of node (a union with one member).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeType {
    /// A managed instance.
    pub instance: InstanceInfo,
}

/// One node in ListNodes.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Node {
    /// Epoch seconds the data was captured.
    pub capture_time: f64,
    /// `mi-…`.
    pub id: String,
    /// Its account.
    pub owner: NodeOwnerInfo,
    /// Its region.
    pub region: String,
    /// What it is.
    pub node_type: NodeType,
}

/// ListNodes output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListNodesResponse {
    /// The nodes.
    pub nodes: Vec<Node>,
    /// More.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// A count by one attribute, maybe within another's.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeAggregator {
    /// `Count`.
    pub aggregator_type: String,
    /// `Instance`.
    pub type_name: String,
    /// `AgentVersion`, `PlatformName`, `PlatformType`, `PlatformVersion`, `Region`, `ResourceType`.
    pub attribute_name: String,
    /// Counts within each value.
    pub aggregators: Option<Vec<NodeAggregator>>,
}

/// ListNodesSummary input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListNodesSummaryRequest {
    /// A resource data sync to read from.
    pub sync_name: Option<String>,
    /// Filters.
    pub filters: Option<Vec<NodeFilter>>,
    /// What to count.
    pub aggregators: Vec<NodeAggregator>,
    /// Page size.
    pub max_results: Option<i64>,
    /// From a previous page.
    pub next_token: Option<String>,
}

/// ListNodesSummary output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListNodesSummaryResponse {
    /// Rows: attribute → value, and `Count`.
    pub summary: Vec<BTreeMap<String, String>>,
    /// More.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// DescribeInstanceProperties' older filter (lowercase members, as SSM's model has them).
#[derive(Debug, Clone, Deserialize)]
pub struct InstancePropertyFilter {
    /// The key.
    pub key: String,
    /// Accepted values.
    #[serde(rename = "valueSet")]
    pub value_set: Vec<String>,
}

/// DescribeInstanceProperties' filter with an operator.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstancePropertyStringFilter {
    /// The key.
    pub key: String,
    /// Values.
    pub values: Vec<String>,
    /// `Equal` (default), `NotEqual`, `BeginWith`, `LessThan`, `GreaterThan`.
    pub operator: Option<String>,
}

/// DescribeInstanceProperties input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeInstancePropertiesRequest {
    /// Filters (key and values).
    pub instance_property_filter_list: Option<Vec<InstancePropertyFilter>>,
    /// Filters with operators.
    pub filters_with_operator: Option<Vec<InstancePropertyStringFilter>>,
    /// Page size.
    pub max_results: Option<i64>,
    /// From a previous page.
    pub next_token: Option<String>,
}

/// One node as DescribeInstanceProperties shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstanceProperty {
    /// Its name.
    pub name: String,
    /// `mi-…`.
    pub instance_id: String,
    /// The role it acts as.
    pub instance_role: String,
    /// Primary address.
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    /// Online or ConnectionLost.
    pub ping_status: String,
    /// Epoch seconds.
    pub last_ping_date_time: f64,
    /// The agent's version.
    pub agent_version: String,
    /// `Linux`, …
    pub platform_type: String,
    /// OS name.
    pub platform_name: String,
    /// OS version.
    pub platform_version: String,
    /// The activation it registered with.
    pub activation_id: String,
    /// The role.
    pub iam_role: String,
    /// Epoch seconds.
    pub registration_date: f64,
    /// `ManagedInstance`.
    pub resource_type: String,
    /// Host name.
    pub computer_name: String,
    /// Success, Failed or Pending across its associations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub association_status: Option<String>,
    /// Epoch seconds of its last association run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_association_execution_date: Option<f64>,
    /// Epoch seconds of its last successful association run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_successful_association_execution_date: Option<f64>,
    /// Itself.
    pub source_id: String,
    /// `AWS::SSM::ManagedInstance`.
    pub source_type: String,
}

/// DescribeInstanceProperties output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeInstancePropertiesResponse {
    /// The nodes.
    pub instance_properties: Vec<InstanceProperty>,
    /// More.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

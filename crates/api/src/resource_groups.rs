//! Resource Groups (REST-JSON, signing name `resource-groups`): request and response shapes.
//! Every operation that names a group takes `Group` (name or ARN) or the older `GroupName`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A group's query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceQuery {
    /// `TAG_FILTERS_1_0` (or `CLOUDFORMATION_STACK_1_0`, refused).
    #[serde(rename = "Type")]
    pub kind: String,
    /// The query, a JSON text kept as given.
    pub query: String,
}

/// Which group a request names.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupRef {
    /// Name or ARN.
    pub group: Option<String>,
    /// Name (deprecated form).
    pub group_name: Option<String>,
}

/// CreateGroup input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateGroupRequest {
    /// The name.
    pub name: String,
    /// For people.
    pub description: Option<String>,
    /// Members by tags.
    pub resource_query: Option<ResourceQuery>,
    /// The group's own tags.
    pub tags: Option<BTreeMap<String, String>>,
    /// Service configurations (refused: no service-linked groups here).
    pub configuration: Option<serde_json::Value>,
}

/// A group as answers show it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Group {
    /// `arn:aws:resource-groups:REGION:ACCOUNT:group/NAME`.
    pub group_arn: String,
    /// The name.
    pub name: String,
    /// For people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// CreateGroup output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateGroupResponse {
    /// The group.
    pub group: Group,
    /// Its query.
    pub resource_query: ResourceQuery,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
}

/// GetGroup, UpdateGroup and DeleteGroup output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupResponse {
    /// The group.
    pub group: Group,
}

/// UpdateGroup input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateGroupRequest {
    /// Which group.
    #[serde(flatten)]
    pub group: GroupRef,
    /// The new description.
    pub description: Option<String>,
}

/// A group's query, as GetGroupQuery and UpdateGroupQuery answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupQuery {
    /// The group.
    pub group_name: String,
    /// Its query.
    pub resource_query: ResourceQuery,
}

/// GetGroupQuery and UpdateGroupQuery output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupQueryResponse {
    /// The query.
    pub group_query: GroupQuery,
}

/// UpdateGroupQuery input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateGroupQueryRequest {
    /// Which group.
    #[serde(flatten)]
    pub group: GroupRef,
    /// The new query.
    pub resource_query: ResourceQuery,
}

/// A filter of ListGroups or ListGroupResources.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NamedFilter {
    /// `resource-type`, …
    pub name: String,
    /// Values.
    pub values: Vec<String>,
}

/// ListGroups input (`maxResults` and `nextToken` come from the query string).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListGroupsRequest {
    /// Filters.
    pub filters: Option<Vec<NamedFilter>>,
    /// Page size.
    pub max_results: Option<i64>,
    /// From a previous page.
    pub next_token: Option<String>,
}

/// A group in ListGroups' GroupIdentifiers.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupIdentifier {
    /// The name.
    pub group_name: String,
    /// The ARN.
    pub group_arn: String,
    /// For people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// ListGroups output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListGroupsResponse {
    /// The groups.
    pub group_identifiers: Vec<GroupIdentifier>,
    /// The same, in the older shape.
    pub groups: Vec<Group>,
    /// More.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// ListGroupResources input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListGroupResourcesRequest {
    /// Which group.
    #[serde(flatten)]
    pub group: GroupRef,
    /// `resource-type` filters.
    pub filters: Option<Vec<NamedFilter>>,
    /// Page size.
    pub max_results: Option<i64>,
    /// From a previous page.
    pub next_token: Option<String>,
}

/// A member.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceIdentifier {
    /// Its ARN.
    pub resource_arn: String,
    /// `AWS::SSM::ManagedInstance`, …
    pub resource_type: String,
}

/// A member in ListGroupResources' Resources.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListGroupResourcesItem {
    /// The member.
    pub identifier: ResourceIdentifier,
}

/// A part of a query that could not be answered.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueryError {
    /// e.g. `RESOURCE_TYPE_NOT_SUPPORTED`.
    pub error_code: String,
    /// For people.
    pub message: String,
}

/// ListGroupResources output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListGroupResourcesResponse {
    /// Members.
    pub resources: Vec<ListGroupResourcesItem>,
    /// The same, in the older shape.
    pub resource_identifiers: Vec<ResourceIdentifier>,
    /// Unanswerable parts.
    pub query_errors: Vec<QueryError>,
    /// More.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// SearchResources input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SearchResourcesRequest {
    /// The query.
    pub resource_query: ResourceQuery,
    /// Page size.
    pub max_results: Option<i64>,
    /// From a previous page.
    pub next_token: Option<String>,
}

/// SearchResources output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SearchResourcesResponse {
    /// Matches.
    pub resource_identifiers: Vec<ResourceIdentifier>,
    /// Unanswerable parts.
    pub query_errors: Vec<QueryError>,
    /// More.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// Tag input (`Arn` from the path).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagRequest {
    /// The group's ARN.
    pub arn: String,
    /// Tags to add or change.
    pub tags: BTreeMap<String, String>,
}

/// Untag input (`Arn` from the path).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagRequest {
    /// The group's ARN.
    pub arn: String,
    /// Keys to remove.
    pub keys: Vec<String>,
}

/// GetTags input (`Arn` from the path).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetTagsRequest {
    /// The group's ARN.
    pub arn: String,
}

/// Tag and GetTags output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagsResponse {
    /// The group's ARN.
    pub arn: String,
    /// Tags added (Tag) or all tags (GetTags).
    pub tags: BTreeMap<String, String>,
}

/// Untag output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagResponse {
    /// The group's ARN.
    pub arn: String,
    /// Keys removed.
    pub keys: Vec<String>,
}

//! Inventory: what nodes report of themselves, by type, and the queries over it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One entry: attribute → value.
pub type InventoryEntry = BTreeMap<String, String>;

/// One type of one node, as given to PutInventory.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InventoryItem {
    /// `AWS:…` or `Custom:…`.
    pub type_name: String,
    /// e.g. `1.0`.
    pub schema_version: String,
    /// `2026-12-07T10:00:00Z`.
    pub capture_time: String,
    /// The content's hash; alone (no Content) it says "unchanged".
    pub content_hash: Option<String>,
    /// The entries.
    pub content: Option<Vec<InventoryEntry>>,
    /// Extra context (only for types that take one).
    pub context: Option<BTreeMap<String, String>>,
}

/// PutInventory input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutInventoryRequest {
    /// The node.
    pub instance_id: String,
    /// One per type.
    pub items: Vec<InventoryItem>,
}

/// PutInventory output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutInventoryResponse {
    /// What happened, for people.
    pub message: String,
}

/// A condition on one attribute (`AWS:Application.Name`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InventoryFilter {
    /// `TYPE.Attribute`.
    pub key: String,
    /// One or more values.
    pub values: Vec<String>,
    /// Equal (default), NotEqual, BeginWith, LessThan, GreaterThan, Exists.
    #[serde(rename = "Type")]
    pub kind: Option<String>,
}

/// A named group of an aggregation.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InventoryGroup {
    /// Its name in the answer.
    pub name: String,
    /// The nodes it counts.
    pub filters: Vec<InventoryFilter>,
}

/// Counts over an attribute, or over groups.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InventoryAggregator {
    /// `TYPE.Attribute` (or `TYPE` with Groups).
    pub expression: Option<String>,
    /// Finer counts within each value.
    pub aggregators: Option<Vec<InventoryAggregator>>,
    /// Named groups.
    pub groups: Option<Vec<InventoryGroup>>,
}

/// A type to include in the answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResultAttribute {
    /// `AWS:…` or `Custom:…`.
    pub type_name: String,
}

/// GetInventory input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetInventoryRequest {
    /// Conditions every node must meet.
    pub filters: Option<Vec<InventoryFilter>>,
    /// Counts instead of nodes.
    pub aggregators: Option<Vec<InventoryAggregator>>,
    /// Types to include.
    pub result_attributes: Option<Vec<ResultAttribute>>,
    /// Page size.
    pub max_results: Option<i64>,
    /// From a previous page.
    pub next_token: Option<String>,
}

/// One type's data in an answer.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InventoryResultItem {
    /// The type.
    pub type_name: String,
    /// Its schema version.
    pub schema_version: String,
    /// When gathered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture_time: Option<String>,
    /// Its hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_hash: Option<String>,
    /// Entries.
    pub content: Vec<InventoryEntry>,
}

/// One node (or one aggregation) in an answer.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InventoryResultEntity {
    /// The node's id (absent for aggregations).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Type → data.
    pub data: BTreeMap<String, InventoryResultItem>,
}

/// GetInventory output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetInventoryResponse {
    /// Nodes or counts.
    pub entities: Vec<InventoryResultEntity>,
    /// More.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// ListInventoryEntries input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListInventoryEntriesRequest {
    /// The node.
    pub instance_id: String,
    /// The type.
    pub type_name: String,
    /// Conditions on entries.
    pub filters: Option<Vec<InventoryFilter>>,
    /// Page size.
    pub max_results: Option<i64>,
    /// From a previous page.
    pub next_token: Option<String>,
}

/// ListInventoryEntries output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListInventoryEntriesResponse {
    /// The type.
    pub type_name: String,
    /// The node.
    pub instance_id: String,
    /// Schema version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<String>,
    /// When gathered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture_time: Option<String>,
    /// Entries of this page.
    pub entries: Vec<InventoryEntry>,
    /// More.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// GetInventorySchema input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetInventorySchemaRequest {
    /// One type (or all).
    pub type_name: Option<String>,
    /// Only the attributes aggregations may use.
    pub aggregator: Option<bool>,
    /// Sub-types (such as `AWS:ComplianceItem` under compliance); none here.
    pub sub_type: Option<bool>,
    /// Page size.
    pub max_results: Option<i64>,
    /// From a previous page.
    pub next_token: Option<String>,
}

/// One attribute of a schema.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InventoryItemAttribute {
    /// Name.
    pub name: String,
    /// `string` or `number`.
    pub data_type: String,
}

/// One type's schema.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InventoryItemSchema {
    /// The type.
    pub type_name: String,
    /// Its version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Its attributes.
    pub attributes: Vec<InventoryItemAttribute>,
    /// For people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

/// GetInventorySchema output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetInventorySchemaResponse {
    /// Schemas.
    pub schemas: Vec<InventoryItemSchema>,
    /// More.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// DeleteInventory input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteInventoryRequest {
    /// A `Custom:` type.
    pub type_name: String,
    /// DisableSchema or DeleteSchema.
    pub schema_delete_option: Option<String>,
    /// Count only.
    pub dry_run: Option<bool>,
    /// Idempotency.
    pub client_token: Option<String>,
}

/// Counts of one schema version in a deletion.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct InventoryDeletionSummaryItem {
    /// The schema version.
    pub version: String,
    /// Items of it when the deletion started.
    pub count: i64,
    /// Items of it not deleted yet.
    pub remaining_count: i64,
}

/// Counts of a deletion.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct InventoryDeletionSummary {
    /// Items when it started.
    pub total_count: i64,
    /// Items not deleted yet.
    pub remaining_count: i64,
    /// Per version.
    pub summary_items: Vec<InventoryDeletionSummaryItem>,
}

/// DeleteInventory output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteInventoryResponse {
    /// Absent for a dry run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_id: Option<String>,
    /// The type.
    pub type_name: String,
    /// Counts.
    pub deletion_summary: InventoryDeletionSummary,
}

/// DescribeInventoryDeletions input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeInventoryDeletionsRequest {
    /// One deletion (or all).
    pub deletion_id: Option<String>,
    /// Page size.
    pub max_results: Option<i64>,
    /// From a previous page.
    pub next_token: Option<String>,
}

/// One deletion.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InventoryDeletionStatusItem {
    /// Id.
    pub deletion_id: String,
    /// The type.
    pub type_name: String,
    /// Epoch seconds.
    pub deletion_start_time: f64,
    /// InProgress or Complete.
    pub last_status: String,
    /// For people.
    pub last_status_message: String,
    /// Counts.
    pub deletion_summary: InventoryDeletionSummary,
    /// Epoch seconds.
    pub last_status_update_time: f64,
}

/// DescribeInventoryDeletions output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeInventoryDeletionsResponse {
    /// Deletions, newest first.
    pub inventory_deletions: Vec<InventoryDeletionStatusItem>,
    /// More.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// Where a SyncToDestination sync writes (S3's shape; here, a bucket of the blob store).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceDataSyncS3Destination {
    /// The bucket.
    pub bucket_name: String,
    /// Under this prefix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// `JsonSerDe`.
    pub sync_format: String,
    /// The bucket's region.
    pub region: String,
    /// A KMS key (refused: files are plain JSON lines).
    #[serde(rename = "AWSKMSKeyARN", skip_serializing_if = "Option::is_none")]
    pub aws_kms_key_arn: Option<String>,
    /// Organizations sharing (refused).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_data_sharing: Option<serde_json::Value>,
}

/// CreateResourceDataSync input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateResourceDataSyncRequest {
    /// The name.
    pub sync_name: String,
    /// The destination (SyncToDestination).
    #[serde(rename = "S3Destination")]
    pub s3_destination: Option<ResourceDataSyncS3Destination>,
    /// `SyncToDestination` (default) or `SyncFromSource` (refused).
    pub sync_type: Option<String>,
    /// The sources (SyncFromSource).
    pub sync_source: Option<serde_json::Value>,
}

/// ListResourceDataSync input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListResourceDataSyncRequest {
    /// Only syncs of this type.
    pub sync_type: Option<String>,
    /// Page size.
    pub max_results: Option<i64>,
    /// From a previous page.
    pub next_token: Option<String>,
}

/// A sync, as ListResourceDataSync shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceDataSyncItem {
    /// The name.
    pub sync_name: String,
    /// `SyncToDestination`.
    pub sync_type: String,
    /// The destination.
    #[serde(rename = "S3Destination")]
    pub s3_destination: ResourceDataSyncS3Destination,
    /// Epoch seconds of the last export pass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_sync_time: Option<f64>,
    /// Epoch seconds of the last pass that wrote everything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_successful_sync_time: Option<f64>,
    /// Epoch seconds of the last change to the sync.
    pub sync_last_modified_time: f64,
    /// `Successful`, `Failed` or `InProgress`.
    pub last_status: String,
    /// Epoch seconds.
    pub sync_created_time: f64,
    /// For people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_sync_status_message: Option<String>,
}

/// ListResourceDataSync output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListResourceDataSyncResponse {
    /// The syncs.
    pub resource_data_sync_items: Vec<ResourceDataSyncItem>,
    /// More.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// DeleteResourceDataSync input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteResourceDataSyncRequest {
    /// The name.
    pub sync_name: String,
    /// Its type, if given.
    pub sync_type: Option<String>,
}

/// UpdateResourceDataSync input (only SyncFromSource syncs can change; none exist here).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateResourceDataSyncRequest {
    /// The name.
    pub sync_name: String,
    /// Its type.
    pub sync_type: String,
}

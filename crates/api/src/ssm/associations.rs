//! State Manager associations.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::commands::Target;
use super::Tag;

/// Where an association's command output goes (the blob store stands in for S3).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OutputLocation {
    /// Bucket and prefix.
    #[serde(rename = "S3Location", skip_serializing_if = "Option::is_none")]
    pub s3_location: Option<S3OutputLocation>,
}

/// A bucket and key prefix.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct S3OutputLocation {
    /// Region (kept, not used).
    #[serde(rename = "OutputS3Region", skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Bucket.
    #[serde(rename = "OutputS3BucketName", skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    /// Prefix.
    #[serde(rename = "OutputS3KeyPrefix", skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

/// What CreateAssociation, a CreateAssociationBatch entry and UpdateAssociation may set.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssociationInput {
    /// Document name or ARN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Legacy single-node form.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// Document parameters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<BTreeMap<String, Vec<String>>>,
    /// Document version (`$DEFAULT`, `$LATEST` or a number).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_version: Option<String>,
    /// Targets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub targets: Option<Vec<Target>>,
    /// cron(…) or rate(…).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_expression: Option<String>,
    /// Output location.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_location: Option<OutputLocation>,
    /// Name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub association_name: Option<String>,
    /// For Automation documents.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub automation_target_parameter_name: Option<String>,
    /// Number or percentage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_errors: Option<String>,
    /// Number or percentage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<String>,
    /// CRITICAL, HIGH, MEDIUM, LOW, UNSPECIFIED.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compliance_severity: Option<String>,
    /// AUTO or MANUAL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sync_compliance: Option<String>,
    /// Run only on the schedule, not when created or updated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apply_only_at_cron_interval: Option<bool>,
    /// Change Calendar names (kept).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calendar_names: Option<Vec<String>>,
    /// Days after the cron time (1–6).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_offset: Option<i64>,
    /// Hours a run may take (1–24).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<i64>,
    /// Expected current version (UpdateAssociation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub association_version: Option<String>,
    /// UpdateAssociation only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub association_id: Option<String>,
    /// Tags (CreateAssociation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
    /// Not supported (multi-account).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_locations: Option<serde_json::Value>,
    /// Not supported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_maps: Option<serde_json::Value>,
    /// Not supported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alarm_configuration: Option<serde_json::Value>,
}

/// CreateAssociationBatch input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateAssociationBatchRequest {
    /// Up to 10 associations.
    pub entries: Vec<AssociationInput>,
}

/// Counts of node statuses.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssociationOverview {
    /// Pending, Success, Failed.
    pub status: String,
    /// Finer status.
    pub detailed_status: String,
    /// Nodes per status.
    pub association_status_aggregated_count: BTreeMap<String, i64>,
}

/// An association as described.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssociationDescription {
    /// Document.
    pub name: String,
    /// Legacy single node.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// Version of the association.
    pub association_version: String,
    /// Created, epoch seconds.
    pub date: f64,
    /// Last changed, epoch seconds.
    pub last_update_association_date: f64,
    /// Overview.
    pub overview: AssociationOverview,
    /// Document version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_version: Option<String>,
    /// Parameters.
    pub parameters: BTreeMap<String, Vec<String>>,
    /// Id.
    pub association_id: String,
    /// Targets.
    pub targets: Vec<Target>,
    /// Schedule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_expression: Option<String>,
    /// Output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_location: Option<OutputLocation>,
    /// Last run, epoch seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_execution_date: Option<f64>,
    /// Last run that succeeded, epoch seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_successful_execution_date: Option<f64>,
    /// Name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub association_name: Option<String>,
    /// Limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_errors: Option<String>,
    /// Limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<String>,
    /// Severity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compliance_severity: Option<String>,
    /// AUTO or MANUAL.
    pub sync_compliance: String,
    /// Whether creation and updates run it.
    pub apply_only_at_cron_interval: bool,
    /// Calendars.
    pub calendar_names: Vec<String>,
    /// Days after the cron time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_offset: Option<i64>,
    /// Hours.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<i64>,
    /// For Automation documents.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub automation_target_parameter_name: Option<String>,
}

/// One stored version of an association.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssociationVersionInfo {
    /// Id.
    pub association_id: String,
    /// Version.
    pub association_version: String,
    /// Epoch seconds.
    pub created_date: f64,
    /// Document.
    pub name: String,
    /// Document version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_version: Option<String>,
    /// Parameters.
    pub parameters: BTreeMap<String, Vec<String>>,
    /// Targets.
    pub targets: Vec<Target>,
    /// Schedule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_expression: Option<String>,
    /// Output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_location: Option<OutputLocation>,
    /// Name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub association_name: Option<String>,
    /// Limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_errors: Option<String>,
    /// Limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<String>,
    /// Severity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compliance_severity: Option<String>,
    /// AUTO or MANUAL.
    pub sync_compliance: String,
    /// Whether creation and updates run it.
    pub apply_only_at_cron_interval: bool,
    /// Days after the cron time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_offset: Option<i64>,
    /// Hours.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<i64>,
}

/// An association as listed.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssociationSummary {
    /// Document.
    pub name: String,
    /// Legacy single node.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// Id.
    pub association_id: String,
    /// Version.
    pub association_version: String,
    /// Document version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_version: Option<String>,
    /// Targets.
    pub targets: Vec<Target>,
    /// Last run, epoch seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_execution_date: Option<f64>,
    /// Overview.
    pub overview: AssociationOverview,
    /// Schedule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_expression: Option<String>,
    /// Name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub association_name: Option<String>,
    /// Days after the cron time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_offset: Option<i64>,
    /// Hours.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<i64>,
}

/// DescribeAssociation / DeleteAssociation input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssociationSelector {
    /// Document (legacy form, with InstanceId).
    pub name: Option<String>,
    /// Node (legacy form).
    pub instance_id: Option<String>,
    /// Id.
    pub association_id: Option<String>,
    /// A version to describe.
    pub association_version: Option<String>,
}

/// One association's description.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssociationDescriptionResponse {
    /// The association.
    pub association_description: AssociationDescription,
}

/// A failed batch entry.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FailedCreateAssociation {
    /// The entry as given.
    pub entry: AssociationInput,
    /// Why.
    pub message: String,
    /// Client or Server.
    pub fault: String,
}

/// CreateAssociationBatch output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateAssociationBatchResponse {
    /// Created.
    pub successful: Vec<AssociationDescription>,
    /// Refused.
    pub failed: Vec<FailedCreateAssociation>,
}

/// A ListAssociations filter.
#[derive(Debug, Clone, Deserialize)]
pub struct AssociationFilter {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
}

/// ListAssociations input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAssociationsRequest {
    /// Filters (all must match).
    pub association_filter_list: Option<Vec<AssociationFilter>>,
    /// Page size.
    pub max_results: Option<i64>,
    /// Paging.
    pub next_token: Option<String>,
}

/// ListAssociations output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAssociationsResponse {
    /// Page.
    pub associations: Vec<AssociationSummary>,
    /// More.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// A paged request about one association.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAssociationVersionsRequest {
    /// Id.
    pub association_id: String,
    /// Page size.
    pub max_results: Option<i64>,
    /// Paging.
    pub next_token: Option<String>,
}

/// ListAssociationVersions output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAssociationVersionsResponse {
    /// Newest last.
    pub association_versions: Vec<AssociationVersionInfo>,
    /// More.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// An execution filter.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExecutionFilter {
    /// ExecutionId, Status, CreatedTime (executions); Status, ResourceId, ResourceType (targets).
    pub key: String,
    /// Value.
    pub value: String,
    /// EQUAL, LESS_THAN, GREATER_THAN (executions only).
    #[serde(rename = "Type")]
    pub kind: Option<String>,
}

/// DescribeAssociationExecutions input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeAssociationExecutionsRequest {
    /// Id.
    pub association_id: String,
    /// Filters.
    pub filters: Option<Vec<ExecutionFilter>>,
    /// Page size.
    pub max_results: Option<i64>,
    /// Paging.
    pub next_token: Option<String>,
}

/// One run of an association.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssociationExecution {
    /// Association.
    pub association_id: String,
    /// Its version at the time.
    pub association_version: String,
    /// Id.
    pub execution_id: String,
    /// Pending, InProgress, Success, Failed.
    pub status: String,
    /// Finer status.
    pub detailed_status: String,
    /// Epoch seconds.
    pub created_time: f64,
    /// Epoch seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_execution_date: Option<f64>,
    /// `Success=2,Failed=1`.
    pub resource_count_by_status: String,
}

/// DescribeAssociationExecutions output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeAssociationExecutionsResponse {
    /// Newest first.
    pub association_executions: Vec<AssociationExecution>,
    /// More.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// DescribeAssociationExecutionTargets input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeAssociationExecutionTargetsRequest {
    /// Association.
    pub association_id: String,
    /// Execution.
    pub execution_id: String,
    /// Filters.
    pub filters: Option<Vec<ExecutionFilter>>,
    /// Page size.
    pub max_results: Option<i64>,
    /// Paging.
    pub next_token: Option<String>,
}

/// Where a target's output came from.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct OutputSource {
    /// The command id.
    pub output_source_id: String,
    /// RunCommand.
    pub output_source_type: String,
}

/// One node of one execution.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssociationExecutionTarget {
    /// Association.
    pub association_id: String,
    /// Version.
    pub association_version: String,
    /// Execution.
    pub execution_id: String,
    /// Node id.
    pub resource_id: String,
    /// ManagedInstance.
    pub resource_type: String,
    /// Status.
    pub status: String,
    /// Finer status.
    pub detailed_status: String,
    /// Epoch seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_execution_date: Option<f64>,
    /// The command.
    pub output_source: OutputSource,
}

/// DescribeAssociationExecutionTargets output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeAssociationExecutionTargetsResponse {
    /// Page.
    pub association_execution_targets: Vec<AssociationExecutionTarget>,
    /// More.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// A paged request about one node.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstanceAssociationsRequest {
    /// Node.
    pub instance_id: String,
    /// Page size.
    pub max_results: Option<i64>,
    /// Paging.
    pub next_token: Option<String>,
}

/// Where a node's output is.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstanceAssociationOutputUrl {
    /// The blob URL.
    #[serde(rename = "S3OutputUrl")]
    pub s3_output_url: S3OutputUrl,
}

/// A URL.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct S3OutputUrl {
    /// URL.
    pub output_url: String,
}

/// An association's last result on one node.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstanceAssociationStatusInfo {
    /// Association.
    pub association_id: String,
    /// Document.
    pub name: String,
    /// Document version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_version: Option<String>,
    /// Association version.
    pub association_version: String,
    /// Node.
    pub instance_id: String,
    /// Epoch seconds.
    pub execution_date: f64,
    /// Pending, Success, Failed.
    pub status: String,
    /// Finer status.
    pub detailed_status: String,
    /// Summary.
    pub execution_summary: String,
    /// Exit code of the failing step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_url: Option<InstanceAssociationOutputUrl>,
    /// Name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub association_name: Option<String>,
}

/// DescribeInstanceAssociationsStatus output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeInstanceAssociationsStatusResponse {
    /// Page.
    pub instance_association_status_infos: Vec<InstanceAssociationStatusInfo>,
    /// More.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// An association that applies to a node, with its document.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstanceAssociation {
    /// Association.
    pub association_id: String,
    /// Node.
    pub instance_id: String,
    /// The document's content.
    pub content: String,
    /// Version.
    pub association_version: String,
}

/// DescribeEffectiveInstanceAssociations output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeEffectiveInstanceAssociationsResponse {
    /// Page.
    pub associations: Vec<InstanceAssociation>,
    /// More.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// StartAssociationsOnce input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartAssociationsOnceRequest {
    /// Ids.
    pub association_ids: Vec<String>,
}

/// A status set by hand.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssociationStatusInput {
    /// Epoch seconds.
    pub date: f64,
    /// Pending, Success, Failed.
    pub name: String,
    /// Message.
    pub message: String,
    /// Extra.
    pub additional_info: Option<String>,
}

/// UpdateAssociationStatus input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateAssociationStatusRequest {
    /// Document.
    pub name: String,
    /// Node.
    pub instance_id: String,
    /// The status.
    pub association_status: AssociationStatusInput,
}

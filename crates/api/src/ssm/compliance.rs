//! Compliance: per-resource items of a compliance type (Association, Custom:…).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// When and by what the items were produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ComplianceExecutionSummary {
    /// Epoch seconds.
    pub execution_time: f64,
    /// Id of the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<String>,
    /// Command, Custom, …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_type: Option<String>,
}

/// One item as given to PutComplianceItems.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ComplianceItemEntry {
    /// Id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Severity.
    pub severity: String,
    /// COMPLIANT or NON_COMPLIANT.
    pub status: String,
    /// Details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<BTreeMap<String, String>>,
}

/// PutComplianceItems input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutComplianceItemsRequest {
    /// Node id.
    pub resource_id: String,
    /// ManagedInstance.
    pub resource_type: String,
    /// `Custom:…` (or a built-in type).
    pub compliance_type: String,
    /// When.
    pub execution_summary: ComplianceExecutionSummary,
    /// Items.
    pub items: Vec<ComplianceItemEntry>,
    /// Hash (kept).
    pub item_content_hash: Option<String>,
    /// COMPLETE (default) or PARTIAL.
    pub upload_type: Option<String>,
}

/// A filter of the compliance lists.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ComplianceStringFilter {
    /// Key.
    pub key: Option<String>,
    /// Values.
    pub values: Option<Vec<String>>,
    /// EQUAL, NOT_EQUAL, BEGIN_WITH, LESS_THAN, GREATER_THAN.
    #[serde(rename = "Type")]
    pub kind: Option<String>,
}

/// ListComplianceItems input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListComplianceItemsRequest {
    /// Filters.
    pub filters: Option<Vec<ComplianceStringFilter>>,
    /// Resources.
    pub resource_ids: Option<Vec<String>>,
    /// Types of resource.
    pub resource_types: Option<Vec<String>>,
    /// Paging.
    pub next_token: Option<String>,
    /// Page size.
    pub max_results: Option<i64>,
}

/// A compliance item as listed.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ComplianceItem {
    /// Type.
    pub compliance_type: String,
    /// ManagedInstance.
    pub resource_type: String,
    /// Node id.
    pub resource_id: String,
    /// Id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Status.
    pub status: String,
    /// Severity.
    pub severity: String,
    /// When.
    pub execution_summary: ComplianceExecutionSummary,
    /// Details.
    pub details: BTreeMap<String, String>,
}

/// ListComplianceItems output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListComplianceItemsResponse {
    /// Page.
    pub compliance_items: Vec<ComplianceItem>,
    /// More.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// A filtered, paged list request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListComplianceSummariesRequest {
    /// Filters.
    pub filters: Option<Vec<ComplianceStringFilter>>,
    /// Paging.
    pub next_token: Option<String>,
    /// Page size.
    pub max_results: Option<i64>,
}

/// Counts by severity.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SeveritySummary {
    /// Critical.
    pub critical_count: i64,
    /// High.
    pub high_count: i64,
    /// Medium.
    pub medium_count: i64,
    /// Low.
    pub low_count: i64,
    /// Informational.
    pub informational_count: i64,
    /// Unspecified.
    pub unspecified_count: i64,
}

/// Compliant counts.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CompliantSummary {
    /// Count.
    pub compliant_count: i64,
    /// By severity.
    pub severity_summary: SeveritySummary,
}

/// Non-compliant counts.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NonCompliantSummary {
    /// Count.
    pub non_compliant_count: i64,
    /// By severity.
    pub severity_summary: SeveritySummary,
}

/// Counts of one compliance type across resources.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ComplianceSummaryItem {
    /// Type.
    pub compliance_type: String,
    /// Resources compliant.
    pub compliant_summary: CompliantSummary,
    /// Resources not.
    pub non_compliant_summary: NonCompliantSummary,
}

/// ListComplianceSummaries output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListComplianceSummariesResponse {
    /// Page.
    pub compliance_summary_items: Vec<ComplianceSummaryItem>,
    /// More.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// One resource's standing in one compliance type.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceComplianceSummaryItem {
    /// Type.
    pub compliance_type: String,
    /// ManagedInstance.
    pub resource_type: String,
    /// Node id.
    pub resource_id: String,
    /// COMPLIANT or NON_COMPLIANT.
    pub status: String,
    /// The highest severity among non-compliant items (UNSPECIFIED when none).
    pub overall_severity: String,
    /// When.
    pub execution_summary: ComplianceExecutionSummary,
    /// Items compliant.
    pub compliant_summary: CompliantSummary,
    /// Items not.
    pub non_compliant_summary: NonCompliantSummary,
}

/// ListResourceComplianceSummaries output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListResourceComplianceSummariesResponse {
    /// Page.
    pub resource_compliance_summary_items: Vec<ResourceComplianceSummaryItem>,
    /// More.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

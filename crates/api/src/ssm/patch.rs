//! Patch Manager: patch baselines, patch groups and the nodes' patch states.

use serde::{Deserialize, Serialize};

use super::Tag;

/// Filters that must all match.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PatchFilterGroup {
    /// The filters.
    pub patch_filters: Vec<PatchFilter>,
}

/// One filter of a baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PatchFilter {
    /// `PRODUCT`, `SECTION`, `CLASSIFICATION`, …
    pub key: String,
    /// Values.
    pub values: Vec<String>,
}

/// The approval rules.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PatchRuleGroup {
    /// Rules.
    pub patch_rules: Vec<PatchRule>,
}

/// One approval rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PatchRule {
    /// Filters.
    pub patch_filter_group: PatchFilterGroup,
    /// Level.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compliance_level: Option<String>,
    /// Days after release.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approve_after_days: Option<u32>,
    /// `YYYY-MM-DD`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approve_until_date: Option<String>,
    /// Non-security updates too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_non_security: Option<bool>,
}

/// An alternative repository.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PatchSource {
    /// Name.
    pub name: String,
    /// Products.
    pub products: Vec<String>,
    /// Repository configuration.
    pub configuration: String,
}

/// The settable fields of a baseline, shared by CreatePatchBaseline and UpdatePatchBaseline.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BaselineFields {
    /// Name.
    pub name: Option<String>,
    /// Global filters.
    pub global_filters: Option<PatchFilterGroup>,
    /// Approval rules.
    pub approval_rules: Option<PatchRuleGroup>,
    /// Approved list.
    pub approved_patches: Option<Vec<String>>,
    /// Level of the approved list.
    pub approved_patches_compliance_level: Option<String>,
    /// Approved list from non-security repositories too.
    pub approved_patches_enable_non_security: Option<bool>,
    /// Rejected list.
    pub rejected_patches: Option<Vec<String>>,
    /// `ALLOW_AS_DEPENDENCY` or `BLOCK`.
    pub rejected_patches_action: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Alternative repositories.
    pub sources: Option<Vec<PatchSource>>,
    /// How available security updates count.
    pub available_security_updates_compliance_status: Option<String>,
}

/// CreatePatchBaseline input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreatePatchBaselineRequest {
    /// Default `WINDOWS`.
    pub operating_system: Option<String>,
    /// Everything else.
    #[serde(flatten)]
    pub fields: BaselineFields,
    /// Idempotency.
    pub client_token: Option<String>,
    /// Tags.
    pub tags: Option<Vec<Tag>>,
}

/// UpdatePatchBaseline input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdatePatchBaselineRequest {
    /// Which.
    pub baseline_id: String,
    /// What changes.
    #[serde(flatten)]
    pub fields: BaselineFields,
    /// Fields not given are reset.
    pub replace: Option<bool>,
}

/// A baseline named by id (GetPatchBaseline, DeletePatchBaseline, RegisterDefaultPatchBaseline).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BaselineIdRequest {
    /// Which.
    pub baseline_id: String,
}

/// An answer naming one baseline.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BaselineIdResponse {
    /// Which.
    pub baseline_id: String,
}

/// A whole baseline, as GetPatchBaseline and UpdatePatchBaseline answer.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PatchBaselineView {
    /// Id.
    pub baseline_id: String,
    /// Name.
    pub name: String,
    /// OS.
    pub operating_system: String,
    /// Global filters.
    pub global_filters: PatchFilterGroup,
    /// Rules.
    pub approval_rules: PatchRuleGroup,
    /// Approved.
    pub approved_patches: Vec<String>,
    /// Level.
    pub approved_patches_compliance_level: String,
    /// Non-security.
    pub approved_patches_enable_non_security: bool,
    /// Rejected.
    pub rejected_patches: Vec<String>,
    /// Action.
    pub rejected_patches_action: String,
    /// Patch groups (GetPatchBaseline only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch_groups: Option<Vec<String>>,
    /// Epoch seconds.
    pub created_date: f64,
    /// Epoch seconds.
    pub modified_date: f64,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Sources.
    pub sources: Vec<PatchSource>,
    /// Compliance of available security updates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available_security_updates_compliance_status: Option<String>,
}

/// A filter of the Describe… lists.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PatchOrchestratorFilter {
    /// Key.
    pub key: Option<String>,
    /// Values.
    pub values: Option<Vec<String>>,
}

/// DescribePatchBaselines and DescribePatchGroups input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeListRequest {
    /// Filters.
    pub filters: Option<Vec<PatchOrchestratorFilter>>,
    /// Page size.
    pub max_results: Option<usize>,
    /// Paging.
    pub next_token: Option<String>,
}

/// A baseline in lists.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PatchBaselineIdentity {
    /// Id.
    pub baseline_id: String,
    /// Name.
    pub baseline_name: String,
    /// OS.
    pub operating_system: String,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline_description: Option<String>,
    /// Whether it is its OS's default.
    pub default_baseline: bool,
}

/// DescribePatchBaselines output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribePatchBaselinesResponse {
    /// Baselines.
    pub baseline_identities: Vec<PatchBaselineIdentity>,
    /// Paging.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// GetDefaultPatchBaseline input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetDefaultPatchBaselineRequest {
    /// Default `WINDOWS`.
    pub operating_system: Option<String>,
}

/// GetDefaultPatchBaseline output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DefaultBaselineResponse {
    /// Id.
    pub baseline_id: String,
    /// OS.
    pub operating_system: String,
}

/// Register/DeregisterPatchBaselineForPatchGroup input and output.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PatchGroupRegistration {
    /// Baseline.
    pub baseline_id: String,
    /// Group.
    pub patch_group: String,
}

/// GetPatchBaselineForPatchGroup input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetPatchBaselineForPatchGroupRequest {
    /// Group.
    pub patch_group: String,
    /// Default `WINDOWS`.
    pub operating_system: Option<String>,
}

/// GetPatchBaselineForPatchGroup output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetPatchBaselineForPatchGroupResponse {
    /// Baseline.
    pub baseline_id: String,
    /// Group.
    pub patch_group: String,
    /// OS.
    pub operating_system: String,
}

/// One patch group and its baseline.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PatchGroupPatchBaselineMapping {
    /// Group.
    pub patch_group: String,
    /// Baseline.
    pub baseline_identity: PatchBaselineIdentity,
}

/// DescribePatchGroups output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribePatchGroupsResponse {
    /// Groups.
    pub mappings: Vec<PatchGroupPatchBaselineMapping>,
    /// Paging.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// One node's patch summary.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstancePatchState {
    /// Node.
    pub instance_id: String,
    /// Group.
    pub patch_group: String,
    /// Baseline.
    pub baseline_id: String,
    /// Snapshot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<String>,
    /// Override list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub install_override_list: Option<String>,
    /// Counts.
    pub installed_count: u64,
    /// Counts.
    pub installed_other_count: u64,
    /// Counts.
    pub installed_pending_reboot_count: u64,
    /// Counts.
    pub installed_rejected_count: u64,
    /// Counts.
    pub missing_count: u64,
    /// Counts.
    pub failed_count: u64,
    /// Counts.
    pub unreported_not_applicable_count: u64,
    /// Counts.
    pub not_applicable_count: u64,
    /// Counts.
    pub available_security_update_count: u64,
    /// Epoch seconds.
    pub operation_start_time: f64,
    /// Epoch seconds.
    pub operation_end_time: f64,
    /// Scan or Install.
    pub operation: String,
    /// Epoch seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_no_reboot_install_operation_time: Option<f64>,
    /// Reboot option.
    pub reboot_option: String,
    /// Non-compliant counts.
    pub critical_non_compliant_count: u64,
    /// Non-compliant counts.
    pub security_non_compliant_count: u64,
    /// Non-compliant counts.
    pub other_non_compliant_count: u64,
}

/// DescribeInstancePatchStates input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeInstancePatchStatesRequest {
    /// Nodes.
    pub instance_ids: Vec<String>,
    /// Paging.
    pub next_token: Option<String>,
    /// Page size.
    pub max_results: Option<usize>,
}

/// DescribeInstancePatchStates(ForPatchGroup) output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeInstancePatchStatesResponse {
    /// States.
    pub instance_patch_states: Vec<InstancePatchState>,
    /// Paging.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// A filter of DescribeInstancePatchStatesForPatchGroup.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstancePatchStateFilter {
    /// Key (a count field).
    pub key: String,
    /// One value.
    pub values: Vec<String>,
    /// Equal, NotEqual, LessThan, GreaterThan.
    #[serde(rename = "Type")]
    pub kind: String,
}

/// DescribeInstancePatchStatesForPatchGroup input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeInstancePatchStatesForPatchGroupRequest {
    /// Group.
    pub patch_group: String,
    /// Filters.
    pub filters: Option<Vec<InstancePatchStateFilter>>,
    /// Paging.
    pub next_token: Option<String>,
    /// Page size.
    pub max_results: Option<usize>,
}

/// DescribeInstancePatches input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeInstancePatchesRequest {
    /// Node.
    pub instance_id: String,
    /// Filters.
    pub filters: Option<Vec<PatchOrchestratorFilter>>,
    /// Paging.
    pub next_token: Option<String>,
    /// Page size.
    pub max_results: Option<usize>,
}

/// One patch of a node.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PatchComplianceData {
    /// Title.
    pub title: String,
    /// KB id (the package name on Linux).
    #[serde(rename = "KBId")]
    pub kb_id: String,
    /// Classification.
    pub classification: String,
    /// Severity.
    pub severity: String,
    /// State.
    pub state: String,
    /// Epoch seconds.
    pub installed_time: f64,
    /// CVEs.
    #[serde(rename = "CVEIds", skip_serializing_if = "Option::is_none")]
    pub cve_ids: Option<String>,
}

/// DescribeInstancePatches output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeInstancePatchesResponse {
    /// Patches.
    pub patches: Vec<PatchComplianceData>,
    /// Paging.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// DescribePatchGroupState input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribePatchGroupStateRequest {
    /// Group.
    pub patch_group: String,
}

/// DescribePatchGroupState output.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribePatchGroupStateResponse {
    /// Nodes.
    pub instances: u64,
    /// Nodes with installed patches.
    pub instances_with_installed_patches: u64,
    /// Nodes with other installed patches.
    pub instances_with_installed_other_patches: u64,
    /// Nodes with pending-reboot patches.
    pub instances_with_installed_pending_reboot_patches: u64,
    /// Nodes with rejected patches installed.
    pub instances_with_installed_rejected_patches: u64,
    /// Nodes with missing patches.
    pub instances_with_missing_patches: u64,
    /// Nodes with failed patches.
    pub instances_with_failed_patches: u64,
    /// Nodes with not-applicable patches.
    pub instances_with_not_applicable_patches: u64,
    /// Nodes with unreported not-applicable patches.
    pub instances_with_unreported_not_applicable_patches: u64,
    /// Nodes with critical non-compliant patches.
    pub instances_with_critical_non_compliant_patches: u64,
    /// Nodes with security non-compliant patches.
    pub instances_with_security_non_compliant_patches: u64,
    /// Nodes with other non-compliant patches.
    pub instances_with_other_non_compliant_patches: u64,
    /// Nodes with available security updates.
    pub instances_with_available_security_updates: u64,
}

/// A patch the fleet's repositories offer.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PatchView {
    /// `name.arch:version`.
    pub id: String,
    /// Epoch seconds, where the repository dates it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release_date: Option<f64>,
    /// Title.
    pub title: String,
    /// Product.
    pub product: String,
    /// Classification.
    pub classification: String,
    /// Severity (RPM) or priority (Debian).
    pub severity: String,
    /// Advisories.
    pub advisory_ids: Vec<String>,
    /// CVEs.
    #[serde(rename = "CVEIds")]
    pub cve_ids: Vec<String>,
    /// Package name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Architecture.
    pub arch: String,
    /// Repository (suite).
    pub repository: String,
}

/// DescribeAvailablePatches output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeAvailablePatchesResponse {
    /// Patches.
    pub patches: Vec<PatchView>,
    /// Paging.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// DescribeEffectivePatchesForPatchBaseline input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeEffectivePatchesRequest {
    /// Baseline.
    pub baseline_id: String,
    /// Page size.
    pub max_results: Option<usize>,
    /// Paging.
    pub next_token: Option<String>,
}

/// How a baseline treats a patch.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PatchStatus {
    /// APPROVED, PENDING_APPROVAL, EXPLICIT_APPROVED, EXPLICIT_REJECTED.
    pub deployment_status: String,
    /// Level.
    pub compliance_level: String,
    /// Epoch seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval_date: Option<f64>,
}

/// One patch and its status.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EffectivePatch {
    /// The patch.
    pub patch: PatchView,
    /// Its status.
    pub patch_status: PatchStatus,
}

/// DescribeEffectivePatchesForPatchBaseline output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeEffectivePatchesResponse {
    /// Patches.
    pub effective_patches: Vec<EffectivePatch>,
    /// Paging.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// DescribePatchProperties input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribePatchPropertiesRequest {
    /// OS.
    pub operating_system: String,
    /// PRODUCT, CLASSIFICATION, SEVERITY, PRIORITY, …
    pub property: String,
    /// Windows only.
    pub patch_set: Option<String>,
    /// Page size.
    pub max_results: Option<usize>,
    /// Paging.
    pub next_token: Option<String>,
}

/// DescribePatchProperties output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribePatchPropertiesResponse {
    /// One map per value (`{"Name": "Debian12"}`).
    pub properties: Vec<std::collections::BTreeMap<String, String>>,
    /// Paging.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// A baseline given inline for one node's snapshot (GetDeployablePatchSnapshotForInstance).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BaselineOverride {
    /// Must be the node's operating system.
    pub operating_system: Option<String>,
    /// Rules and lists, as CreatePatchBaseline takes them (Name and Description unused).
    #[serde(flatten)]
    pub fields: BaselineFields,
}

/// GetDeployablePatchSnapshotForInstance input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetDeployablePatchSnapshotForInstanceRequest {
    /// The node.
    pub instance_id: String,
    /// A UUID naming the snapshot.
    pub snapshot_id: String,
    /// Used instead of the node's baseline.
    pub baseline_override: Option<BaselineOverride>,
}

/// GetDeployablePatchSnapshotForInstance output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetDeployablePatchSnapshotForInstanceResponse {
    /// The node.
    pub instance_id: String,
    /// The snapshot.
    pub snapshot_id: String,
    /// Where the snapshot can be read, without signing, until it expires.
    pub snapshot_download_url: String,
    /// The node's product (`Ubuntu22.04`, …).
    pub product: String,
}

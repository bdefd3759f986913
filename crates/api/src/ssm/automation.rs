//! Automation: runbook executions and their steps.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::commands::Target;

/// Parameter values as Automation takes and answers them: each a list of strings.
pub type ParameterMap = BTreeMap<String, Vec<String>>;

/// StartAutomationExecution input.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartAutomationExecutionRequest {
    /// The runbook, by name or ARN.
    pub document_name: String,
    /// A number, `$LATEST` or `$DEFAULT`.
    pub document_version: Option<String>,
    /// The runbook's parameters.
    pub parameters: Option<ParameterMap>,
    /// Idempotency.
    pub client_token: Option<String>,
    /// `Auto` (default) or `Interactive`.
    pub mode: Option<String>,
    /// Rate control: the parameter each target's value goes into.
    pub target_parameter_name: Option<String>,
    /// Targets.
    pub targets: Option<Vec<Target>>,
    /// Target maps: one child execution per map, with those parameters.
    pub target_maps: Option<Vec<TargetMap>>,
    /// Children running at once (`10`, `25%`).
    pub max_concurrency: Option<String>,
    /// Failed children before no more start (`0`, `10%`).
    pub max_errors: Option<String>,
    /// Other accounts and regions (refused).
    pub target_locations: Option<Vec<serde_json::Value>>,
}

/// One target map: parameter name → values.
pub type TargetMap = BTreeMap<String, Vec<String>>;

/// The values a rate-controlled execution's targets resolved to.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResolvedTargets {
    /// The values.
    pub parameter_values: Vec<String>,
    /// Whether the list was cut short.
    pub truncated: bool,
}

/// What a rate-controlled execution, or a child of one, reports of its targets.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RateControlView {
    /// The rate-controlled execution that started this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_automation_execution_id: Option<String>,
    /// The parameter targets go into.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_parameter_name: Option<String>,
    /// Targets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub targets: Option<Vec<Target>>,
    /// Target maps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_maps: Option<Vec<TargetMap>>,
    /// What they resolved to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_targets: Option<ResolvedTargets>,
    /// MaxConcurrency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<String>,
    /// MaxErrors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_errors: Option<String>,
    /// A child's target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// StartAutomationExecution output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartAutomationExecutionResponse {
    /// The execution.
    pub automation_execution_id: String,
}

/// An execution named by id.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AutomationExecutionIdRequest {
    /// Which.
    pub automation_execution_id: String,
}

/// One step of an execution, as GetAutomationExecution and DescribeAutomationStepExecutions
/// answer.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StepExecution {
    /// Name.
    pub step_name: String,
    /// `aws:…`.
    pub action: String,
    /// Timeout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i64>,
    /// `Abort`, `Continue` or `step:NAME`.
    pub on_failure: String,
    /// Attempts allowed.
    pub max_attempts: i64,
    /// Epoch seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_start_time: Option<f64>,
    /// Epoch seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_end_time: Option<f64>,
    /// Status.
    pub step_status: String,
    /// Inputs as JSON text each.
    pub inputs: BTreeMap<String, String>,
    /// Outputs.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: ParameterMap,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_message: Option<String>,
    /// Its own id.
    pub step_execution_id: String,
    /// Whether the runbook ends after it.
    pub is_end: bool,
    /// The step after it, when named.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_step: Option<String>,
    /// Whether its failure fails the execution.
    pub is_critical: bool,
    /// Steps it may go to (a branch's choices).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub valid_next_steps: Vec<String>,
}

/// GetAutomationExecution's execution.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AutomationExecution {
    /// Id.
    pub automation_execution_id: String,
    /// The runbook.
    pub document_name: String,
    /// Its version.
    pub document_version: String,
    /// Epoch seconds.
    pub execution_start_time: f64,
    /// Epoch seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_end_time: Option<f64>,
    /// Status.
    pub automation_execution_status: String,
    /// Its steps so far.
    pub step_executions: Vec<StepExecution>,
    /// Whether steps were left out.
    pub step_executions_truncated: bool,
    /// The parameters it runs with.
    pub parameters: ParameterMap,
    /// The runbook's outputs.
    pub outputs: ParameterMap,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_message: Option<String>,
    /// `Auto` or `Interactive`.
    pub mode: String,
    /// Who started it.
    pub executed_by: String,
    /// The step running now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_step_name: Option<String>,
    /// Its action.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_action: Option<String>,
    /// Rate control.
    #[serde(flatten)]
    pub rate_control: RateControlView,
    /// A change request's own fields.
    #[serde(flatten)]
    pub change_request: ChangeRequestView,
}

/// GetAutomationExecution output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetAutomationExecutionResponse {
    /// The execution.
    pub automation_execution: AutomationExecution,
}

/// A filter of DescribeAutomationExecutions or DescribeAutomationStepExecutions.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AutomationFilter {
    /// Key.
    pub key: String,
    /// Values.
    pub values: Vec<String>,
}

/// DescribeAutomationExecutions input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeAutomationExecutionsRequest {
    /// Filters.
    pub filters: Option<Vec<AutomationFilter>>,
    /// Page size.
    pub max_results: Option<usize>,
    /// Paging.
    pub next_token: Option<String>,
}

/// One execution in DescribeAutomationExecutions.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AutomationExecutionMetadata {
    /// Id.
    pub automation_execution_id: String,
    /// The runbook.
    pub document_name: String,
    /// Its version.
    pub document_version: String,
    /// Status.
    pub automation_execution_status: String,
    /// Epoch seconds.
    pub execution_start_time: f64,
    /// Epoch seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_end_time: Option<f64>,
    /// Who started it.
    pub executed_by: String,
    /// Outputs.
    pub outputs: ParameterMap,
    /// Mode.
    pub mode: String,
    /// The step running now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_step_name: Option<String>,
    /// Its action.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_action: Option<String>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_message: Option<String>,
    /// `Local`.
    pub automation_type: String,
    /// Rate control.
    #[serde(flatten)]
    pub rate_control: RateControlView,
    /// A change request's own fields.
    #[serde(flatten)]
    pub change_request: ChangeRequestView,
}

/// DescribeAutomationExecutions output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeAutomationExecutionsResponse {
    /// The executions.
    pub automation_execution_metadata_list: Vec<AutomationExecutionMetadata>,
    /// Paging.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// DescribeAutomationStepExecutions input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeAutomationStepExecutionsRequest {
    /// Which execution.
    pub automation_execution_id: String,
    /// Filters.
    pub filters: Option<Vec<AutomationFilter>>,
    /// Paging.
    pub next_token: Option<String>,
    /// Page size.
    pub max_results: Option<usize>,
    /// Newest first.
    pub reverse_order: Option<bool>,
}

/// DescribeAutomationStepExecutions output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeAutomationStepExecutionsResponse {
    /// The steps.
    pub step_executions: Vec<StepExecution>,
    /// Paging.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// StopAutomationExecution input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StopAutomationExecutionRequest {
    /// Which.
    pub automation_execution_id: String,
    /// `Cancel` (default) or `Complete`.
    #[serde(rename = "Type")]
    pub stop_type: Option<String>,
}

/// SendAutomationSignal input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendAutomationSignalRequest {
    /// Which.
    pub automation_execution_id: String,
    /// `Approve`, `Reject`, `Resume`, `StartStep`, `StopStep`, `Revoke`.
    pub signal_type: String,
    /// `Comment` for approvals, `StepName` for steps.
    pub payload: Option<ParameterMap>,
}

/// StartExecutionPreview input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartExecutionPreviewRequest {
    /// The runbook, by name or ARN.
    pub document_name: String,
    /// A number, `$LATEST` or `$DEFAULT`.
    pub document_version: Option<String>,
    /// What the execution would be started with.
    pub execution_inputs: Option<ExecutionInputs>,
}

/// The inputs a preview is made for.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExecutionInputs {
    /// An Automation execution's.
    pub automation: Option<AutomationExecutionInputs>,
}

/// StartAutomationExecution's inputs, as a preview takes them.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AutomationExecutionInputs {
    /// The runbook's parameters.
    pub parameters: Option<ParameterMap>,
    /// Rate control: the parameter each target's value goes into.
    pub target_parameter_name: Option<String>,
    /// Targets.
    pub targets: Option<Vec<Target>>,
    /// Target maps.
    pub target_maps: Option<Vec<TargetMap>>,
    /// Other accounts and regions (refused).
    pub target_locations: Option<Vec<serde_json::Value>>,
    /// Other accounts and regions from a file (refused).
    #[serde(rename = "TargetLocationsURL")]
    pub target_locations_url: Option<String>,
}

/// StartExecutionPreview output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartExecutionPreviewResponse {
    /// The preview's id.
    pub execution_preview_id: String,
}

/// GetExecutionPreview input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetExecutionPreviewRequest {
    /// Which.
    pub execution_preview_id: String,
}

/// GetExecutionPreview output (also what is kept of a preview).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetExecutionPreviewResponse {
    /// Its id.
    pub execution_preview_id: String,
    /// When it was made (epoch seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<f64>,
    /// `Success` or `Failed`.
    pub status: String,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    /// What the execution would do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_preview: Option<ExecutionPreview>,
}

/// A preview of an execution.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExecutionPreview {
    /// An Automation execution's.
    pub automation: AutomationExecutionPreview,
}

/// What an Automation execution would do: its steps by impact, where, on what.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AutomationExecutionPreview {
    /// Steps per impact: `Mutating`, `NonMutating`, `Undetermined`.
    pub step_previews: BTreeMap<String, i64>,
    /// Regions it runs in.
    pub regions: Vec<String>,
    /// Targets per type.
    pub target_previews: Vec<TargetPreview>,
    /// Accounts it runs in.
    pub total_accounts: i64,
}

/// How many targets of one type an execution would run on.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TargetPreview {
    /// How many.
    pub count: i64,
    /// Of what.
    pub target_type: String,
}

/// One runbook a change request runs, as StartChangeRequestExecution takes it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChangeRunbook {
    /// The runbook, by name or ARN.
    pub document_name: String,
    /// A number, `$LATEST` or `$DEFAULT`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_version: Option<String>,
    /// Its parameters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<ParameterMap>,
    /// Rate control: the parameter each target's value goes into.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_parameter_name: Option<String>,
    /// Targets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub targets: Option<Vec<Target>>,
    /// Target maps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_maps: Option<Vec<TargetMap>>,
    /// Children running at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<String>,
    /// Failed children before no more start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_errors: Option<String>,
    /// Other accounts and regions (refused).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_locations: Option<Vec<serde_json::Value>>,
}

/// StartChangeRequestExecution input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartChangeRequestExecutionRequest {
    /// When the runbook may run (epoch seconds); at once when absent.
    pub scheduled_time: Option<f64>,
    /// The change template, by name or ARN.
    pub document_name: String,
    /// The template's version.
    pub document_version: Option<String>,
    /// The template's parameters.
    pub parameters: Option<ParameterMap>,
    /// A name for the request.
    pub change_request_name: Option<String>,
    /// Idempotency.
    pub client_token: Option<String>,
    /// Skip the template's approvals (the template must allow it).
    pub auto_approve: Option<bool>,
    /// The runbook to run once approved (one).
    pub runbooks: Vec<ChangeRunbook>,
    /// Tags (not kept).
    pub tags: Option<Vec<serde_json::Value>>,
    /// When the change should be done by (epoch seconds).
    pub scheduled_end_time: Option<f64>,
    /// What the change is, for approvers.
    pub change_details: Option<String>,
}

/// StartChangeRequestExecution output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartChangeRequestExecutionResponse {
    /// The change request's execution.
    pub automation_execution_id: String,
}

/// What a change request's execution reports besides any execution's fields.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChangeRequestView {
    /// `ChangeRequest`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub automation_subtype: Option<String>,
    /// Its name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_request_name: Option<String>,
    /// When its runbook may run (epoch seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_time: Option<f64>,
    /// The runbook it runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runbooks: Option<Vec<ChangeRunbook>>,
}

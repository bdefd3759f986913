//! The operation table: which handler serves which `Service.Operation`.
//!
//! Handlers are plain async functions `(Ctx, Request) -> Result<Response, ApiError>`. The
//! body has already passed model validation, so decoding into the typed request only fails
//! on shapes the model allows but our types do not (reported as SerializationException).

use std::future::Future;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use steward_api::model::Service;
use steward_api::ApiError;

use crate::state::{AppState, Principal};
use crate::{associations, commands, compliance, documents, fleet, kms, parameters, sessions, tags, windows};

/// What a handler gets besides its request.
#[derive(Clone)]
pub struct Ctx {
    /// Shared state.
    pub state: Arc<AppState>,
    /// The verified caller.
    pub principal: Principal,
}

async fn invoke<Req, Resp, F, Fut>(ctx: Ctx, input: Value, handler: F) -> Result<Vec<u8>, ApiError>
where
    Req: DeserializeOwned,
    Resp: Serialize,
    F: FnOnce(Ctx, Req) -> Fut,
    Fut: Future<Output = Result<Resp, ApiError>>,
{
    let request: Req = serde_json::from_value(input).map_err(|e| ApiError::serialization(e.to_string()))?;
    let response = handler(ctx, request).await?;
    Ok(serde_json::to_vec(&response).expect("responses always serialise"))
}

/// Runs `operation` of `service`.
pub async fn call(ctx: Ctx, service: Service, operation: &str, input: Value) -> Result<Vec<u8>, ApiError> {
    match (service, operation) {
        (Service::Ssm, "PutParameter") => invoke(ctx, input, parameters::put::put_parameter).await,
        (Service::Ssm, "GetParameter") => invoke(ctx, input, parameters::get::get_parameter).await,
        (Service::Ssm, "GetParameters") => invoke(ctx, input, parameters::get::get_parameters).await,
        (Service::Ssm, "GetParametersByPath") => invoke(ctx, input, parameters::list::get_parameters_by_path).await,
        (Service::Ssm, "DescribeParameters") => invoke(ctx, input, parameters::list::describe_parameters).await,
        (Service::Ssm, "GetParameterHistory") => invoke(ctx, input, parameters::get::get_parameter_history).await,
        (Service::Ssm, "DeleteParameter") => invoke(ctx, input, parameters::delete::delete_parameter).await,
        (Service::Ssm, "DeleteParameters") => invoke(ctx, input, parameters::delete::delete_parameters).await,
        (Service::Ssm, "LabelParameterVersion") => {
            invoke(ctx, input, parameters::labels::label_parameter_version).await
        }
        (Service::Ssm, "UnlabelParameterVersion") => {
            invoke(ctx, input, parameters::labels::unlabel_parameter_version).await
        }
        (Service::Ssm, "CreateDocument") => invoke(ctx, input, documents::api::create_document).await,
        (Service::Ssm, "GetDocument") => invoke(ctx, input, documents::api::get_document).await,
        (Service::Ssm, "DescribeDocument") => invoke(ctx, input, documents::api::describe_document).await,
        (Service::Ssm, "UpdateDocument") => invoke(ctx, input, documents::api::update_document).await,
        (Service::Ssm, "UpdateDocumentDefaultVersion") => {
            invoke(ctx, input, documents::api::update_document_default_version).await
        }
        (Service::Ssm, "DeleteDocument") => invoke(ctx, input, documents::api::delete_document).await,
        (Service::Ssm, "ListDocuments") => invoke(ctx, input, documents::list::list_documents).await,
        (Service::Ssm, "ListDocumentVersions") => invoke(ctx, input, documents::list::list_document_versions).await,
        (Service::Ssm, "ModifyDocumentPermission") => {
            invoke(ctx, input, documents::sharing::modify_document_permission).await
        }
        (Service::Ssm, "DescribeDocumentPermission") => {
            invoke(ctx, input, documents::sharing::describe_document_permission).await
        }
        (Service::Ssm, "CreateActivation") => invoke(ctx, input, fleet::activations::create_activation).await,
        (Service::Ssm, "DescribeActivations") => invoke(ctx, input, fleet::activations::describe_activations).await,
        (Service::Ssm, "DeleteActivation") => invoke(ctx, input, fleet::activations::delete_activation).await,
        (Service::Ssm, "DescribeInstanceInformation") => {
            invoke(ctx, input, fleet::nodes::describe_instance_information).await
        }
        (Service::Ssm, "DeregisterManagedInstance") => {
            invoke(ctx, input, fleet::nodes::deregister_managed_instance).await
        }
        (Service::Ssm, "UpdateManagedInstanceRole") => {
            invoke(ctx, input, fleet::nodes::update_managed_instance_role).await
        }
        (Service::Ssm, "CreateAssociation") => invoke(ctx, input, associations::api::create_association).await,
        (Service::Ssm, "CreateAssociationBatch") => {
            invoke(ctx, input, associations::api::create_association_batch).await
        }
        (Service::Ssm, "DescribeAssociation") => invoke(ctx, input, associations::api::describe_association).await,
        (Service::Ssm, "UpdateAssociation") => invoke(ctx, input, associations::api::update_association).await,
        (Service::Ssm, "DeleteAssociation") => invoke(ctx, input, associations::api::delete_association).await,
        (Service::Ssm, "ListAssociations") => invoke(ctx, input, associations::api::list_associations).await,
        (Service::Ssm, "ListAssociationVersions") => {
            invoke(ctx, input, associations::api::list_association_versions).await
        }
        (Service::Ssm, "StartAssociationsOnce") => invoke(ctx, input, associations::api::start_associations_once).await,
        (Service::Ssm, "DescribeAssociationExecutions") => {
            invoke(ctx, input, associations::status::describe_association_executions).await
        }
        (Service::Ssm, "DescribeAssociationExecutionTargets") => {
            invoke(ctx, input, associations::status::describe_association_execution_targets).await
        }
        (Service::Ssm, "DescribeInstanceAssociationsStatus") => {
            invoke(ctx, input, associations::status::describe_instance_associations_status).await
        }
        (Service::Ssm, "DescribeEffectiveInstanceAssociations") => {
            invoke(ctx, input, associations::status::describe_effective_instance_associations).await
        }
        (Service::Ssm, "UpdateAssociationStatus") => {
            invoke(ctx, input, associations::status::update_association_status).await
        }
        (Service::Ssm, "PutComplianceItems") => invoke(ctx, input, compliance::put_compliance_items).await,
        (Service::Ssm, "ListComplianceItems") => invoke(ctx, input, compliance::list_compliance_items).await,
        (Service::Ssm, "ListComplianceSummaries") => invoke(ctx, input, compliance::list_compliance_summaries).await,
        (Service::Ssm, "ListResourceComplianceSummaries") => {
            invoke(ctx, input, compliance::list_resource_compliance_summaries).await
        }
        (Service::Ssm, "CreateMaintenanceWindow") => invoke(ctx, input, windows::api::create_maintenance_window).await,
        (Service::Ssm, "UpdateMaintenanceWindow") => invoke(ctx, input, windows::api::update_maintenance_window).await,
        (Service::Ssm, "GetMaintenanceWindow") => invoke(ctx, input, windows::api::get_maintenance_window).await,
        (Service::Ssm, "DeleteMaintenanceWindow") => invoke(ctx, input, windows::api::delete_maintenance_window).await,
        (Service::Ssm, "DescribeMaintenanceWindows") => {
            invoke(ctx, input, windows::api::describe_maintenance_windows).await
        }
        (Service::Ssm, "RegisterTargetWithMaintenanceWindow") => {
            invoke(ctx, input, windows::api::register_target).await
        }
        (Service::Ssm, "UpdateMaintenanceWindowTarget") => invoke(ctx, input, windows::api::update_target).await,
        (Service::Ssm, "DeregisterTargetFromMaintenanceWindow") => {
            invoke(ctx, input, windows::api::deregister_target).await
        }
        (Service::Ssm, "DescribeMaintenanceWindowTargets") => invoke(ctx, input, windows::api::describe_targets).await,
        (Service::Ssm, "RegisterTaskWithMaintenanceWindow") => invoke(ctx, input, windows::api::register_task).await,
        (Service::Ssm, "UpdateMaintenanceWindowTask") => invoke(ctx, input, windows::api::update_task).await,
        (Service::Ssm, "GetMaintenanceWindowTask") => invoke(ctx, input, windows::api::get_task).await,
        (Service::Ssm, "DeregisterTaskFromMaintenanceWindow") => {
            invoke(ctx, input, windows::api::deregister_task).await
        }
        (Service::Ssm, "DescribeMaintenanceWindowTasks") => invoke(ctx, input, windows::api::describe_tasks).await,
        (Service::Ssm, "DescribeMaintenanceWindowSchedule") => {
            invoke(ctx, input, windows::api::describe_schedule).await
        }
        (Service::Ssm, "DescribeMaintenanceWindowsForTarget") => {
            invoke(ctx, input, windows::api::describe_windows_for_target).await
        }
        (Service::Ssm, "DescribeMaintenanceWindowExecutions") => {
            invoke(ctx, input, windows::history::describe_executions).await
        }
        (Service::Ssm, "GetMaintenanceWindowExecution") => invoke(ctx, input, windows::history::get_execution).await,
        (Service::Ssm, "DescribeMaintenanceWindowExecutionTasks") => {
            invoke(ctx, input, windows::history::describe_execution_tasks).await
        }
        (Service::Ssm, "GetMaintenanceWindowExecutionTask") => {
            invoke(ctx, input, windows::history::get_execution_task).await
        }
        (Service::Ssm, "DescribeMaintenanceWindowExecutionTaskInvocations") => {
            invoke(ctx, input, windows::history::describe_invocations).await
        }
        (Service::Ssm, "GetMaintenanceWindowExecutionTaskInvocation") => {
            invoke(ctx, input, windows::history::get_invocation).await
        }
        (Service::Ssm, "CancelMaintenanceWindowExecution") => {
            invoke(ctx, input, windows::history::cancel_execution).await
        }
        (Service::Ssm, "StartSession") => invoke(ctx, input, sessions::api::start_session).await,
        (Service::Ssm, "ResumeSession") => invoke(ctx, input, sessions::api::resume_session).await,
        (Service::Ssm, "TerminateSession") => invoke(ctx, input, sessions::api::terminate_session).await,
        (Service::Ssm, "DescribeSessions") => invoke(ctx, input, sessions::api::describe_sessions).await,
        (Service::Ssm, "GetConnectionStatus") => invoke(ctx, input, sessions::api::get_connection_status).await,
        (Service::Ssm, "SendCommand") => invoke(ctx, input, commands::send::send_command).await,
        (Service::Ssm, "GetCommandInvocation") => invoke(ctx, input, commands::query::get_command_invocation).await,
        (Service::Ssm, "ListCommands") => invoke(ctx, input, commands::query::list_commands).await,
        (Service::Ssm, "ListCommandInvocations") => invoke(ctx, input, commands::query::list_command_invocations).await,
        (Service::Ssm, "CancelCommand") => invoke(ctx, input, commands::query::cancel_command).await,
        (Service::Ssm, "AddTagsToResource") => invoke(ctx, input, tags::add_tags_to_resource).await,
        (Service::Ssm, "RemoveTagsFromResource") => invoke(ctx, input, tags::remove_tags_from_resource).await,
        (Service::Ssm, "ListTagsForResource") => invoke(ctx, input, tags::list_tags_for_resource).await,
        (Service::Kms, "CreateKey") => invoke(ctx, input, kms::api::create_key).await,
        (Service::Kms, "DescribeKey") => invoke(ctx, input, kms::api::describe_key).await,
        (Service::Kms, "ListKeys") => invoke(ctx, input, kms::api::list_keys).await,
        (Service::Kms, "EnableKey") => invoke(ctx, input, kms::api::enable_key).await,
        (Service::Kms, "DisableKey") => invoke(ctx, input, kms::api::disable_key).await,
        (Service::Kms, "ScheduleKeyDeletion") => invoke(ctx, input, kms::api::schedule_key_deletion).await,
        (Service::Kms, "CancelKeyDeletion") => invoke(ctx, input, kms::api::cancel_key_deletion).await,
        (Service::Kms, "CreateAlias") => invoke(ctx, input, kms::api::create_alias).await,
        (Service::Kms, "DeleteAlias") => invoke(ctx, input, kms::api::delete_alias).await,
        (Service::Kms, "ListAliases") => invoke(ctx, input, kms::api::list_aliases).await,
        (Service::Kms, "Encrypt") => invoke(ctx, input, kms::api::encrypt).await,
        (Service::Kms, "Decrypt") => invoke(ctx, input, kms::api::decrypt).await,
        (Service::Kms, "GenerateDataKey") => invoke(ctx, input, kms::api::generate_data_key).await,
        (Service::CloudTrail, "LookupEvents") => invoke(ctx, input, crate::audit::lookup::lookup_events).await,
        (_, op) => Err(ApiError::new(
            "UnknownOperationException",
            format!("Steward does not implement the operation {op} yet."),
        )),
    }
}

//! The operation table: which handler serves which `Service.Operation`, and which IAM
//! action and resources each operation names (the one place that knows operations by name).
//!
//! Handlers are plain async functions `(Ctx, Request) -> Result<Response, ApiError>`. The
//! body has already passed model validation, so decoding into the typed request only fails
//! on shapes the model allows but our types do not (reported as SerializationException).

use std::future::Future;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use steward_api::model::Service;
use steward_api::ApiError;

use steward_core::iam::eval::Request;

use super::{tags, App};
use crate::base::arn::{association_arn, document_arn, group_arn, kms_arn, node_arn, parameter_arn, window_arn};
use crate::base::{Ctx, Principal};
use crate::{
    associations, automation, cloudtrail, commands, compliance, documents, fleet, groups, inventory, kms, parameters,
    patch, sessions, windows,
};

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
pub async fn call(app: &App, ctx: Ctx, service: Service, operation: &str, input: Value) -> Result<Vec<u8>, ApiError> {
    match (service, operation) {
        (Service::Ssm, "PutParameter") => invoke(ctx, input, parameters::put_parameter).await,
        (Service::Ssm, "GetParameter") => invoke(ctx, input, parameters::get_parameter).await,
        (Service::Ssm, "GetParameters") => invoke(ctx, input, parameters::get_parameters).await,
        (Service::Ssm, "GetParametersByPath") => invoke(ctx, input, parameters::get_parameters_by_path).await,
        (Service::Ssm, "DescribeParameters") => invoke(ctx, input, parameters::describe_parameters).await,
        (Service::Ssm, "GetParameterHistory") => invoke(ctx, input, parameters::get_parameter_history).await,
        (Service::Ssm, "DeleteParameter") => invoke(ctx, input, parameters::delete_parameter).await,
        (Service::Ssm, "DeleteParameters") => invoke(ctx, input, parameters::delete_parameters).await,
        (Service::Ssm, "LabelParameterVersion") => invoke(ctx, input, parameters::label_parameter_version).await,
        (Service::Ssm, "UnlabelParameterVersion") => invoke(ctx, input, parameters::unlabel_parameter_version).await,
        (Service::Ssm, "CreateDocument") => invoke(ctx, input, documents::create_document).await,
        (Service::Ssm, "GetDocument") => invoke(ctx, input, documents::get_document).await,
        (Service::Ssm, "DescribeDocument") => invoke(ctx, input, documents::describe_document).await,
        (Service::Ssm, "UpdateDocument") => invoke(ctx, input, documents::update_document).await,
        (Service::Ssm, "UpdateDocumentDefaultVersion") => {
            invoke(ctx, input, documents::update_document_default_version).await
        }
        (Service::Ssm, "DeleteDocument") => invoke(ctx, input, documents::delete_document).await,
        (Service::Ssm, "ListDocuments") => invoke(ctx, input, documents::list_documents).await,
        (Service::Ssm, "ListDocumentVersions") => invoke(ctx, input, documents::list_document_versions).await,
        (Service::Ssm, "ModifyDocumentPermission") => invoke(ctx, input, documents::modify_document_permission).await,
        (Service::Ssm, "DescribeDocumentPermission") => {
            invoke(ctx, input, documents::describe_document_permission).await
        }
        (Service::Ssm, "CreateActivation") => invoke(ctx, input, fleet::create_activation).await,
        (Service::Ssm, "DescribeActivations") => invoke(ctx, input, fleet::describe_activations).await,
        (Service::Ssm, "DeleteActivation") => invoke(ctx, input, fleet::delete_activation).await,
        (Service::Ssm, "ListNodes") => invoke(ctx, input, super::nodes::list_nodes).await,
        (Service::Ssm, "ListNodesSummary") => invoke(ctx, input, super::nodes::list_nodes_summary).await,
        (Service::Ssm, "DescribeInstanceProperties") => {
            invoke(ctx, input, super::nodes::describe_instance_properties).await
        }
        (Service::Ssm, "DescribeInstanceInformation") => invoke(ctx, input, fleet::describe_instance_information).await,
        (Service::Ssm, "DeregisterManagedInstance") => {
            invoke(ctx, input, super::flows::deregister_managed_instance).await
        }
        (Service::Ssm, "UpdateManagedInstanceRole") => invoke(ctx, input, fleet::update_managed_instance_role).await,
        (Service::Ssm, "CreateAssociation") => invoke(ctx, input, associations::create_association).await,
        (Service::Ssm, "CreateAssociationBatch") => invoke(ctx, input, associations::create_association_batch).await,
        (Service::Ssm, "DescribeAssociation") => invoke(ctx, input, associations::describe_association).await,
        (Service::Ssm, "UpdateAssociation") => invoke(ctx, input, associations::update_association).await,
        (Service::Ssm, "DeleteAssociation") => invoke(ctx, input, associations::delete_association).await,
        (Service::Ssm, "ListAssociations") => invoke(ctx, input, associations::list_associations).await,
        (Service::Ssm, "ListAssociationVersions") => invoke(ctx, input, associations::list_association_versions).await,
        (Service::Ssm, "StartAssociationsOnce") => invoke(ctx, input, associations::start_associations_once).await,
        (Service::Ssm, "DescribeAssociationExecutions") => {
            invoke(ctx, input, associations::describe_association_executions).await
        }
        (Service::Ssm, "DescribeAssociationExecutionTargets") => {
            invoke(ctx, input, associations::describe_association_execution_targets).await
        }
        (Service::Ssm, "DescribeInstanceAssociationsStatus") => {
            invoke(ctx, input, associations::describe_instance_associations_status).await
        }
        (Service::Ssm, "DescribeEffectiveInstanceAssociations") => {
            invoke(ctx, input, associations::describe_effective_instance_associations).await
        }
        (Service::Ssm, "UpdateAssociationStatus") => invoke(ctx, input, associations::update_association_status).await,
        (Service::Ssm, "PutComplianceItems") => invoke(ctx, input, compliance::put_compliance_items).await,
        (Service::Ssm, "ListComplianceItems") => invoke(ctx, input, compliance::list_compliance_items).await,
        (Service::Ssm, "ListComplianceSummaries") => invoke(ctx, input, compliance::list_compliance_summaries).await,
        (Service::Ssm, "ListResourceComplianceSummaries") => {
            invoke(ctx, input, compliance::list_resource_compliance_summaries).await
        }
        (Service::Ssm, "PutInventory") => invoke(ctx, input, inventory::put_inventory).await,
        (Service::Ssm, "GetInventory") => invoke(ctx, input, inventory::get_inventory).await,
        (Service::Ssm, "ListInventoryEntries") => invoke(ctx, input, inventory::list_inventory_entries).await,
        (Service::Ssm, "GetInventorySchema") => invoke(ctx, input, inventory::get_inventory_schema).await,
        (Service::Ssm, "DeleteInventory") => invoke(ctx, input, inventory::delete_inventory).await,
        (Service::Ssm, "CreateResourceDataSync") => invoke(ctx, input, inventory::create_resource_data_sync).await,
        (Service::Ssm, "ListResourceDataSync") => invoke(ctx, input, inventory::list_resource_data_sync).await,
        (Service::Ssm, "UpdateResourceDataSync") => invoke(ctx, input, inventory::update_resource_data_sync).await,
        (Service::Ssm, "DeleteResourceDataSync") => invoke(ctx, input, inventory::delete_resource_data_sync).await,
        (Service::Ssm, "DescribeInventoryDeletions") => {
            invoke(ctx, input, inventory::describe_inventory_deletions).await
        }
        (Service::Ssm, "CreateMaintenanceWindow") => invoke(ctx, input, windows::create_maintenance_window).await,
        (Service::Ssm, "UpdateMaintenanceWindow") => invoke(ctx, input, windows::update_maintenance_window).await,
        (Service::Ssm, "GetMaintenanceWindow") => invoke(ctx, input, windows::get_maintenance_window).await,
        (Service::Ssm, "DeleteMaintenanceWindow") => invoke(ctx, input, windows::delete_maintenance_window).await,
        (Service::Ssm, "DescribeMaintenanceWindows") => invoke(ctx, input, windows::describe_maintenance_windows).await,
        (Service::Ssm, "RegisterTargetWithMaintenanceWindow") => invoke(ctx, input, windows::register_target).await,
        (Service::Ssm, "UpdateMaintenanceWindowTarget") => invoke(ctx, input, windows::update_target).await,
        (Service::Ssm, "DeregisterTargetFromMaintenanceWindow") => invoke(ctx, input, windows::deregister_target).await,
        (Service::Ssm, "DescribeMaintenanceWindowTargets") => invoke(ctx, input, windows::describe_targets).await,
        (Service::Ssm, "RegisterTaskWithMaintenanceWindow") => invoke(ctx, input, windows::register_task).await,
        (Service::Ssm, "UpdateMaintenanceWindowTask") => invoke(ctx, input, windows::update_task).await,
        (Service::Ssm, "GetMaintenanceWindowTask") => invoke(ctx, input, windows::get_task).await,
        (Service::Ssm, "DeregisterTaskFromMaintenanceWindow") => invoke(ctx, input, windows::deregister_task).await,
        (Service::Ssm, "DescribeMaintenanceWindowTasks") => invoke(ctx, input, windows::describe_tasks).await,
        (Service::Ssm, "DescribeMaintenanceWindowSchedule") => invoke(ctx, input, windows::describe_schedule).await,
        (Service::Ssm, "DescribeMaintenanceWindowsForTarget") => {
            invoke(ctx, input, windows::describe_windows_for_target).await
        }
        (Service::Ssm, "DescribeMaintenanceWindowExecutions") => invoke(ctx, input, windows::describe_executions).await,
        (Service::Ssm, "GetMaintenanceWindowExecution") => invoke(ctx, input, windows::get_execution).await,
        (Service::Ssm, "DescribeMaintenanceWindowExecutionTasks") => {
            invoke(ctx, input, windows::describe_execution_tasks).await
        }
        (Service::Ssm, "GetMaintenanceWindowExecutionTask") => invoke(ctx, input, windows::get_execution_task).await,
        (Service::Ssm, "DescribeMaintenanceWindowExecutionTaskInvocations") => {
            invoke(ctx, input, windows::describe_invocations).await
        }
        (Service::Ssm, "GetMaintenanceWindowExecutionTaskInvocation") => {
            invoke(ctx, input, windows::get_invocation).await
        }
        (Service::Ssm, "CancelMaintenanceWindowExecution") => invoke(ctx, input, windows::cancel_execution).await,
        (Service::Ssm, "StartSession") => invoke(ctx, input, sessions::start_session).await,
        (Service::Ssm, "ResumeSession") => invoke(ctx, input, sessions::resume_session).await,
        (Service::Ssm, "TerminateSession") => {
            invoke(ctx, input, |ctx, req| sessions::terminate_session(ctx, req, &app.sessions)).await
        }
        (Service::Ssm, "DescribeSessions") => invoke(ctx, input, sessions::describe_sessions).await,
        (Service::Ssm, "GetConnectionStatus") => invoke(ctx, input, sessions::get_connection_status).await,
        (Service::Ssm, "SendCommand") => invoke(ctx, input, commands::send_command).await,
        (Service::Ssm, "GetCommandInvocation") => invoke(ctx, input, commands::get_command_invocation).await,
        (Service::Ssm, "ListCommands") => invoke(ctx, input, commands::list_commands).await,
        (Service::Ssm, "ListCommandInvocations") => invoke(ctx, input, commands::list_command_invocations).await,
        (Service::Ssm, "CancelCommand") => invoke(ctx, input, commands::cancel_command).await,
        (Service::Ssm, "AddTagsToResource") => invoke(ctx, input, tags::add_tags_to_resource).await,
        (Service::Ssm, "RemoveTagsFromResource") => invoke(ctx, input, tags::remove_tags_from_resource).await,
        (Service::Ssm, "ListTagsForResource") => invoke(ctx, input, tags::list_tags_for_resource).await,
        (Service::Kms, "CreateKey") => invoke(ctx, input, kms::create_key).await,
        (Service::Kms, "DescribeKey") => invoke(ctx, input, kms::describe_key).await,
        (Service::Kms, "ListKeys") => invoke(ctx, input, kms::list_keys).await,
        (Service::Kms, "EnableKey") => invoke(ctx, input, kms::enable_key).await,
        (Service::Kms, "DisableKey") => invoke(ctx, input, kms::disable_key).await,
        (Service::Kms, "ScheduleKeyDeletion") => invoke(ctx, input, kms::schedule_key_deletion).await,
        (Service::Kms, "CancelKeyDeletion") => invoke(ctx, input, kms::cancel_key_deletion).await,
        (Service::Kms, "CreateAlias") => invoke(ctx, input, kms::create_alias).await,
        (Service::Kms, "DeleteAlias") => invoke(ctx, input, kms::delete_alias).await,
        (Service::Kms, "ListAliases") => invoke(ctx, input, kms::list_aliases).await,
        (Service::Kms, "Encrypt") => invoke(ctx, input, kms::encrypt).await,
        (Service::Kms, "Decrypt") => invoke(ctx, input, kms::decrypt).await,
        (Service::Kms, "GenerateDataKey") => invoke(ctx, input, kms::generate_data_key).await,
        (Service::CloudTrail, "LookupEvents") => invoke(ctx, input, cloudtrail::lookup_events).await,
        (Service::ResourceGroups, "CreateGroup") => invoke(ctx, input, groups::create_group).await,
        (Service::ResourceGroups, "GetGroup") => invoke(ctx, input, groups::get_group).await,
        (Service::ResourceGroups, "GetGroupQuery") => invoke(ctx, input, groups::get_group_query).await,
        (Service::ResourceGroups, "UpdateGroup") => invoke(ctx, input, groups::update_group).await,
        (Service::ResourceGroups, "UpdateGroupQuery") => invoke(ctx, input, groups::update_group_query).await,
        (Service::ResourceGroups, "DeleteGroup") => invoke(ctx, input, groups::delete_group).await,
        (Service::ResourceGroups, "ListGroups") => invoke(ctx, input, groups::list_groups).await,
        (Service::ResourceGroups, "ListGroupResources") => {
            invoke(ctx, input, super::groups::list_group_resources).await
        }
        (Service::ResourceGroups, "SearchResources") => invoke(ctx, input, super::groups::search_resources).await,
        (Service::ResourceGroups, "Tag") => invoke(ctx, input, groups::tag).await,
        (Service::ResourceGroups, "Untag") => invoke(ctx, input, groups::untag).await,
        (Service::ResourceGroups, "GetTags") => invoke(ctx, input, groups::get_tags).await,
        (Service::Ssm, "CreatePatchBaseline") => invoke(ctx, input, patch::create_patch_baseline).await,
        (Service::Ssm, "GetPatchBaseline") => invoke(ctx, input, patch::get_patch_baseline).await,
        (Service::Ssm, "UpdatePatchBaseline") => invoke(ctx, input, patch::update_patch_baseline).await,
        (Service::Ssm, "DeletePatchBaseline") => invoke(ctx, input, patch::delete_patch_baseline).await,
        (Service::Ssm, "DescribePatchBaselines") => invoke(ctx, input, patch::describe_patch_baselines).await,
        (Service::Ssm, "RegisterDefaultPatchBaseline") => {
            invoke(ctx, input, patch::register_default_patch_baseline).await
        }
        (Service::Ssm, "GetDefaultPatchBaseline") => invoke(ctx, input, patch::get_default_patch_baseline).await,
        (Service::Ssm, "RegisterPatchBaselineForPatchGroup") => {
            invoke(ctx, input, patch::register_patch_baseline_for_patch_group).await
        }
        (Service::Ssm, "DeregisterPatchBaselineForPatchGroup") => {
            invoke(ctx, input, patch::deregister_patch_baseline_for_patch_group).await
        }
        (Service::Ssm, "GetPatchBaselineForPatchGroup") => {
            invoke(ctx, input, patch::get_patch_baseline_for_patch_group).await
        }
        (Service::Ssm, "DescribePatchGroups") => invoke(ctx, input, patch::describe_patch_groups).await,
        (Service::Ssm, "DescribePatchGroupState") => invoke(ctx, input, patch::describe_patch_group_state).await,
        (Service::Ssm, "DescribeInstancePatchStates") => {
            invoke(ctx, input, patch::describe_instance_patch_states).await
        }
        (Service::Ssm, "DescribeInstancePatchStatesForPatchGroup") => {
            invoke(ctx, input, patch::describe_instance_patch_states_for_patch_group).await
        }
        (Service::Ssm, "DescribeInstancePatches") => invoke(ctx, input, patch::describe_instance_patches).await,
        (Service::Ssm, "DescribeAvailablePatches") => invoke(ctx, input, patch::describe_available_patches).await,
        (Service::Ssm, "DescribeEffectivePatchesForPatchBaseline") => {
            invoke(ctx, input, patch::describe_effective_patches_for_patch_baseline).await
        }
        (Service::Ssm, "DescribePatchProperties") => invoke(ctx, input, patch::describe_patch_properties).await,
        (Service::Ssm, "StartAutomationExecution") => invoke(ctx, input, automation::start_automation_execution).await,
        (Service::Ssm, "GetAutomationExecution") => invoke(ctx, input, automation::get_automation_execution).await,
        (Service::Ssm, "DescribeAutomationExecutions") => {
            invoke(ctx, input, automation::describe_automation_executions).await
        }
        (Service::Ssm, "DescribeAutomationStepExecutions") => {
            invoke(ctx, input, automation::describe_automation_step_executions).await
        }
        (Service::Ssm, "StopAutomationExecution") => invoke(ctx, input, automation::stop_automation_execution).await,
        (Service::Ssm, "SendAutomationSignal") => invoke(ctx, input, automation::send_automation_signal).await,
        (Service::Ssm, "StartExecutionPreview") => invoke(ctx, input, automation::start_execution_preview).await,
        (Service::Ssm, "StartChangeRequestExecution") => {
            invoke(ctx, input, automation::start_change_request_execution).await
        }
        (Service::Ssm, "GetExecutionPreview") => invoke(ctx, input, automation::get_execution_preview).await,
        (Service::Ssm, "GetDeployablePatchSnapshotForInstance") => {
            invoke(ctx, input, patch::get_deployable_patch_snapshot_for_instance).await
        }
        (_, op) => Err(ApiError::new(
            "UnknownOperationException",
            format!("Steward does not implement the operation {op} yet."),
        )),
    }
}

/// A patch baseline named by id or ARN.
fn patch_baseline_arn(p: &Principal, id: &str) -> String {
    if id.starts_with("arn:") {
        id.to_owned()
    } else {
        format!("arn:aws:ssm:{}:{}:patchbaseline/{id}", p.region, p.account)
    }
}

/// An association named by id, or (legacy form) by document and node.
fn association_resources(p: &Principal, input: &Value) -> Vec<String> {
    if let Some(id) = input["AssociationId"].as_str() {
        let mut out = vec![association_arn(p, id)];
        out.extend(input["Name"].as_str().map(|n| document_arn(p, n)));
        return out;
    }
    let mut out: Vec<String> = input["Name"].as_str().map(|n| document_arn(p, n)).into_iter().collect();
    out.extend(input["InstanceId"].as_str().map(|i| node_arn(p, i)));
    out
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect()
}

/// The resources an operation acts on, from its (validated) input.
pub fn resources(p: &Principal, service: Service, op: &str, input: &Value) -> Vec<String> {
    let name = input["Name"].as_str();
    let list = match (service, op) {
        (Service::Ssm, "GetParameters" | "DeleteParameters") => {
            strings(&input["Names"]).iter().map(|n| parameter_arn(p, n)).collect()
        }
        (Service::Ssm, "GetParametersByPath") => vec![parameter_arn(p, input["Path"].as_str().unwrap_or("/"))],
        (
            Service::Ssm,
            "PutParameter"
            | "GetParameter"
            | "GetParameterHistory"
            | "DeleteParameter"
            | "LabelParameterVersion"
            | "UnlabelParameterVersion",
        ) => name.map(|n| vec![parameter_arn(p, n)]).unwrap_or_default(),
        (
            Service::Ssm,
            "CreateDocument"
            | "GetDocument"
            | "DescribeDocument"
            | "UpdateDocument"
            | "UpdateDocumentDefaultVersion"
            | "DeleteDocument"
            | "ListDocumentVersions"
            | "ModifyDocumentPermission"
            | "DescribeDocumentPermission",
        ) => name.map(|n| vec![document_arn(p, n)]).unwrap_or_default(),
        (Service::Ssm, "SendCommand") => {
            let mut out = vec![document_arn(p, input["DocumentName"].as_str().unwrap_or_default())];
            // Targets resolve to nodes inside SendCommand, which checks each of them.
            out.extend(strings(&input["InstanceIds"]).iter().map(|i| node_arn(p, i)));
            out
        }
        (
            Service::Ssm,
            "CreateAssociation"
            | "DescribeAssociation"
            | "UpdateAssociation"
            | "DeleteAssociation"
            | "UpdateAssociationStatus"
            | "ListAssociationVersions"
            | "DescribeAssociationExecutions"
            | "DescribeAssociationExecutionTargets",
        ) => association_resources(p, input),
        (Service::Ssm, "CreateAssociationBatch") => input["Entries"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|entry| association_resources(p, entry))
            .collect(),
        (Service::Ssm, "StartAssociationsOnce") => {
            strings(&input["AssociationIds"]).iter().map(|id| association_arn(p, id)).collect()
        }
        (Service::Ssm, "DescribeInstanceAssociationsStatus" | "DescribeEffectiveInstanceAssociations") => {
            vec![node_arn(p, input["InstanceId"].as_str().unwrap_or_default())]
        }
        (Service::Ssm, op) if op.contains("MaintenanceWindow") && input["WindowId"].is_string() => {
            vec![window_arn(p, input["WindowId"].as_str().unwrap_or_default())]
        }
        (Service::Ssm, "StartSession") => vec![
            node_arn(p, input["Target"].as_str().unwrap_or_default()),
            document_arn(p, input["DocumentName"].as_str().unwrap_or(sessions::DEFAULT_DOCUMENT)),
        ],
        (Service::Ssm, "GetConnectionStatus") => vec![node_arn(p, input["Target"].as_str().unwrap_or_default())],
        (Service::Ssm, "ResumeSession" | "TerminateSession") => vec![format!(
            "arn:aws:ssm:{}:{}:session/{}",
            p.region,
            p.account,
            input["SessionId"].as_str().unwrap_or_default()
        )],
        (Service::Ssm, op) if op.contains("PatchBaseline") && input["BaselineId"].is_string() => {
            vec![patch_baseline_arn(p, input["BaselineId"].as_str().unwrap_or_default())]
        }
        (Service::Ssm, "StartAutomationExecution" | "StartExecutionPreview") => {
            vec![crate::base::arn::automation_definition_arn(
                p,
                input["DocumentName"].as_str().unwrap_or_default(),
                input["DocumentVersion"].as_str().unwrap_or("$DEFAULT"),
            )]
        }
        (
            Service::Ssm,
            "GetAutomationExecution"
            | "StopAutomationExecution"
            | "SendAutomationSignal"
            | "DescribeAutomationStepExecutions",
        ) => vec![format!(
            "arn:aws:ssm:{}:{}:automation-execution/{}",
            p.region,
            p.account,
            input["AutomationExecutionId"].as_str().unwrap_or_default()
        )],
        (Service::Ssm, "DescribeInstancePatches" | "GetDeployablePatchSnapshotForInstance") => {
            vec![node_arn(p, input["InstanceId"].as_str().unwrap_or_default())]
        }
        (Service::Ssm, "DescribeInstancePatchStates") => {
            strings(&input["InstanceIds"]).iter().map(|i| node_arn(p, i)).collect()
        }
        (Service::Ssm, "PutComplianceItems") => vec![node_arn(p, input["ResourceId"].as_str().unwrap_or_default())],
        (Service::Ssm, "PutInventory" | "ListInventoryEntries") => {
            vec![node_arn(p, input["InstanceId"].as_str().unwrap_or_default())]
        }
        (Service::Ssm, "DeregisterManagedInstance" | "UpdateManagedInstanceRole") => {
            vec![node_arn(p, input["InstanceId"].as_str().unwrap_or_default())]
        }
        (Service::Ssm, "AddTagsToResource" | "RemoveTagsFromResource" | "ListTagsForResource") => {
            let id = input["ResourceId"].as_str().unwrap_or_default();
            match input["ResourceType"].as_str() {
                Some("Parameter") => vec![parameter_arn(p, id)],
                Some("Document") => vec![document_arn(p, id)],
                Some("ManagedInstance") => vec![node_arn(p, id)],
                _ => vec!["*".into()],
            }
        }
        (Service::Ssm, "CreateResourceDataSync" | "UpdateResourceDataSync" | "DeleteResourceDataSync") => {
            vec![format!(
                "arn:aws:ssm:{}:{}:resource-data-sync/{}",
                p.region,
                p.account,
                input["SyncName"].as_str().unwrap_or_default()
            )]
        }
        (Service::ResourceGroups, "CreateGroup") => vec![group_arn(p, name.unwrap_or_default())],
        (Service::ResourceGroups, "Tag" | "Untag" | "GetTags") => {
            vec![group_arn(p, input["Arn"].as_str().unwrap_or_default())]
        }
        (Service::ResourceGroups, _) => match input["Group"].as_str().or(input["GroupName"].as_str()) {
            Some(group) => vec![group_arn(p, group)],
            None => vec!["*".into()],
        },
        (Service::Kms, _) => match input["KeyId"].as_str().or(input["TargetKeyId"].as_str()) {
            Some(key) => vec![kms_arn(p, key)],
            // Decrypt names its key inside the ciphertext.
            None if op == "Decrypt" => {
                use base64::Engine;
                let blob = base64::engine::general_purpose::STANDARD
                    .decode(input["CiphertextBlob"].as_str().unwrap_or_default())
                    .unwrap_or_default();
                match crate::base::kms::Keyring::key_id_of(&blob) {
                    Some(id) => vec![kms_arn(p, id)],
                    None => vec!["*".into()],
                }
            }
            None if op == "CreateAlias" || op == "DeleteAlias" => {
                vec![kms_arn(p, input["AliasName"].as_str().unwrap_or("alias/"))]
            }
            None => vec!["*".into()],
        },
        _ => vec!["*".into()],
    };
    if list.is_empty() {
        vec!["*".into()]
    } else {
        list
    }
}

/// Shrinks what the audit trail keeps of an input that carries bulk data: PutInventory's
/// entries are counted, not copied (a node's packages would otherwise be written twice).
pub fn audit_view(service: Service, op: &str, shown: &mut Value) {
    if service == Service::Ssm && op == "PutInventory" {
        for item in shown["Items"].as_array_mut().into_iter().flatten() {
            if let Some(n) = item.get("Content").and_then(Value::as_array).map(Vec::len) {
                item["Content"] = Value::String(format!("{n} entries"));
            }
        }
    }
}

/// Context keys the operation's input supplies.
fn input_context(service: Service, op: &str, input: &Value, request: Request) -> Request {
    let mut request = request;
    if service == Service::Ssm && op == "GetParametersByPath" {
        request = request.with("ssm:Recursive", [input["Recursive"].as_bool().unwrap_or(false).to_string()]);
    }
    if service == Service::Ssm && op == "PutParameter" {
        request = request.with("ssm:Overwrite", [input["Overwrite"].as_bool().unwrap_or(false).to_string()]);
    }
    let tags: Vec<(String, String)> = input["Tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| Some((t["Key"].as_str()?.to_owned(), t["Value"].as_str().unwrap_or_default().to_owned())))
        .collect();
    if !tags.is_empty() {
        request = request.with("aws:TagKeys", tags.iter().map(|(k, _)| k.clone()));
        for (k, v) in tags {
            request = request.with(&format!("aws:RequestTag/{k}"), [v]);
        }
    }
    request
}

/// The check before an SSM or KMS operation runs.
pub async fn check_operation(ctx: &Ctx, service: Service, op: &str, input: &Value) -> Result<(), ApiError> {
    if ctx.principal.is_root() {
        return Ok(());
    }
    let action = format!("{}:{op}", service.signing_name());
    let resources = resources(&ctx.principal, service, op, input);
    ctx.authorize(&action, &resources, |r| input_context(service, op, input, r)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_arns() {
        let p = Principal::root("123456789012", "eu-west-1");
        assert_eq!(parameter_arn(&p, "/app/dev/x"), "arn:aws:ssm:eu-west-1:123456789012:parameter/app/dev/x");
        assert_eq!(parameter_arn(&p, "plain:3"), "arn:aws:ssm:eu-west-1:123456789012:parameter/plain");
        assert_eq!(document_arn(&p, "AWS-RunShellScript"), "arn:aws:ssm:eu-west-1::document/AWS-RunShellScript");
        assert_eq!(document_arn(&p, "Mine"), "arn:aws:ssm:eu-west-1:123456789012:document/Mine");
        let input = serde_json::json!({"Names": ["/a", "b"]});
        assert_eq!(resources(&p, Service::Ssm, "GetParameters", &input).len(), 2);
        assert_eq!(resources(&p, Service::Ssm, "DescribeParameters", &serde_json::json!({})), vec!["*"]);
        let send = serde_json::json!({"DocumentName": "AWS-RunShellScript", "InstanceIds": ["mi-0123456789abcdef0"]});
        assert_eq!(
            resources(&p, Service::Ssm, "SendCommand", &send),
            vec![
                "arn:aws:ssm:eu-west-1::document/AWS-RunShellScript".to_owned(),
                "arn:aws:ssm:eu-west-1:123456789012:managed-instance/mi-0123456789abcdef0".to_owned()
            ]
        );
    }
}

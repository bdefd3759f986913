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
use crate::{commands, documents, fleet, kms, parameters, tags};

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

//! AddTagsToResource, RemoveTagsFromResource, ListTagsForResource, for every taggable
//! resource type. Parameters are the first; each capability adds its type here.

use steward_api::ssm::tags::*;
use steward_api::ssm::{Empty, Tag};
use steward_api::ApiError;

use crate::dispatch::Ctx;
use crate::parameters::{self, update_head as update_parameter_head};

/// Most tags one resource may carry.
pub const MAX_TAGS: usize = 50;

/// Checks tags about to be added to `existing`.
pub fn check_new_tags(existing: &[(String, String)], new: &[Tag]) -> Result<(), ApiError> {
    if let Some(t) = new.iter().find(|t| t.key.to_ascii_lowercase().starts_with("aws:")) {
        return Err(ApiError::validation(format!("The tag key {} is reserved: keys can't begin with aws:.", t.key)));
    }
    let mut keys: Vec<&str> = existing.iter().map(|(k, _)| k.as_str()).collect();
    keys.extend(new.iter().map(|t| t.key.as_str()));
    keys.sort_unstable();
    keys.dedup();
    if keys.len() > MAX_TAGS {
        return Err(ApiError::new("TooManyTagsError", format!("A resource can have at most {MAX_TAGS} tags.")));
    }
    Ok(())
}

fn invalid_type(t: &str) -> ApiError {
    ApiError::new("InvalidResourceType", format!("Steward does not support tags on resource type {t} yet."))
}

fn invalid_id(id: &str) -> ApiError {
    ApiError::new(
        "InvalidResourceId",
        format!("The resource ID {id} isn't valid. Verify that you entered the correct ID and try again."),
    )
}

async fn parameter_name<'a>(ctx: &Ctx, id: &'a str) -> Result<&'a str, ApiError> {
    parameters::lookup_name(ctx, id).map_err(|_| invalid_id(id))
}

fn not_found_as_invalid_id(id: &str) -> impl Fn(ApiError) -> ApiError + '_ {
    move |e| {
        if e.code() == "ParameterNotFound" {
            invalid_id(id)
        } else {
            e
        }
    }
}

/// AddTagsToResource.
pub async fn add_tags_to_resource(ctx: Ctx, req: AddTagsToResourceRequest) -> Result<Empty, ApiError> {
    match req.resource_type.as_str() {
        "Parameter" => {
            let name = parameter_name(&ctx, &req.resource_id).await?;
            update_parameter_head(&ctx, name, |head| {
                check_new_tags(&head.tags, &req.tags)?;
                for tag in &req.tags {
                    match head.tags.iter_mut().find(|(k, _)| *k == tag.key) {
                        Some(existing) => existing.1 = tag.value.clone(),
                        None => head.tags.push((tag.key.clone(), tag.value.clone())),
                    }
                }
                Ok(((), None))
            })
            .await
            .map_err(not_found_as_invalid_id(&req.resource_id))?;
            Ok(Empty {})
        }
        other => Err(invalid_type(other)),
    }
}

/// RemoveTagsFromResource.
pub async fn remove_tags_from_resource(ctx: Ctx, req: RemoveTagsFromResourceRequest) -> Result<Empty, ApiError> {
    match req.resource_type.as_str() {
        "Parameter" => {
            let name = parameter_name(&ctx, &req.resource_id).await?;
            update_parameter_head(&ctx, name, |head| {
                head.tags.retain(|(k, _)| !req.tag_keys.contains(k));
                Ok(((), None))
            })
            .await
            .map_err(not_found_as_invalid_id(&req.resource_id))?;
            Ok(Empty {})
        }
        other => Err(invalid_type(other)),
    }
}

/// ListTagsForResource.
pub async fn list_tags_for_resource(
    ctx: Ctx,
    req: ListTagsForResourceRequest,
) -> Result<ListTagsForResourceResponse, ApiError> {
    match req.resource_type.as_str() {
        "Parameter" => {
            let name = parameter_name(&ctx, &req.resource_id).await?;
            let (head, _) = parameters::load_head(&ctx, name).await?.ok_or_else(|| invalid_id(&req.resource_id))?;
            let tag_list = head.tags.into_iter().map(|(key, value)| Tag { key, value }).collect();
            Ok(ListTagsForResourceResponse { tag_list })
        }
        other => Err(invalid_type(other)),
    }
}

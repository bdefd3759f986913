//! AddTagsToResource, RemoveTagsFromResource, ListTagsForResource, for every taggable
//! resource type. Parameters are the first; each capability adds its type here.

use steward_api::ssm::tags::*;
use steward_api::ssm::{Empty, Tag};
use steward_api::ApiError;

use futures_util::future::BoxFuture;

use crate::base::access::ResourceTags;
use crate::base::tags::check_new_tags;
use crate::base::Ctx;
use steward_store::{Op, StoreError};

use crate::base::{encode, store_fault};
use crate::documents;
use crate::parameters::{self, update_head as update_parameter_head};

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

/// A change to a resource's tags.
type TagChange<'a> = dyn Fn(&mut Vec<(String, String)>) -> Result<(), ApiError> + Sync + 'a;

/// Records that keep their tags as pairs in one field.
trait Tagged: serde::Serialize + serde::de::DeserializeOwned {
    fn tags_mut(&mut self) -> &mut Vec<(String, String)>;
}

impl Tagged for crate::associations::AssociationRecord {
    fn tags_mut(&mut self) -> &mut Vec<(String, String)> {
        &mut self.tags
    }
}

impl Tagged for crate::windows::WindowRecord {
    fn tags_mut(&mut self) -> &mut Vec<(String, String)> {
        &mut self.tags
    }
}

/// The store key of an association or maintenance window of the caller's, by type.
fn record_key(ctx: &Ctx, resource_type: &str, id: &str) -> Option<String> {
    let p = &ctx.principal;
    match resource_type {
        "Association" => Some(crate::associations::association_key(&p.account, &p.region, id)),
        "MaintenanceWindow" => Some(crate::windows::window_key(&p.account, &p.region, id)),
        _ => None,
    }
}

/// Applies `change` (if any) to the tags of the record at `key`; returns the tags.
async fn change_record_tags<T: Tagged>(
    ctx: &Ctx,
    key: &str,
    id: &str,
    change: Option<&TagChange<'_>>,
) -> Result<Vec<(String, String)>, ApiError> {
    // Associations and windows are also rewritten by the scheduler as they run: a tag change
    // that meets such a write reads the record again rather than failing.
    crate::base::retry_races(TAG_ATTEMPTS, || async move {
        let item = ctx.env.store.get(key).await.map_err(store_fault)?.ok_or_else(|| invalid_id(id))?;
        let mut record: T = crate::base::decode(key, &item.value)?;
        let Some(change) = change else { return Ok(record.tags_mut().clone()) };
        change(record.tags_mut())?;
        let tags = record.tags_mut().clone();
        ctx.env
            .store
            .write(vec![Op::put(key, encode(&record)).if_revision(item.revision)])
            .await
            .map_err(store_fault)?;
        Ok(tags)
    })
    .await
}

/// Attempts at a record's tag change before concurrent writers get `TooManyUpdates`.
const TAG_ATTEMPTS: usize = 8;

/// Tags of an association or window: changed when `change` is given, and returned.
async fn record_tags(
    ctx: &Ctx,
    resource_type: &str,
    id: &str,
    change: Option<&TagChange<'_>>,
) -> Result<Vec<(String, String)>, ApiError> {
    let key = record_key(ctx, resource_type, id).ok_or_else(|| invalid_type(resource_type))?;
    match resource_type {
        "Association" => change_record_tags::<crate::associations::AssociationRecord>(ctx, &key, id, change).await,
        _ => change_record_tags::<crate::windows::WindowRecord>(ctx, &key, id, change).await,
    }
}

/// Applies `change` to the tags of the caller's own document.
async fn change_document_tags(
    ctx: &Ctx,
    id: &str,
    change: impl FnOnce(&mut Vec<(String, String)>) -> Result<(), ApiError>,
) -> Result<(), ApiError> {
    let p = &ctx.principal;
    let (mut head, revision) = documents::load_head(ctx, &p.account, id).await?.ok_or_else(|| invalid_id(id))?;
    change(&mut head.tags)?;
    let key = documents::head_key(&p.account, &p.region, id);
    ctx.env.store.write(vec![Op::put(key, encode(&head)).if_revision(revision)]).await.map_err(|e| match e {
        StoreError::Conflict { .. } => ApiError::new(
            "TooManyUpdates",
            "There are concurrent updates for a resource that supports one update at a time.",
        ),
        e => store_fault(e),
    })
}

fn merge_tags(existing: &mut Vec<(String, String)>, new: &[Tag]) -> Result<(), ApiError> {
    check_new_tags(existing, new)?;
    for tag in new {
        match existing.iter_mut().find(|(k, _)| *k == tag.key) {
            Some(e) => e.1 = tag.value.clone(),
            None => existing.push((tag.key.clone(), tag.value.clone())),
        }
    }
    Ok(())
}

/// A node with inventory gets its new tags as `AWS:Tag` at once (one without waits for
/// its first report, which brings them). The tags are already changed: a failure here
/// (a report of the node's racing this write) is logged, and the next report repairs it.
async fn node_tags_changed(ctx: &Ctx, id: &str) -> Result<(), ApiError> {
    if crate::inventory::captured_at(ctx, id).await?.is_none() {
        return Ok(());
    }
    let Some((node, _)) = crate::fleet::load_node(ctx, id).await? else { return Ok(()) };
    if let Err(e) = crate::inventory::put_tags(ctx, id, &node.tags).await {
        tracing::info!(instance_id = id, code = e.code(), "Could not update the node's AWS:Tag inventory yet.");
    }
    Ok(())
}

/// AddTagsToResource.
pub async fn add_tags_to_resource(ctx: Ctx, req: AddTagsToResourceRequest) -> Result<Empty, ApiError> {
    match req.resource_type.as_str() {
        "Parameter" => {
            let name = parameter_name(&ctx, &req.resource_id).await?;
            update_parameter_head(&ctx, name, |head| Ok((merge_tags(&mut head.tags, &req.tags)?, None)))
                .await
                .map_err(not_found_as_invalid_id(&req.resource_id))?;
            Ok(Empty {})
        }
        "Document" => {
            change_document_tags(&ctx, &req.resource_id, |tags| merge_tags(tags, &req.tags)).await?;
            Ok(Empty {})
        }
        "ManagedInstance" => {
            crate::fleet::change_tags(&ctx, &req.resource_id, |tags| merge_tags(tags, &req.tags)).await?;
            node_tags_changed(&ctx, &req.resource_id).await?;
            Ok(Empty {})
        }
        "Association" | "MaintenanceWindow" => {
            record_tags(&ctx, &req.resource_type, &req.resource_id, Some(&|tags| merge_tags(tags, &req.tags))).await?;
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
        "Document" => {
            change_document_tags(&ctx, &req.resource_id, |tags| {
                tags.retain(|(k, _)| !req.tag_keys.contains(k));
                Ok(())
            })
            .await?;
            Ok(Empty {})
        }
        "ManagedInstance" => {
            crate::fleet::change_tags(&ctx, &req.resource_id, |tags| {
                tags.retain(|(k, _)| !req.tag_keys.contains(k));
                Ok(())
            })
            .await?;
            node_tags_changed(&ctx, &req.resource_id).await?;
            Ok(Empty {})
        }
        "Association" | "MaintenanceWindow" => {
            let remove = |tags: &mut Vec<(String, String)>| {
                tags.retain(|(k, _)| !req.tag_keys.contains(k));
                Ok(())
            };
            record_tags(&ctx, &req.resource_type, &req.resource_id, Some(&remove)).await?;
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
        "Document" => {
            let p = &ctx.principal;
            let (head, _) = documents::load_head(&ctx, &p.account, &req.resource_id)
                .await?
                .ok_or_else(|| invalid_id(&req.resource_id))?;
            let tag_list = head.tags.into_iter().map(|(key, value)| Tag { key, value }).collect();
            Ok(ListTagsForResourceResponse { tag_list })
        }
        "ManagedInstance" => {
            let (node, _) =
                crate::fleet::load_node(&ctx, &req.resource_id).await?.ok_or_else(|| invalid_id(&req.resource_id))?;
            let tag_list = node.tags.into_iter().map(|(key, value)| Tag { key, value }).collect();
            Ok(ListTagsForResourceResponse { tag_list })
        }
        "Association" | "MaintenanceWindow" => {
            let tags = record_tags(&ctx, &req.resource_type, &req.resource_id, None).await?;
            Ok(ListTagsForResourceResponse {
                tag_list: tags.into_iter().map(|(key, value)| Tag { key, value }).collect(),
            })
        }
        other => Err(invalid_type(other)),
    }
}

/// Resource tags for IAM conditions, from every taggable type's records.
pub struct AllResourceTags;

impl ResourceTags for AllResourceTags {
    fn tags<'a>(&'a self, ctx: &'a Ctx, arn: &'a str) -> BoxFuture<'a, Vec<(String, String)>> {
        Box::pin(resource_tags(ctx, arn))
    }
}

/// The tags of the resource an ARN names (parameters, documents, nodes, associations,
/// windows and resource groups of the caller's account), for `aws:ResourceTag/…` and `ssm:resourceTag/…`.
async fn resource_tags(ctx: &Ctx, arn: &str) -> Vec<(String, String)> {
    let p = &ctx.principal;
    if arn.starts_with(&crate::base::arn::group_arn(p, "")) {
        return crate::groups::find(ctx, arn).await.ok().flatten().map(|(g, _)| g.tags).unwrap_or_default();
    }
    let own = format!("arn:aws:ssm:{}:{}:", p.region, p.account);
    let Some(resource) = arn.strip_prefix(&own) else { return Vec::new() };
    if let Some(id) = resource.strip_prefix("managed-instance/") {
        return crate::fleet::load_node(ctx, id).await.ok().flatten().map(|(n, _)| n.tags).unwrap_or_default();
    }
    if resource.starts_with("association/") || resource.starts_with("maintenancewindow/") {
        let (kind, id) = resource.split_once('/').unwrap_or_default();
        let key = match kind {
            "association" => crate::associations::association_key(&p.account, &p.region, id),
            _ => crate::windows::window_key(&p.account, &p.region, id),
        };
        let Ok(Some(item)) = ctx.env.store.get(&key).await else { return Vec::new() };
        let tags = serde_json::from_slice::<serde_json::Value>(&item.value).ok().map(|v| v["tags"].clone());
        return serde_json::from_value(tags.unwrap_or_default()).unwrap_or_default();
    }
    if let Some(name) = resource.strip_prefix("document/") {
        return crate::documents::load_head(ctx, &p.account, name)
            .await
            .ok()
            .flatten()
            .map(|(d, _)| d.tags)
            .unwrap_or_default();
    }
    if let Some(name) = resource.strip_prefix("parameter/") {
        for candidate in [format!("/{name}"), name.to_owned()] {
            if let Ok(Some((head, _))) = crate::parameters::load_head(ctx, &candidate).await {
                return head.tags;
            }
        }
    }
    Vec::new()
}

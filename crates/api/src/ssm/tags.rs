//! AddTagsToResource, RemoveTagsFromResource, ListTagsForResource.

use serde::{Deserialize, Serialize};

use super::Tag;

/// AddTagsToResource input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AddTagsToResourceRequest {
    /// `Parameter`, `Document`, `ManagedInstance`, …
    pub resource_type: String,
    /// The resource's name or id.
    pub resource_id: String,
    /// Tags to add or overwrite.
    pub tags: Vec<Tag>,
}

/// RemoveTagsFromResource input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemoveTagsFromResourceRequest {
    /// The resource type.
    pub resource_type: String,
    /// The resource's name or id.
    pub resource_id: String,
    /// Keys to remove.
    pub tag_keys: Vec<String>,
}

/// ListTagsForResource input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsForResourceRequest {
    /// The resource type.
    pub resource_type: String,
    /// The resource's name or id.
    pub resource_id: String,
}

/// ListTagsForResource output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsForResourceResponse {
    /// The resource's tags.
    pub tag_list: Vec<Tag>,
}

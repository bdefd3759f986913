//! Resource groups: named tag queries over the account's resources (`TAG_FILTERS_1_0`),
//! with the Resource Groups API for the groups themselves. Which resources a query finds
//! is answered above this rank (`app::groups`), where every resource type's tags are known;
//! Run Command, State Manager and maintenance windows read a group's query through
//! [`find`] when they resolve `resource-groups:Name` targets.
//!
//! Keys: `rgroup/<account>/<region>/<name>`.

mod api;
mod query;
mod targets;

use base64::Engine;
use serde::{Deserialize, Serialize};
use steward_api::ApiError;

use crate::base::{decode, store_fault, Ctx};

pub use api::{
    create_group, delete_group, get_group, get_group_query, get_tags, list_groups, named_group, tag, untag,
    update_group, update_group_query,
};
pub use query::{parse as parse_query, TagQuery, ALL_SUPPORTED, NODE_TYPE, SUPPORTED_TYPES};
pub use targets::{as_node_targets, check as check_targets, names_group};

/// A stored group.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupRecord {
    /// The name, as created.
    pub name: String,
    /// For people.
    pub description: String,
    /// `TAG_FILTERS_1_0`.
    pub query_type: String,
    /// The query text, as given.
    pub query: String,
    /// The group's own tags.
    pub tags: Vec<(String, String)>,
    /// Epoch ms.
    pub created: i64,
}

impl GroupRecord {
    /// The parsed query (stored queries were checked when stored).
    pub fn tag_query(&self) -> Result<TagQuery, ApiError> {
        query::parse(&self.query_type, &self.query)
    }
}

/// A paging token carrying `last` (a key or an ARN), in the plain base64 alphabet
/// Resource Groups' model requires of NextToken.
pub fn page_token(last: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(last)
}

/// What a token from [`page_token`] carries; BadRequestException for anything else.
pub fn token_value(token: &str) -> Result<String, ApiError> {
    let invalid = || ApiError::new("BadRequestException", "The NextToken is not valid.");
    let bytes = base64::engine::general_purpose::STANDARD.decode(token).map_err(|_| invalid())?;
    String::from_utf8(bytes).map_err(|_| invalid())
}

/// Store key of a group.
pub fn group_key(account: &str, region: &str, name: &str) -> String {
    format!("rgroup/{account}/{region}/{name}")
}

/// Decodes a stored group.
pub fn decode_group(key: &str, bytes: &[u8]) -> Result<GroupRecord, ApiError> {
    decode(key, bytes)
}

/// A group's ARN.
pub fn group_arn(ctx: &Ctx, name: &str) -> String {
    crate::base::arn::group_arn(&ctx.principal, name)
}

/// The group a name or ARN of the caller's account and region names, if it exists.
pub async fn find(ctx: &Ctx, name_or_arn: &str) -> Result<Option<(GroupRecord, i64)>, ApiError> {
    let prefix = group_arn(ctx, "");
    let name = name_or_arn.strip_prefix(&prefix).unwrap_or(name_or_arn);
    if name.starts_with("arn:") || name.contains('/') {
        return Ok(None);
    }
    let p = &ctx.principal;
    let key = group_key(&p.account, &p.region, name);
    let found = ctx.env.store.get(&key).await.map_err(store_fault)?;
    found.map(|i| Ok((decode(&key, &i.value)?, i.revision))).transpose()
}

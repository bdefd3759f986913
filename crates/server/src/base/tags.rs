//! Tag rules every taggable resource shares.

use steward_api::ssm::Tag;
use steward_api::ApiError;

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

/// Tags as stored: (key, value) pairs.
pub fn tag_pairs(tags: &[Tag]) -> Vec<(String, String)> {
    tags.iter().map(|t| (t.key.clone(), t.value.clone())).collect()
}

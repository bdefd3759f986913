//! Paging: lists assembled in memory (the token is the offset of the next item), and
//! store scans (the token carries the last key returned).

use base64::Engine;
use steward_api::ApiError;

/// The page of `items` that `token` points at, at most `max` long (default 50), and the
/// token of the page after it.
pub fn page<T>(items: Vec<T>, max: Option<i64>, token: &Option<String>) -> Result<(Vec<T>, Option<String>), ApiError> {
    let start: usize = match token {
        Some(t) => t.parse().map_err(|_| ApiError::new("InvalidNextToken", "The specified token isn't valid."))?,
        None => 0,
    };
    let limit = max.unwrap_or(50).max(1) as usize;
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(start).take(limit).collect();
    let next = (start + page.len() < total).then(|| (start + page.len()).to_string());
    Ok((page, next))
}

/// An opaque paging token carrying the last key returned.
pub fn encode_token(last_key: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(last_key)
}

/// Decodes a paging token, which must lie under `prefix`.
pub fn decode_token(token: &str, prefix: &str) -> Result<String, ApiError> {
    let invalid = || ApiError::new("InvalidNextToken", "The specified token isn't valid.");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    let key = String::from_utf8(bytes).map_err(|_| invalid())?;
    if !key.starts_with(prefix) {
        return Err(invalid());
    }
    Ok(key)
}

//! A request as the SigV4 verifier reads it, shared by both front doors (JSON and query).

use axum::http::{HeaderMap, Method, Uri};
use steward_api::sigv4::Request;

/// The request as the SigV4 verifier reads it.
pub fn signed_request<'a>(
    method: &'a Method,
    uri: &'a Uri,
    headers: &'a [(&'a str, &'a str)],
    body: &'a [u8],
) -> Request<'a> {
    Request {
        method: method.as_str(),
        path: uri.path(),
        query: uri.query().unwrap_or(""),
        headers,
        body,
        payload_hash: None,
    }
}

/// The headers as the SigV4 verifier reads them (values that are not text are skipped).
pub fn header_pairs(headers: &HeaderMap) -> Vec<(&str, &str)> {
    headers.iter().filter_map(|(n, v)| v.to_str().ok().map(|v| (n.as_str(), v))).collect()
}

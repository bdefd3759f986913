//! Downloads for someone (package attachments from a SourceUrl): streamed to a local file
//! while hashed, never held whole in memory, cut off past a size limit or a time limit, and
//! through the outbound client, so the outbound rules apply to every address.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::events::HttpClient;

/// How long one download may take in all.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(600);

/// What a finished download was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    /// SHA-256, lowercase hex.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
}

/// GETs `url` into `dest` (created or replaced). The error is a sentence for the caller:
/// not found, refused by the outbound rules, too big, too slow. A failed download leaves
/// no file.
pub async fn to_file(client: &HttpClient, url: &str, dest: &Path, max_bytes: u64) -> Result<Downloaded, String> {
    let outcome = tokio::time::timeout(DOWNLOAD_TIMEOUT, fetch(client, url, dest, max_bytes)).await;
    let outcome = outcome.unwrap_or_else(|_| Err(format!("{url} did not finish within {DOWNLOAD_TIMEOUT:?}")));
    if outcome.is_err() {
        let _ = tokio::fs::remove_file(dest).await;
    }
    outcome
}

async fn fetch(client: &HttpClient, url: &str, dest: &Path, max_bytes: u64) -> Result<Downloaded, String> {
    let request =
        http::Request::get(url).body(Full::new(Bytes::new())).map_err(|_| format!("{url} is not a usable URL"))?;
    let response = client.request(request).await.map_err(|e| match super::events::outbound_refusal(&e) {
        Some(why) => format!("{url} cannot be reached: {why}"),
        None => format!("{url} cannot be reached"),
    })?;
    match response.status().as_u16() {
        200 => {}
        404 => return Err(format!("{url} was not found (404)")),
        status => return Err(format!("{url} answered HTTP {status}")),
    }
    let mut file = tokio::fs::File::create(dest).await.map_err(|e| format!("cannot write a download: {e}"))?;
    let mut body = response.into_body();
    let (mut hasher, mut size) = (Sha256::new(), 0u64);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("{url} broke off: {e}"))?;
        let Some(chunk) = frame.data_ref() else { continue };
        size += chunk.len() as u64;
        if size > max_bytes {
            return Err(format!("{url} is larger than the {max_bytes} bytes an attachment may have"));
        }
        hasher.update(chunk);
        file.write_all(chunk).await.map_err(|e| format!("cannot write a download: {e}"))?;
    }
    file.sync_all().await.map_err(|e| format!("cannot write a download: {e}"))?;
    Ok(Downloaded { sha256: hex::encode(hasher.finalize()), size })
}

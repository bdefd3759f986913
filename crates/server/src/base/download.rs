//! Downloads for someone (package attachments from a SourceUrl): streamed to a local file
//! while hashed, never held whole in memory, cut off past a size limit or a time limit.
//! The request goes as [`super::outbound_http`] sends every request made for someone.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use rustls::ClientConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::events::Events;

/// How long one download may take in all.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(600);
/// Where distributions keep their authorities.
const SYSTEM_BUNDLES: &[&str] =
    &["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"];

/// What a finished download was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    /// SHA-256, lowercase hex.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
}

/// The TLS settings of outbound `https://` calls: the system's authorities, and those of
/// `extra` (the operator's own).
pub fn tls_config(extra: Option<&Path>) -> anyhow::Result<Arc<ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    let system = SYSTEM_BUNDLES.iter().map(Path::new).find(|p| p.exists());
    for source in system.into_iter().chain(extra) {
        let certs = CertificateDer::pem_file_iter(source)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", source.display()))?;
        for cert in certs {
            let cert = cert.map_err(|e| anyhow::anyhow!("{} is not a PEM certificate file: {e}", source.display()))?;
            // A system bundle may hold certificates rustls cannot use; skip those.
            let _ = roots.add(cert);
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// GETs `url` into `dest` (created or replaced). The error is a sentence for the caller:
/// not found, refused by the outbound rules, not trusted, too big, too slow. A failed
/// download leaves no file.
pub async fn to_file(
    events: &Events,
    tls: &Arc<ClientConfig>,
    url: &str,
    dest: &Path,
    max_bytes: u64,
) -> Result<Downloaded, String> {
    let fetched = async {
        let response = super::outbound_http::send(events, tls, http::Method::GET, url, &[], Bytes::new()).await?;
        save(response, url, dest, max_bytes).await
    };
    let outcome = tokio::time::timeout(DOWNLOAD_TIMEOUT, fetched).await;
    let outcome = outcome.unwrap_or_else(|_| Err(format!("{url} did not finish within {DOWNLOAD_TIMEOUT:?}")));
    if outcome.is_err() {
        let _ = tokio::fs::remove_file(dest).await;
    }
    outcome
}

async fn save(
    response: http::Response<Incoming>,
    url: &str,
    dest: &Path,
    max_bytes: u64,
) -> Result<Downloaded, String> {
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

//! Signed SSM calls (JSON 1.1) and the connections they and the data channel ride on.

use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls_pki_types::{pem::PemObject, CertificateDer, ServerName};
use serde_json::Value;
use steward_api::sigv4::{Credentials, Request, Signer};
use tokio::net::TcpStream;

use crate::config::ClientConfig;

/// A URL taken apart.
#[derive(Debug, Clone)]
pub struct Url {
    /// https / wss.
    pub secure: bool,
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Path and query.
    pub path: String,
}

impl Url {
    /// Parses `http(s)://` and `ws(s)://` URLs.
    pub fn parse(text: &str) -> anyhow::Result<Url> {
        let (scheme, rest) = text.split_once("://").context("a URL needs a scheme")?;
        let secure = match scheme {
            "https" | "wss" => true,
            "http" | "ws" => false,
            other => anyhow::bail!("unsupported scheme {other}"),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].to_owned()),
            None => (rest, "/".to_owned()),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => {
                (h.trim_matches(|c| c == '[' || c == ']').to_owned(), p.parse().context("bad port")?)
            }
            _ => (authority.to_owned(), if secure { 443 } else { 80 }),
        };
        Ok(Url { secure, host, port, path })
    }

    /// `host:port` as a Host header.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// TLS settings trusting the configured bundle, else the system's.
pub fn tls_config(config: &ClientConfig) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let bundles = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"];
    let source = match &config.ca_bundle {
        Some(path) => path.clone(),
        None => bundles.iter().map(std::path::PathBuf::from).find(|p| p.exists()).context("no CA bundle found")?,
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&source).with_context(|| format!("cannot read {}", source.display()))? {
        let _ = roots.add(cert?);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}

/// An SSM error answer.
#[derive(Debug)]
pub struct ApiFailure {
    /// `__type`.
    pub code: String,
    /// Message.
    pub message: String,
}

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ApiFailure {}

/// Calls `AmazonSSM.<operation>` with `body`, signed with the configured credentials.
pub async fn call(config: &ClientConfig, operation: &str, body: &Value) -> anyhow::Result<Value> {
    let payload = serde_json::to_vec(body)?;
    let target = format!("AmazonSSM.{operation}");
    let headers = [("content-type", "application/x-amz-json-1.1"), ("x-amz-target", target.as_str())];
    let url = Url::parse(&config.endpoint)?;
    let (status, bytes) = signed(config, "POST", &url.path, &headers, payload).await?;
    answer(status, &bytes)
}

/// PUTs `body` at `path` of the endpoint (a package file upload), signed with its SHA-256
/// in `x-amz-content-sha256`, and reads the JSON answer.
pub async fn upload(config: &ClientConfig, path: &str, body: Vec<u8>) -> anyhow::Result<Value> {
    use sha2::{Digest, Sha256};
    let hash = hex::encode(Sha256::digest(&body));
    let headers = [("content-type", "application/octet-stream"), ("x-amz-content-sha256", hash.as_str())];
    let (status, bytes) = signed(config, "PUT", path, &headers, body).await?;
    answer(status, &bytes)
}

/// The JSON of an answer, or its SSM error.
fn answer(status: u16, bytes: &[u8]) -> anyhow::Result<Value> {
    let answer: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
    if status >= 300 {
        let code = answer["__type"].as_str().unwrap_or("Error").rsplit('#').next().unwrap_or("Error").to_owned();
        let message = answer["message"].as_str().or(answer["Message"].as_str()).unwrap_or_default().to_owned();
        return Err(ApiFailure { code, message }.into());
    }
    Ok(answer)
}

/// Sends one SigV4-signed request (service `ssm`) to the configured endpoint.
async fn signed(
    config: &ClientConfig,
    method: &str,
    path: &str,
    extra: &[(&str, &str)],
    payload: Vec<u8>,
) -> anyhow::Result<(u16, Vec<u8>)> {
    let url = Url::parse(&config.endpoint)?;
    let host = url.authority();
    let mut headers: Vec<(&str, &str)> = vec![("host", &host)];
    headers.extend_from_slice(extra);
    if let Some(token) = &config.session_token {
        headers.push(("x-amz-security-token", token));
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() as i64;
    let creds = Credentials {
        access_key_id: config.access_key_id.clone(),
        secret_access_key: config.secret_access_key.clone(),
    };
    let request = Request { method, path, query: "", headers: &headers, body: &payload, payload_hash: None };
    let (amz_date, authorization) = Signer::new(creds, &config.region, "ssm").sign(&request, now);
    let mut builder = http::Request::builder().method(method).uri(path);
    for (k, v) in &headers {
        builder = builder.header(*k, *v);
    }
    let http_request = builder
        .header("x-amz-date", amz_date)
        .header("authorization", authorization)
        .body(Full::new(Bytes::from(payload)))?;
    let tcp =
        TcpStream::connect((url.host.as_str(), url.port)).await.with_context(|| format!("cannot reach {host}"))?;
    if url.secure {
        let name = ServerName::try_from(url.host.clone())?;
        let stream = tokio_rustls::TlsConnector::from(tls_config(config)?).connect(name, tcp).await?;
        send(TokioIo::new(stream), http_request).await
    } else {
        send(TokioIo::new(tcp), http_request).await
    }
}

async fn send<IO>(io: IO, request: http::Request<Full<Bytes>>) -> anyhow::Result<(u16, Vec<u8>)>
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await?;
    tokio::spawn(connection);
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await?.to_bytes().to_vec();
    Ok((status, body))
}

//! How the agent reaches the server: TLS everywhere except loopback.
//!
//! The node trusts, in order: the `--ca-file` given at registration, then the authority
//! the server handed over at registration (kept as `STATE_DIR/ca.pem`), then the system's
//! bundle. Plain `http://` is refused for any host but loopback, so a misconfigured node
//! never sends its signature or results in the clear.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// The authority file kept in the state dir.
pub const CA_FILE: &str = "ca.pem";
const SYSTEM_BUNDLES: [&str; 3] =
    ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"];

/// A server address taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `true` for https.
    pub secure: bool,
    /// Host name or address, without brackets.
    pub host: String,
    /// Port.
    pub port: u16,
}

impl Endpoint {
    /// Parses `http(s)://host[:port][/]`, refusing plain HTTP off loopback.
    pub fn parse(server: &str) -> anyhow::Result<Self> {
        let (secure, rest) = if let Some(rest) = server.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = server.strip_prefix("http://") {
            (false, rest)
        } else {
            anyhow::bail!("the server URL must start with https:// (or http:// on loopback), got {server:?}");
        };
        let authority = rest.trim_end_matches('/');
        anyhow::ensure!(!authority.is_empty() && !authority.contains('/'), "the server URL {server:?} has a path");
        let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
            let (host, after) = bracketed.split_once(']').context("unclosed [ in the server URL")?;
            (host.to_owned(), after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host.to_owned(), Some(port)),
                None => (authority.to_owned(), None),
            }
        };
        let port = match port {
            Some(p) => p.parse().with_context(|| format!("bad port in the server URL {server:?}"))?,
            None if secure => 443,
            None => 80,
        };
        anyhow::ensure!(!host.is_empty(), "the server URL {server:?} has no host");
        let endpoint = Endpoint { secure, host, port };
        anyhow::ensure!(
            secure || endpoint.is_loopback(),
            "plain http:// is allowed only to a loopback server; use https:// for {server}"
        );
        Ok(endpoint)
    }

    fn is_loopback(&self) -> bool {
        self.host == "localhost" || self.host.parse::<IpAddr>().map(|ip| ip.is_loopback()).unwrap_or(false)
    }

    /// `ws(s)://host:port` + path.
    pub fn ws_url(&self, path: &str) -> String {
        let scheme = if self.secure { "wss" } else { "ws" };
        format!("{scheme}://{}{path}", self.authority())
    }

    fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Opens the TCP connection.
    pub async fn connect_tcp(&self) -> anyhow::Result<TcpStream> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .with_context(|| format!("cannot reach {}", self.authority()))?;
        let _ = tcp.set_nodelay(true);
        Ok(tcp)
    }
}

/// What a secure endpoint needs: the client configuration trusting `ca_file`, else the
/// state dir's authority, else the system. `None` for plain loopback.
pub fn for_endpoint(
    endpoint: &Endpoint,
    state_dir: &Path,
    ca_file: Option<&Path>,
) -> anyhow::Result<Option<Arc<ClientConfig>>> {
    if endpoint.secure {
        client_config(state_dir, ca_file).map(Some)
    } else {
        Ok(None)
    }
}

fn client_config(state_dir: &Path, ca_file: Option<&Path>) -> anyhow::Result<Arc<ClientConfig>> {
    let kept = state_dir.join(CA_FILE);
    let source = match ca_file {
        Some(path) => path.to_owned(),
        None if kept.exists() => kept,
        None => SYSTEM_BUNDLES
            .iter()
            .map(Path::new)
            .find(|p| p.exists())
            .context("no --ca-file given and no system certificate bundle found")?
            .to_owned(),
    };
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&source).with_context(|| format!("cannot read {}", source.display()))? {
        let cert = cert.with_context(|| format!("{} is not a PEM certificate file", source.display()))?;
        // A system bundle may hold certificates rustls cannot use; skip those.
        let _ = roots.add(cert);
    }
    anyhow::ensure!(!roots.is_empty(), "{} holds no usable certificate", source.display());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// POSTs JSON to `endpoint` + `path` and returns the status and body.
pub async fn post_json(
    endpoint: &Endpoint,
    tls: Option<&Arc<ClientConfig>>,
    path: &str,
    body: &[u8],
) -> anyhow::Result<(u16, Vec<u8>)> {
    let tcp = endpoint.connect_tcp().await?;
    let request = http::Request::post(path)
        .header("host", endpoint.authority())
        .header("content-type", "application/json")
        .body(Full::new(Bytes::copy_from_slice(body)))?;
    let response = if let Some(tls) = tls {
        let name = ServerName::try_from(endpoint.host.clone()).context("the server's name is not valid for TLS")?;
        let stream = TlsConnector::from(tls.clone())
            .connect(name, tcp)
            .await
            .with_context(|| format!("TLS with {} failed", endpoint.authority()))?;
        send(TokioIo::new(stream), request).await?
    } else {
        send(TokioIo::new(tcp), request).await?
    };
    Ok(response)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_servers() {
        let e = Endpoint::parse("https://ctl.example:7717/").unwrap();
        assert_eq!((e.secure, e.host.as_str(), e.port), (true, "ctl.example", 7717));
        assert_eq!(e.ws_url("/x"), "wss://ctl.example:7717/x");
        let e = Endpoint::parse("http://127.0.0.1:1").unwrap();
        assert_eq!(e.ws_url("/x"), "ws://127.0.0.1:1/x");
        let e = Endpoint::parse("https://[::1]:9").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("::1", 9));
        assert_eq!(e.ws_url("/x"), "wss://[::1]:9/x");
        assert_eq!(Endpoint::parse("https://h").unwrap().port, 443);
        assert!(Endpoint::parse("http://localhost:5").is_ok());
    }

    #[test]
    fn refuses_plain_http_off_loopback_and_junk() {
        for bad in ["http://10.0.0.1:7717", "http://ctl.example", "ftp://x", "https://", "https://h:x", "https://h/p"] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }
}

//! TLS to PostgreSQL with rustls, chosen by libpq's URL parameters:
//! - `sslmode=disable` (or none): plain TCP, as before;
//! - `sslmode=prefer|require`: encrypted; the server's certificate is checked against
//!   `sslrootcert` when one is given (as libpq does), else not at all;
//! - `sslmode=verify-ca`: the chain must lead to `sslrootcert`;
//! - `sslmode=verify-full`: that, and the certificate must name the host.
//!
//! tokio-postgres knows only disable/prefer/require, so the verify modes and the root file
//! are taken off the URL here and become the connector's rules.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};

use crate::StoreError;

/// How the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    /// Encrypted, not authenticated.
    Nothing,
    /// The chain leads to the root file.
    Chain,
    /// The chain, and the host name.
    ChainAndHost,
}

/// What the URL asks for: plain TCP, or TLS with these rules.
pub enum Transport {
    /// `sslmode=disable` or none.
    Plain,
    /// TLS: `tokio-postgres`'s mode (`prefer` or `require`) and the connector.
    Tls(tokio_postgres::config::SslMode, MakeRustls),
}

/// Takes `sslmode` and `sslrootcert` off a URL, returning the rest and the transport.
pub fn transport(url: &str) -> Result<(String, Transport), StoreError> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), Transport::Plain));
    };
    let (mut mode, mut root) = (None, None);
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("sslmode", value)) => mode = Some(value.to_owned()),
            Some(("sslrootcert", value)) => root = Some(value.to_owned()),
            _ => rest.push(pair),
        }
    }
    let url = if rest.is_empty() { base.to_owned() } else { format!("{base}?{}", rest.join("&")) };
    use tokio_postgres::config::SslMode;
    let (ssl_mode, verify) = match mode.as_deref() {
        None | Some("disable") => return Ok((url, Transport::Plain)),
        Some("prefer") => (SslMode::Prefer, if root.is_some() { Verify::Chain } else { Verify::Nothing }),
        Some("require") => (SslMode::Require, if root.is_some() { Verify::Chain } else { Verify::Nothing }),
        Some("verify-ca") => (SslMode::Require, Verify::Chain),
        Some("verify-full") => (SslMode::Require, Verify::ChainAndHost),
        Some(other) => {
            return Err(StoreError::Config(format!(
                "sslmode {other:?} is not one of disable, prefer, require, verify-ca, verify-full"
            )))
        }
    };
    let roots = match (&root, verify) {
        (Some(path), _) => Some(read_roots(path)?),
        (None, Verify::Nothing) => None,
        (None, _) => {
            return Err(StoreError::Config(
                "sslmode verify-ca and verify-full need sslrootcert=PATH (a PEM file of the CA)".into(),
            ))
        }
    };
    Ok((url, Transport::Tls(ssl_mode, MakeRustls::new(verify, roots)?)))
}

fn read_roots(path: &str) -> Result<RootCertStore, StoreError> {
    use rustls::pki_types::pem::PemObject;
    let bad = |why: String| StoreError::Config(format!("sslrootcert {path}: {why}"));
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| bad(e.to_string()))? {
        roots.add(cert.map_err(|e| bad(e.to_string()))?).map_err(|e| bad(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(bad("holds no certificate".into()));
    }
    Ok(roots)
}

/// Accepts what the inner verifier accepts, and a certificate valid for another name:
/// `verify-ca` checks the chain only. With no inner verifier, accepts any certificate
/// (`require` without a root file), still checking the handshake signatures.
#[derive(Debug)]
struct Lenient {
    inner: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(inner) = &self.inner else { return Ok(ServerCertVerified::assertion()) };
        match inner.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName))
            | Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForNameContext { .. })) => {
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// Makes rustls connections for tokio-postgres.
#[derive(Clone)]
pub struct MakeRustls {
    config: Arc<ClientConfig>,
}

impl MakeRustls {
    fn new(verify: Verify, roots: Option<RootCertStore>) -> Result<MakeRustls, StoreError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = |e: rustls::Error| StoreError::Config(format!("TLS: {e}"));
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(config)?;
        let config = match (verify, roots) {
            (Verify::ChainAndHost, Some(roots)) => builder.with_root_certificates(roots).with_no_client_auth(),
            (_, roots) => {
                let inner = match roots {
                    Some(roots) => Some(
                        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                            .build()
                            .map_err(|e| StoreError::Config(format!("TLS: {e}")))?,
                    ),
                    None => None,
                };
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(Lenient { inner, provider }))
                    .with_no_client_auth()
            }
        };
        Ok(MakeRustls { config: Arc::new(config) })
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> MakeTlsConnect<S> for MakeRustls {
    type Stream = RustlsStream<S>;
    type TlsConnect = RustlsConnect;
    type Error = io::Error;

    fn make_tls_connect(&mut self, domain: &str) -> io::Result<RustlsConnect> {
        let name =
            ServerName::try_from(domain.to_owned()).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        Ok(RustlsConnect { config: self.config.clone(), name })
    }
}

/// One connection's TLS handshake.
pub struct RustlsConnect {
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> TlsConnect<S> for RustlsConnect {
    type Stream = RustlsStream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<RustlsStream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let tls = tokio_rustls::TlsConnector::from(self.config).connect(self.name, stream).await?;
            Ok(RustlsStream(tls))
        })
    }
}

/// A TLS connection to PostgreSQL.
pub struct RustlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for RustlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RustlsStream<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RustlsStream<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_parameters_come_off_the_url() {
        let (url, t) = transport("postgres://u@h/db?sslmode=disable&application_name=x").unwrap();
        assert_eq!(url, "postgres://u@h/db?application_name=x");
        assert!(matches!(t, Transport::Plain));
        let (url, t) = transport("postgres://u@h/db?sslmode=require").unwrap();
        assert_eq!(url, "postgres://u@h/db");
        assert!(matches!(t, Transport::Tls(tokio_postgres::config::SslMode::Require, _)));
        assert!(transport("postgres://u@h/db?sslmode=verify-full").is_err(), "verify needs a root file");
        assert!(transport("postgres://u@h/db?sslmode=sometimes").is_err());
        assert!(transport("postgres://u@h/db?sslmode=require&sslrootcert=/nonexistent.pem").is_err());
    }
}

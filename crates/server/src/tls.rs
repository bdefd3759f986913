//! TLS for the API and the agent channel.
//!
//! Off loopback the server speaks only TLS. Without `--tls-cert/--tls-key` it is its own
//! certificate authority: a CA key made on first start (`DATA_DIR/tls/ca.key`, 0600) signs a
//! fresh server certificate on every start, naming localhost, the listen address (every
//! interface address when listening on all of them), the host name and each `--tls-san`.
//! Nodes learn the CA at registration, so only the first contact needs `--ca-file`.

use std::fs;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose, SanType};
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::config::ServerArgs;

/// How long a client may take to finish its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Subject of the generated authority. Trust is by key, so the name needs no uniqueness.
const CA_NAME: &str = "Steward local certificate authority";
const DAY_SECS: i64 = 86_400;

/// What the server presents, once decided at start.
pub struct Tls {
    /// The rustls configuration.
    pub config: Arc<ServerConfig>,
    /// The generated authority's certificate (PEM) when the server is its own CA; nodes
    /// receive it at registration.
    pub ca_pem: Option<String>,
    /// Where that certificate lies, for `AWS_CA_BUNDLE`.
    pub ca_path: Option<PathBuf>,
}

/// Decides whether to speak TLS: on unless the listen address is loopback, and never off
/// on any other address.
pub fn wanted(args: &ServerArgs) -> anyhow::Result<bool> {
    let loopback = args.listen.ip().is_loopback();
    match args.tls.as_str() {
        "on" => Ok(true),
        "auto" => Ok(!loopback),
        "off" if loopback => Ok(false),
        "off" => anyhow::bail!(
            "--tls off is allowed only on a loopback address; {} is reachable from other machines",
            args.listen
        ),
        other => anyhow::bail!("--tls must be auto, on or off, got {other:?}"),
    }
}

/// Loads the operator's certificate or makes one under the server's own authority.
pub fn prepare(args: &ServerArgs, now_secs: i64) -> anyhow::Result<Tls> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth();
    let (chain, key, ca_pem, ca_path) = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .with_context(|| format!("cannot read --tls-cert {}", cert.display()))?
                .collect::<Result<Vec<_>, _>>()
                .with_context(|| format!("--tls-cert {} is not a PEM certificate chain", cert.display()))?;
            anyhow::ensure!(!chain.is_empty(), "--tls-cert {} holds no certificate", cert.display());
            let key = PrivateKeyDer::from_pem_file(key)
                .with_context(|| format!("--tls-key {} is not a PEM private key", key.display()))?;
            (chain, key, None, None)
        }
        (None, None) => {
            let issued = issue_own(args, now_secs)?;
            (issued.chain, issued.key, Some(issued.ca_pem), Some(issued.ca_path))
        }
        _ => anyhow::bail!("--tls-cert and --tls-key go together"),
    };
    let mut config = builder.with_single_cert(chain, key).context("the TLS certificate does not match its key")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Tls { config: Arc::new(config), ca_pem, ca_path })
}

struct Issued {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    ca_pem: String,
    ca_path: PathBuf,
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

fn at(secs: i64) -> anyhow::Result<time::OffsetDateTime> {
    time::OffsetDateTime::from_unix_timestamp(secs).context("certificate date out of range")
}

fn ca_params(now_secs: i64) -> anyhow::Result<CertificateParams> {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, CA_NAME);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    params.not_before = at(now_secs - DAY_SECS)?;
    params.not_after = at(now_secs + 20 * 365 * DAY_SECS)?;
    Ok(params)
}

fn issue_own(args: &ServerArgs, now_secs: i64) -> anyhow::Result<Issued> {
    let dir = args.data_dir.join("tls");
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let key_path = dir.join("ca.key");
    let ca_path = dir.join("ca.pem");
    // The authority's key is the lasting part; its certificate is rebuilt from it when
    // missing, and a rebuilt certificate verifies the same chains.
    let ca_key = match fs::read_to_string(&key_path) {
        Ok(pem) => KeyPair::from_pem(&pem).with_context(|| format!("{} is not a key", key_path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = KeyPair::generate().context("cannot generate the CA key")?;
            write_private(&key_path, key.serialize_pem().as_bytes())?;
            key
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", key_path.display())),
    };
    let ca_cert = ca_params(now_secs)?.self_signed(&ca_key).context("cannot make the CA certificate")?;
    let ca_pem = match fs::read_to_string(&ca_path) {
        Ok(pem) => pem,
        Err(_) => {
            write_private(&ca_path, ca_cert.pem().as_bytes())?;
            ca_cert.pem()
        }
    };
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, "steward");
    params.subject_alt_names = subject_names(args)?;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.not_before = at(now_secs - DAY_SECS)?;
    params.not_after = at(now_secs + 397 * DAY_SECS)?;
    let server_key = KeyPair::generate().context("cannot generate the server key")?;
    let server_cert = params.signed_by(&server_key, &ca_cert, &ca_key).context("cannot sign the server certificate")?;
    write_private(&dir.join("server.pem"), server_cert.pem().as_bytes())?;
    let chain = vec![server_cert.der().clone()];
    let key =
        PrivateKeyDer::try_from(server_key.serialize_der()).map_err(|e| anyhow::anyhow!("server key encoding: {e}"))?;
    Ok(Issued { chain, key, ca_pem, ca_path })
}

/// Every name a client may use to reach this server.
fn subject_names(args: &ServerArgs) -> anyhow::Result<Vec<SanType>> {
    let mut ips: Vec<IpAddr> = vec![IpAddr::from([127, 0, 0, 1]), IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1])];
    if args.listen.ip().is_unspecified() {
        ips.extend(interface_addresses());
    } else {
        ips.push(args.listen.ip());
    }
    let mut dns = vec![String::from("localhost")];
    if let Some(host) = host_name() {
        dns.push(host);
    }
    for extra in &args.tls_san {
        match extra.parse::<IpAddr>() {
            Ok(ip) => ips.push(ip),
            Err(_) => dns.push(extra.clone()),
        }
    }
    ips.sort();
    ips.dedup();
    dns.sort();
    dns.dedup();
    let mut names: Vec<SanType> = ips.into_iter().map(SanType::IpAddress).collect();
    for name in dns {
        let ia5 = name.clone().try_into().with_context(|| format!("{name:?} cannot be a certificate name"))?;
        names.push(SanType::DnsName(ia5));
    }
    Ok(names)
}

fn host_name() -> Option<String> {
    let name = fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let name = name.trim();
    (!name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'))
        .then(|| name.to_owned())
}

/// The addresses of this machine's interfaces (for a server listening on all of them).
pub fn interface_addresses() -> Vec<IpAddr> {
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we only read and then free once.
    unsafe {
        if libc::getifaddrs(&mut head) != 0 {
            return out;
        }
        let mut cursor = head;
        while !cursor.is_null() {
            let addr = (*cursor).ifa_addr;
            if !addr.is_null() {
                match i32::from((*addr).sa_family) {
                    libc::AF_INET => {
                        let v4 = &*(addr as *const libc::sockaddr_in);
                        out.push(IpAddr::from(u32::from_be(v4.sin_addr.s_addr).to_be_bytes()));
                    }
                    libc::AF_INET6 => {
                        let v6 = &*(addr as *const libc::sockaddr_in6);
                        out.push(IpAddr::from(v6.sin6_addr.s6_addr));
                    }
                    _ => {}
                }
            }
            cursor = (*cursor).ifa_next;
        }
        libc::freeifaddrs(head);
    }
    out
}

/// A listener whose connections are TLS streams. Handshakes run in their own tasks, so a
/// slow or silent client never holds up the next one.
pub struct TlsListener {
    local: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
}

impl TlsListener {
    /// Starts accepting on `listener`.
    pub fn new(listener: TcpListener, config: Arc<ServerConfig>) -> std::io::Result<Self> {
        let local = listener.local_addr()?;
        let (tx, ready) = mpsc::channel(256);
        let acceptor = TlsAcceptor::from(config);
        tokio::spawn(async move {
            loop {
                let (tcp, peer) = match listener.accept().await {
                    Ok(pair) => pair,
                    Err(e) => {
                        // Out of descriptors and the like: wait instead of spinning.
                        tracing::warn!(error = %e, "Accept failed.");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let _ = tcp.set_nodelay(true);
                if tx.is_closed() {
                    return;
                }
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(stream)) => {
                            let _ = tx.send((stream, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed."),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out."),
                    }
                });
            }
        });
        Ok(Self { local, ready })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(pair) => pair,
            // The accept task only ends when this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

//! Command-line flags (each with a `STEWARD_…` variable) and the validated configuration.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// `steward`: a self-hosted systems manager speaking the AWS SSM API.
#[derive(Debug, Parser)]
#[command(name = "steward", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the control plane.
    Server(Box<ServerArgs>),
    /// Read the audit trail: export it or check its hash chain.
    Audit(AuditArgs),
    /// Manage accounts: each has its own root key, resources and users.
    Account(AccountArgs),
    /// Open a session on a node: a shell, or one command.
    Session(SessionArgs),
    /// Publish Distributor packages.
    Package(PackageArgs),
    /// Publish agent builds for AWS-UpdateSSMAgent (on the server's host).
    Agent(AgentArgs),
}

/// Flags of `steward agent`: the store and master key, as for `steward server`.
#[derive(Debug, Clone, Args)]
pub struct AgentArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: AgentAction,
    /// The server's store, master key and blobs.
    #[command(flatten)]
    pub server: StoreFlags,
}

/// `steward agent` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum AgentAction {
    /// Sign a steward-agent build with the store's release key and publish it: nodes then
    /// install it with AWS-UpdateSSMAgent.
    Publish {
        /// The binary.
        #[arg(long)]
        binary: PathBuf,
        /// Its version (e.g. 0.2.0).
        #[arg(long)]
        version: String,
        /// Its architecture (x86_64, aarch64, …; default this machine's).
        #[arg(long, default_value = std::env::consts::ARCH)]
        arch: String,
    },
    /// List the published builds.
    List,
}

/// The flags of commands that call a server as a client: the server and credentials are
/// found as the aws CLI finds them, these flags first.
#[derive(Debug, Clone, Args)]
pub struct ClientFlags {
    /// The server's URL (else AWS_ENDPOINT_URL_SSM, AWS_ENDPOINT_URL, the profile's endpoint_url).
    #[arg(long, global = true)]
    pub endpoint_url: Option<String>,
    /// Region (else AWS_REGION, AWS_DEFAULT_REGION, the profile's region).
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// Profile of the shared config and credentials files.
    #[arg(long, global = true)]
    pub profile: Option<String>,
}

impl ClientFlags {
    /// The client configuration these flags, the environment and the shared files give.
    pub fn resolve(&self) -> anyhow::Result<steward_client::config::ClientConfig> {
        let overrides = steward_client::config::Overrides {
            endpoint_url: self.endpoint_url.clone(),
            region: self.region.clone(),
            profile: self.profile.clone(),
        };
        steward_client::config::ClientConfig::resolve(&overrides)
    }
}

/// Flags of `steward package`; the server and credentials are found as the aws CLI finds
/// them.
#[derive(Debug, Clone, Args)]
pub struct PackageArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: PackageAction,
    /// Where the server is and who calls it.
    #[command(flatten)]
    pub client: ClientFlags,
}

/// `steward package` actions.
#[derive(Debug, Clone, Subcommand)]
pub enum PackageAction {
    /// Zip folders (each with install.sh, uninstall.sh, optional update.sh and the payload)
    /// into a package version and publish it: the document is created, or gets a new version.
    Create {
        /// The package (document) name.
        #[arg(long)]
        name: String,
        /// The package version (e.g. 1.2.0).
        #[arg(long)]
        version: String,
        /// PLATFORM/VERSION/ARCH=DIR, e.g. ubuntu/22.04/x86_64=./dist/ubuntu; `_any` matches
        /// every platform, version or architecture. Repeatable.
        #[arg(long = "platform", required = true)]
        platforms: Vec<String>,
        /// Who publishes it.
        #[arg(long)]
        publisher: Option<String>,
        /// Make this version the document's default (a new document's first version is).
        #[arg(long)]
        default: bool,
    },
}

/// Flags of `steward session`; the server and credentials are found as the aws CLI finds
/// them (flags, `AWS_*` variables, the shared config and credentials files).
#[derive(Debug, Clone, Args)]
pub struct SessionArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: SessionAction,
    /// Where the server is and who calls it.
    #[command(flatten)]
    pub client: ClientFlags,
}

/// `steward session` actions.
#[derive(Debug, Clone, Subcommand)]
pub enum SessionAction {
    /// An interactive shell on the node.
    Start {
        /// The node.
        #[arg(long)]
        target: String,
        /// The session document (default SSM-SessionManagerRunShell).
        #[arg(long)]
        document_name: Option<String>,
    },
    /// Run one command on the node; its output is printed and its exit code returned.
    Exec {
        /// The node.
        #[arg(long)]
        target: String,
        /// The command and its arguments.
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Forward a local port to a port on the node (or on a host reached from it).
    PortForward {
        /// The node.
        #[arg(long)]
        target: String,
        /// The port on the node (or on --host).
        #[arg(long)]
        remote_port: u16,
        /// The local port (0: any free one, printed).
        #[arg(long, default_value_t = 0)]
        local_port: u16,
        /// A host the node reaches, instead of the node itself.
        #[arg(long)]
        host: Option<String>,
    },
}

/// Where a server keeps its state, for commands run beside it on its host.
#[derive(Debug, Clone, Args)]
pub struct StoreFlags {
    /// The server's data directory (master key, default SQLite store, blobs).
    #[arg(long, global = true, env = "STEWARD_DATA_DIR", default_value = "./.steward")]
    pub data_dir: PathBuf,
    /// Store URL, as for `steward server`.
    #[arg(long, global = true, env = "STEWARD_STORE")]
    pub store: Option<String>,
    /// The master key file, as for `steward server`.
    #[arg(long, global = true, env = "STEWARD_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
}

impl StoreFlags {
    /// The store URL: `--store`, else the data directory's SQLite file.
    pub fn store_url(&self) -> String {
        self.store.clone().unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("steward.db").display()))
    }

    /// The master key file: `--master-key-file`, else the data directory's.
    pub fn master_key_path(&self) -> PathBuf {
        self.master_key_file.clone().unwrap_or_else(|| self.data_dir.join("master.key"))
    }
}

/// Flags of `steward account`.
#[derive(Debug, Clone, Args)]
pub struct AccountArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: AccountAction,
    /// The server's store and master key.
    #[command(flatten)]
    pub server: StoreFlags,
}

/// `steward account` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum AccountAction {
    /// Create an account and its root access key (printed once, as shell exports).
    Create {
        /// The 12-digit id (random when omitted).
        #[arg(long)]
        account_id: Option<String>,
    },
    /// List accounts.
    List,
}

/// Flags of `steward audit`.
#[derive(Debug, Clone, Args)]
pub struct AuditArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: AuditAction,
    /// The server's data directory (for the default SQLite store).
    #[arg(long, global = true, env = "STEWARD_DATA_DIR", default_value = "./.steward")]
    pub data_dir: PathBuf,
    /// Store URL, as for `steward server`.
    #[arg(long, global = true, env = "STEWARD_STORE")]
    pub store: Option<String>,
    /// The master key file, as for `steward server` (it unseals the key digests are checked with).
    #[arg(long, global = true, env = "STEWARD_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
}

impl AuditArgs {
    /// The store URL, defaulting to SQLite in the data dir.
    pub fn store_url(&self) -> String {
        self.store.clone().unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("steward.db").display()))
    }
}

/// `steward audit` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum AuditAction {
    /// Write every event as JSON lines (to stdout, or --out).
    Export {
        /// File to write.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check the hash chain of the store's events, or of an exported JSON-lines file.
    Verify {
        /// An export to check instead of the store.
        #[arg(long)]
        file: Option<PathBuf>,
    },
}

/// Flags of `steward server`.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Address to listen on.
    #[arg(long, env = "STEWARD_LISTEN", default_value = "127.0.0.1:7717")]
    pub listen: SocketAddr,
    /// Directory for the database, keys and admin.env (created 0700).
    #[arg(long, env = "STEWARD_DATA_DIR", default_value = "./.steward")]
    pub data_dir: PathBuf,
    /// The default region written to admin.env; requests act in the region they are signed for.
    #[arg(long, env = "STEWARD_REGION", default_value = "us-east-1")]
    pub region: String,
    /// The root account id (12 digits), used on first start and by --dev.
    #[arg(long, env = "STEWARD_ACCOUNT_ID")]
    pub account_id: Option<String>,
    /// Store URL: sqlite://PATH or postgres://USER@HOST:PORT/DB[?schema=NAME]. Default: SQLite in the data dir.
    #[arg(long, env = "STEWARD_STORE")]
    pub store: Option<String>,
    /// The 32-byte master key file. Default: DATA_DIR/master.key, generated on first start.
    #[arg(long, env = "STEWARD_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
    /// Days audit events stay in the store (0: for ever). Only events already exported to
    /// the blob store are pruned; a checkpoint keeps what remains verifiable.
    #[arg(long, env = "STEWARD_AUDIT_RETENTION_DAYS", default_value_t = 0)]
    pub audit_retention_days: u64,
    /// Seconds over which refused unauthenticated calls are summarised: the first from
    /// each source address with each error is recorded in full, the rest counted.
    #[arg(long, env = "STEWARD_AUDIT_SAMPLE_SECONDS", default_value_t = 60)]
    pub audit_sample_seconds: u64,
    /// WebSocket connections (agents, data channels, terminals) that may be open at once
    /// before they authenticate; more are answered 503.
    #[arg(long, env = "STEWARD_MAX_PENDING_CONNECTIONS", default_value_t = 1024)]
    pub max_pending_connections: usize,
    /// The same cap for one source address.
    #[arg(long, env = "STEWARD_MAX_PENDING_PER_SOURCE", default_value_t = 128)]
    pub max_pending_per_source: usize,
    /// Seconds a connection may take to send a request head, or stay idle between requests,
    /// before it is closed.
    #[arg(long, env = "STEWARD_HEADER_TIMEOUT", default_value_t = 30)]
    pub header_timeout: u64,
    /// Authorities (PEM) trusted for outbound `https://` calls besides the system's, e.g.
    /// for package SourceUrls on an internal server.
    #[arg(long, env = "STEWARD_OUTBOUND_CA_FILE")]
    pub outbound_ca_file: Option<PathBuf>,
    /// The largest file a Distributor package may carry, in MiB (uploads and SourceUrl
    /// downloads past it are refused).
    #[arg(long, env = "STEWARD_MAX_ATTACHMENT_MB", default_value_t = 1024)]
    pub max_attachment_mb: u64,
    /// Emulator mode: accept any well-formed SigV4 key without checking the signature.
    #[arg(long, env = "STEWARD_DEV")]
    pub dev: bool,
    /// A URL that receives every event as JSON (repeatable; comma-separated in the variable).
    #[arg(long = "webhook", env = "STEWARD_WEBHOOKS", value_delimiter = ',')]
    pub webhooks: Vec<String>,
    /// CIDR ranges outbound calls (webhooks, notifications) may reach even where the
    /// built-in rules refuse (link-local, metadata addresses, …); repeatable.
    #[arg(long = "outbound-allow", env = "STEWARD_OUTBOUND_ALLOW", value_delimiter = ',')]
    pub outbound_allow: Vec<String>,
    /// CIDR ranges outbound calls may never reach (wins over --outbound-allow); repeatable.
    #[arg(long = "outbound-deny", env = "STEWARD_OUTBOUND_DENY", value_delimiter = ',')]
    pub outbound_deny: Vec<String>,
    /// Seconds between sweeps of parameter policies.
    #[arg(long, env = "STEWARD_POLICY_INTERVAL", default_value_t = 10)]
    pub policy_interval: u64,
    /// Seconds between agent heartbeats (a node is ConnectionLost after three missed).
    #[arg(long, env = "STEWARD_AGENT_HEARTBEAT", default_value_t = 30)]
    pub agent_heartbeat: u64,
    /// TLS: `auto` (on unless listening on loopback), `on`, or `off` (loopback only).
    #[arg(long, env = "STEWARD_TLS", default_value = "auto")]
    pub tls: String,
    /// PEM certificate chain to present instead of one signed by the server's own CA.
    #[arg(long, env = "STEWARD_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "STEWARD_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Extra DNS name or IP address for the generated certificate (repeatable).
    #[arg(long = "tls-san", env = "STEWARD_TLS_SANS", value_delimiter = ',')]
    pub tls_san: Vec<String>,
    /// This server's URL as clients reach it. With several servers on one store, a session
    /// started through one server with a node connected to another has its data channel
    /// there. Default: the endpoint written to admin.env.
    #[arg(long, env = "STEWARD_ADVERTISE_URL")]
    pub advertise_url: Option<String>,
    /// Seconds between copies of new audit events to the blob store.
    #[arg(long, env = "STEWARD_AUDIT_EXPORT_INTERVAL", default_value_t = 60)]
    pub audit_export_interval: u64,
    /// Test builds only: a clock that `POST /steward-test/clock` moves forward.
    #[cfg(feature = "test-clock")]
    #[arg(long)]
    pub test_clock: bool,
    /// Log format: text or json.
    #[arg(long, env = "STEWARD_LOG_FORMAT", default_value = "text")]
    pub log_format: String,
}

impl ServerArgs {
    /// The store URL, defaulting to SQLite in the data dir.
    pub fn store_url(&self) -> String {
        self.store.clone().unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("steward.db").display()))
    }

    /// Checks what clap cannot.
    pub fn validate(&self) -> anyhow::Result<()> {
        if let Some(id) = &self.account_id {
            anyhow::ensure!(
                id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()),
                "--account-id must be 12 digits, got {id:?}"
            );
        }
        anyhow::ensure!(
            !self.region.is_empty()
                && self.region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "--region must look like us-east-1, got {:?}",
            self.region
        );
        anyhow::ensure!(self.policy_interval >= 1, "--policy-interval must be at least 1 second");
        anyhow::ensure!(self.agent_heartbeat >= 1, "--agent-heartbeat must be at least 1 second");
        anyhow::ensure!(
            self.max_pending_connections >= 1 && self.max_pending_per_source >= 1,
            "--max-pending-connections and --max-pending-per-source must be at least 1"
        );
        anyhow::ensure!(self.header_timeout >= 1, "--header-timeout must be at least 1 second");
        anyhow::ensure!(
            (1..=65536).contains(&self.max_attachment_mb),
            "--max-attachment-mb must be between 1 and 65536"
        );
        anyhow::ensure!(self.audit_sample_seconds >= 1, "--audit-sample-seconds must be at least 1 second");
        if let Some(url) = &self.advertise_url {
            anyhow::ensure!(
                url.starts_with("http://") || url.starts_with("https://"),
                "--advertise-url must be an http:// or https:// URL, got {url:?}"
            );
        }
        // Unchecked keys on a reachable address would let anyone on the network act as root.
        anyhow::ensure!(
            !self.dev || self.listen.ip().is_loopback(),
            "--dev accepts unchecked keys, so it listens on loopback only (127.0.0.1 or ::1), not {}",
            self.listen.ip()
        );
        for range in self.outbound_allow.iter().chain(&self.outbound_deny) {
            crate::base::outbound::Cidr::parse(range)
                .map_err(|e| anyhow::anyhow!("--outbound-allow/--outbound-deny: {e}"))?;
        }
        for hook in &self.webhooks {
            anyhow::ensure!(hook.starts_with("http://"), "--webhook must be an http:// URL, got {hook:?}");
        }
        Ok(())
    }
}

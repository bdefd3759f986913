//! The top of the control plane: the only place that may import every capability. It
//! builds the shared [`Env`], holds what belongs to no single capability (the operation
//! table, the front doors, flows that cross capabilities, the worker loops), and serves.
//!
//! - [`ops`]: which handler serves each operation, and the IAM action and resources of each.
//! - [`call`]: one signed API call, authenticated, checked, run and audited.
//! - [`console`]: the web console: its bundle, sessions, API door and live progress.
//! - [`http`]: the HTTP surface (JSON 1.1 APIs, agent routes, session routes).
//! - [`query`]: the IAM/STS query protocol front door.
//! - [`agent`]: the agents' control channel, routing their messages to capabilities.
//! - [`rest`]: the REST-JSON front door (Resource Groups).
//! - [`nodes`]: the node views (ListNodes, ListNodesSummary, DescribeInstanceProperties).
//! - [`groups`]: which resources of every type a resource group's query finds.
//! - [`tags`]: tagging every taggable resource, and resource tags for IAM conditions.
//! - [`flows`]: operations that change several capabilities' records at once.
//! - [`inside`]: calls the server makes on someone's behalf (runbook steps), checked and
//!   audited as signed ones.
//! - [`workers`]: the background loops (dispatcher, scheduler, sweepers).

pub mod agent;
pub mod call;
pub mod console;
pub mod flows;
pub mod groups;
pub mod http;
pub mod inside;
pub mod nodes;
pub mod ops;
pub mod query;
pub mod request;
pub mod rest;
pub mod serve;
pub mod tags;
pub mod testclock;
pub mod uploads;
pub mod workers;

use std::sync::Arc;

use anyhow::Context;
use steward_core::clock::{Clock, SystemClock};

use crate::base::agents::Agents;
use crate::base::audit::Audit;
use crate::base::credentials::Credentials;
use crate::base::events::Events;
use crate::base::kms::Keyring;
use crate::base::Env;
use crate::config::ServerArgs;
use crate::sessions::Sessions;

/// The running server: the shared context and the live sessions of this server (which
/// only Session Manager's routes and TerminateSession touch).
pub struct App {
    /// Shared by every handler and worker.
    pub env: Arc<Env>,
    /// Session Manager's relay.
    pub sessions: Arc<Sessions>,
}

impl App {
    /// The server over `env`.
    pub fn new(env: Arc<Env>) -> Arc<App> {
        Arc::new(App { sessions: Arc::new(Sessions::new(env.clone())), env })
    }
}

/// Starts the server and runs until SIGINT or SIGTERM.
pub async fn serve(args: ServerArgs) -> anyhow::Result<()> {
    crate::bootstrap::prepare_data_dir(&args.data_dir)?;
    let master_key = crate::bootstrap::master_key(&args)?;
    let store = steward_store::open(&args.store_url()).await.context("cannot open the store")?;
    #[cfg(feature = "test-clock")]
    let test_clock = args.test_clock.then(|| Arc::new(steward_core::clock::OffsetClock::default()));
    #[cfg(feature = "test-clock")]
    let clock: Arc<dyn Clock> = match &test_clock {
        Some(c) => c.clone(),
        None => Arc::new(SystemClock),
    };
    #[cfg(not(feature = "test-clock"))]
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    // Every agent's welcome names the release key, so agents pin it before any build is
    // published: it exists from the first start.
    crate::base::release_key::load_or_create(store.as_ref(), &master_key)
        .await
        .map_err(|e| anyhow::anyhow!("cannot make the release key: {}", e.message()))?;
    let boot_credentials = Credentials::new(store.clone(), master_key, None);
    let (boot, secret) =
        crate::bootstrap::ensure_root(&*store, &boot_credentials, args.account_id.as_deref(), clock.now_millis())
            .await?;
    let dev_account = args.dev.then(|| args.account_id.clone().unwrap_or_else(|| boot.account.clone()));
    let tls =
        if crate::tls::wanted(&args)? { Some(crate::tls::prepare(&args, clock.now_millis() / 1000)?) } else { None };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let local = listener.local_addr()?;
    let endpoint = match &tls {
        Some(_) => format!("https://{}", advertised_host(local)),
        None => format!("http://{local}"),
    };
    let mut agents = Agents::new(args.agent_heartbeat);
    agents.advertise_url = args.advertise_url.clone().unwrap_or_else(|| endpoint.clone());
    agents.ca_pem = tls.as_ref().and_then(|t| t.ca_pem.clone());
    let env = Arc::new(Env {
        store: store.clone(),
        clock,
        credentials: Credentials::new(store.clone(), master_key, dev_account),
        kms: Keyring::new(store.clone(), master_key),
        events: Events::new(args.webhooks.clone(), outbound_rules(&args, local)),
        agents,
        secure_transport: tls.is_some(),
        audit: Audit::start(store.clone(), std::time::Duration::from_secs(args.audit_sample_seconds)),
        fallback_account: boot.account.clone(),
        policy_cache: Default::default(),
        blobs: Arc::new(steward_store::blob::LocalBlobs::new(args.data_dir.join("blobs"))),
        resource_tags: Box::new(tags::AllResourceTags),
        wake: Default::default(),
        pre_auth: Arc::new(crate::base::ws::Gate::new(args.max_pending_connections, args.max_pending_per_source)),
        max_attachment_bytes: args.max_attachment_mb << 20,
        outbound_tls: crate::base::download::tls_config(args.outbound_ca_file.as_deref())?,
        #[cfg(feature = "test-clock")]
        test_clock: test_clock.clone(),
    });
    crate::bootstrap::write_admin_env(
        &args,
        &boot,
        &secret,
        &endpoint,
        tls.as_ref().and_then(|t| t.ca_path.as_deref()),
    )?;
    let app = App::new(env);
    workers::start(&app, &args);
    tracing::info!(
        endpoint,
        store = store.backend(),
        account = boot.account,
        dev = args.dev,
        admin_env = %args.data_dir.join("admin.env").display(),
        "Steward is serving."
    );
    let app = http::router(app, args.region.clone());
    let header_timeout = std::time::Duration::from_secs(args.header_timeout);
    match tls {
        Some(tls) => {
            let listener = crate::tls::TlsListener::new(listener, tls.config)?;
            serve::serve(listener, app, header_timeout, shutdown_signal()).await
        }
        None => serve::serve(http::NodelayListener(listener), app, header_timeout, shutdown_signal()).await,
    }
    tracing::info!("Steward stopped.");
    Ok(())
}

/// The address clients on this machine use: a wildcard listen address is reached on loopback.
/// The outbound rules of this server: the operator's ranges, and every address its own
/// listener answers on (all local ones when it listens on all).
fn outbound_rules(args: &ServerArgs, local: std::net::SocketAddr) -> Arc<crate::base::outbound::Rules> {
    use crate::base::outbound::{Cidr, Rules};
    let ranges = |list: &[String]| list.iter().filter_map(|c| Cidr::parse(c).ok()).collect::<Vec<_>>();
    let own = if local.ip().is_unspecified() {
        let mut ips = crate::tls::interface_addresses();
        ips.extend([std::net::IpAddr::from([127, 0, 0, 1]), std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST)]);
        ips.into_iter().map(|ip| std::net::SocketAddr::new(ip, local.port())).collect()
    } else {
        vec![local]
    };
    Arc::new(Rules::new(ranges(&args.outbound_allow), ranges(&args.outbound_deny), own))
}

fn advertised_host(local: std::net::SocketAddr) -> String {
    match local.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => format!("127.0.0.1:{}", local.port()),
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => format!("[::1]:{}", local.port()),
        _ => local.to_string(),
    }
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("Shutting down.");
}

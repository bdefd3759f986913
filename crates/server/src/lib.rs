//! The Steward control plane: the SSM and KMS JSON APIs over one store, plus workers.
//!
//! Layout: [`config`] (flags), [`bootstrap`] (first start), [`http`] (the HTTP surface),
//! [`auth`] (SigV4), [`dispatch`] (operation table), one module per capability
//! ([`parameters`], [`kms`], [`tags`]), [`events`] (event log and webhooks).
//! The binary's `main` only parses flags and calls [`run`].

pub mod associations;
pub mod audit;
pub mod auth;
pub mod bootstrap;
pub mod commands;
pub mod compliance;
pub mod config;
pub mod crypto;
pub mod dispatch;
pub mod documents;
pub mod events;
pub mod fleet;
pub mod http;
pub mod iam;
pub mod kms;
pub mod paging;
pub mod parameters;
pub mod scheduler;
pub mod sessions;
pub mod state;
pub mod tags;
pub mod testclock;
pub mod tls;
pub mod windows;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use steward_core::clock::{Clock, SystemClock};

use crate::config::{Command, ServerArgs};
use crate::state::AppState;

/// Runs a parsed command line.
pub fn run(cli: config::Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Server(args) => {
            args.validate()?;
            init_logging(&args.log_format);
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime.block_on(serve(*args))
        }
        Command::Account(args) => {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(bootstrap::account_command(args))
        }
        Command::Audit(args) => {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(audit_command(args))
        }
        Command::Session(args) => {
            let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
            let code = runtime.block_on(session_command(args))?;
            std::process::exit(code);
        }
    }
}

/// `steward session start|exec`.
async fn session_command(args: config::SessionArgs) -> anyhow::Result<i32> {
    use steward_client::session::{start, Mode};
    let overrides = steward_client::config::Overrides {
        endpoint_url: args.endpoint_url.clone(),
        region: args.region.clone(),
        profile: args.profile.clone(),
    };
    let client = steward_client::config::ClientConfig::resolve(&overrides)?;
    match args.action {
        config::SessionAction::Start { target, document_name } => {
            start(&client, &target, document_name.as_deref(), serde_json::json!({}), Mode::Interactive).await
        }
        config::SessionAction::Exec { target, command } => {
            let line = command.iter().map(|a| shell_quote(a)).collect::<Vec<_>>().join(" ");
            let parameters = serde_json::json!({"command": [line]});
            start(&client, &target, Some("AWS-StartNonInteractiveCommand"), parameters, Mode::Exec).await
        }
        config::SessionAction::PortForward { target, remote_port, local_port, host } => {
            steward_client::session::port_forward(&client, &target, remote_port, local_port, host.as_deref()).await
        }
    }
}

/// `arg` quoted for a POSIX shell.
fn shell_quote(arg: &str) -> String {
    if !arg.is_empty() && arg.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c)) {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', "'\\''"))
    }
}

/// `steward audit export|verify`.
async fn audit_command(args: config::AuditArgs) -> anyhow::Result<()> {
    use std::io::Write;
    let events = match &args.action {
        config::AuditAction::Verify { file: Some(file) } => {
            let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .enumerate()
                .map(|(i, l)| serde_json::from_str(l).with_context(|| format!("line {} is not JSON", i + 1)))
                .collect::<anyhow::Result<Vec<serde_json::Value>>>()?
        }
        _ => {
            let store = steward_store::open(&args.store_url()).await.context("cannot open the store")?;
            audit::verify::all_events(&*store).await?
        }
    };
    match args.action {
        config::AuditAction::Export { out } => {
            let mut sink: Box<dyn Write> = match out {
                Some(path) => {
                    Box::new(std::fs::File::create(&path).with_context(|| format!("cannot create {}", path.display()))?)
                }
                None => Box::new(std::io::stdout().lock()),
            };
            for event in &events {
                serde_json::to_writer(&mut sink, event)?;
                sink.write_all(b"\n")?;
            }
            sink.flush()?;
            Ok(())
        }
        config::AuditAction::Verify { .. } => match audit::verify::verify(&events) {
            audit::verify::Verdict::Intact { events, head } => {
                println!("intact: {events} events, last hash {head}");
                Ok(())
            }
            audit::verify::Verdict::Broken { line, reason } => anyhow::bail!("broken at event {line}: {reason}"),
        },
    }
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("STEWARD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.with_ansi(false).init();
    }
}

/// Starts the server and runs until SIGINT or SIGTERM.
pub async fn serve(args: ServerArgs) -> anyhow::Result<()> {
    bootstrap::prepare_data_dir(&args.data_dir)?;
    let master_key = bootstrap::master_key(&args)?;
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
    let boot_credentials = auth::Credentials::new(store.clone(), master_key, None);
    let (boot, secret) =
        bootstrap::ensure_root(&*store, &boot_credentials, args.account_id.as_deref(), clock.now_millis()).await?;
    let dev_account = args.dev.then(|| args.account_id.clone().unwrap_or_else(|| boot.account.clone()));
    let tls = if tls::wanted(&args)? { Some(tls::prepare(&args, clock.now_millis() / 1000)?) } else { None };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let local = listener.local_addr()?;
    let endpoint = match &tls {
        Some(_) => format!("https://{}", advertised_host(local)),
        None => format!("http://{local}"),
    };
    let mut fleet = fleet::Fleet::new(args.agent_heartbeat);
    fleet.advertise_url = args.advertise_url.clone().unwrap_or_else(|| endpoint.clone());
    fleet.ca_pem = tls.as_ref().and_then(|t| t.ca_pem.clone());
    let state = Arc::new(AppState {
        store: store.clone(),
        clock,
        credentials: auth::Credentials::new(store.clone(), master_key, dev_account),
        kms: kms::Keyring::new(store.clone(), master_key),
        events: events::Events::new(args.webhooks.clone()),
        fleet,
        secure_transport: tls.is_some(),
        audit: audit::Audit::start(store.clone()),
        fallback_account: boot.account.clone(),
        policy_cache: Default::default(),
        blobs: Arc::new(steward_store::blob::LocalBlobs::new(args.data_dir.join("blobs"))),
        scheduler: Default::default(),
        sessions: Default::default(),
        #[cfg(feature = "test-clock")]
        test_clock: test_clock.clone(),
    });
    bootstrap::write_admin_env(&args, &boot, &secret, &endpoint, tls.as_ref().and_then(|t| t.ca_path.as_deref()))?;
    tokio::spawn(parameters::policy::run(state.clone(), Duration::from_secs(args.policy_interval)));
    tokio::spawn(commands::dispatch::run(state.clone()));
    tokio::spawn(commands::expiry::run(state.clone()));
    tokio::spawn(iam::sts::run_sweeper(state.clone()));
    tokio::spawn(scheduler::run(state.clone()));
    tokio::spawn(audit::verify::export_worker(
        store.clone(),
        state.blobs.clone(),
        Duration::from_secs(args.audit_export_interval.max(1)),
    ));
    tracing::info!(
        endpoint,
        store = store.backend(),
        account = boot.account,
        dev = args.dev,
        admin_env = %args.data_dir.join("admin.env").display(),
        "Steward is serving."
    );
    let app = http::app(state).into_make_service_with_connect_info::<http::Peer>();
    match tls {
        Some(tls) => {
            let listener = tls::TlsListener::new(listener, tls.config)?;
            axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await?
        }
        None => {
            let listener = http::NodelayListener(listener);
            axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await?
        }
    }
    tracing::info!("Steward stopped.");
    Ok(())
}

/// The address clients on this machine use: a wildcard listen address is reached on loopback.
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

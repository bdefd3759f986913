//! The Steward control plane: the SSM and KMS JSON APIs over one store, plus workers.
//!
//! Layers (ARCHITECTURE.md has the picture; `tests/layers.rs` checks them): [`base`] (the
//! shared context and what every capability needs, naming none of them), the capabilities
//! by rank (each imports only `base` and lower ranks), and [`app`] on top (operation table,
//! front doors, cross-capability flows, workers). Beside them the process: [`config`]
//! (flags), [`bootstrap`] (first start), [`tls`]. The binary's `main` only parses flags and
//! calls [`run`].

pub mod app;
pub mod base;
pub mod bootstrap;
pub mod config;
pub mod package_cli;
pub mod tls;

// Capabilities, by rank: each imports only `base` and lower ranks (tests/layers.rs).
// Rank 1.
pub mod cloudtrail;
pub mod documents;
pub mod fleet;
pub mod groups;
pub mod iam;
pub mod kms;
pub mod parameters;
pub mod sns;
// Rank 2.
pub mod commands;
pub mod compliance;
pub mod inventory;
pub mod sessions;
// Rank 3.
pub mod associations;
pub mod automation;
pub mod patch;
pub mod windows;

use anyhow::Context;

use crate::config::Command;

/// Runs a parsed command line.
pub fn run(cli: config::Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Server(args) => {
            args.validate()?;
            init_logging(&args.log_format);
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime.block_on(app::serve(*args))
        }
        Command::Account(args) => {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(bootstrap::account_command(args))
        }
        Command::Audit(args) => {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(audit_command(args))
        }
        Command::Agent(args) => {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(bootstrap::agent_command(args))
        }
        Command::Package(args) => {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(package_cli::run(args))
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
    let client = args.client.resolve()?;
    match args.action {
        config::SessionAction::Start { target, document_name } => {
            start(&client, &target, document_name.as_deref(), serde_json::json!({}), Mode::Interactive).await
        }
        config::SessionAction::Exec { target, command } => {
            let line = command.iter().map(|a| shell_quote(a)).collect::<Vec<_>>().join(" ");
            // Output streams apart, so stderr stays stderr and the exit code comes back.
            let parameters = serde_json::json!({"command": [line], "separateOutputStream": ["true"]});
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
        // The store's chain is read with its checkpoint below.
        config::AuditAction::Verify { file: None } => Vec::new(),
        _ => {
            let store = steward_store::open(&args.store_url()).await.context("cannot open the store")?;
            base::audit_export::all_events(&*store).await?
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
        config::AuditAction::Verify { file: Some(_) } => report(base::audit_export::verify(&events)),
        config::AuditAction::Verify { file: None } => {
            // The store's chain may have been pruned: it starts after the checkpoint.
            let store = steward_store::open(&args.store_url()).await.context("cannot open the store")?;
            let master_path = args.master_key_file.clone().unwrap_or_else(|| args.data_dir.join("master.key"));
            let master = bootstrap::read_master_key(&master_path)?;
            let blobs = steward_store::blob::LocalBlobs::new(args.data_dir.join("blobs"));
            let key = base::signing_key::load(&*store, &master)
                .await
                .map_err(|e| anyhow::anyhow!("the signing key cannot be read: {}", e.message()))?;
            let verdict = base::audit_digest::verify_trail(&*store, &blobs, key.as_deref()).await?;
            if let Some(cp) = &verdict.checkpoint {
                println!("pruned up to event {} (checkpoint hash {})", cp.seq, cp.hash);
            }
            report(verdict.chain)?;
            match verdict.digests {
                base::audit_digest::DigestVerdict::None => {
                    println!("digests: none written yet");
                    Ok(())
                }
                base::audit_digest::DigestVerdict::Intact { digests, first_seq, last_seq } => {
                    let id = key.map(|k| k.id.clone()).unwrap_or_default();
                    println!(
                        "digests: {digests} intact, signed by key {id}, covering events {first_seq} to {last_seq}"
                    );
                    Ok(())
                }
                base::audit_digest::DigestVerdict::Broken(why) => anyhow::bail!("digests broken: {why}"),
            }
        }
    }
}

/// Prints a verification's outcome; an error when the chain is broken.
fn report(verdict: base::audit_export::Verdict) -> anyhow::Result<()> {
    match verdict {
        base::audit_export::Verdict::Intact { events, head } => {
            println!("intact: {events} events, last hash {head}");
            Ok(())
        }
        base::audit_export::Verdict::Broken { line, reason } => anyhow::bail!("broken at event {line}: {reason}"),
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

//! `steward-agent`: registers this machine with a Steward server and runs what it is sent.

use std::process::ExitCode;

use clap::Parser;

mod calls;
mod channel;
mod cli;
mod executor;
mod identity;
mod inventory;
mod package;
mod patch;
mod piped;
mod platform;
mod port;
mod pty;
mod reboot;
mod records;
mod runas;
mod secure;
mod session;
mod tls;
mod update;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("STEWARD_AGENT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("steward-agent: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("steward-agent: {e:#}");
            ExitCode::FAILURE
        }
    }
}

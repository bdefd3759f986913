//! `steward`: the control plane binary. Parses its configuration once, then runs.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = steward_server::config::Cli::parse();
    match steward_server::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("steward: {e:#}");
            ExitCode::FAILURE
        }
    }
}

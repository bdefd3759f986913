//! `steward`: the control plane binary. Parses its configuration once, then runs.

use std::process::ExitCode;

use clap::Parser;

// The request path allocates many small buffers; mimalloc handles them with less
// contention between worker threads than glibc's malloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

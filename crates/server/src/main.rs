//! `steward`: the control plane binary. Parses its configuration once, then runs.

use std::process::ExitCode;

use clap::Parser;

// The request path allocates many small buffers; mimalloc handles them with less
// contention between worker threads than glibc's malloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Installed (or linked) as `session-manager-plugin`, this binary is the aws CLI's
    // Session Manager plugin.
    let args: Vec<String> = std::env::args().collect();
    if args.first().is_some_and(|a| steward_client::plugin::invoked_as_plugin(a)) {
        return ExitCode::from(steward_client::plugin::main(args).clamp(0, 255) as u8);
    }
    let cli = steward_server::config::Cli::parse();
    match steward_server::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("steward: {e:#}");
            ExitCode::FAILURE
        }
    }
}

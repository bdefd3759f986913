//! `session-manager-plugin`'s calling convention, as the aws CLI uses it:
//!
//! - no argument: say it is installed;
//! - `--version`: a dotted version (above 1.2.497.0, so the CLI passes its answer through
//!   the environment);
//! - `RESPONSE REGION StartSession PROFILE PARAMETERS ENDPOINT`: RESPONSE is the
//!   StartSession answer as JSON, or the name of the environment variable holding it
//!   (`AWS_SSM_START_SESSION_RESPONSE`), which is read and then removed.

use serde_json::Value;

use crate::config::{ClientConfig, Overrides};
use crate::session::{self, Mode, Started, CLIENT_VERSION};

/// Whether the program was invoked under the plugin's name.
pub fn invoked_as_plugin(argv0: &str) -> bool {
    std::path::Path::new(argv0).file_name().is_some_and(|n| n == "session-manager-plugin")
}

/// Runs the plugin with the full argv; returns the process exit code.
pub fn main(args: Vec<String>) -> i32 {
    match args.len() {
        0 | 1 => {
            println!("\nThe Session Manager plugin was installed successfully. Use the AWS CLI to start a session.\n");
            0
        }
        2 if args[1] == "--version" => {
            println!("{CLIENT_VERSION}");
            0
        }
        n if n >= 4 => {
            let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("session-manager-plugin: {e}");
                    return 1;
                }
            };
            match runtime.block_on(run(&args)) {
                Ok(code) => code,
                Err(e) => {
                    eprintln!("\nsession-manager-plugin: {e:#}");
                    1
                }
            }
        }
        _ => {
            eprintln!("usage: session-manager-plugin RESPONSE REGION StartSession PROFILE PARAMETERS ENDPOINT");
            1
        }
    }
}

async fn run(args: &[String]) -> anyhow::Result<i32> {
    let response_text = if args[1].starts_with("AWS_SSM_START_SESSION_RESPONSE") {
        let value = std::env::var(&args[1]).unwrap_or_default();
        // SAFETY: single-threaded at this point of the plugin's life as far as env goes;
        // the variable holds a token that should not linger.
        unsafe { std::env::remove_var(&args[1]) };
        value
    } else {
        args[1].clone()
    };
    let response: Value = serde_json::from_str(&response_text)?;
    let started = Started::from_json(&response)?;
    let region = args.get(2).filter(|r| !r.is_empty()).cloned();
    let profile = args.get(4).filter(|p| !p.is_empty()).cloned();
    let parameters: Value = args.get(5).and_then(|p| serde_json::from_str(p).ok()).unwrap_or(Value::Null);
    anyhow::ensure!(parameters["Target"].is_string(), "the StartSession parameters name no Target");
    let endpoint = args.get(6).filter(|e| !e.is_empty()).cloned();
    let config = ClientConfig::resolve(&Overrides { endpoint_url: endpoint, region, profile })?;
    // A port-forwarding document's local port (`localPortNumber`, 0 or absent: any).
    let local_port = parameters["Parameters"]["localPortNumber"][0].as_str().and_then(|p| p.parse().ok()).unwrap_or(0);
    // On standard output, as AWS's plugin prints it (before a plain stream too: SSH clients
    // skip lines before the server's version line).
    println!("\nStarting session with SessionId: {}\n", started.session_id);
    session::run(&config, started, Mode::Interactive, local_port).await
}

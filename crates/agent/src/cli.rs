//! Command-line interface: `register` and `run`.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::{channel, identity, platform};

/// The Steward agent.
#[derive(Debug, Parser)]
#[command(name = "steward-agent", version, about)]
pub struct Cli {
    /// Where the agent keeps its identity and records (created 0700).
    #[arg(long, global = true, env = "STEWARD_AGENT_STATE_DIR", default_value = "/var/lib/steward-agent")]
    pub state_dir: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Register this machine with an activation.
    Register {
        /// The server, e.g. https://ctl.example:7717 (http:// only on loopback).
        #[arg(long, env = "STEWARD_SERVER")]
        server: String,
        /// PEM certificate(s) to trust for this first contact, e.g. the server's
        /// DATA_DIR/tls/ca.pem. Default: the system's bundle.
        #[arg(long, env = "STEWARD_CA_FILE")]
        ca_file: Option<PathBuf>,
        /// The activation code.
        #[arg(long)]
        code: String,
        /// The activation id.
        #[arg(long)]
        id: String,
    },
    /// Stay connected and run commands (in the foreground).
    Run {
        /// The OS user session shells run as when the session names none (an agent running
        /// as root creates it, with passwordless sudo, as SSM's agent does with ssm-user).
        /// `root` runs them as root; an agent that is not root always uses its own user.
        #[arg(long, env = "STEWARD_AGENT_SESSION_USER", default_value = "ssm-user")]
        session_user: String,
        /// How a step that needs it (patching with RebootIfNeeded) reboots this machine:
        /// a program and its arguments, run with STEWARD_AGENT_PID set.
        #[arg(long, env = "STEWARD_AGENT_REBOOT_COMMAND", default_value = "shutdown -r +1")]
        reboot_command: String,
    },
    /// Scan this machine against a patch baseline file (GetPatchBaseline's JSON) as
    /// AWS-RunPatchBaseline would, and print the report as JSON (nothing is sent or installed).
    Patch {
        /// The baseline file.
        #[arg(long)]
        baseline: PathBuf,
        /// Read the repositories' indexes as they are, without `apt-get update`.
        #[arg(long)]
        no_update: bool,
    },
    /// Watches a freshly updated agent and rolls it back if it does not come up (run by
    /// the update itself, with the previous binary).
    #[command(hide = true)]
    UpdateWatch {
        #[arg(long)]
        pid: u32,
        #[arg(long)]
        invocation: String,
        #[arg(long)]
        exe: PathBuf,
        #[arg(long)]
        deadline_seconds: u64,
        /// The agent's own arguments, to start it again with.
        #[arg(last = true)]
        args: Vec<std::ffi::OsString>,
    },
    /// Gather this machine's inventory as `aws:softwareInventory` would, and print it as
    /// JSON (nothing is sent).
    Inventory {
        /// The `files` setting of AWS-GatherSoftwareInventory (a JSON list of searches).
        #[arg(long, default_value = "")]
        files: String,
    },
}

/// Runs a parsed command line.
pub async fn run(mut cli: Cli) -> anyhow::Result<()> {
    // Scripts run in their own working directories: every path must be absolute.
    std::fs::create_dir_all(&cli.state_dir).with_context(|| format!("cannot create {}", cli.state_dir.display()))?;
    cli.state_dir = std::fs::canonicalize(&cli.state_dir)?;
    match cli.command {
        Command::Register { server, code, id, ca_file } => {
            let identity =
                identity::register(&cli.state_dir, &server, &id, &code, ca_file.as_deref(), platform::detect())
                    .await
                    .context("registration failed")?;
            println!("Registered as {} in account {} ({}).", identity.instance_id, identity.account, identity.region);
            Ok(())
        }
        Command::UpdateWatch { pid, invocation, exe, deadline_seconds, args } => {
            let deadline = std::time::Duration::from_secs(deadline_seconds);
            crate::update::watch(&cli.state_dir, pid, &invocation, &exe, deadline, &args);
            Ok(())
        }
        Command::Inventory { files } => {
            let instance_id = identity::load(&cli.state_dir).map(|i| i.instance_id).unwrap_or_default();
            let inputs = serde_json::json!({ "files": files });
            let items =
                crate::inventory::gather_items(&inputs, &cli.state_dir, &instance_id).map_err(anyhow::Error::msg)?;
            println!("{}", serde_json::to_string_pretty(&items)?);
            Ok(())
        }
        Command::Patch { baseline, no_update } => {
            let report =
                crate::patch::scan_locally(&baseline, &cli.state_dir, !no_update).await.map_err(anyhow::Error::msg)?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
        Command::Run { session_user, reboot_command } => {
            let identity = identity::load(&cli.state_dir)?;
            channel::run(&cli.state_dir, identity, &session_user, &reboot_command).await
        }
    }
}

//! `aws:updateSsmAgent` (AWS-UpdateSSMAgent): the agent replaces itself with a build the
//! server's release key signed.
//!
//! The step downloads the build for this architecture over the control channel, checks its
//! size, SHA-256 and Ed25519 signature against the release key this agent pinned on its first
//! connection (`STATE_DIR/release.pub`), keeps a copy of the running binary
//! (`STATE_DIR/update/steward-agent.previous`), puts the new one in place and starts a
//! watchdog — the previous binary, `update-watch` — before it executes the new one in its own
//! process. The invocation resumes as after a reboot: the new agent reports it on its first
//! connection, after it wrote `update/ok-<invocation>`. If the new agent exits, or has not
//! connected within the deadline, the watchdog ends it, puts the previous binary back,
//! records the step Failed with the reason and starts the previous agent, which reports that.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use steward_protocol::PluginResult;

use crate::package::{download, Context};

/// How long a new agent has to connect before it is rolled back.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// An update ready to take over the process.
#[derive(Debug, Clone)]
pub struct Swap {
    /// What the step reports once the new agent is up.
    pub report: String,
    /// The installed binary (now the new build).
    exe: PathBuf,
    /// The copy of the binary that ran before.
    previous: PathBuf,
    from: String,
    to: String,
}

/// What the step did.
pub enum Outcome {
    /// Nothing to replace; the report.
    Done(String),
    /// The new build is in place: restart into it.
    Restart(Swap),
}

/// What a pending update leaves for the watchdog: the invocation's steps so far, to resume
/// with, whichever agent comes up.
#[derive(Debug, Serialize, Deserialize)]
struct Pending {
    invocation_id: String,
    done: Vec<PluginResult>,
    from: String,
    to: String,
}

fn dir(state_dir: &Path) -> PathBuf {
    state_dir.join("update")
}

fn safe(invocation_id: &str) -> String {
    invocation_id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect()
}

fn ok_file(state_dir: &Path, invocation_id: &str) -> PathBuf {
    dir(state_dir).join(format!("ok-{}", safe(invocation_id)))
}

fn pending_file(state_dir: &Path, invocation_id: &str) -> PathBuf {
    dir(state_dir).join(format!("pending-{}.json", safe(invocation_id)))
}

const RELEASE_KEY_FILE: &str = "release.pub";

/// On each welcome: pins the server's release key the first time it is told (a different key
/// later is ignored), and confirms pending updates — this agent is up.
pub fn on_welcome(state_dir: &Path, release_key: Option<&str>) {
    let pinned = state_dir.join(RELEASE_KEY_FILE);
    if let Some(key) = release_key {
        match std::fs::read_to_string(&pinned) {
            Err(_) => {
                let _ = std::fs::write(&pinned, key);
            }
            Ok(kept) if kept.trim() != key => {
                tracing::warn!("The server names a release key other than the one this agent pinned; it is ignored.");
            }
            Ok(_) => {}
        }
    }
    let Ok(entries) = std::fs::read_dir(dir(state_dir)) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(id) = name.strip_prefix("pending-").and_then(|n| n.strip_suffix(".json")) {
            let _ = std::fs::write(dir(state_dir).join(format!("ok-{id}")), b"up\n");
        }
    }
}

/// Runs the step up to the swap.
pub async fn run(inputs: &Value, ctx: &Context<'_>) -> Result<Outcome, String> {
    let release = &inputs["release"];
    let to = release["version"].as_str().ok_or("The server sent no agent release to install.")?.to_owned();
    let from = crate::platform::agent_version();
    let downgrade = inputs["allowDowngrade"].as_str() == Some("true");
    if to == from {
        return Ok(Outcome::Done(format!("steward-agent {from} is already installed; nothing to do.\n")));
    }
    if steward_protocol::compare_versions(&to, &from) == std::cmp::Ordering::Less && !downgrade {
        return Err(format!(
            "steward-agent {to} is older than the installed {from}; set allowDowngrade to install it."
        ));
    }
    let arch = std::env::consts::ARCH;
    let build = &release["builds"][arch];
    let sha256 = build["sha256"].as_str().ok_or_else(|| format!("steward-agent {to} has no build for {arch}."))?;
    let size = build["size"].as_u64().ok_or("The release gives no size.")?;
    let signature = build["signature"].as_str().ok_or("The release is not signed.")?;
    let key = pinned_key(ctx.state_dir)?;
    let home = dir(ctx.state_dir);
    std::fs::create_dir_all(&home).map_err(|e| format!("Cannot create {}: {e}", home.display()))?;
    let file = format!("steward-agent-{to}-{arch}");
    let downloaded = download(&home, ctx, &file, sha256, size).await?;
    if let Err(why) = verify(&key, &to, arch, sha256, signature) {
        let _ = std::fs::remove_file(&downloaded);
        return Err(format!("{why}; nothing was installed."));
    }
    let exe = std::env::current_exe().map_err(|e| format!("Cannot find the running binary: {e}"))?;
    let previous = home.join("steward-agent.previous");
    install(&exe, &previous, &downloaded).map_err(|e| format!("Cannot put the new agent in place: {e}"))?;
    let report = format!("Updated steward-agent from {from} to {to}.\n");
    Ok(Outcome::Restart(Swap { report, exe, previous, from, to }))
}

fn pinned_key(state_dir: &Path) -> Result<ed25519_dalek::VerifyingKey, String> {
    let text = std::fs::read_to_string(state_dir.join(RELEASE_KEY_FILE))
        .map_err(|_| "This agent has not been told the server's release key; it cannot check the build.".to_owned())?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|_| "The pinned release key is damaged.")?;
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| "The pinned release key is damaged.")?;
    ed25519_dalek::VerifyingKey::from_bytes(&bytes).map_err(|_| "The pinned release key is damaged.".to_owned())
}

fn verify(
    key: &ed25519_dalek::VerifyingKey,
    version: &str,
    arch: &str,
    sha256: &str,
    signature: &str,
) -> Result<(), String> {
    let bad = || "The build's signature does not verify with the server's release key".to_owned();
    let bytes = base64::engine::general_purpose::STANDARD.decode(signature).map_err(|_| bad())?;
    let bytes: [u8; 64] = bytes.try_into().map_err(|_| bad())?;
    let signature = ed25519_dalek::Signature::from_bytes(&bytes);
    key.verify_strict(&steward_protocol::release_payload(version, arch, sha256), &signature).map_err(|_| bad())
}

/// Keeps the running binary as `previous`, then renames the new one over it (through a
/// sibling file, so the path always holds a whole binary).
fn install(exe: &Path, previous: &Path, new: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::copy(exe, previous)?;
    std::fs::set_permissions(previous, std::fs::Permissions::from_mode(0o755))?;
    replace(exe, new)
}

fn replace(exe: &Path, with: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let staged = exe.with_file_name(format!(".{}.new", exe.file_name().unwrap_or_default().to_string_lossy()));
    std::fs::copy(with, &staged)?;
    std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o755))?;
    std::fs::File::open(&staged)?.sync_all()?;
    std::fs::rename(&staged, exe)
}

/// Hands the process over to the new agent: records what the invocation has done, starts
/// the watchdog (the previous binary), and executes the new binary with this process's
/// arguments. Returns only if that fails — the previous binary is then back in place.
pub fn restart(state_dir: &Path, invocation_id: &str, done: &[PluginResult], swap: &Swap) -> String {
    use std::os::unix::process::CommandExt;
    let pending = Pending {
        invocation_id: invocation_id.to_owned(),
        done: done.to_vec(),
        from: swap.from.clone(),
        to: swap.to.clone(),
    };
    let recorded =
        std::fs::write(pending_file(state_dir, invocation_id), serde_json::to_vec(&pending).unwrap_or_default())
            .map_err(|e| e.to_string())
            .and_then(|()| crate::reboot::mark(state_dir, invocation_id, done));
    if let Err(why) = recorded {
        let _ = replace(&swap.exe, &swap.previous);
        return format!("The update could not be recorded ({why}); the previous agent stays.");
    }
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let watchdog = std::process::Command::new(&swap.previous)
        .arg("--state-dir")
        .arg(state_dir)
        .arg("update-watch")
        .args(["--pid", &std::process::id().to_string()])
        .args(["--invocation", invocation_id])
        .arg("--exe")
        .arg(&swap.exe)
        .args(["--deadline-seconds", &DEADLINE.as_secs().to_string()])
        .arg("--")
        .args(&args)
        .stdin(std::process::Stdio::null())
        .process_group(0)
        .spawn();
    if let Err(e) = watchdog {
        abandon(state_dir, invocation_id, swap);
        return format!("The update watchdog could not start ({e}); the previous agent stays.");
    }
    tracing::info!(from = swap.from, to = swap.to, "Restarting into the new agent.");
    let failed = std::process::Command::new(&swap.exe).args(&args).exec();
    abandon(state_dir, invocation_id, swap);
    format!("The new agent could not be started ({failed}); the previous agent stays.")
}

fn abandon(state_dir: &Path, invocation_id: &str, swap: &Swap) {
    let _ = replace(&swap.exe, &swap.previous);
    crate::reboot::clear(state_dir, invocation_id);
    let _ = std::fs::remove_file(pending_file(state_dir, invocation_id));
}

/// `steward-agent update-watch`: run by the previous binary beside the new agent (`pid`).
/// Returns when the new agent connected, or after rolling back.
pub fn watch(state_dir: &Path, pid: u32, invocation_id: &str, exe: &Path, deadline: Duration, args: &[OsString]) {
    let started = Instant::now();
    let ok = ok_file(state_dir, invocation_id);
    loop {
        if ok.exists() {
            finish(state_dir, invocation_id);
            return;
        }
        let alive = is_alive(pid);
        if !alive || started.elapsed() > deadline {
            if alive {
                // SAFETY: kill(2) on the new agent's pid; no memory is touched.
                unsafe {
                    libc::kill(pid as i32, libc::SIGKILL);
                }
                let until = Instant::now() + Duration::from_secs(5);
                while is_alive(pid) && Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            let why = if alive {
                format!("did not connect within {} seconds", deadline.as_secs())
            } else {
                "exited before it connected".to_owned()
            };
            roll_back(state_dir, invocation_id, exe, &why, args);
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn finish(state_dir: &Path, invocation_id: &str) {
    let _ = std::fs::remove_file(ok_file(state_dir, invocation_id));
    let _ = std::fs::remove_file(pending_file(state_dir, invocation_id));
}

/// Puts the previous binary (the one running this) back, records the step Failed and starts
/// the previous agent, which reports the invocation.
fn roll_back(state_dir: &Path, invocation_id: &str, exe: &Path, why: &str, args: &[OsString]) {
    use std::os::unix::process::CommandExt;
    let pending: Option<Pending> =
        std::fs::read(pending_file(state_dir, invocation_id)).ok().and_then(|b| serde_json::from_slice(&b).ok());
    let previous = dir(state_dir).join("steward-agent.previous");
    if let Err(e) = replace(exe, &previous) {
        eprintln!("steward-agent update-watch: cannot restore {}: {e}", exe.display());
    }
    if let Some(pending) = pending {
        let mut done = pending.done;
        if let Some(last) = done.last_mut() {
            last.status = "Failed".into();
            last.response_code = 1;
            last.stdout.clear();
            last.stderr = format!("steward-agent {} {why}; steward-agent {} was restored.\n", pending.to, pending.from);
        }
        let _ = crate::reboot::mark(state_dir, invocation_id, &done);
    }
    finish(state_dir, invocation_id);
    let started =
        std::process::Command::new(exe).args(args).stdin(std::process::Stdio::null()).process_group(0).spawn();
    if let Err(e) = started {
        eprintln!("steward-agent update-watch: cannot start the restored agent: {e}");
    }
}

/// Whether `pid` runs (a zombie does not).
fn is_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rfind(')').and_then(|i| stat[i + 1..].split_whitespace().next()).is_some_and(|s| s != "Z"),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::Signer;

    #[test]
    fn versions_and_signatures() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
        let sha = "ab".repeat(32);
        let sig = key.sign(&steward_protocol::release_payload("1.0", "x86_64", &sha)).to_bytes();
        let b64 = base64::engine::general_purpose::STANDARD.encode(sig);
        assert!(verify(&key.verifying_key(), "1.0", "x86_64", &sha, &b64).is_ok());
        assert!(verify(&key.verifying_key(), "1.1", "x86_64", &sha, &b64).is_err(), "another version");
        assert!(verify(&key.verifying_key(), "1.0", "aarch64", &sha, &b64).is_err(), "another arch");
        assert!(verify(&key.verifying_key(), "1.0", "x86_64", &"cd".repeat(32), &b64).is_err(), "another file");
        assert!(verify(&key.verifying_key(), "1.0", "x86_64", &sha, "junk").is_err());
    }
}

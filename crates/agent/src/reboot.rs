//! Reboots a step asks for (`aws:runPatchBaseline` with RebootIfNeeded). What the invocation
//! has done so far is kept on disk (`STATE_DIR/reboot/`), the system's reboot command runs,
//! and when the agent starts again the invocation resumes after the step that rebooted: it
//! completes only once the node is back, as under SSM's agent.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use steward_protocol::PluginResult;

/// What survives the reboot.
#[derive(Debug, Serialize, Deserialize)]
struct Marker {
    invocation_id: String,
    done: Vec<PluginResult>,
}

fn dir(state_dir: &Path) -> PathBuf {
    state_dir.join("reboot")
}

fn file(state_dir: &Path, invocation_id: &str) -> PathBuf {
    let safe: String =
        invocation_id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    dir(state_dir).join(format!("{safe}.json"))
}

fn markers(state_dir: &Path) -> Vec<(PathBuf, Marker)> {
    let Ok(entries) = fs::read_dir(dir(state_dir)) else { return Vec::new() };
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.path(), serde_json::from_slice(&fs::read(e.path()).ok()?).ok()?)))
        .collect()
}

/// Invocations waiting for the agent to come back from a reboot.
pub fn pending(state_dir: &Path) -> BTreeSet<String> {
    markers(state_dir).into_iter().map(|(_, m)| m.invocation_id).collect()
}

/// Keeps what the invocation has done, before the reboot.
pub fn mark(state_dir: &Path, invocation_id: &str, done: &[PluginResult]) -> Result<(), String> {
    let marker = Marker { invocation_id: invocation_id.to_owned(), done: done.to_vec() };
    let path = file(state_dir, invocation_id);
    let write = || -> std::io::Result<()> {
        fs::create_dir_all(dir(state_dir))?;
        let tmp = path.with_extension("tmp");
        fs::write(&tmp, serde_json::to_vec(&marker).unwrap_or_default())?;
        fs::File::open(&tmp)?.sync_all()?;
        fs::rename(&tmp, &path)
    };
    write().map_err(|e| format!("cannot record the reboot: {e}"))
}

/// Forgets a reboot that did not happen.
pub fn clear(state_dir: &Path, invocation_id: &str) {
    let _ = fs::remove_file(file(state_dir, invocation_id));
}

/// The invocations to resume (id and the steps done), each handed out once.
pub fn take(state_dir: &Path) -> Vec<(String, Vec<PluginResult>)> {
    markers(state_dir)
        .into_iter()
        .filter_map(|(path, m)| fs::remove_file(path).ok().map(|()| (m.invocation_id, m.done)))
        .collect()
}

/// Runs the reboot command (program and arguments, no shell), with `STEWARD_AGENT_PID` set.
pub async fn reboot(command: &[String]) -> Result<(), String> {
    let Some((program, args)) = command.split_first() else {
        return Err("no reboot command is configured (steward-agent run --reboot-command)".into());
    };
    let status = tokio::process::Command::new(program)
        .args(args)
        .env("STEWARD_AGENT_PID", std::process::id().to_string())
        .stdin(std::process::Stdio::null())
        .status()
        .await
        .map_err(|e| format!("cannot run the reboot command {program}: {e}"))?;
    if !status.success() {
        return Err(format!("the reboot command {program} failed ({status})"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_kept_then_handed_out_once() {
        let state = std::env::temp_dir().join(format!("steward-reboot-{}", std::process::id()));
        let done = vec![PluginResult {
            name: "PatchLinux".into(),
            status: "Success".into(),
            response_code: 0,
            stdout: "installed".into(),
            stderr: String::new(),
            started: 1,
            ended: 2,
        }];
        mark(&state, "cmd/mi-1", &done).unwrap();
        assert_eq!(pending(&state).into_iter().collect::<Vec<_>>(), ["cmd/mi-1"]);
        let taken = take(&state);
        assert_eq!(taken.len(), 1);
        assert_eq!((taken[0].0.as_str(), taken[0].1[0].stdout.as_str()), ("cmd/mi-1", "installed"));
        assert!(take(&state).is_empty() && pending(&state).is_empty());
        let _ = fs::remove_dir_all(&state);
    }
}

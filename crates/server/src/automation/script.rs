//! `aws:executeScript`: a Python 3 handler or a bash script, run on the server in a process
//! of its own — an empty environment, its own temporary folder, an unprivileged user (the
//! server must be root to drop to `nobody`), CPU-time, memory and file-size limits, killed at
//! the step's timeout. The step's input payload goes in as JSON; what the handler returns
//! (Python) or prints as JSON (bash) is the step's `Payload`.
//!
//! A script runs at most once: the step's record names the server process that launched it
//! (a boot id), written before the process starts; a later look by another process (the
//! first one died) fails the step instead of running the script again.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::Value;
use tokio::io::AsyncWriteExt;

/// What a finished script left.
#[derive(Debug, Clone)]
pub enum Finished {
    /// The payload it returned, and what it printed.
    Returned { payload: Value, log: String },
    /// Why it failed.
    Failed(String),
}

/// The server process's identity for scripts it launches.
pub fn boot_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| uuid::Uuid::new_v4().to_string())
}

type Runs = Mutex<HashMap<String, Option<Finished>>>;

fn runs() -> &'static Arc<Runs> {
    static RUNS: OnceLock<Arc<Runs>> = OnceLock::new();
    RUNS.get_or_init(Arc::default)
}

/// Where a script launched by this process is: None if this process never launched it.
pub fn state(step_id: &str) -> Option<Option<Finished>> {
    runs().lock().expect("script runs").get(step_id).cloned()
}

/// The tasks running scripts, by step: stopping a step stops its script.
fn tasks() -> &'static Mutex<HashMap<String, tokio::task::AbortHandle>> {
    static TASKS: OnceLock<Mutex<HashMap<String, tokio::task::AbortHandle>>> = OnceLock::new();
    TASKS.get_or_init(Mutex::default)
}

/// Forgets a script whose step ended (its result is in the step's record now, or the step
/// was stopped): one still running is killed with everything it started.
pub fn forget(step_id: &str) {
    runs().lock().expect("script runs").remove(step_id);
    if let Some(task) = tasks().lock().expect("script tasks").remove(step_id) {
        task.abort();
    }
}

/// The most output kept of a script (stdout and stderr).
const LOG_LIMIT: usize = 24_000;
/// Address space of a script.
const MEMORY_BYTES: u64 = 1 << 30;
/// Largest file a script may write.
const FILE_BYTES: u64 = 64 << 20;

/// Python's side: load the script, call the handler with the payload, print the result as
/// the last line, marked.
const PYTHON_RUNNER: &str = r#"
import importlib, json, os, runpy, sys
events = json.load(open(sys.argv[2]))
sys.path.insert(0, os.getcwd())
if sys.argv[1]:
    handler = runpy.run_path(sys.argv[1]).get(sys.argv[3])
else:
    module, _, name = sys.argv[3].rpartition(".")
    handler = getattr(importlib.import_module(module), name, None) if module else None
if handler is None:
    sys.exit("the script defines no function named " + sys.argv[3])
result = handler(events, None)
sys.stdout.flush()
sys.stdout.write("\n@@steward-payload@@" + json.dumps(result) + "\n")
"#;

const MARK: &str = "@@steward-payload@@";

/// Whether `runtime` is one this server runs.
pub fn supported_runtime(runtime: &str) -> bool {
    runtime.starts_with("python3") || runtime == "bash"
}

/// A zip file a script runs from (the runbook's `files`), unpacked into its folder.
pub struct Attachment {
    /// Where the runbook's files are kept.
    pub blobs: Arc<dyn steward_store::blob::BlobStore>,
    /// Its key there.
    pub key: String,
    /// Its name in the runbook.
    pub name: String,
}

/// Most entries and bytes an attachment may unpack to.
const ATTACHMENT_LIMITS: steward_protocol::archive::Limits =
    steward_protocol::archive::Limits { entries: 10_000, bytes: 256 << 20 };

/// Starts the script of a step (`inputs`: Runtime, Handler, Script, InputPayload), with
/// its attachment if it names one, in the background; its result waits in this process
/// until [`state`] takes it.
pub fn launch(
    step_id: &str,
    inputs: &Value,
    attachment: Option<Attachment>,
    timeout: Duration,
    done: impl FnOnce() + Send + 'static,
) {
    runs().lock().expect("script runs").insert(step_id.to_owned(), None);
    let (id, inputs) = (step_id.to_owned(), inputs.clone());
    let task = tokio::spawn(async move {
        let finished = run(&inputs, attachment, timeout).await.unwrap_or_else(|e| Finished::Failed(format!("{e:#}")));
        if let Some(slot) = runs().lock().expect("script runs").get_mut(&id) {
            *slot = Some(finished);
        }
        done();
    });
    tasks().lock().expect("script tasks").insert(step_id.to_owned(), task.abort_handle());
}

/// Unpacks `attachment` into `dir`; why not, when it cannot be.
async fn unpack(attachment: Attachment, dir: &std::path::Path) -> Result<(), String> {
    let name = attachment.name.clone();
    let bytes = match attachment.blobs.get(crate::documents::PACKAGE_BUCKET, &attachment.key).await {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return Err(format!("The attachment {name} is no longer stored on this server.")),
        Err(e) => return Err(format!("The attachment {name} could not be read: {e}")),
    };
    let dir = dir.to_owned();
    let unpacked = tokio::task::spawn_blocking(move || {
        let archive = dir.join(".attachment.zip");
        std::fs::write(&archive, bytes).map_err(|e| format!("Cannot write the attachment: {e}"))?;
        let result = steward_protocol::archive::extract(&archive, &dir, "attachment", ATTACHMENT_LIMITS);
        let _ = std::fs::remove_file(&archive);
        result
    });
    unpacked
        .await
        .map_err(|e| format!("Unpacking the attachment stopped: {e}"))?
        .map_err(|why| format!("{name}: {why}"))
}

async fn run(inputs: &Value, attachment: Option<Attachment>, timeout: Duration) -> anyhow::Result<Finished> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(Finished::Failed(
            "aws:executeScript runs scripts as an unprivileged user: the server must run as root to switch to it."
                .into(),
        ));
    }
    let runtime = inputs["Runtime"].as_str().unwrap_or_default();
    let script = inputs["Script"].as_str().unwrap_or_default();
    let handler = inputs["Handler"].as_str().unwrap_or_default();
    let payload = match &inputs["InputPayload"] {
        Value::Null => Value::Object(Default::default()),
        Value::String(s) => serde_json::from_str(s).unwrap_or(Value::String(s.clone())),
        other => other.clone(),
    };
    let dir = ScratchDir::new()?;
    let (nobody_uid, nobody_gid) = (65534u32, 65534u32);
    if let Some(attachment) = attachment {
        if let Err(why) = unpack(attachment, dir.path()).await {
            return Ok(Finished::Failed(why));
        }
        // The script owns its files, as it owns its folder.
        give_to(dir.path(), nobody_uid, nobody_gid)?;
    }
    std::os::unix::fs::chown(dir.path(), Some(nobody_uid), Some(nobody_gid))?;
    let script_path = dir.path().join(if runtime == "bash" { "script.sh" } else { "script.py" });
    std::fs::write(&script_path, script)?;
    let payload_path = dir.path().join("payload.json");
    std::fs::write(&payload_path, serde_json::to_vec(&payload)?)?;
    let mut command = if runtime == "bash" {
        let mut c = tokio::process::Command::new("/bin/bash");
        c.arg(&script_path);
        c
    } else {
        let runner = dir.path().join("runner.py");
        std::fs::write(&runner, PYTHON_RUNNER)?;
        // Found where an unprivileged user can run it, not through the server's own PATH.
        let python = ["/usr/local/bin/python3", "/usr/bin/python3", "/bin/python3"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .ok_or_else(|| anyhow::anyhow!("python3 is not installed on the server"))?;
        let mut c = tokio::process::Command::new(python);
        // No inline script: the handler is `module.function` of the attachment.
        let script_arg = if script.is_empty() { std::path::PathBuf::new() } else { script_path.clone() };
        c.arg(&runner).arg(&script_arg).arg(&payload_path).arg(handler);
        c
    };
    let cpu = timeout.as_secs().max(1);
    command
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", dir.path())
        .env("TMPDIR", dir.path())
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        command.pre_exec(move || {
            let limit = |resource, value: u64| {
                let l = libc::rlimit { rlim_cur: value, rlim_max: value };
                if libc::setrlimit(resource, &l) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            };
            limit(libc::RLIMIT_CPU, cpu)?;
            limit(libc::RLIMIT_AS, MEMORY_BYTES)?;
            limit(libc::RLIMIT_FSIZE, FILE_BYTES)?;
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(nobody_gid) != 0
                || libc::setuid(nobody_uid) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command.spawn()?;
    let _group = ProcessGroup(child.id());
    if let Some(mut stdin) = child.stdin.take() {
        // bash scripts read their payload on standard input.
        let _ = stdin.write_all(&serde_json::to_vec(&payload)?).await;
    }
    let output = match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(out) => out?,
        Err(_) => return Ok(Finished::Failed(format!("The script ran longer than {} seconds.", timeout.as_secs()))),
    };
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let mut log = format!("{stdout}{stderr}");
    if !output.status.success() {
        log.truncate(LOG_LIMIT);
        return Ok(Finished::Failed(format!("The script failed ({}): {}", output.status, log.trim())));
    }
    let payload = if runtime == "bash" {
        let text = stdout.trim();
        serde_json::from_str(text).unwrap_or(Value::String(text.to_owned()))
    } else {
        let (printed, result) = stdout.rsplit_once(MARK).unwrap_or((&stdout, "null"));
        log = format!("{}{stderr}", printed.trim_end_matches('\n'));
        serde_json::from_str(result.trim()).unwrap_or(Value::Null)
    };
    log.truncate(LOG_LIMIT);
    Ok(Finished::Returned { payload, log })
}

/// Everything under `dir` (not following links, of which an unpacked attachment has none)
/// owned by `uid`:`gid`.
fn give_to(dir: &std::path::Path, uid: u32, gid: u32) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        std::os::unix::fs::lchown(entry.path(), Some(uid), Some(gid))?;
        if entry.file_type()?.is_dir() {
            give_to(&entry.path(), uid, gid)?;
        }
    }
    Ok(())
}

/// A script's process group, killed when its run ends however it ends (finished, timed
/// out, stopped): nothing a script started outlives its step.
struct ProcessGroup(Option<u32>);

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        if let Some(pid) = self.0.and_then(|p| i32::try_from(p).ok()) {
            // SAFETY: kill has no memory preconditions; the group is the script's own (process_group(0)).
            unsafe { libc::kill(-pid, libc::SIGKILL) };
        }
    }
}

/// A script's own folder, removed with everything in it when the run ends.
struct ScratchDir(std::path::PathBuf);

impl ScratchDir {
    fn new() -> std::io::Result<ScratchDir> {
        use std::os::unix::fs::DirBuilderExt;
        let path = std::env::temp_dir().join(format!("steward-script-{}", uuid::Uuid::new_v4()));
        std::fs::DirBuilder::new().mode(0o700).create(&path)?;
        Ok(ScratchDir(path))
    }

    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

//! Runs an invocation's steps: shell scripts in their own process group (so a timeout or
//! a cancel kills every process they started), output captured whole.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use steward_protocol::{Invocation, InvocationResult, PluginResult, PluginRun};
use tokio::io::AsyncReadExt;
use tokio::process::Command;

use crate::calls::Calls;
use crate::records::now_ms;
use crate::secure;

/// Cancels of invocations not (yet) running that an agent remembers.
const EARLY_CANCELS: usize = 64;

/// Most bytes of stdout or stderr kept per step.
const OUTPUT_CAP: usize = 8 << 20;

/// Process groups of running invocations, so a cancel can reach them, and the environment
/// every step gets.
#[derive(Clone, Default)]
pub struct Running {
    groups: Arc<Mutex<HashMap<String, (i32, bool)>>>,
    /// Cancels that came before their invocation's first process (the server may send the
    /// cancel just as the invocation is delivered): the newest few, honoured when it starts.
    early: Arc<Mutex<std::collections::VecDeque<String>>>,
    env: Arc<Vec<(String, String)>>,
    reboot_command: Arc<Vec<String>>,
    reboots: Arc<Mutex<std::collections::HashSet<String>>>,
    restarts: Arc<Mutex<HashMap<String, crate::update::Swap>>>,
}

impl Running {
    /// Steps will see `AWS_SSM_INSTANCE_ID` and `AWS_SSM_REGION_NAME`, as under SSM's agent.
    pub fn for_node(instance_id: &str, region: &str) -> Self {
        let env = vec![
            ("AWS_SSM_INSTANCE_ID".to_owned(), instance_id.to_owned()),
            ("AWS_SSM_REGION_NAME".to_owned(), region.to_owned()),
        ];
        Running { env: Arc::new(env), ..Default::default() }
    }

    /// The command that reboots this machine (program and arguments).
    pub fn with_reboot_command(mut self, command: &str) -> Self {
        self.reboot_command = Arc::new(command.split_whitespace().map(str::to_owned).collect());
        self
    }

    /// A step of the invocation needs the machine rebooted once it ends.
    fn request_reboot(&self, invocation_id: &str) {
        self.reboots.lock().expect("running lock").insert(invocation_id.to_owned());
    }

    fn take_reboot(&self, invocation_id: &str) -> bool {
        self.reboots.lock().expect("running lock").remove(invocation_id)
    }

    /// A step put a new agent in place: the process restarts into it once the step ends.
    fn request_restart(&self, invocation_id: &str, swap: crate::update::Swap) {
        self.restarts.lock().expect("running lock").insert(invocation_id.to_owned(), swap);
    }

    fn take_restart(&self, invocation_id: &str) -> Option<crate::update::Swap> {
        self.restarts.lock().expect("running lock").remove(invocation_id)
    }

    /// Kills the invocation's processes; it will end Cancelled.
    pub fn cancel(&self, invocation_id: &str) {
        let mut groups = self.groups.lock().expect("running lock");
        if let Some((pgid, cancelled)) = groups.get_mut(invocation_id) {
            *cancelled = true;
            kill_group(*pgid);
            return;
        }
        let mut early = self.early.lock().expect("running lock");
        if !early.iter().any(|id| id == invocation_id) {
            if early.len() >= EARLY_CANCELS {
                early.pop_front();
            }
            early.push_back(invocation_id.to_owned());
        }
    }

    /// The node's id, as steps see it.
    fn instance_id(&self) -> String {
        self.env.iter().find(|(k, _)| k == "AWS_SSM_INSTANCE_ID").map(|(_, v)| v.clone()).unwrap_or_default()
    }

    fn is_cancelled(&self, invocation_id: &str) -> bool {
        self.groups.lock().expect("running lock").get(invocation_id).is_some_and(|(_, c)| *c)
            || self.early.lock().expect("running lock").iter().any(|id| id == invocation_id)
    }

    fn set(&self, invocation_id: &str, pgid: i32) {
        let cancelled = self.is_cancelled(invocation_id);
        self.groups.lock().expect("running lock").insert(invocation_id.to_owned(), (pgid, cancelled));
        if cancelled {
            kill_group(pgid);
        }
    }

    fn take(&self, invocation_id: &str) -> bool {
        let mut early = self.early.lock().expect("running lock");
        let was_early = early.iter().position(|id| id == invocation_id).map(|at| early.remove(at)).is_some();
        drop(early);
        let cancelled = self.groups.lock().expect("running lock").remove(invocation_id).is_some_and(|(_, c)| c);
        cancelled || was_early
    }
}

fn kill_group(pgid: i32) {
    if pgid > 0 {
        // SAFETY: kill(2) with a negative pid signals the process group; no memory is touched.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
}

/// Names the process group a step runs in (with its leader's start time), while it runs.
const GROUP_FILE: &str = "_process_group";

/// The start time of a process (clock ticks since boot), which tells a process from a
/// later one that reused its id.
fn process_start(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields count from the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Ends the process groups of steps that were running when a previous agent process died
/// (kill -9, OOM): they must not run on, unseen, after their invocation ended Failed.
pub fn reap_orphans(work_dir: &Path) -> usize {
    let mut reaped = 0;
    let mut pending = vec![(work_dir.to_path_buf(), 0)];
    while let Some((dir, depth)) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() && depth < 6 {
                pending.push((path, depth + 1));
            } else if entry.file_name() == GROUP_FILE {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                let mut fields = text.split_whitespace().map(|f| f.parse::<u64>().ok());
                if let (Some(Some(pgid)), Some(Some(started))) = (fields.next(), fields.next()) {
                    let pgid = pgid as i32;
                    if process_start(pgid) == Some(started) {
                        kill_group(pgid);
                        reaped += 1;
                    }
                }
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    reaped
}

fn text_list(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().flat_map(text_list).collect(),
        Value::Null => Vec::new(),
        other => vec![other.to_string()],
    }
}

fn seconds(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

/// Runs the steps after those in `done` (none for a new invocation; the steps before a
/// reboot for one that rebooted the node), in order. A step that
/// asks for a reboot has what ran so far recorded, then the machine rebooted: this never
/// returns then, and the agent that starts after the reboot resumes the invocation.
pub async fn resume(
    invocation: Invocation,
    work_dir: &Path,
    running: Running,
    calls: Calls,
    done: Vec<PluginResult>,
) -> InvocationResult {
    let skip = done.len();
    let mut plugins = done;
    for step in invocation.plugins.iter().skip(skip) {
        if running.is_cancelled(&invocation.invocation_id) {
            break; // Cancelled before this step began.
        }
        let started = now_ms();
        let result = match secure::resolve_inputs(&step.inputs, &calls).await {
            Ok((inputs, secrets)) => {
                let resolved = PluginRun { inputs, ..step.clone() };
                let mut result = run_step(&invocation, &resolved, work_dir, &running, &calls).await;
                result.stdout = secure::mask(&result.stdout, &secrets);
                result.stderr = secure::mask(&result.stderr, &secrets);
                result
            }
            Err(why) => finished(step, "Failed", 1, String::new(), why, started),
        };
        plugins.push(result);
        if let Some(swap) = running.take_restart(&invocation.invocation_id) {
            // Returns only when the new agent could not take over.
            let state_dir = work_dir.parent().unwrap_or(work_dir);
            let why = crate::update::restart(state_dir, &invocation.invocation_id, &plugins, &swap);
            if let Some(last) = plugins.last_mut() {
                last.status = "Failed".into();
                last.response_code = 1;
                last.stderr.push_str(&why);
            }
        }
        if running.take_reboot(&invocation.invocation_id) {
            reboot_now(&invocation.invocation_id, work_dir, &running, &mut plugins).await;
        }
        if running.is_cancelled(&invocation.invocation_id) {
            break;
        }
    }
    let cancelled = running.take(&invocation.invocation_id);
    let status = if cancelled {
        "Cancelled"
    } else if plugins.iter().any(|p| p.status == "TimedOut") {
        "TimedOut"
    } else if plugins.iter().any(|p| p.status != "Success") {
        "Failed"
    } else {
        "Success"
    };
    if cancelled {
        for p in plugins.iter_mut().filter(|p| p.status != "Success") {
            p.status = "Cancelled".into();
        }
    }
    InvocationResult { invocation_id: invocation.invocation_id.clone(), status: status.into(), plugins }
}

/// Records the invocation's progress and reboots; if the reboot cannot happen, the step
/// that asked for it fails with the reason and the invocation goes on.
async fn reboot_now(invocation_id: &str, work_dir: &Path, running: &Running, plugins: &mut [PluginResult]) {
    let state_dir = work_dir.parent().unwrap_or(work_dir);
    let outcome = match crate::reboot::mark(state_dir, invocation_id, plugins) {
        Ok(()) => crate::reboot::reboot(&running.reboot_command).await,
        Err(why) => Err(why),
    };
    match outcome {
        Ok(()) => {
            tracing::info!(invocation_id, "Rebooting; the invocation resumes when the agent is back.");
            std::future::pending::<()>().await;
        }
        Err(why) => {
            crate::reboot::clear(state_dir, invocation_id);
            if let Some(last) = plugins.last_mut() {
                last.status = "Failed".into();
                last.response_code = 1;
                last.stderr.push_str(&format!("The node needs a reboot, but {why}.\n"));
            }
        }
    }
}

fn finished(step: &PluginRun, status: &str, code: i64, stdout: String, stderr: String, started: i64) -> PluginResult {
    PluginResult {
        name: step.name.clone(),
        status: status.into(),
        response_code: code,
        stdout,
        stderr,
        started,
        ended: now_ms(),
    }
}

async fn run_step(
    invocation: &Invocation,
    step: &PluginRun,
    work_dir: &Path,
    running: &Running,
    calls: &Calls,
) -> PluginResult {
    let started = now_ms();
    if let Some(platform) = &step.precondition_platform {
        if platform != crate::platform::detect().platform_type.as_str() {
            let note =
                format!("Step execution skipped due to unsatisfied preconditions: platformType is not {platform}.");
            return finished(step, "Success", 0, note, String::new(), started);
        }
    }
    let (program, args): (&str, Vec<&str>) = match step.action.as_str() {
        "aws:runDocument" => return Box::pin(run_nested(invocation, step, work_dir, running, calls, started)).await,
        "aws:softwareInventory" => {
            // The agent's state directory holds the work directory.
            let state_dir = work_dir.parent().unwrap_or(work_dir).to_path_buf();
            return match crate::inventory::run(&step.inputs, state_dir, running.instance_id(), calls).await {
                Ok(summary) => finished(step, "Success", 0, summary, String::new(), started),
                Err(why) => finished(step, "Failed", 1, String::new(), why, started),
            };
        }
        "aws:runPatchBaseline" => {
            let state_dir = work_dir.parent().unwrap_or(work_dir).to_path_buf();
            return match crate::patch::run(&step.inputs, &state_dir, calls).await {
                Ok(outcome) => {
                    if outcome.reboot {
                        running.request_reboot(&invocation.invocation_id);
                    }
                    finished(step, "Success", 0, outcome.summary, String::new(), started)
                }
                Err(why) => finished(step, "Failed", 1, String::new(), why, started),
            };
        }
        "aws:configurePackage" => {
            let state_dir = work_dir.parent().unwrap_or(work_dir).to_path_buf();
            let timeout = seconds(&step.inputs["timeoutSeconds"]).unwrap_or(invocation.execution_timeout_seconds);
            let ctx = crate::package::Context {
                state_dir: &state_dir,
                invocation_id: &invocation.invocation_id,
                command_id: &invocation.command_id,
                timeout,
                running,
                calls,
            };
            return match crate::package::run(&step.inputs, ctx).await {
                Ok(report) => finished(step, "Success", 0, report, String::new(), started),
                Err(why) => finished(step, "Failed", 1, String::new(), why, started),
            };
        }
        "aws:updateSsmAgent" => {
            let state_dir = work_dir.parent().unwrap_or(work_dir).to_path_buf();
            let ctx = crate::package::Context {
                state_dir: &state_dir,
                invocation_id: &invocation.invocation_id,
                command_id: &invocation.command_id,
                timeout: invocation.execution_timeout_seconds,
                running,
                calls,
            };
            return match crate::update::run(&step.inputs, &ctx).await {
                Ok(crate::update::Outcome::Done(report)) => {
                    finished(step, "Success", 0, report, String::new(), started)
                }
                Ok(crate::update::Outcome::Restart(swap)) => {
                    let report = swap.report.clone();
                    running.request_restart(&invocation.invocation_id, swap);
                    finished(step, "Success", 0, report, String::new(), started)
                }
                Err(why) => finished(step, "Failed", 1, String::new(), why, started),
            };
        }
        "aws:runShellScript" => ("sh", vec![]),
        "aws:runPowerShellScript" => {
            if which("pwsh").is_none() {
                return finished(
                    step,
                    "Failed",
                    1,
                    String::new(),
                    "PowerShell (pwsh) is not installed on this node.".into(),
                    started,
                );
            }
            ("pwsh", vec!["-NonInteractive", "-NoProfile", "-File"])
        }
        other => {
            return finished(
                step,
                "Failed",
                1,
                String::new(),
                format!("The plugin {other} is not supported by this agent yet."),
                started,
            );
        }
    };
    let script = text_list(&step.inputs["runCommand"]).join("\n");
    let timeout = seconds(&step.inputs["timeoutSeconds"]).unwrap_or(invocation.execution_timeout_seconds).max(1);
    let dir = work_dir.join(invocation.invocation_id.replace('/', "_")).join(&step.name);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return finished(step, "Failed", 1, String::new(), format!("Cannot create the work directory: {e}"), started);
    }
    let script_path = dir.join(if program == "sh" { "_script.sh" } else { "_script.ps1" });
    if let Err(e) = std::fs::write(&script_path, script) {
        return finished(step, "Failed", 1, String::new(), format!("Cannot write the script: {e}"), started);
    }
    let cwd = match step.inputs["workingDirectory"].as_str().filter(|d| !d.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => dir.clone(),
    };
    let mut argv: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    argv.push(script_path.as_os_str());
    let ran = run_program(running, &invocation.invocation_id, program, &argv, &cwd, &[], timeout, &dir).await;
    // The script may hold resolved secrets: it does not outlive the step.
    let _ = std::fs::remove_file(&script_path);
    let Ran { status, code, stdout, stderr } = match ran {
        Ok(ran) => ran,
        Err(why) => return finished(step, "Failed", 1, String::new(), why, started),
    };
    finished(step, status, code, stdout, stderr, started)
}

/// How a program ended: Success, Failed or TimedOut, its exit code (-1 when none), and
/// its output.
pub struct Ran {
    /// Success, Failed, TimedOut.
    pub status: &'static str,
    /// The exit code, -1 when none.
    pub code: i64,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Runs `program` with `args` in `cwd`, in its own process group registered under
/// `invocation_id` (a cancel kills it), with the node's environment plus `extra_env`,
/// killed at `timeout` seconds. `marker_dir` holds the group's file while it runs, so an
/// agent that starts after this one died ends it.
#[allow(clippy::too_many_arguments)]
pub async fn run_program(
    running: &Running,
    invocation_id: &str,
    program: &str,
    args: &[&std::ffi::OsStr],
    cwd: &Path,
    extra_env: &[(String, String)],
    timeout: u64,
    marker_dir: &Path,
) -> Result<Ran, String> {
    let mut command = Command::new(program);
    command
        .args(args)
        .current_dir(cwd)
        .envs(running.env.iter().chain(extra_env).map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(|e| format!("Cannot start {program} in {}: {e}", cwd.display()))?;
    let pgid = child.id().map(|p| p as i32).unwrap_or(0);
    running.set(invocation_id, pgid);
    // If the agent dies, its next start finds this and ends the group it left behind.
    let group_file = marker_dir.join(GROUP_FILE);
    if let Some(started) = process_start(pgid) {
        let _ = std::fs::write(&group_file, format!("{pgid} {started}"));
    }
    let stdout_task = tokio::spawn(read_all(child.stdout.take().expect("piped")));
    let stderr_task = tokio::spawn(read_all(child.stderr.take().expect("piped")));
    let waited = tokio::time::timeout(Duration::from_secs(timeout.max(1)), child.wait()).await;
    let (status, code) = match waited {
        Ok(Ok(exit)) => {
            let code = exit.code().map(i64::from).unwrap_or(-1);
            (if code == 0 { "Success" } else { "Failed" }, code)
        }
        Ok(Err(_)) => ("Failed", -1),
        Err(_) => {
            kill_group(pgid);
            let _ = child.wait().await;
            ("TimedOut", -1)
        }
    };
    // The group may have children still holding the pipes open; end them too.
    kill_group(pgid);
    let _ = std::fs::remove_file(&group_file);
    let stdout = stdout_task.await.unwrap_or_default();
    let mut stderr = stderr_task.await.unwrap_or_default();
    if status == "TimedOut" {
        stderr.push_str(&format!("\nThe step ran past its timeout of {timeout} seconds and was stopped."));
    }
    Ok(Ran { status, code, stdout, stderr })
}

/// `aws:runDocument`: the nested document's steps (expanded by the server) in order, as one
/// step whose output is theirs; it stops at the first step that does not succeed.
async fn run_nested(
    invocation: &Invocation,
    step: &PluginRun,
    work_dir: &Path,
    running: &Running,
    calls: &Calls,
    started: i64,
) -> PluginResult {
    if step.inputs["documentType"].as_str() == Some("LocalPath") {
        let why = "documentType LocalPath is not supported by this agent; store the document and use SSMDocument.";
        return finished(step, "Failed", 1, String::new(), why.into(), started);
    }
    let nested: Vec<PluginRun> = match serde_json::from_value(step.inputs["steps"].clone()) {
        Ok(steps) => steps,
        Err(_) => {
            return finished(
                step,
                "Failed",
                1,
                String::new(),
                "The nested document's steps are missing.".into(),
                started,
            )
        }
    };
    let (mut stdout, mut stderr) = (String::new(), String::new());
    let (mut status, mut code) = ("Success".to_owned(), 0);
    for child in nested {
        let child = PluginRun { name: format!("{}/{}", step.name, child.name), ..child };
        let result = run_step(invocation, &child, work_dir, running, calls).await;
        stdout.push_str(&result.stdout);
        stderr.push_str(&result.stderr);
        code = result.response_code;
        if result.status != "Success" {
            status = result.status;
            break;
        }
        if running.is_cancelled(&invocation.invocation_id) {
            status = "Cancelled".into();
            break;
        }
    }
    finished(step, &status, code, stdout, stderr, started)
}

/// Reads a pipe to its end, keeping at most [`OUTPUT_CAP`] bytes.
async fn read_all<R: tokio::io::AsyncRead + Unpin>(mut pipe: R) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) if out.len() < OUTPUT_CAP => out.extend_from_slice(&buf[..n.min(OUTPUT_CAP - out.len())]),
            Ok(_) => {}
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(program)).find(|p| p.is_file())
}

//! `aws:runPatchBaseline` (AWS-RunPatchBaseline): asks the server for the node's baseline
//! snapshot, reads what is installed and what the repositories offer, assesses each package,
//! installs exactly the approved updates on Install, and reports the states back. Nothing a
//! command carries is ever pasted into a shell line.

mod apt;
mod dnf;
mod os;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use steward_patching::report::{assess, Assessment, InstalledPackage, NodeReport, PatchState};
use steward_patching::{debversion, Snapshot};
use steward_protocol::{AgentMessage, ServerMessage};

use crate::calls::Calls;

/// What the step was asked to do.
struct Request {
    install: bool,
    snapshot_id: String,
    reboot_if_needed: bool,
    install_override_list: String,
}

fn request(inputs: &Value) -> Result<Request, String> {
    let text = |key: &str| inputs[key].as_str().unwrap_or_default().to_owned();
    let install = match text("Operation").as_str() {
        "Scan" => false,
        "Install" => true,
        other => return Err(format!("Operation must be Scan or Install, not {other:?}.")),
    };
    let reboot_if_needed = match text("RebootOption").as_str() {
        "" | "RebootIfNeeded" => true,
        "NoReboot" => false,
        other => return Err(format!("RebootOption must be RebootIfNeeded or NoReboot, not {other:?}.")),
    };
    if !text("BaselineOverride").is_empty() {
        return Err("BaselineOverride is not supported by this agent yet; register the baseline instead.".into());
    }
    let install_override_list = text("InstallOverrideList");
    if !install_override_list.is_empty() {
        return Err("InstallOverrideList is not supported by this agent yet.".into());
    }
    Ok(Request { install, snapshot_id: text("SnapshotId"), reboot_if_needed, install_override_list })
}

/// How a patching step ended.
pub struct Outcome {
    /// The step's output.
    pub summary: String,
    /// Updates were installed and the node may reboot: reboot it.
    pub reboot: bool,
}

fn this_node() -> Result<os::PatchOs, String> {
    os::detect().ok_or_else(|| "This node's operating system is not one Patch Manager supports.".into())
}

/// A node's package manager, as patching uses it.
trait PackageManager {
    /// The order of its package versions.
    fn compare(a: &str, b: &str) -> std::cmp::Ordering;
    /// How an install names one package version.
    fn spec(name: &str, arch: &str, version: &str) -> String;
    /// Refreshes the repositories' indexes.
    async fn update(&self) -> Result<String, String>;
    /// What is installed.
    async fn installed(&self) -> Result<Vec<InstalledPackage>, String>;
    /// The versions offered of the packages named.
    async fn available(&self, wanted: &BTreeSet<&str>, product: &str) -> Result<Vec<steward_patching::Patch>, String>;
    /// What installing these would change, as (name, arch, version), without changing it.
    async fn simulate(&self, specs: &[String]) -> Result<Vec<(String, String, String)>, String>;
    /// Installs these; the tool's output.
    async fn install(&self, specs: &[String]) -> Result<String, String>;
}

impl PackageManager for apt::Apt {
    fn compare(a: &str, b: &str) -> std::cmp::Ordering {
        debversion::compare(a, b)
    }
    /// `name=version`, with `:arch` for an architecture-specific package.
    fn spec(name: &str, arch: &str, version: &str) -> String {
        if arch.is_empty() || arch == "all" {
            format!("{name}={version}")
        } else {
            format!("{name}:{arch}={version}")
        }
    }
    async fn update(&self) -> Result<String, String> {
        apt::Apt::update(self).await
    }
    async fn installed(&self) -> Result<Vec<InstalledPackage>, String> {
        apt::installed(&apt::status_file())
    }
    async fn available(&self, wanted: &BTreeSet<&str>, product: &str) -> Result<Vec<steward_patching::Patch>, String> {
        apt::Apt::available(self, wanted, product).await
    }
    async fn simulate(&self, specs: &[String]) -> Result<Vec<(String, String, String)>, String> {
        apt::Apt::simulate(self, specs).await
    }
    async fn install(&self, specs: &[String]) -> Result<String, String> {
        apt::Apt::install(self, specs).await
    }
}

impl PackageManager for dnf::Dnf {
    fn compare(a: &str, b: &str) -> std::cmp::Ordering {
        steward_patching::rpmversion::compare(a, b)
    }
    /// `name-[epoch:]version-release.arch`.
    fn spec(name: &str, arch: &str, version: &str) -> String {
        format!("{name}-{version}.{arch}")
    }
    async fn update(&self) -> Result<String, String> {
        dnf::Dnf::update(self).await
    }
    async fn installed(&self) -> Result<Vec<InstalledPackage>, String> {
        dnf::Dnf::installed(self).await
    }
    async fn available(&self, wanted: &BTreeSet<&str>, product: &str) -> Result<Vec<steward_patching::Patch>, String> {
        dnf::Dnf::available(self, wanted, product).await
    }
    async fn simulate(&self, specs: &[String]) -> Result<Vec<(String, String, String)>, String> {
        dnf::Dnf::simulate(self, specs).await
    }
    async fn install(&self, specs: &[String]) -> Result<String, String> {
        dnf::Dnf::install(self, specs).await
    }
}

/// Runs the step; its outcome, or why it failed.
pub async fn run(inputs: &Value, state_dir: &Path, calls: &Calls) -> Result<Outcome, String> {
    let request = request(inputs)?;
    let node = this_node()?;
    let snapshot = snapshot(calls, &request.snapshot_id, node.operating_system, &node.product).await?;
    let (report, outcome) = operate(&request, &node, &snapshot, state_dir, true).await?;
    put_state(calls, report).await?;
    Ok(outcome)
}

/// A scan of this machine against a baseline file (GetPatchBaseline's JSON), reported on
/// stdout and nowhere else: `steward-agent patch`. With `update` false the repositories'
/// indexes are read as they are.
pub async fn scan_locally(baseline_file: &Path, state_dir: &Path, update: bool) -> Result<NodeReport, String> {
    let text = std::fs::read(baseline_file).map_err(|e| format!("cannot read {}: {e}", baseline_file.display()))?;
    let baseline: steward_patching::Baseline = serde_json::from_slice(&text)
        .map_err(|e| format!("{} is not a patch baseline: {e}", baseline_file.display()))?;
    let node = this_node()?;
    let request = Request {
        install: false,
        snapshot_id: String::new(),
        reboot_if_needed: false,
        install_override_list: String::new(),
    };
    let snapshot = Snapshot { product: node.product.clone(), baseline, ..Default::default() };
    let (report, _) = operate(&request, &node, &snapshot, state_dir, update).await?;
    Ok(report)
}

/// Scans, and installs on Install: the report to send and the step's outcome.
async fn operate(
    request: &Request,
    node: &os::PatchOs,
    snapshot: &Snapshot,
    state_dir: &Path,
    update: bool,
) -> Result<(NodeReport, Outcome), String> {
    let started = now_ms();
    let baseline = &snapshot.baseline;
    let sources = baseline.sources_for(&node.product);
    if !baseline.sources.is_empty() && sources.is_empty() {
        return Err(format!(
            "The baseline's alternative sources name no product of this node ({}); nothing was patched.",
            node.product
        ));
    }
    let dir = state_dir.join("patch");
    match node.family {
        os::Family::Apt => {
            let apt = apt::Apt::new(&dir.join("apt"), &sources)?;
            operate_with(&apt, request, node, snapshot, update, started).await
        }
        os::Family::Rpm => {
            let dnf = dnf::Dnf::new(&dir.join("dnf"), &sources)?;
            operate_with(&dnf, request, node, snapshot, update, started).await
        }
    }
}

async fn operate_with<M: PackageManager>(
    manager: &M,
    request: &Request,
    node: &os::PatchOs,
    snapshot: &Snapshot,
    update: bool,
    started: i64,
) -> Result<(NodeReport, Outcome), String> {
    let baseline = &snapshot.baseline;
    if update {
        manager.update().await?;
    }
    let installed = manager.installed().await?;
    let names: BTreeSet<&str> = installed.iter().map(|p| p.name.as_str()).collect();
    let available = manager.available(&names, &node.product).await?;
    // What the fleet learns of its repositories: the updates offered for installed packages.
    let versions: BTreeMap<&str, &str> = installed.iter().map(|p| (p.name.as_str(), p.version.as_str())).collect();
    let updates: Vec<steward_patching::Patch> = available
        .iter()
        .filter(|p| versions.get(p.name.as_str()).is_some_and(|v| M::compare(&p.version, v).is_gt()))
        .cloned()
        .collect();
    let now = started / 1000;
    let mut assessed = assess(baseline, &node.product, &installed, &available, now, M::compare);
    let mut log = String::new();
    let mut changed_any = false;
    if request.install {
        let wanted: Vec<&Assessment> = assessed.iter().filter(|a| a.update.is_some()).collect();
        let blocked = blocked_by_rejection(manager, baseline, &wanted).await?;
        let specs: Vec<String> =
            wanted.iter().filter(|a| !blocked.contains(&a.entry.name)).map(|a| install_spec::<M>(a)).collect();
        if !specs.is_empty() {
            match manager.install(&specs).await {
                Ok(output) => log.push_str(&output),
                Err(why) => log.push_str(&why),
            }
        }
        let before: Vec<(String, String)> = installed.iter().map(|p| (p.name.clone(), p.version.clone())).collect();
        let after = manager.installed().await?;
        let mut reassessed = assess(baseline, &node.product, &after, &available, now, M::compare);
        for a in &mut reassessed {
            let changed = !before.iter().any(|(n, v)| *n == a.entry.name && *v == a.entry.installed_version);
            changed_any |= changed;
            let attempted = wanted.iter().any(|w| w.entry.name == a.entry.name);
            match a.entry.state {
                PatchState::Missing if attempted => a.entry.state = PatchState::Failed,
                PatchState::Installed | PatchState::InstalledOther if changed && !request.reboot_if_needed => {
                    a.entry.state = PatchState::InstalledPendingReboot
                }
                _ => {}
            }
        }
        assessed = reassessed;
    }
    let report = NodeReport {
        operation: if request.install { "Install" } else { "Scan" }.into(),
        snapshot_id: snapshot.snapshot_id.clone(),
        baseline_id: baseline.baseline_id.clone(),
        patch_group: snapshot.patch_group.clone(),
        reboot_option: if request.reboot_if_needed { "RebootIfNeeded" } else { "NoReboot" }.into(),
        install_override_list: request.install_override_list.clone(),
        operation_start: started,
        operation_end: now_ms(),
        entries: assessed.into_iter().map(|a| a.entry).collect(),
        operating_system: node.operating_system.to_owned(),
        available: updates,
    };
    let reboot = changed_any && request.reboot_if_needed;
    let mut summary = summary(&report, &node.product, &log);
    if reboot {
        summary.push_str("\nUpdates were installed: rebooting the node.\n");
    }
    Ok((report, Outcome { summary, reboot }))
}

/// With `RejectedPatchesAction: BLOCK`, the updates whose installation would bring in a
/// rejected package: each is tried alone, so one does not block another.
async fn blocked_by_rejection<M: PackageManager>(
    manager: &M,
    baseline: &steward_patching::Baseline,
    wanted: &[&Assessment],
) -> Result<BTreeSet<String>, String> {
    let mut blocked = BTreeSet::new();
    if baseline.rejected_patches_action != "BLOCK" || baseline.rejected_patches.is_empty() {
        return Ok(blocked);
    }
    for a in wanted {
        let pulled = manager.simulate(&[install_spec::<M>(a)]).await?;
        if pulled.iter().any(|(n, arch, v)| steward_patching::approval::rejected(baseline, n, arch, v)) {
            blocked.insert(a.entry.name.clone());
        }
    }
    Ok(blocked)
}

/// How the package manager names the update an assessment found.
fn install_spec<M: PackageManager>(a: &Assessment) -> String {
    M::spec(&a.entry.name, &a.entry.arch, &a.entry.target_version)
}

async fn snapshot(calls: &Calls, snapshot_id: &str, operating_system: &str, product: &str) -> Result<Snapshot, String> {
    let answer = calls
        .ask(
            |request_id| AgentMessage::GetPatchSnapshot {
                request_id,
                snapshot_id: snapshot_id.to_owned(),
                operating_system: operating_system.to_owned(),
                product: product.to_owned(),
            },
            Duration::from_secs(60),
        )
        .await?;
    match answer {
        ServerMessage::PatchSnapshot { snapshot: Some(s), .. } => Ok(*s),
        ServerMessage::PatchSnapshot { error: Some(e), .. } => Err(format!("{}: {}", e.code, e.message)),
        _ => Err("the server sent no patch baseline".into()),
    }
}

async fn put_state(calls: &Calls, report: NodeReport) -> Result<(), String> {
    let answer = calls
        .ask(
            |request_id| AgentMessage::PutPatchState { request_id, report: Box::new(report) },
            Duration::from_secs(120),
        )
        .await?;
    match answer {
        ServerMessage::PatchStateStored { error: None, .. } => Ok(()),
        ServerMessage::PatchStateStored { error: Some(e), .. } => Err(format!("{}: {}", e.code, e.message)),
        _ => Err("the server did not store the patch states".into()),
    }
}

/// The step's output: the counts, the packages not compliant, and apt's own output.
fn summary(report: &NodeReport, product: &str, log: &str) -> String {
    let count = |s: PatchState| report.entries.iter().filter(|e| e.state == s).count();
    let mut out = format!(
        "Patch {} on {product} with baseline {} (snapshot {}):\n",
        report.operation, report.baseline_id, report.snapshot_id
    );
    for state in [
        PatchState::Installed,
        PatchState::InstalledOther,
        PatchState::InstalledPendingReboot,
        PatchState::InstalledRejected,
        PatchState::Missing,
        PatchState::Failed,
    ] {
        out.push_str(&format!("  {}: {}\n", state.as_str(), count(state)));
    }
    for e in report.entries.iter().filter(|e| e.state.non_compliant()) {
        out.push_str(&format!("  {} {}\n", e.state.as_str(), e.title()));
    }
    if !log.is_empty() {
        out.push('\n');
        out.push_str(log);
    }
    out
}

/// Runs a program to its end: stdout on success, stderr (or stdout) as the reason otherwise.
async fn run_tool(mut command: tokio::process::Command, what: &str) -> Result<String, String> {
    let output = command.output().await.map_err(|e| format!("cannot run {what}: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        return Ok(stdout);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let detail = if stderr.trim().is_empty() { stdout.trim().to_owned() } else { stderr.trim().to_owned() };
    Err(format!("{what} failed ({}): {detail}", output.status))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

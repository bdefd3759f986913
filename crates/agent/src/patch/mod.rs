//! `aws:runPatchBaseline` (AWS-RunPatchBaseline): asks the server for the node's baseline
//! snapshot, reads what is installed and what the repositories offer, assesses each package,
//! installs exactly the approved updates on Install, and reports the states back. Nothing a
//! command carries is ever pasted into a shell line.

mod apt;
mod os;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use steward_patching::report::{assess, Assessment, NodeReport, PatchState};
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

/// Runs the step; the summary for the step's output, or why it failed.
pub async fn run(inputs: &Value, state_dir: &Path, calls: &Calls) -> Result<String, String> {
    let request = request(inputs)?;
    let node = os::detect().ok_or("This node's operating system is not one Patch Manager supports.")?;
    if node.family != os::Family::Apt {
        return Err(format!("Patching {} nodes is not supported by this agent yet.", node.operating_system));
    }
    let started = now_ms();
    let snapshot = snapshot(calls, &request.snapshot_id, node.operating_system, &node.product).await?;
    let baseline = &snapshot.baseline;
    let sources = baseline.sources_for(&node.product);
    if !baseline.sources.is_empty() && sources.is_empty() {
        return Err(format!(
            "The baseline's alternative sources name no product of this node ({}); nothing was patched.",
            node.product
        ));
    }
    let apt = apt::Apt::new(&state_dir.join("patch").join("apt"), &sources)?;
    apt.update().await?;
    let status = apt::status_file();
    let installed = apt::installed(&status)?;
    let names: BTreeSet<&str> = installed.iter().map(|p| p.name.as_str()).collect();
    let available = apt.available(&names, &node.product).await?;
    let now = started / 1000;
    let mut assessed = assess(baseline, &node.product, &installed, &available, now, debversion::compare);
    let mut log = String::new();
    if request.install {
        let wanted: Vec<&Assessment> = assessed.iter().filter(|a| a.update.is_some()).collect();
        let blocked = blocked_by_rejection(&apt, baseline, &wanted).await?;
        let specs: Vec<String> =
            wanted.iter().filter(|a| !blocked.contains(&a.entry.name)).map(|a| install_spec(a)).collect();
        if !specs.is_empty() {
            match apt.install(&specs).await {
                Ok(output) => log.push_str(&output),
                Err(why) => log.push_str(&why),
            }
        }
        let before: Vec<(String, String)> = installed.iter().map(|p| (p.name.clone(), p.version.clone())).collect();
        let after = apt::installed(&status)?;
        let mut reassessed = assess(baseline, &node.product, &after, &available, now, debversion::compare);
        for a in &mut reassessed {
            let changed = !before.iter().any(|(n, v)| *n == a.entry.name && *v == a.entry.installed_version);
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
        available: available.into_iter().filter(|p| names.contains(p.name.as_str())).collect(),
    };
    let summary = summary(&report, &node.product, &log);
    put_state(calls, report).await?;
    Ok(summary)
}

/// With `RejectedPatchesAction: BLOCK`, the updates whose installation would bring in a
/// rejected package: each is tried alone, so one does not block another.
async fn blocked_by_rejection(
    apt: &apt::Apt,
    baseline: &steward_patching::Baseline,
    wanted: &[&Assessment],
) -> Result<BTreeSet<String>, String> {
    let mut blocked = BTreeSet::new();
    if baseline.rejected_patches_action != "BLOCK" || baseline.rejected_patches.is_empty() {
        return Ok(blocked);
    }
    for a in wanted {
        let pulled = apt.simulate(&[install_spec(a)]).await?;
        if pulled.iter().any(|(n, arch, v)| steward_patching::approval::rejected(baseline, n, arch, v)) {
            blocked.insert(a.entry.name.clone());
        }
    }
    Ok(blocked)
}

/// `name=version`, with `:arch` for an architecture-specific package.
fn install_spec(a: &Assessment) -> String {
    let e = &a.entry;
    if e.arch.is_empty() || e.arch == "all" {
        format!("{}={}", e.name, e.target_version)
    } else {
        format!("{}:{}={}", e.name, e.arch, e.target_version)
    }
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

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

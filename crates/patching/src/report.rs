//! What a node reports after a scan or an install: one entry per package it assessed, with
//! SSM's patch states, and the summary the server keeps per node.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::approval::{approve, rejected, Patch};
use crate::baseline::Baseline;

/// SSM's per-patch states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PatchState {
    /// Approved, and installed at its latest approved version.
    Installed,
    /// Installed, not approved by the baseline (and not rejected).
    InstalledOther,
    /// Installed by an operation that did not reboot; a reboot is pending.
    InstalledPendingReboot,
    /// Installed although the baseline rejects it.
    InstalledRejected,
    /// An approved update is not installed.
    Missing,
    /// An approved update failed to install.
    Failed,
    /// Approved but not applicable to this node.
    NotApplicable,
}

impl PatchState {
    /// The name SSM uses.
    pub fn as_str(self) -> &'static str {
        match self {
            PatchState::Installed => "Installed",
            PatchState::InstalledOther => "InstalledOther",
            PatchState::InstalledPendingReboot => "InstalledPendingReboot",
            PatchState::InstalledRejected => "InstalledRejected",
            PatchState::Missing => "Missing",
            PatchState::Failed => "Failed",
            PatchState::NotApplicable => "NotApplicable",
        }
    }

    /// Whether a node with a patch in this state is out of compliance.
    pub fn non_compliant(self) -> bool {
        matches!(
            self,
            PatchState::Missing
                | PatchState::Failed
                | PatchState::InstalledRejected
                | PatchState::InstalledPendingReboot
        )
    }
}

/// One package as the node assessed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PatchEntry {
    /// The package (`name.arch` style title: `name:arch` on Debian).
    pub name: String,
    /// Its architecture.
    pub arch: String,
    /// The version installed, empty when it is not installed.
    pub installed_version: String,
    /// The approved version it is (or should be) at.
    pub target_version: String,
    /// The state.
    pub state: PatchState,
    /// The advisory's classification (RPM), or `Security` for a security pocket's update.
    pub classification: String,
    /// The advisory's severity (RPM), or the package's priority (Debian).
    pub severity: String,
    /// The compliance level a missing or failed update puts the node at.
    pub compliance_level: String,
    /// When it was installed (epoch seconds), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installed_time: Option<i64>,
    /// CVEs the approved update fixes.
    #[serde(default)]
    pub cve_ids: Vec<String>,
    /// From a security repository or advisory.
    #[serde(default)]
    pub security: bool,
}

impl PatchEntry {
    /// SSM's id of a Linux patch: `name.arch`.
    pub fn id(&self) -> String {
        format!("{}.{}", self.name, self.arch)
    }

    /// SSM's title of a Linux patch: `name.arch:version`.
    pub fn title(&self) -> String {
        let version = if self.target_version.is_empty() { &self.installed_version } else { &self.target_version };
        format!("{}.{}:{}", self.name, self.arch, version)
    }
}

/// A package installed on the node.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InstalledPackage {
    /// Name.
    pub name: String,
    /// Architecture.
    pub arch: String,
    /// Full version.
    pub version: String,
    /// Section (Debian) from the status file.
    pub section: String,
    /// Priority (Debian).
    pub priority: String,
    /// Install time, epoch seconds.
    pub installed_time: Option<i64>,
}

/// What a scan decided for one installed package: its state, and for Missing the update.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    /// The entry to report.
    pub entry: PatchEntry,
    /// The approved update to install, for Missing.
    pub update: Option<Patch>,
}

/// Assesses every installed package against the baseline and the updates available to it:
/// the newest approved update makes it Missing; a rejected package is InstalledRejected;
/// one the baseline's rules cover is Installed, any other InstalledOther. `compare` orders
/// versions of the node's package format.
pub fn assess(
    baseline: &Baseline,
    product: &str,
    installed: &[InstalledPackage],
    available: &[Patch],
    now: i64,
    compare: fn(&str, &str) -> Ordering,
) -> Vec<Assessment> {
    let mut by_name: std::collections::HashMap<&str, Vec<&Patch>> = std::collections::HashMap::new();
    for p in available {
        by_name.entry(p.name.as_str()).or_default().push(p);
    }
    let mut out = Vec::with_capacity(installed.len());
    for package in installed {
        let offered = by_name.get(package.name.as_str()).map(Vec::as_slice).unwrap_or_default();
        let updates = offered.iter().copied().filter(|p| {
            (p.arch == package.arch || p.arch == "all" || package.arch == "all")
                && compare(&p.version, &package.version) == Ordering::Greater
        });
        let best = updates
            .filter_map(|p| approve(baseline, p, now).map(|a| (p, a)))
            .max_by(|(a, _), (b, _)| compare(&a.version, &b.version));
        let mut entry = PatchEntry {
            name: package.name.clone(),
            arch: package.arch.clone(),
            installed_version: package.version.clone(),
            target_version: String::new(),
            state: PatchState::InstalledOther,
            classification: String::new(),
            severity: package.priority.clone(),
            compliance_level: "UNSPECIFIED".into(),
            installed_time: package.installed_time,
            cve_ids: vec![],
            security: false,
        };
        if rejected(baseline, &package.name, &package.arch, &package.version) {
            // SSM counts a rejected package as rejected only where rejection blocks it;
            // allowed as a dependency, it is just installed outside the baseline.
            if baseline.rejected_patches_action == "BLOCK" {
                entry.state = PatchState::InstalledRejected;
            }
            out.push(Assessment { entry, update: None });
            continue;
        }
        if let Some((update, approval)) = best {
            entry.state = PatchState::Missing;
            entry.target_version = update.version.clone();
            entry.compliance_level = approval.compliance_level;
            entry.cve_ids = update.cve_ids.clone();
            entry.security = update.security;
            (entry.classification, entry.severity) = classify(update);
            out.push(Assessment { entry, update: Some(update.clone()) });
            continue;
        }
        // No approved update: the installed version is Installed when the baseline approves
        // it as it stands (installed versions carry no repository, so they count as security).
        let as_patch = Patch {
            name: package.name.clone(),
            version: package.version.clone(),
            arch: package.arch.clone(),
            product: product.into(),
            section: package.section.clone(),
            priority: package.priority.clone(),
            security: true,
            ..Default::default()
        };
        if let Some(approval) = approve(baseline, &as_patch, now) {
            entry.state = PatchState::Installed;
            entry.compliance_level = approval.compliance_level;
        }
        out.push(Assessment { entry, update: None });
    }
    out
}

/// SSM's classification and severity of an update: the advisory's for RPM; for Debian and
/// Ubuntu, `Security` for a security pocket's update and the package's priority.
fn classify(update: &Patch) -> (String, String) {
    if !update.classification.is_empty() {
        return (update.classification.clone(), update.severity.clone());
    }
    let class = if update.security { "Security" } else { "" };
    (class.to_owned(), update.priority.clone())
}

/// Everything a node says after an operation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeReport {
    /// `Scan` or `Install`.
    pub operation: String,
    /// The snapshot applied.
    pub snapshot_id: String,
    /// The baseline applied.
    pub baseline_id: String,
    /// The node's patch group.
    pub patch_group: String,
    /// `RebootIfNeeded` or `NoReboot`.
    pub reboot_option: String,
    /// The install override list, if one was used.
    pub install_override_list: String,
    /// Epoch ms.
    pub operation_start: i64,
    /// Epoch ms.
    pub operation_end: i64,
    /// Every assessed package.
    pub entries: Vec<PatchEntry>,
    /// The node's operating system (`DEBIAN`, …).
    pub operating_system: String,
    /// The updates the node's repositories offered for its packages (the fleet's view of
    /// available patches).
    pub available: Vec<Patch>,
}

//! Patch Manager: patch baselines (the account's own and the predefined ones, owned by the
//! service), the default baseline per operating system, patch groups, and what each node
//! reported of its patches. The node does the patching (`aws:runPatchBaseline`); it asks
//! here for its snapshot — the baseline its patch group or operating system selects — and
//! reports one entry per package, which become its patch state, `DescribeInstancePatches`
//! and `Patch` compliance.
//!
//! Keys: `patchbl/<acct>/<region>/<pb-id>` (baselines), `patchdefault/<acct>/<region>/<OS>`,
//! `patchgroup/<acct>/<region>/<group>/<OS>` (group escaped), `patchstate/<acct>/<region>/<node>`
//! (the summary), `patches/<acct>/<region>/<node>` (the entries),
//! `patchavail/<acct>/<region>/<OS>/…` (the updates the fleet's repositories offer),
//! `patchsnap/<sha256(token)>` (snapshots handed out by GetDeployablePatchSnapshotForInstance).

mod available;
mod baselines;
mod deployable;
mod groups;
mod predefined;
mod rules;
mod snapshot;
mod states;

use serde::{Deserialize, Serialize};
use steward_patching::Baseline;

pub use available::{
    describe_available_patches, describe_effective_patches_for_patch_baseline, describe_patch_properties,
};
pub use baselines::{
    create_patch_baseline, delete_patch_baseline, describe_patch_baselines, get_default_patch_baseline,
    get_patch_baseline, register_default_patch_baseline, update_patch_baseline,
};
pub use deployable::{
    get_deployable_patch_snapshot_for_instance, on_due as on_snapshot_expiry, routes, KIND_SNAPSHOT_EXPIRY,
};
pub use groups::{
    deregister_patch_baseline_for_patch_group, describe_patch_groups, get_patch_baseline_for_patch_group,
    register_patch_baseline_for_patch_group,
};
pub use snapshot::snapshot_for_node;
pub use states::{
    describe_instance_patch_states, describe_instance_patch_states_for_patch_group, describe_instance_patches,
    describe_patch_group_state, node_leftovers, store_report,
};

/// A stored baseline.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BaselineRecord {
    /// What a node applies (id, name, OS, rules, lists, sources).
    pub baseline: Baseline,
    /// For people.
    pub description: Option<String>,
    /// Windows only; kept as given.
    pub available_security_updates_compliance_status: Option<String>,
    /// Epoch ms.
    pub created: i64,
    /// Epoch ms.
    pub modified: i64,
    /// The baseline's tags.
    pub tags: Vec<(String, String)>,
    /// The ClientToken it was created with.
    pub client_token: Option<String>,
    /// Owned by the service (predefined): never stored, never changed.
    #[serde(default)]
    pub predefined: bool,
}

fn baseline_key(account: &str, region: &str, id: &str) -> String {
    format!("patchbl/{account}/{region}/{id}")
}

fn default_key(account: &str, region: &str, os: &str) -> String {
    format!("patchdefault/{account}/{region}/{os}")
}

fn group_prefix(account: &str, region: &str) -> String {
    format!("patchgroup/{account}/{region}/")
}

fn group_key(account: &str, region: &str, group: &str, os: &str) -> String {
    format!("{}{}/{os}", group_prefix(account, region), escape(group))
}

fn state_key(account: &str, region: &str, node: &str) -> String {
    format!("patchstate/{account}/{region}/{node}")
}

fn entries_key(account: &str, region: &str, node: &str) -> String {
    format!("patches/{account}/{region}/{node}")
}

/// A key part that may hold `/` (patch group names may).
fn escape(part: &str) -> String {
    part.replace('%', "%25").replace('/', "%2F")
}

fn unescape(part: &str) -> String {
    part.replace("%2F", "/").replace("%25", "%")
}

/// The node's patch group: its `Patch Group` tag, else its `PatchGroup` tag.
pub fn patch_group_of(tags: &[(String, String)]) -> Option<String> {
    let find = |key: &str| tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    find("Patch Group").or_else(|| find("PatchGroup"))
}

//! A patch baseline as a node applies it: the fields of SSM's baseline, in the PascalCase of
//! GetPatchBaseline's answer, so a snapshot and a `BaselineOverride` file read the same way.

use serde::{Deserialize, Serialize};

/// One baseline, as the server hands it to a node in a snapshot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Baseline {
    /// `pb-…` or the ARN of a predefined baseline.
    pub baseline_id: String,
    /// The baseline's name.
    pub name: String,
    /// `UBUNTU`, `DEBIAN`, `REDHAT_ENTERPRISE_LINUX`, …
    pub operating_system: String,
    /// Filters every patch must pass before any rule looks at it.
    pub global_filters: FilterGroup,
    /// The approval rules.
    pub approval_rules: RuleGroup,
    /// Patches approved whatever the rules say.
    pub approved_patches: Vec<String>,
    /// The compliance level of those.
    pub approved_patches_compliance_level: String,
    /// Whether approved patches may come from non-security repositories.
    pub approved_patches_enable_non_security: bool,
    /// Patches never approved.
    pub rejected_patches: Vec<String>,
    /// `ALLOW_AS_DEPENDENCY` (default) or `BLOCK`.
    pub rejected_patches_action: String,
    /// Alternative repositories: for a node whose product one names, its configuration
    /// replaces the node's own repositories.
    pub sources: Vec<Source>,
}

/// A set of filters, all of which must match.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct FilterGroup {
    /// The filters.
    pub patch_filters: Vec<Filter>,
}

/// One filter: the patch's property `key` must match one of `values` (`*` matches any run).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Filter {
    /// `PRODUCT`, `SECTION`, `PRIORITY`, `CLASSIFICATION`, `SEVERITY`, …
    pub key: String,
    /// Accepted values.
    pub values: Vec<String>,
}

/// The approval rules.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RuleGroup {
    /// Any one rule approves.
    pub patch_rules: Vec<Rule>,
}

/// One approval rule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Rule {
    /// What the rule applies to.
    pub patch_filter_group: FilterGroup,
    /// `CRITICAL`, `HIGH`, `MEDIUM`, `LOW`, `INFORMATIONAL`, `UNSPECIFIED`.
    pub compliance_level: String,
    /// Days after release before approval (not for Debian and Ubuntu, which have no dates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approve_after_days: Option<u32>,
    /// Patches released up to this date (`YYYY-MM-DD`) are approved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approve_until_date: Option<String>,
    /// Whether updates from non-security repositories are approved too.
    pub enable_non_security: bool,
}

/// An alternative patch source.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Source {
    /// Its name.
    pub name: String,
    /// The products (`Ubuntu22.04`, `Debian12`, `*`) whose nodes use it.
    pub products: Vec<String>,
    /// The repository configuration: `sources.list` lines for apt, a `.repo` file for yum/dnf.
    pub configuration: String,
}

impl Baseline {
    /// The configurations of the sources that apply to a node of `product`, in order.
    pub fn sources_for(&self, product: &str) -> Vec<&str> {
        self.sources
            .iter()
            .filter(|s| s.products.iter().any(|p| crate::approval::glob(p, product)))
            .map(|s| s.configuration.as_str())
            .collect()
    }
}

/// What the server hands a node for one patching operation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Snapshot {
    /// Ties the runs of one rollout to one baseline (a UUID).
    pub snapshot_id: String,
    /// The node's patch group, or empty.
    pub patch_group: String,
    /// The node's product as patching names it (`Debian12`, `Ubuntu22.04`, …).
    pub product: String,
    /// The baseline to apply.
    pub baseline: Baseline,
}

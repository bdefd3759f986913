//! What a baseline may say for its operating system, checked as SSM checks it, and the
//! conversions between the wire's shapes and the baseline a node applies.

use steward_api::ssm::patch::{PatchFilter, PatchFilterGroup, PatchRule, PatchRuleGroup, PatchSource};
use steward_api::ApiError;
use steward_patching::{Baseline, Filter, FilterGroup, Rule, RuleGroup, Source};

/// Debian, Ubuntu and Raspbian: apt's properties.
const APT_OSES: &[&str] = &["UBUNTU", "DEBIAN", "RASPBIAN"];

/// Whether the OS patches with apt (no release dates: date rules do not apply).
pub fn is_apt(os: &str) -> bool {
    APT_OSES.contains(&os)
}

/// The filter keys a baseline of `os` may use.
fn keys_for(os: &str) -> &'static [&'static str] {
    match os {
        os if is_apt(os) => &["PRODUCT", "PRIORITY", "SECTION"],
        "WINDOWS" => &["PATCH_SET", "PRODUCT", "PRODUCT_FAMILY", "CLASSIFICATION", "MSRC_SEVERITY", "PATCH_ID"],
        "MACOS" => &["PRODUCT", "CLASSIFICATION"],
        _ => &["PRODUCT", "CLASSIFICATION", "SEVERITY"],
    }
}

/// The closed sets of values some keys take (`*` is always allowed).
fn values_for(os: &str, key: &str) -> Option<&'static [&'static str]> {
    Some(match (key, is_apt(os)) {
        ("PRIORITY", true) => &["Required", "Important", "Standard", "Optional", "Extra"],
        ("CLASSIFICATION", false) if os == "WINDOWS" => &[
            "CriticalUpdates",
            "DefinitionUpdates",
            "Drivers",
            "FeaturePacks",
            "SecurityUpdates",
            "ServicePacks",
            "Tools",
            "UpdateRollups",
            "Updates",
            "Upgrades",
        ],
        ("MSRC_SEVERITY", _) => &["Critical", "Important", "Moderate", "Low", "Unspecified"],
        ("CLASSIFICATION", false) if os != "MACOS" => {
            &["Security", "Bugfix", "Enhancement", "Recommended", "Newpackage"]
        }
        ("SEVERITY", false) => &["Critical", "Important", "Medium", "Moderate", "Low", "None"],
        _ => return None,
    })
}

fn check_group(os: &str, group: &PatchFilterGroup, what: &str) -> Result<(), ApiError> {
    let allowed = keys_for(os);
    let mut seen = Vec::new();
    for filter in &group.patch_filters {
        if !allowed.contains(&filter.key.as_str()) {
            return Err(ApiError::validation(format!(
                "Invalid Filter Key: {} for OperatingSystem: {os} in {what}, valid keys are: {}",
                filter.key,
                allowed.join(", ")
            )));
        }
        if seen.contains(&filter.key) {
            return Err(ApiError::validation(format!("Filter key {} appears more than once in {what}.", filter.key)));
        }
        seen.push(filter.key.clone());
        if let Some(values) = values_for(os, &filter.key) {
            if let Some(bad) =
                filter.values.iter().find(|v| *v != "*" && !values.iter().any(|a| a.eq_ignore_ascii_case(v)))
            {
                return Err(ApiError::validation(format!(
                    "Invalid Filter Value: {bad} for Key: {}, valid values are: {}",
                    filter.key,
                    values.join(", ")
                )));
            }
        }
    }
    Ok(())
}

fn check_rule(os: &str, rule: &PatchRule, n: usize) -> Result<(), ApiError> {
    check_group(os, &rule.patch_filter_group, &format!("approval rule {n}"))?;
    let after = rule.approve_after_days;
    let until = rule.approve_until_date.as_deref();
    if after.is_some() && until.is_some() {
        return Err(ApiError::validation(format!(
            "Approval rule {n} gives both ApproveAfterDays and ApproveUntilDate; give one."
        )));
    }
    if is_apt(os) {
        // Debian and Ubuntu repositories carry no release dates.
        if after.is_some_and(|d| d > 0) || until.is_some() {
            return Err(ApiError::validation(format!(
                "Approval rule {n}: ApproveAfterDays (other than 0) and ApproveUntilDate are not supported for {os}, \
                 whose repositories carry no release dates; updates are approved when they are available."
            )));
        }
    } else if after.is_none() && until.is_none() {
        return Err(ApiError::validation(format!(
            "Approval rule {n} must give either ApproveAfterDays or ApproveUntilDate."
        )));
    }
    if let Some(date) = until {
        if steward_patching::approval::days_from_civil(date).is_none() {
            return Err(ApiError::validation(format!(
                "Approval rule {n}: ApproveUntilDate {date:?} is not a date in the format YYYY-MM-DD."
            )));
        }
    }
    Ok(())
}

/// Checks what a baseline of `os` says beyond the model's constraints.
pub fn check(
    os: &str,
    baseline: &Baseline,
    globals: &PatchFilterGroup,
    rules: &PatchRuleGroup,
) -> Result<(), ApiError> {
    check_group(os, globals, "GlobalFilters")?;
    for (n, rule) in rules.patch_rules.iter().enumerate() {
        check_rule(os, rule, n + 1)?;
    }
    if let Some(both) = baseline.approved_patches.iter().find(|p| baseline.rejected_patches.contains(p)) {
        return Err(ApiError::validation(format!(
            "{both} is both in ApprovedPatches and in RejectedPatches; a patch can be in one list only."
        )));
    }
    if let Some(empty) =
        baseline.approved_patches.iter().chain(&baseline.rejected_patches).find(|p| p.trim().is_empty())
    {
        return Err(ApiError::validation(format!("Patch names may not be blank ({empty:?}).")));
    }
    if !baseline.sources.is_empty() && (os == "WINDOWS" || os == "MACOS") {
        return Err(ApiError::validation(format!("Sources are for Linux baselines; {os} baselines take none.")));
    }
    let mut names: Vec<&str> = baseline.sources.iter().map(|s| s.name.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(ApiError::validation(format!("Two sources are named {}; source names must differ.", w[0])));
    }
    Ok(())
}

/// The wire's filter group as a node reads it.
pub fn to_group(group: &PatchFilterGroup) -> FilterGroup {
    FilterGroup {
        patch_filters: group
            .patch_filters
            .iter()
            .map(|f| Filter { key: f.key.clone(), values: f.values.clone() })
            .collect(),
    }
}

/// The wire's rules as a node reads them.
pub fn to_rules(rules: &PatchRuleGroup) -> RuleGroup {
    RuleGroup {
        patch_rules: rules
            .patch_rules
            .iter()
            .map(|r| Rule {
                patch_filter_group: to_group(&r.patch_filter_group),
                compliance_level: r.compliance_level.clone().unwrap_or_else(|| "UNSPECIFIED".into()),
                approve_after_days: r.approve_after_days,
                approve_until_date: r.approve_until_date.clone(),
                enable_non_security: r.enable_non_security.unwrap_or(false),
            })
            .collect(),
    }
}

/// The wire's sources as a node reads them.
pub fn to_sources(sources: &[PatchSource]) -> Vec<Source> {
    sources
        .iter()
        .map(|s| Source { name: s.name.clone(), products: s.products.clone(), configuration: s.configuration.clone() })
        .collect()
}

/// A filter group on the wire.
pub fn from_group(group: &FilterGroup) -> PatchFilterGroup {
    PatchFilterGroup {
        patch_filters: group
            .patch_filters
            .iter()
            .map(|f| PatchFilter { key: f.key.clone(), values: f.values.clone() })
            .collect(),
    }
}

/// Rules on the wire.
pub fn from_rules(rules: &RuleGroup) -> PatchRuleGroup {
    PatchRuleGroup {
        patch_rules: rules
            .patch_rules
            .iter()
            .map(|r| PatchRule {
                patch_filter_group: from_group(&r.patch_filter_group),
                compliance_level: Some(r.compliance_level.clone()),
                approve_after_days: r.approve_after_days,
                approve_until_date: r.approve_until_date.clone(),
                enable_non_security: Some(r.enable_non_security),
            })
            .collect(),
    }
}

/// Sources on the wire.
pub fn from_sources(sources: &[Source]) -> Vec<PatchSource> {
    sources
        .iter()
        .map(|s| PatchSource {
            name: s.name.clone(),
            products: s.products.clone(),
            configuration: s.configuration.clone(),
        })
        .collect()
}

/// The products SSM names for an OS (DescribePatchProperties adds those the fleet reported).
pub fn known_products(os: &str) -> &'static [&'static str] {
    match os {
        "DEBIAN" => &["Debian8", "Debian9", "Debian10", "Debian11", "Debian12"],
        "UBUNTU" => &["Ubuntu16.04", "Ubuntu18.04", "Ubuntu20.04", "Ubuntu22.04", "Ubuntu24.04"],
        "RASPBIAN" => &["Raspbian9", "Raspbian10", "Raspbian11"],
        "AMAZON_LINUX_2" => &["AmazonLinux2", "AmazonLinux2.0"],
        "AMAZON_LINUX_2023" => &["AmazonLinux2023"],
        "REDHAT_ENTERPRISE_LINUX" => &["RedhatEnterpriseLinux8", "RedhatEnterpriseLinux9"],
        "ROCKY_LINUX" => &["RockyLinux8", "RockyLinux9"],
        "ALMA_LINUX" => &["AlmaLinux8", "AlmaLinux9"],
        "ORACLE_LINUX" => &["OracleLinux8", "OracleLinux9"],
        "CENTOS" => &["CentOS7", "CentOSStream8", "CentOSStream9"],
        _ => &[],
    }
}

/// The values of a closed property of an OS, for DescribePatchProperties (`None`: the
/// property does not apply to the OS).
pub fn property_values(os: &str, property: &str) -> Option<&'static [&'static str]> {
    let applies = match os {
        os if is_apt(os) => property == "PRIORITY",
        "WINDOWS" => matches!(property, "PRODUCT_FAMILY" | "CLASSIFICATION" | "MSRC_SEVERITY"),
        "MACOS" => property == "CLASSIFICATION",
        _ => matches!(property, "CLASSIFICATION" | "SEVERITY"),
    };
    if !applies {
        return None;
    }
    if property == "PRODUCT_FAMILY" {
        return Some(&["Windows", "Office"]);
    }
    values_for(os, property).or(Some(&[]))
}

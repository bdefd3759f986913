//! Whether a baseline approves one available update, and at what compliance level.

use serde::{Deserialize, Serialize};

use crate::baseline::{Baseline, FilterGroup};

/// One version of a package a node could install (an update), with what its repository
/// says of it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Patch {
    /// The package name.
    pub name: String,
    /// The full version (`[epoch:]version[-release]`).
    pub version: String,
    /// `amd64`, `all`, `x86_64`, `noarch`, …
    pub arch: String,
    /// The node's product (`Debian12`, `Ubuntu22.04`, `RedhatEnterpriseLinux9.2`).
    pub product: String,
    /// The suite or repository it comes from (`bookworm-security`, `baseos`).
    pub repository: String,
    /// Debian section (`utils`, `universe/net`).
    pub section: String,
    /// Debian priority (`optional`, `important`, …).
    pub priority: String,
    /// RPM advisory type (`Security`, `Bugfix`, `Enhancement`, `Newpackage`).
    pub classification: String,
    /// RPM advisory severity (`Critical`, `Important`, `Moderate`, `Low`).
    pub severity: String,
    /// From a security repository (Debian: a `-security` suite) or a security advisory.
    pub security: bool,
    /// Release time in epoch seconds, where the repository gives one (RPM advisories).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release_time: Option<i64>,
    /// The advisory (`ALSA-2024:1234`), if any.
    pub advisory_id: String,
    /// CVEs the update fixes.
    pub cve_ids: Vec<String>,
}

impl Patch {
    /// The value of a filter key for this patch (`None`: the key says nothing of it).
    pub fn property(&self, key: &str) -> Option<&str> {
        Some(match key {
            "PRODUCT" => &self.product,
            "SECTION" => &self.section,
            "PRIORITY" => &self.priority,
            "CLASSIFICATION" => &self.classification,
            "SEVERITY" => &self.severity,
            "ARCH" => &self.arch,
            "NAME" => &self.name,
            "REPOSITORY" => &self.repository,
            "ADVISORY_ID" => &self.advisory_id,
            _ => return None,
        })
    }
}

/// A baseline's approval of a patch.
#[derive(Debug, Clone, PartialEq)]
pub struct Approval {
    /// The compliance level a node missing it is at.
    pub compliance_level: String,
}

/// `pattern` with `*` standing for any run of characters, against `text`, ignoring case.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.to_ascii_lowercase(), text.to_ascii_lowercase());
    let parts: Vec<&str> = p.split('*').collect();
    if parts.len() == 1 {
        return p == t;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !t.starts_with(first) || t.len() < first.len() + last.len() || !t.ends_with(last) {
        return false;
    }
    let mut rest = &t[first.len()..t.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

/// Whether a filter value matches a property. A Debian section matches by its whole text or
/// by the part after its component (`universe/net` matches `net`).
fn value_matches(key: &str, value: &str, actual: &str) -> bool {
    glob(value, actual) || (key == "SECTION" && actual.rsplit_once('/').is_some_and(|(_, s)| glob(value, s)))
}

fn group_matches(group: &FilterGroup, patch: &Patch) -> bool {
    group.patch_filters.iter().all(|f| match patch.property(&f.key) {
        Some(actual) => f.values.iter().any(|v| value_matches(&f.key, v, actual)),
        // A key this patch has no property for (another OS's) leaves it out.
        None => false,
    })
}

/// Whether a name in ApprovedPatches or RejectedPatches names this package version: `name`,
/// `name:arch`, `name=version`, `name:arch=version`, the name with `*` wildcards, or the RPM
/// forms `name.arch` and `name-version.arch`.
pub fn names(entry: &str, name: &str, arch: &str, version: &str) -> bool {
    let (left, wanted_version) = match entry.split_once('=') {
        Some((l, v)) => (l, Some(v)),
        None => (entry, None),
    };
    if wanted_version.is_some_and(|v| v != version) {
        return false;
    }
    let plain = glob(left, name);
    let with_arch = |sep: char| left.rsplit_once(sep).is_some_and(|(n, a)| glob(n, name) && glob(a, arch));
    plain
        || with_arch(':')
        || with_arch('.')
        || glob(left, &format!("{name}-{version}.{arch}"))
        || glob(left, &format!("{name}-{version}"))
}

/// Whether the baseline rejects this package version.
pub fn rejected(baseline: &Baseline, name: &str, arch: &str, version: &str) -> bool {
    baseline.rejected_patches.iter().any(|e| names(e, name, arch, version))
}

/// Whether `baseline` approves `patch` on day `today` (epoch seconds), and at what level.
/// Rejection wins over everything; the approved list next; then any rule whose filters and
/// dates the patch meets, after the global filters.
pub fn approve(baseline: &Baseline, patch: &Patch, now: i64) -> Option<Approval> {
    if rejected(baseline, &patch.name, &patch.arch, &patch.version) {
        return None;
    }
    if baseline.approved_patches.iter().any(|e| names(e, &patch.name, &patch.arch, &patch.version))
        && (patch.security || baseline.approved_patches_enable_non_security)
    {
        return Some(Approval { compliance_level: level(&baseline.approved_patches_compliance_level) });
    }
    if !group_matches(&baseline.global_filters, patch) {
        return None;
    }
    let rule = baseline.approval_rules.patch_rules.iter().find(|rule| {
        group_matches(&rule.patch_filter_group, patch)
            && (patch.security || rule.enable_non_security)
            && dates_allow(rule.approve_after_days, rule.approve_until_date.as_deref(), patch.release_time, now)
    })?;
    Some(Approval { compliance_level: level(&rule.compliance_level) })
}

fn level(given: &str) -> String {
    if given.is_empty() {
        "UNSPECIFIED".into()
    } else {
        given.into()
    }
}

/// ApproveAfterDays and ApproveUntilDate against a release time. Updates without one (every
/// Debian and Ubuntu update) pass only `ApproveAfterDays: 0` or no date rule at all.
fn dates_allow(after_days: Option<u32>, until: Option<&str>, released: Option<i64>, now: i64) -> bool {
    match (after_days, until, released) {
        (None, None, _) | (Some(0), None, None) => true,
        (Some(days), None, Some(at)) => at + i64::from(days) * 86_400 <= now,
        (None, Some(date), Some(at)) => days_from_civil(date).is_some_and(|day| at < (day + 1) * 86_400),
        _ => false,
    }
}

/// `YYYY-MM-DD` → days since 1970-01-01.
pub fn days_from_civil(date: &str) -> Option<i64> {
    let mut parts = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, d) = (parts.next()??, parts.next()??, parts.next()??);
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1..=12).contains(&m) || d < 1 || d > month_days[(m - 1) as usize] || date.len() != 10 {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baseline::{Filter, Rule, RuleGroup};

    fn rule(filters: &[(&str, &[&str])], non_security: bool) -> Rule {
        Rule {
            patch_filter_group: FilterGroup {
                patch_filters: filters
                    .iter()
                    .map(|(k, v)| Filter { key: (*k).into(), values: v.iter().map(|s| (*s).into()).collect() })
                    .collect(),
            },
            compliance_level: "HIGH".into(),
            enable_non_security: non_security,
            approve_after_days: Some(0),
            ..Default::default()
        }
    }

    fn deb(name: &str, version: &str, section: &str, security: bool) -> Patch {
        Patch {
            name: name.into(),
            version: version.into(),
            arch: "all".into(),
            product: "Debian12".into(),
            section: section.into(),
            priority: "optional".into(),
            security,
            ..Default::default()
        }
    }

    #[test]
    fn rules_approve_security_updates_unless_non_security_is_enabled() {
        let mut b = Baseline {
            approval_rules: RuleGroup { patch_rules: vec![rule(&[("SECTION", &["steward-test"])], false)] },
            ..Default::default()
        };
        assert!(approve(&b, &deb("a", "1.1", "steward-test", true), 0).is_some());
        assert!(approve(&b, &deb("a", "1.2", "steward-test", false), 0).is_none());
        assert!(approve(&b, &deb("a", "1.1", "utils", true), 0).is_none());
        b.approval_rules.patch_rules[0].enable_non_security = true;
        assert_eq!(approve(&b, &deb("a", "1.2", "steward-test", false), 0).unwrap().compliance_level, "HIGH");
    }

    #[test]
    fn rejection_wins_and_lists_name_versions() {
        let b = Baseline {
            approval_rules: RuleGroup { patch_rules: vec![rule(&[("PRODUCT", &["*"])], true)] },
            rejected_patches: vec!["steward-*=1.1".into()],
            approved_patches: vec!["other".into()],
            approved_patches_enable_non_security: true,
            ..Default::default()
        };
        assert!(approve(&b, &deb("steward-a", "1.1", "x", true), 0).is_none());
        assert!(approve(&b, &deb("steward-a", "1.2", "x", true), 0).is_some());
        let only_list = Baseline { approved_patches: vec!["other:all".into()], ..Default::default() };
        assert!(approve(&only_list, &deb("other", "1", "x", true), 0).is_some());
        assert!(approve(&only_list, &deb("other", "1", "x", false), 0).is_none());
    }

    #[test]
    fn dates_gate_rpm_advisories() {
        let day = 86_400;
        let mut r = rule(&[("CLASSIFICATION", &["Security"])], false);
        r.approve_after_days = Some(7);
        let b = Baseline { approval_rules: RuleGroup { patch_rules: vec![r] }, ..Default::default() };
        let mut p = Patch { classification: "Security".into(), security: true, ..Default::default() };
        p.release_time = Some(100 * day);
        assert!(approve(&b, &p, 106 * day).is_none());
        assert!(approve(&b, &p, 107 * day).is_some());
        p.release_time = None;
        assert!(approve(&b, &p, 1000 * day).is_none());
        let mut until = rule(&[("CLASSIFICATION", &["Security"])], false);
        until.approve_after_days = None;
        until.approve_until_date = Some("1970-04-10".into());
        let b = Baseline { approval_rules: RuleGroup { patch_rules: vec![until] }, ..Default::default() };
        p.release_time = Some(99 * day + 5);
        assert!(approve(&b, &p, 0).is_some());
        p.release_time = Some(100 * day);
        assert!(approve(&b, &p, 0).is_none());
    }

    #[test]
    fn globs() {
        assert!(glob("*", "anything"));
        assert!(glob("Ubuntu*", "ubuntu22.04"));
        assert!(glob("a*c*e", "abcde"));
        assert!(!glob("a*c*e", "abde"));
        assert!(!glob("ab*ba", "aba"));
        assert_eq!(days_from_civil("1970-01-01"), Some(0));
        assert_eq!(days_from_civil("2024-03-01"), Some(19_783));
        assert_eq!(days_from_civil("2024-13-01"), None);
        assert_eq!(days_from_civil("2026-02-29"), None);
        assert_eq!(days_from_civil("2024-02-29"), Some(19_782));
    }
}

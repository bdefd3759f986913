//! The RPM families through dnf: `rpm -qa` for what is installed, `dnf repoquery --upgrades`
//! for what the repositories offer, `dnf updateinfo list` (with `-v` for each advisory's
//! date, with `--with-cve` for its CVEs) for what each update is — an advisory's type and
//! severity become the update's classification and severity, and only an update with both
//! counts as security, as SSM's rules read it — and `dnf install` of exact NEVRAs.
//! Alternative sources are a `.repo` file of their own in a directory dnf is pointed at
//! instead of the node's. Programs get arguments, never a shell line.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Stdio;

use steward_patching::report::InstalledPackage;
use steward_patching::Patch;
use tokio::process::Command;

use super::run_tool;

/// dnf with the options of one patching run.
pub struct Dnf {
    options: Vec<String>,
}

impl Dnf {
    /// dnf as the node is configured, or with only the baseline's sources for the node's
    /// product, written to `dir/steward.repo`.
    pub fn new(dir: &Path, sources: &[&str]) -> Result<Dnf, String> {
        let mut options = vec!["-q".to_owned(), "--setopt=install_weak_deps=False".to_owned()];
        if !sources.is_empty() {
            let repos = dir.join("repos.d");
            std::fs::create_dir_all(&repos).map_err(|e| format!("cannot create {}: {e}", repos.display()))?;
            let file = repos.join("steward.repo");
            std::fs::write(&file, sources.join("\n\n") + "\n")
                .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
            options.push(format!("--setopt=reposdir={}", repos.display()));
            options.push(format!("--setopt=cachedir={}", dir.join("cache").display()));
        }
        Ok(Dnf { options })
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("dnf");
        command.args(&self.options).args(args).env("LC_ALL", "C").stdin(Stdio::null()).kill_on_drop(true);
        command
    }

    /// `dnf makecache`.
    pub async fn update(&self) -> Result<String, String> {
        run_tool(self.command(&["makecache"]), "dnf makecache").await
    }

    /// What is installed.
    pub async fn installed(&self) -> Result<Vec<InstalledPackage>, String> {
        let mut rpm = Command::new("rpm");
        rpm.args(["-qa", "--queryformat", "%{NAME}|%{EPOCHNUM}|%{VERSION}|%{RELEASE}|%{ARCH}|%{INSTALLTIME}\\n"])
            .stdin(Stdio::null())
            .kill_on_drop(true);
        Ok(parse_installed(&run_tool(rpm, "rpm -qa").await?))
    }

    /// The updates offered for installed packages, with their advisories' facts.
    pub async fn available(&self, wanted: &BTreeSet<&str>, product: &str) -> Result<Vec<Patch>, String> {
        let qf = "%{name}|%{epoch}|%{version}|%{release}|%{arch}|%{repoid}";
        let offered = run_tool(self.command(&["repoquery", "--upgrades", "--qf", qf]), "dnf repoquery").await?;
        let listed = run_tool(self.command(&["updateinfo", "list", "--updates", "-v"]), "dnf updateinfo list").await?;
        let cves = run_tool(
            self.command(&["updateinfo", "list", "--updates", "--with-cve"]),
            "dnf updateinfo list --with-cve",
        )
        .await?;
        let advisories = parse_advisories(&listed, &cves);
        Ok(parse_offered(&offered, product)
            .into_iter()
            .filter(|p| wanted.contains(p.name.as_str()))
            .map(|p| with_advisory(p, &advisories))
            .collect())
    }

    /// What installing these NEVRAs would change: (name, arch, version) per package,
    /// read from dnf's transaction summary without running it.
    pub async fn simulate(&self, specs: &[String]) -> Result<Vec<(String, String, String)>, String> {
        let mut args = vec!["install", "--assumeno", "--setopt=tsflags=test"];
        args.extend(specs.iter().map(String::as_str));
        // --assumeno ends with status 1 after printing the transaction.
        let mut command = self.command(&[]);
        command.args(&args);
        let output = command.output().await.map_err(|e| format!("cannot run dnf: {e}"))?;
        Ok(parse_transaction(&String::from_utf8_lossy(&output.stdout)))
    }

    /// Installs exact NEVRAs.
    pub async fn install(&self, specs: &[String]) -> Result<String, String> {
        let mut args = vec!["-y", "install"];
        args.extend(specs.iter().map(String::as_str));
        run_tool(self.command(&args), "dnf install").await
    }
}

/// `epoch:version-release`, the epoch only when not zero.
pub fn evr(epoch: &str, version: &str, release: &str) -> String {
    match epoch {
        "" | "0" | "(none)" => format!("{version}-{release}"),
        e => format!("{e}:{version}-{release}"),
    }
}

fn parse_installed(text: &str) -> Vec<InstalledPackage> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split('|').collect();
            let [name, epoch, version, release, arch, time] = f[..] else { return None };
            Some(InstalledPackage {
                name: name.into(),
                arch: arch.into(),
                version: evr(epoch, version, release),
                installed_time: time.trim().parse().ok(),
                ..Default::default()
            })
        })
        .collect()
}

fn parse_offered(text: &str, product: &str) -> Vec<Patch> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split('|').collect();
            let [name, epoch, version, release, arch, repo] = f[..] else { return None };
            Some(Patch {
                name: name.into(),
                version: evr(epoch, version, release),
                arch: arch.into(),
                product: product.into(),
                repository: repo.trim().into(),
                ..Default::default()
            })
        })
        .collect()
}

/// One advisory's facts about one package version (keyed by NEVRA).
#[derive(Debug, Clone, Default, PartialEq)]
struct Advisory {
    id: String,
    classification: String,
    severity: String,
    released: Option<i64>,
    cves: Vec<String>,
}

/// `Important/Sec.` → (Security, Important); `bugfix` → (Bugfix, ""); `Unknown/Sec.` → (Security, "").
fn label(text: &str) -> (String, String) {
    match text.strip_suffix("/Sec.") {
        Some("Unknown") => ("Security".into(), String::new()),
        Some(severity) => ("Security".into(), severity.into()),
        None => {
            let mut c = text.chars();
            let capital = c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default();
            (if capital == "Unknown" { String::new() } else { capital }, String::new())
        }
    }
}

/// `2024-03-05 10:11:12` (UTC) → epoch seconds.
fn timestamp(date: &str, time: &str) -> Option<i64> {
    let day = steward_patching::approval::days_from_civil(date)?;
    let mut hms = time.split(':').map(|p| p.parse::<i64>().ok());
    let (h, m, s) =
        (hms.next().flatten().unwrap_or(0), hms.next().flatten().unwrap_or(0), hms.next().flatten().unwrap_or(0));
    Some(day * 86_400 + h * 3_600 + m * 60 + s)
}

/// `dnf updateinfo list -v` lines (`ID LABEL NEVRA DATE TIME`) and `--with-cve` lines
/// (`CVE LABEL NEVRA`) → advisories by NEVRA.
fn parse_advisories(listed: &str, cves: &str) -> BTreeMap<String, Advisory> {
    let mut out: BTreeMap<String, Advisory> = BTreeMap::new();
    for line in listed.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 3 || f[0] == "i" {
            continue;
        }
        let (classification, severity) = label(f[1]);
        out.insert(
            f[2].to_owned(),
            Advisory {
                id: f[0].to_owned(),
                classification,
                severity,
                released: f.get(3).and_then(|d| timestamp(d, f.get(4).copied().unwrap_or("00:00:00"))),
                cves: vec![],
            },
        );
    }
    for line in cves.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() >= 3 && f[0].starts_with("CVE-") {
            if let Some(a) = out.get_mut(f[2]) {
                if !a.cves.iter().any(|c| c == f[0]) {
                    a.cves.push(f[0].to_owned());
                }
            }
        }
    }
    out
}

/// The update with its advisory's facts; security only with both a type and a severity.
fn with_advisory(mut p: Patch, advisories: &BTreeMap<String, Advisory>) -> Patch {
    let nevra = format!("{}-{}.{}", p.name, p.version, p.arch);
    if let Some(a) = advisories.get(&nevra) {
        p.classification = a.classification.clone();
        p.severity = a.severity.clone();
        p.security = !a.classification.is_empty() && !a.severity.is_empty();
        p.release_time = a.released;
        p.advisory_id = a.id.clone();
        p.cve_ids = a.cves.clone();
    }
    p
}

/// The packages of a dnf transaction summary (`Installing:`/`Upgrading:` sections, rows
/// `name arch version repo size`).
fn parse_transaction(text: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut in_section = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.ends_with(':') {
            in_section = matches!(
                trimmed,
                "Installing:" | "Upgrading:" | "Installing dependencies:" | "Installing weak dependencies:"
            );
            continue;
        }
        if trimmed.is_empty() || trimmed.starts_with("Transaction Summary") {
            in_section = in_section && !trimmed.starts_with("Transaction Summary");
            continue;
        }
        if in_section {
            let f: Vec<&str> = trimmed.split_whitespace().collect();
            if f.len() >= 4 {
                out.push((f[0].to_owned(), f[1].to_owned(), f[2].to_owned()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use steward_patching::{approve, rpmversion, Baseline, Filter, FilterGroup, Rule, RuleGroup};

    // Recorded in dnf's formats (dnf 4, RHEL 9 repositories).
    const RPM_QA: &str = "openssl-libs|1|3.0.7|24.el9|x86_64|1709251200\ncurl|0|7.76.1|26.el9|x86_64|1709251200\ntzdata|0|2023c|1.el9|noarch|1709251200\nbash|0|5.1.8|6.el9_1|x86_64|1709251200\n";
    const REPOQUERY: &str = "openssl-libs|1|3.0.7|27.el9|x86_64|baseos\ncurl|0|7.76.1|29.el9_4|x86_64|baseos\ntzdata|0|2024a|1.el9|noarch|baseos\nbash|0|5.1.8|9.el9|x86_64|baseos\n";
    const UPDATEINFO_V: &str = "\
RHBA-2024:1100 bugfix         tzdata-2024a-1.el9.noarch           2024-02-01 08:00:00
RHSA-2024:1234 Important/Sec. openssl-libs-1:3.0.7-27.el9.x86_64  2024-03-05 10:11:12
RHSA-2024:1301 Moderate/Sec.  curl-7.76.1-29.el9_4.x86_64         2024-03-20 00:00:00
";
    const WITH_CVE: &str = "\
CVE-2023-5678 Important/Sec. openssl-libs-1:3.0.7-27.el9.x86_64
CVE-2024-0727 Important/Sec. openssl-libs-1:3.0.7-27.el9.x86_64
CVE-2024-2004 Moderate/Sec.  curl-7.76.1-29.el9_4.x86_64
";
    const TRANSACTION: &str = "\
Dependencies resolved.
================================================================================
 Package            Arch      Version              Repository          Size
================================================================================
Upgrading:
 openssl-libs       x86_64    1:3.0.7-27.el9       baseos             2.2 M
Installing dependencies:
 openssl-fips-provider x86_64 3.0.7-2.el9         baseos             9.4 k

Transaction Summary
================================================================================
Install  1 Package
Upgrade  1 Package
";

    fn offered() -> Vec<Patch> {
        let advisories = parse_advisories(UPDATEINFO_V, WITH_CVE);
        parse_offered(REPOQUERY, "RedhatEnterpriseLinux9.4")
            .into_iter()
            .map(|p| with_advisory(p, &advisories))
            .collect()
    }

    #[test]
    fn reads_what_is_installed_and_offered() {
        let installed = parse_installed(RPM_QA);
        assert_eq!(installed[0].version, "1:3.0.7-24.el9");
        assert_eq!(installed[1].version, "7.76.1-26.el9");
        assert_eq!(installed[0].installed_time, Some(1_709_251_200));
        let patches = offered();
        let ssl = &patches[0];
        assert_eq!((ssl.classification.as_str(), ssl.severity.as_str(), ssl.security), ("Security", "Important", true));
        assert_eq!(ssl.advisory_id, "RHSA-2024:1234");
        assert_eq!(ssl.cve_ids, ["CVE-2023-5678", "CVE-2024-0727"]);
        assert_eq!(ssl.release_time, Some(1_709_633_472));
        let tz = &patches[2];
        assert_eq!((tz.classification.as_str(), tz.severity.as_str(), tz.security), ("Bugfix", "", false));
        let bash = &patches[3];
        assert_eq!((bash.classification.as_str(), bash.security), ("", false));
        for (p, i) in patches.iter().zip(&installed) {
            assert!(rpmversion::compare(&p.version, &i.version).is_gt(), "{} {}", p.version, i.version);
        }
    }

    #[test]
    fn approval_dates_over_recorded_advisories() {
        let rule = |filters: &[(&str, &[&str])], days: Option<u32>, until: Option<&str>, non_security: bool| Rule {
            patch_filter_group: FilterGroup {
                patch_filters: filters
                    .iter()
                    .map(|(k, v)| Filter { key: (*k).into(), values: v.iter().map(|s| (*s).into()).collect() })
                    .collect(),
            },
            compliance_level: "CRITICAL".into(),
            approve_after_days: days,
            approve_until_date: until.map(str::to_owned),
            enable_non_security: non_security,
        };
        let patches = offered();
        let day = 86_400;
        let ssl_released = patches[0].release_time.unwrap();
        // RHEL's default: Security Critical/Important after 7 days, Bugfix after 7 days.
        let default = Baseline {
            approval_rules: RuleGroup {
                patch_rules: vec![
                    rule(
                        &[("CLASSIFICATION", &["Security"]), ("SEVERITY", &["Critical", "Important"])],
                        Some(7),
                        None,
                        false,
                    ),
                    rule(&[("CLASSIFICATION", &["Bugfix"])], Some(7), None, false),
                ],
            },
            ..Default::default()
        };
        let approved = |b: &Baseline, now: i64| -> Vec<&str> {
            patches.iter().filter(|p| approve(b, p, now).is_some()).map(|p| p.name.as_str()).collect()
        };
        assert!(approved(&default, ssl_released + 6 * day).is_empty());
        // Seven days on: openssl (Important); curl is Moderate; tzdata is a bugfix without a
        // severity (no metadata: a rule needs EnableNonSecurity for it); bash has no advisory.
        assert_eq!(approved(&default, ssl_released + 7 * day), ["openssl-libs"]);
        let mut lenient = default.clone();
        lenient.approval_rules.patch_rules[1].enable_non_security = true;
        assert_eq!(approved(&lenient, ssl_released + 60 * day), ["openssl-libs", "tzdata"]);
        // Released on or before a date.
        let until = Baseline {
            approval_rules: RuleGroup {
                patch_rules: vec![rule(&[("CLASSIFICATION", &["Security"])], None, Some("2024-03-05"), false)],
            },
            ..Default::default()
        };
        assert_eq!(approved(&until, 0), ["openssl-libs"]);
        // Everything, non-security included, without dates: bash too.
        let all = Baseline {
            approval_rules: RuleGroup { patch_rules: vec![rule(&[("PRODUCT", &["*"])], Some(0), None, true)] },
            ..Default::default()
        };
        // (curl is released after that moment; bash has no date, and an update without one
        // passes a delay of zero.)
        assert_eq!(approved(&all, ssl_released), ["openssl-libs", "tzdata", "bash"]);
    }

    #[test]
    fn reads_a_transaction_summary() {
        assert_eq!(
            parse_transaction(TRANSACTION),
            [
                ("openssl-libs".to_owned(), "x86_64".to_owned(), "1:3.0.7-27.el9".to_owned()),
                ("openssl-fips-provider".to_owned(), "x86_64".to_owned(), "3.0.7-2.el9".to_owned()),
            ]
        );
        assert_eq!(label("newpackage"), ("Newpackage".into(), String::new()));
        assert_eq!(label("Unknown/Sec."), ("Security".into(), String::new()));
    }
}

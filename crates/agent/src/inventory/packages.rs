//! `AWS:Application`: the packages installed, read from the package managers' own
//! databases (dpkg's status file; rpm's database through `rpm --queryformat`).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use super::{rfc3339, Entry};

const DPKG_STATUS: &str = "/var/lib/dpkg/status";
const DPKG_INFO: &str = "/var/lib/dpkg/info";

/// Every installed package of every package manager present.
pub fn applications() -> Vec<Entry> {
    let mut out = Vec::new();
    if let Ok(text) = std::fs::read_to_string(DPKG_STATUS) {
        out.extend(dpkg(&text, Path::new(DPKG_INFO)));
    }
    out.extend(rpm());
    out
}

/// The paragraphs of a dpkg status file as field maps (continuation lines joined).
pub(crate) fn paragraphs(text: &str) -> Vec<BTreeMap<&str, String>> {
    let mut out = Vec::new();
    let mut current: BTreeMap<&str, String> = BTreeMap::new();
    let mut last: Option<&str> = None;
    for line in text.lines() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            last = None;
        } else if line.starts_with([' ', '\t']) {
            if let Some(field) = last {
                let value = current.entry(field).or_default();
                value.push('\n');
                value.push_str(line.trim());
            }
        } else if let Some((field, value)) = line.split_once(':') {
            current.insert(field, value.trim().to_owned());
            last = Some(field);
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// `[epoch:]upstream[-revision]` as (epoch, upstream, revision), as Debian policy splits it.
fn split_version(full: &str) -> (&str, &str, &str) {
    let (epoch, rest) = match full.split_once(':') {
        Some((e, r)) if e.chars().all(|c| c.is_ascii_digit()) => (e, r),
        _ => ("", full),
    };
    match rest.rsplit_once('-') {
        Some((upstream, revision)) => (epoch, upstream, revision),
        None => (epoch, rest, ""),
    }
}

/// When dpkg installed a package: its file list's modification time.
fn installed_time(info: &Path, name: &str, arch: &str) -> String {
    let candidates = [info.join(format!("{name}:{arch}.list")), info.join(format!("{name}.list"))];
    candidates
        .iter()
        .find_map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| rfc3339(d.as_secs() as i64))
        .unwrap_or_default()
}

fn dpkg(status: &str, info: &Path) -> Vec<Entry> {
    let mut out = Vec::new();
    for p in paragraphs(status) {
        // "install ok installed": only what is on disk now, not removed or half-configured.
        if p.get("Status").and_then(|s| s.split_whitespace().nth(2)) != Some("installed") {
            continue;
        }
        let (Some(name), Some(full)) = (p.get("Package"), p.get("Version")) else { continue };
        let arch = p.get("Architecture").cloned().unwrap_or_default();
        let (epoch, version, release) = split_version(full);
        let summary = p.get("Description").and_then(|d| d.lines().next()).unwrap_or_default();
        let mut e = Entry::new();
        e.insert("Name".into(), name.clone());
        e.insert("Version".into(), version.into());
        e.insert("Release".into(), release.into());
        e.insert("Epoch".into(), epoch.into());
        e.insert("Architecture".into(), arch.clone());
        e.insert("Publisher".into(), p.get("Maintainer").cloned().unwrap_or_default());
        e.insert("Summary".into(), summary.into());
        e.insert("ApplicationType".into(), p.get("Section").cloned().unwrap_or_default());
        e.insert("URL".into(), p.get("Homepage").cloned().unwrap_or_default());
        e.insert("PackageId".into(), format!("{name}_{full}_{arch}.deb"));
        e.insert("InstalledTime".into(), installed_time(info, name, &arch));
        out.push(e);
    }
    out
}

/// The rpm fields asked for, tab-separated, one package a line.
const RPM_FORMAT: &str = "%{NAME}\\t%{VERSION}\\t%{RELEASE}\\t%{EPOCHNUM}\\t%{ARCH}\\t%{VENDOR}\\t%{SUMMARY}\\t%{INSTALLTIME}\\t%{URL}\\t%{GROUP}\\t%{SOURCERPM}\\n";

fn rpm() -> Vec<Entry> {
    // A Debian machine may carry the rpm tool without any rpm database: nothing to read then.
    if !Path::new("/var/lib/rpm").is_dir() && !Path::new("/usr/lib/sysimage/rpm").is_dir() {
        return Vec::new();
    }
    let Ok(output) = Command::new("rpm").args(["-qa", "--queryformat", RPM_FORMAT]).output() else {
        return Vec::new();
    };
    parse_rpm(&String::from_utf8_lossy(&output.stdout))
}

fn parse_rpm(text: &str) -> Vec<Entry> {
    let none = |v: &str| if v == "(none)" { String::new() } else { v.to_owned() };
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 11 || f[0].is_empty() {
            continue;
        }
        let mut e = Entry::new();
        e.insert("Name".into(), f[0].into());
        e.insert("Version".into(), f[1].into());
        e.insert("Release".into(), f[2].into());
        e.insert("Epoch".into(), if f[3] == "0" { String::new() } else { f[3].into() });
        e.insert("Architecture".into(), none(f[4]));
        e.insert("Publisher".into(), none(f[5]));
        e.insert("Summary".into(), none(f[6]));
        e.insert("InstalledTime".into(), f[7].parse().map(rfc3339).unwrap_or_default());
        e.insert("URL".into(), none(f[8]));
        e.insert("ApplicationType".into(), none(f[9]));
        e.insert("PackageId".into(), format!("{}-{}-{}.{}.rpm", f[0], f[1], f[2], f[4]));
        out.push(e);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Package: openssl\nStatus: install ok installed\nArchitecture: amd64\nVersion: 3.0.11-1~deb12u2\nMaintainer: Debian OpenSSL Team <x@y>\nSection: utils\nDescription: Secure Sockets Layer toolkit\n This package contains the openssl binary.\nHomepage: https://www.openssl.org/\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1.0\n\nPackage: tzdata\nStatus: install ok installed\nArchitecture: all\nVersion: 1:2024a-0+deb12u1\n";

    #[test]
    fn dpkg_status_gives_installed_packages_with_split_versions() {
        let apps = dpkg(STATUS, Path::new("/nonexistent"));
        assert_eq!(apps.len(), 2);
        assert_eq!(apps[0]["Name"], "openssl");
        assert_eq!(apps[0]["Version"], "3.0.11");
        assert_eq!(apps[0]["Release"], "1~deb12u2");
        assert_eq!(apps[0]["Summary"], "Secure Sockets Layer toolkit");
        assert_eq!(apps[0]["URL"], "https://www.openssl.org/");
        assert_eq!(apps[0]["PackageId"], "openssl_3.0.11-1~deb12u2_amd64.deb");
        assert_eq!(apps[1]["Epoch"], "1");
        assert_eq!(apps[1]["Version"], "2024a");
    }

    #[test]
    fn rpm_lines() {
        let apps = parse_rpm(
            "bash\t5.1.8\t6.el9\t0\tx86_64\tRocky\tThe shell\t1700000000\t(none)\tSystem\tbash.src.rpm\nshort\n",
        );
        assert_eq!(apps.len(), 1);
        assert_eq!(apps[0]["Epoch"], "");
        assert_eq!(apps[0]["URL"], "");
        assert_eq!(apps[0]["InstalledTime"], "2023-11-14T22:13:20Z");
    }
}

//! `AWS:Service`: systemd's service units — from `systemctl show` (key=value, made for
//! programs) when systemd runs, else from the unit files and their enablement links.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use super::Entry;

const PROPERTIES: &str = "Id,Description,Type,ActiveState,UnitFileState,Requires,RequiredBy";
const UNIT_DIRS: [&str; 3] = ["/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system"];

/// Every service unit.
pub fn services() -> Vec<Entry> {
    let shown = Command::new("systemctl")
        .args(["show", "--all", "--no-pager", &format!("--property={PROPERTIES}"), "--", "*.service"])
        .output();
    match shown {
        Ok(out) if out.status.success() && !out.stdout.is_empty() => from_show(&String::from_utf8_lossy(&out.stdout)),
        _ => from_unit_files(),
    }
}

fn start_type(unit_file_state: &str) -> &'static str {
    match unit_file_state {
        "enabled" | "enabled-runtime" | "alias" => "Automatic",
        "masked" | "masked-runtime" => "Disabled",
        _ => "Manual",
    }
}

fn service_entry(
    name: &str,
    description: &str,
    kind: &str,
    running: bool,
    state: &str,
    requires: &str,
    by: &str,
) -> Entry {
    let mut e = Entry::new();
    e.insert("Name".into(), name.into());
    e.insert("DisplayName".into(), description.into());
    e.insert("ServiceType".into(), kind.into());
    e.insert("Status".into(), if running { "Running" } else { "Stopped" }.into());
    e.insert("StartType".into(), start_type(state).into());
    e.insert("ServicesDependedOn".into(), requires.split_whitespace().collect::<Vec<_>>().join(","));
    e.insert("DependentServices".into(), by.split_whitespace().collect::<Vec<_>>().join(","));
    e
}

fn from_show(text: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    for block in text.split("\n\n") {
        let fields: BTreeMap<&str, &str> = block.lines().filter_map(|l| l.split_once('=')).collect();
        let Some(id) = fields.get("Id").filter(|id| id.ends_with(".service")) else { continue };
        let get = |k: &str| fields.get(k).copied().unwrap_or_default();
        out.push(service_entry(
            id,
            get("Description"),
            get("Type"),
            get("ActiveState") == "active",
            get("UnitFileState"),
            get("Requires"),
            get("RequiredBy"),
        ));
    }
    out
}

fn from_unit_files() -> Vec<Entry> {
    let mut units: BTreeMap<String, (String, String)> = BTreeMap::new();
    for dir in UNIT_DIRS {
        let Ok(entries) = std::fs::read_dir(dir) else { continue };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.ends_with(".service") || name.contains('@') || units.contains_key(&name) {
                continue;
            }
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            let masked = std::fs::read_link(entry.path()).is_ok_and(|t| t == Path::new("/dev/null"));
            let state = if masked {
                "masked"
            } else if enabled(&name) {
                "enabled"
            } else {
                "disabled"
            };
            units.insert(name, (unit_field(&text, "Description"), state.to_owned()));
        }
    }
    units
        .into_iter()
        .map(|(name, (description, state))| service_entry(&name, &description, "", false, &state, "", ""))
        .collect()
}

/// Whether some target wants the unit (a link in a `*.wants` folder of /etc).
fn enabled(unit: &str) -> bool {
    let Ok(entries) = std::fs::read_dir("/etc/systemd/system") else { return false };
    entries.flatten().any(|e| e.file_name().to_string_lossy().ends_with(".wants") && e.path().join(unit).exists())
}

fn unit_field(text: &str, key: &str) -> String {
    text.lines().find_map(|l| l.strip_prefix(key)?.trim_start().strip_prefix('=')).unwrap_or_default().trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemctl_show_blocks() {
        let text = "Id=ssh.service\nDescription=OpenBSD Secure Shell server\nType=notify\nActiveState=active\nUnitFileState=enabled\nRequires=system.slice sysinit.target\nRequiredBy=\n\nId=foo.socket\n\nId=cron.service\nActiveState=inactive\nUnitFileState=disabled\n";
        let s = from_show(text);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0]["Status"], "Running");
        assert_eq!(s[0]["StartType"], "Automatic");
        assert_eq!(s[0]["ServicesDependedOn"], "system.slice,sysinit.target");
        assert_eq!(s[1]["Status"], "Stopped");
        assert_eq!(s[1]["StartType"], "Manual");
    }

    #[test]
    fn unit_file_fields() {
        assert_eq!(unit_field("[Unit]\nDescription = Redis\n", "Description"), "Redis");
    }
}

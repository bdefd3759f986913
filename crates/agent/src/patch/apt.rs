//! Debian and Ubuntu through apt's own interfaces: dpkg's status file for what is installed,
//! `apt-get indextargets` and `apt-helper cat-file` for what the repositories offer (with
//! each index's suite, so a `-security` pocket is known as such), `apt-get install` for the
//! approved versions. Programs get arguments, never a shell line.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use steward_patching::report::InstalledPackage;
use steward_patching::Patch;
use tokio::process::Command;

use crate::inventory::paragraphs;

/// apt with the options of one patching run.
pub struct Apt {
    options: Vec<String>,
}

/// The longest a package operation may wait for another package manager's lock.
const LOCK_WAIT_SECONDS: u32 = 300;

impl Apt {
    /// apt as the node is configured, or — when the baseline gives alternative sources for the
    /// node's product — with only those sources, kept in `dir` (apart from the node's own lists).
    pub fn new(dir: &Path, sources: &[&str]) -> Result<Apt, String> {
        let mut options = vec![format!("DPkg::Lock::Timeout={LOCK_WAIT_SECONDS}"), "Acquire::Languages=none".into()];
        if !sources.is_empty() {
            let lists = dir.join("lists");
            std::fs::create_dir_all(lists.join("partial"))
                .map_err(|e| format!("cannot create {}: {e}", lists.display()))?;
            let list = dir.join("sources.list");
            let mut text = sources.join("\n");
            text.push('\n');
            std::fs::write(&list, text).map_err(|e| format!("cannot write {}: {e}", list.display()))?;
            let parts = dir.join("sources.list.d");
            std::fs::create_dir_all(&parts).map_err(|e| format!("cannot create {}: {e}", parts.display()))?;
            options.extend([
                format!("Dir::Etc::SourceList={}", list.display()),
                format!("Dir::Etc::SourceParts={}", parts.display()),
                format!("Dir::State::Lists={}", lists.display()),
                // The node's own binary caches describe its own sources: build none here.
                "Dir::Cache::pkgcache=".into(),
                "Dir::Cache::srcpkgcache=".into(),
            ]);
        }
        Ok(Apt { options })
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        for option in &self.options {
            command.arg("-o").arg(option);
        }
        command
            .env("DEBIAN_FRONTEND", "noninteractive")
            .env("NEEDRESTART_MODE", "a")
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        command
    }

    /// `apt-get update`.
    pub async fn update(&self) -> Result<String, String> {
        let mut command = self.command("apt-get");
        command.args(["-q", "update"]);
        run(command, "apt-get update").await
    }

    /// The versions the configured repositories offer of the packages named in `wanted`.
    pub async fn available(&self, wanted: &BTreeSet<&str>, product: &str) -> Result<Vec<Patch>, String> {
        let mut command = self.command("apt-get");
        command.args([
            "indextargets",
            "--format",
            "$(FILENAME)\t$(CODENAME)\t$(SUITE)\t$(LABEL)\t$(COMPONENT)",
            "Identifier: Packages",
        ]);
        let listing = run(command, "apt-get indextargets").await?;
        let mut out = Vec::new();
        for line in listing.lines() {
            let fields: Vec<&str> = line.split('\t').collect();
            let [file, codename, suite, label, component] = fields[..] else { continue };
            if !Path::new(file).exists() {
                continue;
            }
            let repository = if codename.is_empty() { suite } else { codename };
            let security = [codename, suite].iter().any(|s| s.ends_with("-security")) || label.contains("Security");
            let mut cat = Command::new("/usr/lib/apt/apt-helper");
            cat.args(["cat-file", file]).stdin(Stdio::null()).kill_on_drop(true);
            let text = run(cat, "apt-helper cat-file").await?;
            for stanza in paragraphs(&text) {
                let name = stanza.get("Package").map(String::as_str).unwrap_or_default();
                if !wanted.contains(name) {
                    continue;
                }
                let section = stanza.get("Section").cloned().unwrap_or_default();
                out.push(Patch {
                    name: name.to_owned(),
                    version: stanza.get("Version").cloned().unwrap_or_default(),
                    arch: stanza.get("Architecture").cloned().unwrap_or_default(),
                    product: product.to_owned(),
                    repository: repository.to_owned(),
                    section: if section.contains('/') || component.is_empty() || component == "main" {
                        section
                    } else {
                        format!("{component}/{section}")
                    },
                    priority: stanza.get("Priority").cloned().unwrap_or_default(),
                    security,
                    ..Default::default()
                });
            }
        }
        Ok(out)
    }

    /// What `apt-get install` of these `name:arch=version` specs would install or upgrade,
    /// as (name, arch, version), without changing anything.
    pub async fn simulate(&self, specs: &[String]) -> Result<Vec<(String, String, String)>, String> {
        let mut command = self.command("apt-get");
        command.args(["-s", "-q", "install", "--only-upgrade", "--no-install-recommends"]).args(specs);
        let output = run(command, "apt-get -s install").await?;
        Ok(output.lines().filter_map(simulated_install).collect())
    }

    /// Installs these `name:arch=version` specs non-interactively, keeping changed
    /// configuration files. The output, whatever the outcome.
    pub async fn install(&self, specs: &[String]) -> Result<String, String> {
        let mut command = self.command("apt-get");
        command
            .args(["-y", "-q", "install", "--only-upgrade", "--no-install-recommends"])
            .args(["-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold"])
            .args(specs);
        run(command, "apt-get install").await
    }
}

/// `Inst name [old] (new suite [arch])` → (name, arch, new version).
fn simulated_install(line: &str) -> Option<(String, String, String)> {
    let rest = line.strip_prefix("Inst ")?;
    let name = rest.split_whitespace().next()?;
    let open = rest.find('(')?;
    let inside = &rest[open + 1..rest[open..].find(')')? + open];
    let version = inside.split_whitespace().next()?;
    let arch = inside.rsplit_once('[').map(|(_, a)| a.trim_end_matches(']')).unwrap_or_default();
    let (name, arch) = match name.split_once(':') {
        Some((n, a)) => (n, a),
        None => (name, arch),
    };
    Some((name.to_owned(), arch.to_owned(), version.to_owned()))
}

/// The packages dpkg has installed (state `install ok installed`).
pub fn installed(status_file: &Path) -> Result<Vec<InstalledPackage>, String> {
    let text =
        std::fs::read_to_string(status_file).map_err(|e| format!("cannot read {}: {e}", status_file.display()))?;
    let info = status_file.parent().unwrap_or(Path::new("/")).join("info");
    Ok(paragraphs(&text)
        .into_iter()
        .filter(|p| p.get("Status").is_some_and(|s| s.ends_with(" installed")))
        .map(|p| {
            let name = p.get("Package").cloned().unwrap_or_default();
            let arch = p.get("Architecture").cloned().unwrap_or_default();
            InstalledPackage {
                installed_time: installed_time(&info, &name, &arch),
                section: p.get("Section").cloned().unwrap_or_default(),
                priority: p.get("Priority").cloned().unwrap_or_default(),
                version: p.get("Version").cloned().unwrap_or_default(),
                name,
                arch,
            }
        })
        .collect())
}

/// dpkg's status file.
pub fn status_file() -> PathBuf {
    PathBuf::from("/var/lib/dpkg/status")
}

fn installed_time(info: &Path, name: &str, arch: &str) -> Option<i64> {
    [info.join(format!("{name}:{arch}.list")), info.join(format!("{name}.list"))]
        .iter()
        .find_map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64)
}

/// Runs a program to its end: stdout on success, stderr (or stdout) as the reason otherwise.
async fn run(mut command: Command, what: &str) -> Result<String, String> {
    let output = command.output().await.map_err(|e| format!("cannot run {what}: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        return Ok(stdout);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let detail = if stderr.trim().is_empty() { stdout.trim().to_owned() } else { stderr.trim().to_owned() };
    Err(format!("{what} failed ({}): {detail}", output.status))
}

#[cfg(test)]
mod tests {
    use super::simulated_install;

    #[test]
    fn reads_simulated_installs() {
        assert_eq!(
            simulated_install("Inst steward-tp-alpha [1.0] (1.1 steward-test-security [all])"),
            Some(("steward-tp-alpha".into(), "all".into(), "1.1".into()))
        );
        assert_eq!(
            simulated_install(
                "Inst libc6:amd64 [2.36-9] (2.36-9+deb12u4 Debian-Security:12/oldstable-security [amd64])"
            ),
            Some(("libc6".into(), "amd64".into(), "2.36-9+deb12u4".into()))
        );
        assert_eq!(simulated_install("Conf steward-tp-alpha (1.1 x [all])"), None);
    }
}

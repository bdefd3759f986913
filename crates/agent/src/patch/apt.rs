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

use super::run_tool;
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
        run_tool(command, "apt-get update").await
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
        let listing = run_tool(command, "apt-get indextargets").await?;
        let mut out = Vec::new();
        for line in listing.lines() {
            let fields: Vec<&str> = line.split('\t').collect();
            let [file, codename, suite, label, component] = fields[..] else { continue };
            if !Path::new(file).exists() {
                continue;
            }
            let repository = if codename.is_empty() { suite } else { codename };
            let security = [codename, suite].iter().any(|s| s.ends_with("-security")) || label.contains("Security");
            for stanza in read_index(file, wanted).await? {
                let section = if stanza.section.contains('/') || component.is_empty() || component == "main" {
                    stanza.section
                } else {
                    format!("{component}/{}", stanza.section)
                };
                out.push(Patch {
                    name: stanza.package,
                    version: stanza.version,
                    arch: stanza.architecture,
                    product: product.to_owned(),
                    repository: repository.to_owned(),
                    section,
                    priority: stanza.priority,
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
        let output = run_tool(command, "apt-get -s install").await?;
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
        run_tool(command, "apt-get install").await
    }
}

/// The fields of one index stanza patching reads.
#[derive(Default)]
struct Stanza {
    package: String,
    version: String,
    architecture: String,
    section: String,
    priority: String,
}

/// The stanzas of the packages in `wanted` in one index, read as `apt-helper cat-file`
/// decompresses it, line by line: an index of the whole archive is tens of megabytes, and
/// only the few packages installed here are kept.
async fn read_index(file: &str, wanted: &BTreeSet<&str>) -> Result<Vec<Stanza>, String> {
    use tokio::io::AsyncBufReadExt;
    let mut child = Command::new("/usr/lib/apt/apt-helper")
        .args(["cat-file", file])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run apt-helper: {e}"))?;
    let stdout = child.stdout.take().ok_or("apt-helper has no output")?;
    let mut reader = tokio::io::BufReader::new(stdout);
    let mut out = Vec::new();
    let mut current = Stanza::default();
    let mut keep = true;
    let mut raw = Vec::new();
    loop {
        raw.clear();
        let read = reader.read_until(b'\n', &mut raw).await.map_err(|e| format!("cannot read {file}: {e}"))?;
        let line = String::from_utf8_lossy(&raw);
        let line = line.trim_end_matches(['\n', '\r']);
        if line.is_empty() {
            if keep && !current.package.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            current = Stanza::default();
            keep = true;
            if read == 0 {
                break;
            }
            continue;
        }
        if !keep {
            continue;
        }
        let Some((field, value)) = line.split_once(": ") else { continue };
        let value = value.trim().to_owned();
        match field {
            "Package" => {
                keep = wanted.contains(value.as_str());
                current.package = value;
            }
            "Version" => current.version = value,
            "Architecture" => current.architecture = value,
            "Section" => current.section = value,
            "Priority" => current.priority = value,
            _ => {}
        }
    }
    let status = child.wait().await.map_err(|e| format!("apt-helper: {e}"))?;
    if !status.success() {
        return Err(format!("apt-helper cat-file {file} failed ({status})"));
    }
    Ok(out)
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

//! `aws:configurePackage` (AWS-ConfigureAWSPackage): installs, updates and removes
//! Distributor packages.
//!
//! The server resolved the package when the command was planned and sent its manifest in
//! the step's `package` input. Here: the file for this platform and architecture is chosen,
//! downloaded over the control channel a chunk at a time (resuming from what a previous
//! attempt left in `STATE_DIR/packages/<name>/downloads/`), checked against the manifest's
//! size and SHA-256 — a file that does not match installs nothing — unpacked into
//! `STATE_DIR/packages/<name>/<version>/`, and its scripts run there (`install.sh`,
//! `uninstall.sh`, `update.sh`) with the step's timeout and `additionalArguments` as
//! environment variables. `installed.json` records the installed version; installing it
//! again succeeds without doing anything.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use steward_protocol::{AgentMessage, ServerMessage};

use crate::calls::Calls;
use crate::executor::{run_program, Ran, Running};

/// How long one chunk may take to arrive before it is asked for again.
const CHUNK_WAIT: Duration = Duration::from_secs(60);
/// How many times in a row a chunk may fail to arrive before the download gives up.
const CHUNK_TRIES: u32 = 5;
/// The most an archive may unpack to, and the most entries it may have (zip bombs).
const MAX_UNPACKED: u64 = 8 << 30;
const MAX_ENTRIES: usize = 100_000;

/// What the step was asked to do, with the package the server resolved.
struct Request {
    action: String,
    in_place: bool,
    name: String,
    package: Option<Value>,
    arguments: Vec<(String, String)>,
}

/// What `installed.json` says.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Installed {
    version: String,
    arn: String,
    #[serde(default)]
    publisher: String,
}

/// The packages installed here, as inventory's `AWS:Application` entries (ApplicationType
/// `Distributor`, PackageId the package's ARN, InstalledTime when it was recorded).
pub fn installed_applications(state_dir: &Path) -> Vec<crate::inventory::Entry> {
    let Ok(entries) = std::fs::read_dir(state_dir.join("packages")) else { return Vec::new() };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let record = entry.path().join("installed.json");
        let Some(installed) = read_installed(&entry.path()) else { continue };
        let when = std::fs::metadata(&record)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| crate::inventory::rfc3339(d.as_secs() as i64))
            .unwrap_or_default();
        let mut e = crate::inventory::Entry::new();
        e.insert("Name".into(), entry.file_name().to_string_lossy().into_owned());
        e.insert("Version".into(), installed.version);
        e.insert("Publisher".into(), installed.publisher);
        e.insert("ApplicationType".into(), "Distributor".into());
        e.insert("PackageId".into(), installed.arn);
        e.insert("InstalledTime".into(), when);
        out.push(e);
    }
    out.sort_by(|a, b| a["Name"].cmp(&b["Name"]));
    out
}

/// Where the step runs and what it may use.
pub struct Context<'a> {
    /// The agent's state directory.
    pub state_dir: &'a Path,
    /// The invocation (for cancels and the process-group record).
    pub invocation_id: &'a str,
    /// The command the step belongs to (the server checks downloads against it).
    pub command_id: &'a str,
    /// Seconds each script may run.
    pub timeout: u64,
    /// Running processes.
    pub running: &'a Running,
    /// Requests to the server.
    pub calls: &'a Calls,
}

fn request(inputs: &Value) -> Result<Request, String> {
    let action = inputs["action"].as_str().unwrap_or_default().to_owned();
    if action != "Install" && action != "Uninstall" {
        return Err(format!("action must be Install or Uninstall, not {action:?}."));
    }
    let package = inputs.get("package").filter(|p| p.is_object()).cloned();
    let name = package
        .as_ref()
        .and_then(|p| p["arn"].as_str())
        .and_then(|arn| arn.rsplit_once("document/").map(|(_, n)| n.to_owned()))
        .unwrap_or_else(|| {
            inputs["name"].as_str().unwrap_or_default().rsplit('/').next().unwrap_or_default().to_owned()
        });
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b)) || name == ".." {
        return Err(format!("{name:?} is not a package name this agent can install."));
    }
    // additionalArguments: an object, or a JSON string of one (as a StringMap parameter
    // arrives); SSM passes each as an environment variable, and each must start with SSM_.
    let raw = match &inputs["additionalArguments"] {
        Value::String(s) if s.trim().is_empty() => Value::Object(Default::default()),
        Value::String(s) => serde_json::from_str(s).map_err(|_| "additionalArguments is not a JSON object.")?,
        Value::Null => Value::Object(Default::default()),
        other => other.clone(),
    };
    let object = raw.as_object().ok_or("additionalArguments must be a JSON object of strings.")?;
    let mut arguments = Vec::new();
    for (key, value) in object {
        let usable = key.starts_with("SSM_") && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !usable {
            return Err(format!(
                "additionalArguments key {key:?} must start with SSM_ and hold only letters, digits and _."
            ));
        }
        let value = value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string());
        arguments.push((key.clone(), value));
    }
    let in_place = inputs["installationType"].as_str() == Some("In-place update");
    Ok(Request { action, in_place, name, package, arguments })
}

/// Runs the step; its report, or why it failed.
pub async fn run(inputs: &Value, ctx: Context<'_>) -> Result<String, String> {
    let request = request(inputs)?;
    let home = ctx.state_dir.join("packages").join(&request.name);
    std::fs::create_dir_all(&home).map_err(|e| format!("Cannot create {}: {e}", home.display()))?;
    let installed = read_installed(&home);
    match request.action.as_str() {
        "Uninstall" => uninstall(&request, &home, installed, &ctx).await,
        _ => install(&request, &home, installed, &ctx).await,
    }
}

fn read_installed(home: &Path) -> Option<Installed> {
    serde_json::from_slice(&std::fs::read(home.join("installed.json")).ok()?).ok()
}

fn write_installed(home: &Path, installed: &Installed) -> Result<(), String> {
    let tmp = home.join("installed.json.tmp");
    std::fs::write(&tmp, serde_json::to_vec(installed).expect("serialises"))
        .and_then(|_| std::fs::rename(&tmp, home.join("installed.json")))
        .map_err(|e| format!("Cannot record the installed version: {e}"))
}

/// The folder a version unpacks to (versions are checked by the server: no separators).
fn version_dir(home: &Path, version: &str) -> PathBuf {
    home.join(format!("v-{version}"))
}

async fn uninstall(
    request: &Request,
    home: &Path,
    installed: Option<Installed>,
    ctx: &Context<'_>,
) -> Result<String, String> {
    let Some(installed) = installed else {
        return Ok(format!("{} is not installed; nothing to do.\n", request.name));
    };
    let dir = version_dir(home, &installed.version);
    let mut report = run_script(&dir, "uninstall.sh", request, ctx, false).await?;
    let _ = std::fs::remove_file(home.join("installed.json"));
    let _ = std::fs::remove_dir_all(&dir);
    report.push_str(&format!("Uninstalled {} {}.\n", request.name, installed.version));
    Ok(report)
}

async fn install(
    request: &Request,
    home: &Path,
    installed: Option<Installed>,
    ctx: &Context<'_>,
) -> Result<String, String> {
    let package = request.package.as_ref().ok_or("The server sent no package to install.")?;
    let version = package["version"].as_str().ok_or("The package has no version.")?.to_owned();
    if version.is_empty() || version.contains(['/', '\\']) || version.starts_with('.') {
        return Err(format!("The package version {version:?} cannot be installed."));
    }
    let arn = package["arn"].as_str().unwrap_or_default().to_owned();
    let publisher = package["publisher"].as_str().unwrap_or_default().to_owned();
    if installed.as_ref().is_some_and(|i| i.version == version) {
        return Ok(format!("{} {version} is already installed; nothing to do.\n", request.name));
    }
    let (id, os_version, arch) = this_platform();
    let file = select(&package["packages"], &id, &os_version, &arch)
        .ok_or_else(|| format!("The package {} {version} has no file for {id} {os_version} {arch}.", request.name))?
        .to_owned();
    let entry = &package["files"][&file];
    let sha256 =
        entry["sha256"].as_str().ok_or_else(|| format!("The manifest gives no SHA-256 for {file}."))?.to_owned();
    let size = entry["size"].as_u64().ok_or_else(|| format!("The manifest gives no size for {file}."))?;
    let archive = download(home, ctx, &file, &sha256, size).await?;
    let dir = version_dir(home, &version);
    let unpacked = unpack(&archive, &dir).await;
    let _ = std::fs::remove_file(&archive);
    unpacked?;
    let mut report = format!("Downloaded {file} ({size} bytes, SHA-256 verified).\n");
    let script = match &installed {
        Some(_) if request.in_place => {
            if dir.join("update.sh").is_file() {
                "update.sh"
            } else {
                report.push_str("The package has no update.sh; running install.sh.\n");
                "install.sh"
            }
        }
        Some(old) => {
            let old_dir = version_dir(home, &old.version);
            report.push_str(&run_script(&old_dir, "uninstall.sh", request, ctx, false).await?);
            let _ = std::fs::remove_file(home.join("installed.json"));
            let _ = std::fs::remove_dir_all(&old_dir);
            report.push_str(&format!("Uninstalled {} {}.\n", request.name, old.version));
            "install.sh"
        }
        None => "install.sh",
    };
    match run_script(&dir, script, request, ctx, true).await {
        Ok(out) => report.push_str(&out),
        Err(why) => {
            // What failed to install is not kept: the next attempt unpacks afresh.
            let _ = std::fs::remove_dir_all(&dir);
            return Err(format!("{report}{why}"));
        }
    }
    if let Some(old) = installed.filter(|_| request.in_place) {
        let _ = std::fs::remove_dir_all(version_dir(home, &old.version));
    }
    write_installed(home, &Installed { version: version.clone(), arn, publisher })?;
    report.push_str(&format!("Installed {} {version}.\n", request.name));
    Ok(report)
}

/// Runs one of the package's scripts in its folder. A script that is not there is an error
/// when `required`, else skipped with a note.
async fn run_script(
    dir: &Path,
    script: &str,
    request: &Request,
    ctx: &Context<'_>,
    required: bool,
) -> Result<String, String> {
    let path = dir.join(script);
    if !path.is_file() {
        if required {
            return Err(format!("The package has no {script}."));
        }
        return Ok(format!("The package has no {script}; skipped.\n"));
    }
    let ran = run_program(
        ctx.running,
        ctx.invocation_id,
        "sh",
        &[std::ffi::OsStr::new(script)],
        dir,
        &request.arguments,
        ctx.timeout,
        dir,
    )
    .await?;
    let Ran { status, code, stdout, stderr } = ran;
    let mut out = stdout;
    if !stderr.is_empty() {
        out.push_str(&stderr);
    }
    if status != "Success" {
        return Err(format!("{out}{script} ended {status} (exit code {code})."));
    }
    Ok(out)
}

/// This node as manifests name platforms: the os-release ID (with SSM's names for the few
/// that differ), VERSION_ID, and the architecture.
fn this_platform() -> (String, String, String) {
    let id = crate::platform::os_release("ID").unwrap_or_else(|| std::env::consts::OS.to_owned());
    let id = match id.as_str() {
        "amzn" => "amazon",
        "rhel" => "redhat",
        "ol" => "oraclelinux",
        "sles" | "sled" => "suse",
        "opensuse-leap" => "opensuseleap",
        "macos" => "darwin",
        other => other,
    }
    .to_owned();
    let version = crate::platform::os_release("VERSION_ID").unwrap_or_default();
    let arch = match std::env::consts::ARCH {
        "aarch64" => "arm64",
        "x86" => "i386",
        other => other,
    }
    .to_owned();
    (id, version, arch)
}

/// The file a node installs: its platform's entry (else `_any`); within it its version
/// exactly, else the longest version key its version starts with (`"22"` for `22.04`),
/// else `_any`; within that its architecture, else `_any`.
fn select<'a>(packages: &'a Value, platform: &str, version: &str, arch: &str) -> Option<&'a str> {
    let packages = packages.as_object()?;
    let versions = packages.get(platform).or_else(|| packages.get("_any"))?.as_object()?;
    let by_prefix = versions
        .iter()
        .filter(|(key, _)| {
            key.as_str() != "_any" && version.starts_with(key.as_str()) && version[key.len()..].starts_with(['.', '-'])
        })
        .max_by_key(|(key, _)| key.len())
        .map(|(_, v)| v);
    let arches = versions.get(version).or(by_prefix).or_else(|| versions.get("_any"))?.as_object()?;
    arches.get(arch).or_else(|| arches.get("_any"))?.get("file")?.as_str()
}

/// Downloads `file` a chunk at a time into `downloads/<sha256>.part`, resuming from what is
/// there, then checks its size and SHA-256. The file's path, or why not (a file that does not
/// match is deleted: the next attempt starts over).
pub async fn download(home: &Path, ctx: &Context<'_>, file: &str, sha256: &str, size: u64) -> Result<PathBuf, String> {
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("The manifest's SHA-256 of {file} is not valid."));
    }
    let downloads = home.join("downloads");
    std::fs::create_dir_all(&downloads).map_err(|e| format!("Cannot create {}: {e}", downloads.display()))?;
    let path = downloads.join(format!("{sha256}.part"));
    let mut offset = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    if offset > size {
        let _ = std::fs::remove_file(&path);
        offset = 0;
    }
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| format!("Cannot write {}: {e}", path.display()))?;
    let mut failures = 0;
    while offset < size {
        let asked = ctx
            .calls
            .ask(
                |request_id| AgentMessage::GetFileChunk {
                    request_id,
                    command_id: ctx.command_id.to_owned(),
                    sha256: sha256.to_owned(),
                    offset,
                },
                CHUNK_WAIT,
            )
            .await;
        let (data, served) = match asked {
            Ok(ServerMessage::FileChunk { error: Some(e), .. }) => {
                return Err(format!("The server refused {file}: {}: {}", e.code, e.message));
            }
            Ok(ServerMessage::FileChunk { data, size: served, .. }) => (data, served),
            Ok(_) | Err(_) => {
                failures += 1;
                if failures >= CHUNK_TRIES {
                    return Err(format!("Downloading {file} failed {CHUNK_TRIES} times in a row at byte {offset}."));
                }
                continue;
            }
        };
        failures = 0;
        if served != size {
            let _ = std::fs::remove_file(&path);
            return Err(format!(
                "The server holds {served} bytes of {file}, not the manifest's {size}; nothing was installed."
            ));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data.as_bytes())
            .map_err(|_| format!("The server sent a chunk of {file} that is not base64."))?;
        if bytes.is_empty() {
            return Err(format!("The server sent no bytes of {file} at {offset}."));
        }
        out.write_all(&bytes).map_err(|e| format!("Cannot write {}: {e}", path.display()))?;
        offset += bytes.len() as u64;
    }
    out.sync_all().map_err(|e| format!("Cannot write {}: {e}", path.display()))?;
    drop(out);
    let hashed = path.clone();
    let actual = tokio::task::spawn_blocking(move || sha256_of(&hashed))
        .await
        .map_err(|_| "hashing failed".to_owned())?
        .map_err(|e| format!("Cannot read {}: {e}", path.display()))?;
    if actual != sha256.to_ascii_lowercase() {
        let _ = std::fs::remove_file(&path);
        return Err(format!(
            "{file} has SHA-256 {actual}, not the manifest's {sha256}: it was changed or damaged; nothing was installed."
        ));
    }
    Ok(path)
}

fn sha256_of(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Unpacks a zip into `dir` (replacing it): through a sibling folder renamed into place, so
/// a half-unpacked version is never taken for a whole one.
async fn unpack(archive: &Path, dir: &Path) -> Result<(), String> {
    let (archive, dir) = (archive.to_owned(), dir.to_owned());
    tokio::task::spawn_blocking(move || unpack_blocking(&archive, &dir))
        .await
        .map_err(|_| "unpacking failed".to_owned())?
}

fn unpack_blocking(archive: &Path, dir: &Path) -> Result<(), String> {
    let staging = dir.with_extension("unpacking");
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).map_err(|e| format!("Cannot create {}: {e}", staging.display()))?;
    let result = extract(archive, &staging);
    if let Err(why) = result {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(why);
    }
    let _ = std::fs::remove_dir_all(dir);
    std::fs::rename(&staging, dir).map_err(|e| format!("Cannot move the package into {}: {e}", dir.display()))
}

fn extract(archive: &Path, into: &Path) -> Result<(), String> {
    let limits = steward_protocol::archive::Limits { entries: MAX_ENTRIES, bytes: MAX_UNPACKED };
    steward_protocol::archive::extract(archive, into, "package file", limits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selection_falls_back_to_any() {
        let packages = json!({
            "ubuntu": {"22.04": {"x86_64": {"file": "u2204.zip"}}, "20": {"_any": {"file": "u20.zip"}},
                       "_any": {"arm64": {"file": "uarm.zip"}}},
            "_any": {"_any": {"_any": {"file": "any.zip"}}}
        });
        assert_eq!(select(&packages, "ubuntu", "22.04", "x86_64"), Some("u2204.zip"));
        assert_eq!(select(&packages, "ubuntu", "20.04", "x86_64"), Some("u20.zip"));
        assert_eq!(select(&packages, "ubuntu", "24.04", "arm64"), Some("uarm.zip"));
        assert_eq!(select(&packages, "ubuntu", "24.04", "x86_64"), None, "ubuntu's entry has no match");
        assert_eq!(select(&packages, "debian", "12", "x86_64"), Some("any.zip"));
        assert_eq!(select(&packages, "ubuntu", "200.1", "x86_64"), None, "20 is not a prefix of 200");
    }

    #[test]
    fn arguments_must_be_ssm_variables() {
        let base = json!({"action": "Install", "name": "tool"});
        let with = |args: Value| {
            let mut inputs = base.clone();
            inputs["additionalArguments"] = args;
            request(&inputs)
        };
        let ok = with(json!("{\"SSM_PORT\": \"8080\"}")).unwrap();
        assert_eq!(ok.arguments, vec![("SSM_PORT".to_owned(), "8080".to_owned())]);
        assert!(with(json!({"PATH": "/tmp"})).is_err());
        assert!(with(json!({"SSM_A B": "x"})).is_err());
        assert!(with(json!("not json")).is_err());
        assert!(request(&json!({"action": "Upgrade", "name": "tool"})).is_err());
        assert!(request(&json!({"action": "Install", "name": ".."})).is_err());
        assert_eq!(request(&json!({"action": "Install", "name": "a/../tool"})).unwrap().name, "tool");
    }

    #[test]
    fn archives_unpack_without_escaping() {
        let root = std::env::temp_dir().join(format!("steward-unpack-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&root).unwrap();
        let archive = root.join("p.zip");
        {
            let mut zip = zip::ZipWriter::new(std::fs::File::create(&archive).unwrap());
            let options = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
            zip.start_file("install.sh", options).unwrap();
            zip.write_all(b"echo hi\n").unwrap();
            zip.start_file("bin/tool", options).unwrap();
            zip.write_all(b"#!/bin/sh\n").unwrap();
            zip.finish().unwrap();
        }
        let dir = root.join("v-1");
        unpack_blocking(&archive, &dir).unwrap();
        assert_eq!(std::fs::read(dir.join("install.sh")).unwrap(), b"echo hi\n");
        assert!(dir.join("bin/tool").is_file());
        let evil = root.join("evil.zip");
        {
            let mut zip = zip::ZipWriter::new(std::fs::File::create(&evil).unwrap());
            zip.start_file("../../escaped", zip::write::SimpleFileOptions::default()).unwrap();
            zip.write_all(b"x").unwrap();
            zip.finish().unwrap();
        }
        assert!(unpack_blocking(&evil, &root.join("v-2")).is_err());
        assert!(!root.join("escaped").exists() && !root.parent().unwrap().join("escaped").exists());
        std::fs::remove_dir_all(root).unwrap();
    }
}

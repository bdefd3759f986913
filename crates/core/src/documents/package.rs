//! Distributor package manifests (documents of type Package, schema 2.0): what each platform,
//! platform version and architecture installs, and the files with their checksums.
//!
//! ```json
//! {"schemaVersion": "2.0", "version": "1.2.0", "publisher": "Example",
//!  "packages": {"ubuntu": {"22.04": {"x86_64": {"file": "tool-ubuntu.zip"}}},
//!               "_any": {"_any": {"_any": {"file": "tool-any.zip"}}}},
//!  "files": {"tool-ubuntu.zip": {"checksums": {"sha256": "…"}}, "tool-any.zip": {…}}}
//! ```

use serde_json::{Map, Value};

use crate::Fault;

/// Platform names a manifest may use (the keys SSM's agent matches os-release IDs against),
/// and `_any`.
pub const PLATFORMS: &[&str] = &[
    "_any",
    "almalinux",
    "amazon",
    "centos",
    "darwin",
    "debian",
    "opensuse",
    "opensuseleap",
    "oraclelinux",
    "raspbian",
    "redhat",
    "rocky",
    "suse",
    "ubuntu",
    "windows",
];

/// Architectures a manifest may use, and `_any`.
pub const ARCHITECTURES: &[&str] = &["_any", "x86_64", "386", "i386", "arm64"];

/// The longest package version string (SSM's VersionName limit).
const MAX_VERSION: usize = 128;

/// One file of a package, as its manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageFile {
    /// Its name (an attachment name: 3 to 128 of `a-zA-Z0-9_-.`).
    pub name: String,
    /// Its SHA-256, lowercase hex.
    pub sha256: String,
}

/// What a valid manifest says.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// The package's version (`version`).
    pub version: String,
    /// `publisher`, if given.
    pub publisher: Option<String>,
    /// Every file, in name order.
    pub files: Vec<PackageFile>,
}

fn bad(message: impl Into<String>) -> Fault {
    Fault::InvalidDocumentContent(message.into())
}

/// Whether `name` may name an attachment.
pub fn valid_file_name(name: &str) -> bool {
    (3..=128).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        && name != ".."
}

fn object<'a>(value: &'a Value, what: &str) -> Result<&'a Map<String, Value>, Fault> {
    value.as_object().ok_or_else(|| bad(format!("{what} must be an object.")))
}

/// A `files` object (file name → `{"checksums": {"sha256": …}}`), as package manifests and
/// runbooks (script attachments) list their files; in name order.
pub fn parse_files(files_value: &Value) -> Result<Vec<PackageFile>, Fault> {
    let mut files = Vec::new();
    for (name, entry) in object(files_value, "files")? {
        if !valid_file_name(name) {
            return Err(bad(format!(
                "The file name {name:?} is not valid: 3 to 128 letters, digits and _ - . characters."
            )));
        }
        let sha256 = object(entry, &format!("files.{name}"))?
            .get("checksums")
            .and_then(Value::as_object)
            .and_then(|c| c.get("sha256"))
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("The file {name} has no checksums.sha256.")))?;
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad(format!("The checksums.sha256 of {name} is not a SHA-256 (64 hex digits).")));
        }
        files.push(PackageFile { name: name.clone(), sha256: sha256.to_ascii_lowercase() });
    }
    Ok(files)
}

/// Checks a manifest: a version, platforms and architectures from the known sets, every
/// package naming a file the `files` object lists, every file with a SHA-256.
pub fn parse(doc: &Map<String, Value>) -> Result<Manifest, Fault> {
    let version = match doc.get("version") {
        Some(Value::String(v)) if !v.trim().is_empty() => v.clone(),
        _ => return Err(bad("A package manifest needs a version string.")),
    };
    if version.len() > MAX_VERSION || !version.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-+~".contains(&b)) {
        return Err(bad(format!(
            "The package version {version:?} is not valid: at most {MAX_VERSION} letters, digits and . _ - + ~."
        )));
    }
    let publisher = match doc.get("publisher") {
        None => None,
        Some(Value::String(p)) => Some(p.clone()),
        Some(_) => return Err(bad("publisher must be a string.")),
    };
    let Some(files_value) = doc.get("files") else {
        return Err(bad("A package manifest needs a files object (file name → checksums)."));
    };
    let files = parse_files(files_value)?;
    let Some(packages_value) = doc.get("packages") else {
        return Err(bad("A package manifest needs a packages object (platform → version → architecture → file)."));
    };
    let packages = object(packages_value, "packages")?;
    if packages.is_empty() {
        return Err(bad("The packages object names no platform."));
    }
    for (platform, versions) in packages {
        if !PLATFORMS.contains(&platform.as_str()) {
            return Err(bad(format!("The platform {platform:?} is not known. Use one of: {}.", PLATFORMS.join(", "))));
        }
        for (platform_version, arches) in object(versions, &format!("packages.{platform}"))? {
            if platform_version.is_empty() || platform_version.len() > 32 {
                return Err(bad(format!("packages.{platform} has an empty or overlong version key.")));
            }
            for (arch, target) in object(arches, &format!("packages.{platform}.{platform_version}"))? {
                let path = format!("packages.{platform}.{platform_version}.{arch}");
                if !ARCHITECTURES.contains(&arch.as_str()) {
                    return Err(bad(format!(
                        "The architecture {arch:?} in {path} is not known. Use one of: {}.",
                        ARCHITECTURES.join(", ")
                    )));
                }
                let file = object(target, &path)?
                    .get("file")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad(format!("{path} names no file.")))?;
                if !files.iter().any(|f| f.name == file) {
                    return Err(bad(format!("{path} names the file {file}, which the files object does not list.")));
                }
            }
        }
    }
    Ok(Manifest { version, publisher, files })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SHA: &str = "0000000000000000000000000000000000000000000000000000000000000000";

    fn manifest(packages: Value, files: Value) -> Value {
        json!({"schemaVersion": "2.0", "version": "1.0.1", "packages": packages, "files": files})
    }

    fn message(r: Result<Manifest, Fault>) -> String {
        match r {
            Err(Fault::InvalidDocumentContent(m)) => m,
            other => panic!("expected a content fault, got {other:?}"),
        }
    }

    #[test]
    fn a_valid_manifest_lists_its_files() {
        let doc = manifest(
            json!({"ubuntu": {"22.04": {"x86_64": {"file": "a.zip"}}}, "_any": {"_any": {"_any": {"file": "b.zip"}}}}),
            json!({"a.zip": {"checksums": {"sha256": SHA}}, "b.zip": {"checksums": {"sha256": SHA.to_uppercase()}}}),
        );
        let m = parse(doc.as_object().unwrap()).unwrap();
        assert_eq!(m.version, "1.0.1");
        assert_eq!(m.files.len(), 2);
        assert_eq!(m.files[1].sha256, SHA, "lowercased");
    }

    #[test]
    fn bad_manifests_say_what_is_wrong() {
        let file = json!({"a.zip": {"checksums": {"sha256": SHA}}});
        let cases = [
            (manifest(json!({"beos": {"_any": {"_any": {"file": "a.zip"}}}}), file.clone()), "platform \"beos\""),
            (
                manifest(json!({"ubuntu": {"_any": {"sparc": {"file": "a.zip"}}}}), file.clone()),
                "architecture \"sparc\"",
            ),
            (manifest(json!({"ubuntu": {"_any": {"_any": {"file": "c.zip"}}}}), file.clone()), "does not list"),
            (manifest(json!({"ubuntu": {"_any": {"_any": {}}}}), file.clone()), "names no file"),
            (manifest(json!({}), file.clone()), "no platform"),
            (
                manifest(
                    json!({"ubuntu": {"_any": {"_any": {"file": "a.zip"}}}}),
                    json!({"a.zip": {"checksums": {"sha256": "ab"}}}),
                ),
                "not a SHA-256",
            ),
            (manifest(json!({"ubuntu": {"_any": {"_any": {"file": "a.zip"}}}}), json!({"a.zip": {}})), "no checksums"),
            (manifest(json!({"_any": {}}), json!({"../x": {"checksums": {"sha256": SHA}}})), "file name"),
        ];
        for (doc, expected) in cases {
            let got = message(parse(doc.as_object().unwrap()));
            assert!(got.contains(expected), "{got} should mention {expected}");
        }
        let no_version = json!({"schemaVersion": "2.0", "packages": {}, "files": {}});
        assert!(message(parse(no_version.as_object().unwrap())).contains("version"));
        let bad_version = json!({"schemaVersion": "2.0", "version": "1 2", "packages": {}, "files": {}});
        assert!(message(parse(bad_version.as_object().unwrap())).contains("not valid"));
    }
}

//! `steward package create`: from folders to a published package version in one command.
//! Each folder is zipped (entries sorted, times fixed, so the same folder gives the same
//! file and the same SHA-256), the manifest written, the files uploaded through
//! `/distributor/v1/uploads` (signed, so authorised as the caller's
//! `ssm:CreateDocument`/`ssm:UpdateDocument`), then the document created — or, when it
//! exists, given a new version.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use steward_client::api::{call, upload, ApiFailure};
use steward_client::config::ClientConfig;

use crate::config::{PackageAction, PackageArgs};

/// Runs `steward package …`.
pub async fn run(args: PackageArgs) -> anyhow::Result<()> {
    let client = args.client.resolve()?;
    match args.action {
        PackageAction::Create { name, version, platforms, publisher, default } => {
            let summary = create(&client, &name, &version, &platforms, publisher.as_deref(), default).await?;
            println!("{}", serde_json::to_string_pretty(&summary)?);
            Ok(())
        }
    }
}

/// One `--platform PLATFORM/VERSION/ARCH=DIR`.
struct Target {
    platform: String,
    version: String,
    arch: String,
    dir: PathBuf,
}

fn parse_target(text: &str) -> anyhow::Result<Target> {
    let (key, dir) = text.split_once('=').context("--platform takes PLATFORM/VERSION/ARCH=DIR")?;
    let parts: Vec<&str> = key.split('/').collect();
    let [platform, version, arch] = parts.as_slice() else {
        anyhow::bail!("--platform {text}: the key must be PLATFORM/VERSION/ARCH, e.g. ubuntu/22.04/x86_64");
    };
    let dir = PathBuf::from(dir);
    anyhow::ensure!(dir.is_dir(), "--platform {text}: {} is not a folder", dir.display());
    anyhow::ensure!(
        dir.join("install.sh").is_file(),
        "--platform {text}: {} has no install.sh (and should have an uninstall.sh)",
        dir.display()
    );
    Ok(Target { platform: platform.to_string(), version: version.to_string(), arch: arch.to_string(), dir })
}

async fn create(
    client: &ClientConfig,
    name: &str,
    version: &str,
    platforms: &[String],
    publisher: Option<&str>,
    make_default: bool,
) -> anyhow::Result<Value> {
    let targets = platforms.iter().map(|p| parse_target(p)).collect::<anyhow::Result<Vec<_>>>()?;
    // One file per folder, however many platforms install it.
    let mut zips: BTreeMap<PathBuf, (String, Vec<u8>)> = BTreeMap::new();
    let mut packages: BTreeMap<String, BTreeMap<String, BTreeMap<String, Value>>> = BTreeMap::new();
    for t in &targets {
        if !zips.contains_key(&t.dir) {
            let label: String = format!("{}-{}-{}", t.platform, t.version, t.arch)
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' })
                .collect();
            let file = format!("{name}-{label}.zip");
            let bytes = zip_folder(&t.dir).with_context(|| format!("cannot zip {}", t.dir.display()))?;
            zips.insert(t.dir.clone(), (file, bytes));
        }
        let file = &zips[&t.dir].0;
        packages
            .entry(t.platform.clone())
            .or_default()
            .entry(t.version.clone())
            .or_default()
            .insert(t.arch.clone(), json!({"file": file}));
    }
    let mut files = serde_json::Map::new();
    for (file, bytes) in zips.values() {
        files.insert(file.clone(), json!({"checksums": {"sha256": hex::encode(Sha256::digest(bytes))}}));
    }
    let mut manifest = json!({"schemaVersion": "2.0", "version": version, "packages": packages, "files": files});
    if let Some(publisher) = publisher {
        manifest["publisher"] = json!(publisher);
    }
    let mut uploaded = Vec::new();
    for (file, bytes) in zips.into_values() {
        let size = bytes.len();
        let answer = upload(client, &format!("/distributor/v1/uploads/{name}/{file}"), bytes)
            .await
            .with_context(|| format!("uploading {file}"))?;
        uploaded.push(json!({"Name": file, "Size": size, "Hash": answer["Hash"]}));
    }
    let content = serde_json::to_string_pretty(&manifest)?;
    let created = call(
        client,
        "CreateDocument",
        &json!({"Name": name, "Content": content, "DocumentType": "Package", "DocumentFormat": "JSON",
                "VersionName": version}),
    )
    .await;
    let description = match created {
        Ok(answer) => answer["DocumentDescription"].clone(),
        Err(e) if e.downcast_ref::<ApiFailure>().is_some_and(|f| f.code == "DocumentAlreadyExists") => {
            let answer = call(
                client,
                "UpdateDocument",
                &json!({"Name": name, "Content": content, "DocumentVersion": "$LATEST", "DocumentFormat": "JSON",
                        "VersionName": version}),
            )
            .await?;
            let description = answer["DocumentDescription"].clone();
            if make_default {
                let number = description["DocumentVersion"].clone();
                call(client, "UpdateDocumentDefaultVersion", &json!({"Name": name, "DocumentVersion": number})).await?;
            }
            description
        }
        Err(e) => return Err(e),
    };
    Ok(json!({
        "Name": name,
        "VersionName": version,
        "DocumentVersion": description["DocumentVersion"],
        "DefaultVersion": if make_default { description["DocumentVersion"].clone() } else { description["DefaultVersion"].clone() },
        "Files": uploaded,
    }))
}

/// The folder as a zip: files in sorted order with their permissions, times fixed.
fn zip_folder(dir: &Path) -> anyhow::Result<Vec<u8>> {
    use std::os::unix::fs::PermissionsExt;
    let mut entries = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() {
                entries.push(entry.path());
            }
            // Symbolic links are left out: the agent refuses them.
        }
    }
    entries.sort();
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for path in entries {
        let relative = path.strip_prefix(dir)?.to_string_lossy().into_owned();
        let mode = std::fs::metadata(&path)?.permissions().mode() & 0o777;
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(mode)
            .large_file(std::fs::metadata(&path)?.len() >= u32::MAX as u64)
            .last_modified_time(zip::DateTime::default());
        zip.start_file(relative, options)?;
        std::io::copy(&mut std::fs::File::open(&path)?, &mut zip)?;
    }
    let bytes = zip.finish()?.into_inner();
    Ok(bytes)
}

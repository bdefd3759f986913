//! The files of Package documents (Distributor). Each file a manifest lists is kept once per
//! account in the blob store, by its SHA-256 (`steward-packages/files/<account>/<sha256>`),
//! so versions that share a file share its bytes. A file comes from, in order: the
//! account's own store (an earlier version, or an upload through
//! `/distributor/v1/uploads`), an `AttachmentReference` to another document's file, an
//! `S3FileUrl`, or a `SourceUrl` prefix the file's name is appended to. Every byte fetched is
//! checked against the manifest's checksum before anything is stored; a missing file or a
//! mismatch refuses the whole version.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use steward_api::ApiError;
use steward_core::documents::content::{self, Format};
use steward_core::documents::package::{self, PackageFile};

use super::{find, load_version, select, Found};
use crate::base::{store_fault, Ctx};

/// The blob-store bucket of package files (the server's own: callers cannot name it).
pub const BUCKET: &str = "steward-packages";
/// Most attachment sources one request may give (SSM's limit).
const MAX_SOURCES: usize = 20;
/// Most files one package version may have.
pub const MAX_FILES: usize = 20;

/// One file of a stored package version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// Its name in the manifest.
    pub name: String,
    /// SHA-256, lowercase hex.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
}

/// The blob key of an account's file with `sha256`.
pub fn file_key(account: &str, sha256: &str) -> String {
    format!("files/{account}/{sha256}")
}

fn refused(message: impl Into<String>) -> ApiError {
    ApiError::new("InvalidDocumentContent", message)
}

/// Where the request says files are.
enum Source {
    /// `SourceUrl`: a prefix each file's name is appended to.
    Prefix(String),
    /// `S3FileUrl`: one file's URL; it is the manifest's file of the same name (or `Name`).
    File { url: String, name: String },
    /// `AttachmentReference`: `DOC/VERSION/FILE` (or the document's ARN in place of DOC).
    Reference { document: String, version: String, file: String, name: String },
}

fn parse_sources(attachments: Option<&Value>) -> Result<Vec<Source>, ApiError> {
    let Some(list) = attachments.and_then(Value::as_array) else { return Ok(Vec::new()) };
    if list.len() > MAX_SOURCES {
        return Err(refused(format!("At most {MAX_SOURCES} attachment sources may be given.")));
    }
    let mut sources = Vec::new();
    for entry in list {
        let key = entry["Key"].as_str().unwrap_or_default();
        let value = entry["Values"].get(0).and_then(Value::as_str).unwrap_or_default().trim().to_owned();
        let name = entry["Name"].as_str().map(str::to_owned);
        let source = match key {
            "SourceUrl" => Source::Prefix(check_url(&value)?.trim_end_matches('/').to_owned()),
            "S3FileUrl" => {
                let url = check_url(&value)?.to_owned();
                let last = url.rsplit('/').next().unwrap_or_default().to_owned();
                Source::File { name: name.unwrap_or(last), url }
            }
            "AttachmentReference" => {
                let (document, rest) = match value.strip_prefix("arn:") {
                    Some(_) => {
                        let at = value.find(":document/").map(|i| i + ":document/".len()).unwrap_or(0);
                        let slash = value[at..].find('/').map(|i| at + i).unwrap_or(value.len());
                        (value[..slash].to_owned(), value.get(slash + 1..).unwrap_or_default())
                    }
                    None => match value.split_once('/') {
                        Some((doc, rest)) => (doc.to_owned(), rest),
                        None => (value.clone(), ""),
                    },
                };
                let Some((version, file)) = rest.split_once('/') else {
                    return Err(refused(format!(
                        "The AttachmentReference {value} is not DOCUMENT/VERSION/FILE (e.g. MyPackage/3/tool.zip)."
                    )));
                };
                Source::Reference {
                    document,
                    version: version.to_owned(),
                    name: name.unwrap_or_else(|| file.to_owned()),
                    file: file.to_owned(),
                }
            }
            other => return Err(refused(format!("{other} is not an attachment source key."))),
        };
        sources.push(source);
    }
    Ok(sources)
}

/// The URLs the server fetches from: `https://`, and `http://` to a loopback address only
/// (it carries no protection); not yet `s3://`, which says so.
fn check_url(url: &str) -> Result<&str, ApiError> {
    if url.starts_with("http://") || url.starts_with("https://") {
        return match crate::base::outbound_http::url_refusal(url) {
            None => Ok(url),
            Some(why) => Err(refused(why)),
        };
    }
    if url.starts_with("s3://") {
        return Err(refused(format!(
            "{url}: this server has no S3-compatible store configured; give an https:// SourceUrl, or upload \
             the files with `steward package create` (PUT /distributor/v1/uploads)."
        )));
    }
    Err(refused(format!("{url} is not a URL the server can fetch attachments from.")))
}

/// The files of a Package version whose content is `text`: each manifest file found (in
/// the account's store or at a source), checked and stored. Nothing is stored for a version
/// that is refused, but files already fetched stay, harmless, under their hashes.
pub async fn ingest(
    ctx: &Ctx,
    text: &str,
    format: Format,
    attachments: Option<&Value>,
) -> Result<Vec<Attachment>, ApiError> {
    let tree = content::parse(text, format).map_err(crate::base::fault)?;
    let object = tree.as_object().ok_or_else(|| refused("The manifest must be an object."))?;
    let manifest = package::parse(object).map_err(crate::base::fault)?;
    ingest_files(ctx, &manifest.files, attachments).await
}

/// The files a runbook lists (`files`, for its scripts), none when it lists none.
pub fn runbook_files(text: &str, format: Format) -> Result<Vec<PackageFile>, ApiError> {
    let tree = content::parse(text, format).map_err(crate::base::fault)?;
    match tree.get("files") {
        Some(listed) => package::parse_files(listed).map_err(crate::base::fault),
        None => Ok(Vec::new()),
    }
}

/// Each of `files` found (in the account's store or at a source), checked and stored.
pub async fn ingest_files(
    ctx: &Ctx,
    files: &[PackageFile],
    attachments: Option<&Value>,
) -> Result<Vec<Attachment>, ApiError> {
    if files.len() > MAX_FILES {
        return Err(refused(format!("A document may have at most {MAX_FILES} files.")));
    }
    let sources = parse_sources(attachments)?;
    let account = ctx.principal.account.clone();
    let mut stored = Vec::new();
    for file in files {
        let size = match ctx.env.blobs.size(BUCKET, &file_key(&account, &file.sha256)).await.map_err(store_fault)? {
            Some(size) => size,
            None => fetch(ctx, file, &sources).await?,
        };
        stored.push(Attachment { name: file.name.clone(), sha256: file.sha256.clone(), size });
    }
    Ok(stored)
}

/// Finds `file` at the sources and stores it; its size.
async fn fetch(ctx: &Ctx, file: &PackageFile, sources: &[Source]) -> Result<u64, ApiError> {
    for source in sources {
        let url = match source {
            Source::Prefix(prefix) => format!("{prefix}/{}", file.name),
            Source::File { url, name } if *name == file.name => url.clone(),
            Source::Reference { document, version, file: theirs, name } if *name == file.name => {
                return copy_reference(ctx, document, version, theirs, file).await;
            }
            _ => continue,
        };
        let scratch = scratch_path();
        let (env, limit) = (&ctx.env, ctx.env.max_attachment_bytes);
        let got = crate::base::download::to_file(&env.events, &env.outbound_tls, &url, &scratch, limit)
            .await
            .map_err(|why| refused(format!("The file {} could not be fetched: {why}.", file.name)))?;
        if got.sha256 != file.sha256 {
            let _ = tokio::fs::remove_file(&scratch).await;
            return Err(refused(format!(
                "The file {} at {url} has SHA-256 {}, not the manifest's {}.",
                file.name, got.sha256, file.sha256
            )));
        }
        let key = file_key(&ctx.principal.account, &file.sha256);
        ctx.env.blobs.put_file(BUCKET, &key, &scratch).await.map_err(store_fault)?;
        return Ok(got.size);
    }
    Err(refused(format!(
        "The file {} named in the manifest was not found: upload it first, or give a SourceUrl, S3FileUrl or \
         AttachmentReference that holds it.",
        file.name
    )))
}

/// An `AttachmentReference`: the named document version's file, whose hash must be the
/// manifest's; copied into this account when another account shared it.
async fn copy_reference(
    ctx: &Ctx,
    document: &str,
    version: &str,
    theirs: &str,
    file: &PackageFile,
) -> Result<u64, ApiError> {
    let reference = format!("{document}/{version}/{theirs}");
    let Found { head, .. } = find(ctx, document)
        .await
        .map_err(|_| refused(format!("The AttachmentReference {reference} names no document.")))?;
    let number = select(&head, Some(version), None)
        .map_err(|_| refused(format!("The AttachmentReference {reference} names no version of {document}.")))?;
    let v = load_version(ctx, &head, number).await?;
    let Some(found) = v.attachments.iter().find(|a| a.name == theirs) else {
        return Err(refused(format!("The AttachmentReference {reference} names no file of that version.")));
    };
    if found.sha256 != file.sha256 {
        return Err(refused(format!(
            "The file {reference} has SHA-256 {}, not the manifest's {} for {}.",
            found.sha256, file.sha256, file.name
        )));
    }
    let (from, to) = (file_key(&head.owner, &found.sha256), file_key(&ctx.principal.account, &file.sha256));
    if from != to {
        copy_blob(ctx, &from, &to).await?;
    }
    Ok(found.size)
}

/// Copies a package file between accounts' keys, a chunk at a time.
async fn copy_blob(ctx: &Ctx, from: &str, to: &str) -> Result<(), ApiError> {
    use tokio::io::AsyncWriteExt;
    let scratch = scratch_path();
    let mut out = tokio::fs::File::create(&scratch).await.map_err(|_| ApiError::internal())?;
    let mut offset = 0u64;
    loop {
        let Some((bytes, size)) = ctx.env.blobs.read_range(BUCKET, from, offset, CHUNK).await.map_err(store_fault)?
        else {
            let _ = tokio::fs::remove_file(&scratch).await;
            return Err(refused("The referenced file is no longer stored."));
        };
        out.write_all(&bytes).await.map_err(|_| ApiError::internal())?;
        offset += bytes.len() as u64;
        if offset >= size || bytes.is_empty() {
            break;
        }
    }
    out.sync_all().await.map_err(|_| ApiError::internal())?;
    ctx.env.blobs.put_file(BUCKET, to, &scratch).await.map_err(store_fault)
}

/// The size of the chunks package files are read in (copies, and what nodes download).
pub const CHUNK: usize = 1 << 20;

/// A fresh temporary file's path.
pub fn scratch_path() -> PathBuf {
    std::env::temp_dir().join(format!("steward-attachment-{}", uuid::Uuid::new_v4()))
}

//! Documents: versioned runbooks with typed parameters, shared between accounts, plus the
//! built-in catalogue every account sees.
//!
//! Records: the head of each document (versions, default, tags, sharing) at
//! `doc/<account>/<region>/<name>`, each version (content exactly as submitted, and what
//! the engine derived from it) at `docv/<account>/<region>/<name>#<version>`, and share
//! indexes `docshare/<region>/<consumer>/<owner>/<name>` and `docpublic/<region>/<owner>/<name>`
//! so a consumer can list what others share with it. Built-in documents live in the binary
//! ([`builtin`]), owner `Amazon`.

mod api;
mod attachments;
mod builtin;
mod list;
mod sharing;

pub use api::{
    create_document, delete_document, describe_document, get_document, update_document, update_document_default_version,
};
pub use attachments::{file_key, scratch_path, Attachment, BUCKET as PACKAGE_BUCKET, CHUNK as PACKAGE_CHUNK};
pub use list::{list_document_versions, list_documents};
pub use sharing::{describe_document_permission, modify_document_permission};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use steward_api::ssm::documents::{AttachmentInformation, DocumentDescription, DocumentParameter, DocumentRequires};
use steward_api::ssm::Tag;
use steward_api::ApiError;
use steward_core::documents::content::{self, Format};
use steward_core::documents::schema;

use crate::base::Ctx;
use crate::base::{decode, fault, store_fault};

/// Largest content, in bytes.
pub const MAX_CONTENT_BYTES: usize = 64 * 1024;
/// Most documents an account may own per region.
pub const MAX_DOCUMENTS: usize = 500;
/// Most versions of one document.
pub const MAX_VERSIONS: usize = 1000;
/// The owner name of built-in documents.
pub const AMAZON: &str = "Amazon";

/// One version, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DocVersion {
    /// Version number.
    pub version: i64,
    /// Content exactly as submitted.
    pub content: String,
    /// JSON, YAML or TEXT.
    pub format: String,
    /// SHA-256 of the content, hex.
    pub hash: String,
    /// Schema version from the content.
    pub schema_version: String,
    /// Version name.
    pub version_name: Option<String>,
    /// Display name.
    pub display_name: Option<String>,
    /// Target type.
    pub target_type: Option<String>,
    /// Requirements.
    pub requires: Option<Vec<DocumentRequires>>,
    /// Epoch ms.
    pub created: i64,
    /// Description from the content.
    pub description: Option<String>,
    /// (name, type, description, default) from the content.
    pub parameters: Vec<(String, String, Option<String>, Option<String>)>,
    /// Platforms.
    pub platform_types: Vec<String>,
    /// The files of a Package version.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
}

/// A version's place in the head.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VersionEntry {
    /// Number.
    pub version: i64,
    /// Name.
    pub name: Option<String>,
    /// Content hash.
    pub hash: String,
}

/// The head of a document.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DocHead {
    /// Name.
    pub name: String,
    /// Owning account, or `Amazon`.
    pub owner: String,
    /// Command, Automation, …
    pub doc_type: String,
    /// Epoch ms of version 1.
    pub created: i64,
    /// Kept versions, ascending.
    pub versions: Vec<VersionEntry>,
    /// The default version.
    pub default_version: i64,
    /// The number the next version gets (never reused).
    pub next_version: i64,
    /// Tags.
    pub tags: Vec<(String, String)>,
    /// Accounts it is shared with (`all` for public).
    pub shared_with: Vec<String>,
    /// The version shared (`$DEFAULT`, `$LATEST`, `$ALL`).
    pub shared_version: String,
}

impl DocHead {
    /// The latest version number.
    pub fn latest(&self) -> i64 {
        self.versions.last().map(|v| v.version).unwrap_or(0)
    }
}

/// A document found for a caller, with where it came from.
pub struct Found {
    /// The head.
    pub head: DocHead,
    /// Whether the caller owns it.
    pub owned: bool,
}

/// Store key of a head.
pub fn head_key(account: &str, region: &str, name: &str) -> String {
    format!("doc/{account}/{region}/{name}")
}

/// Store key of a version.
pub fn version_key(account: &str, region: &str, name: &str, version: i64) -> String {
    format!("docv/{account}/{region}/{name}#{version:010}")
}

/// The ARN of a document; built-in documents have no account.
pub fn arn(region: &str, owner: &str, name: &str) -> String {
    let account = if owner == AMAZON { "" } else { owner };
    format!("arn:aws:ssm:{region}:{account}:document/{name}")
}

/// `InvalidDocument` for a name the caller cannot see.
pub fn no_such_document(name: &str) -> ApiError {
    ApiError::new("InvalidDocument", format!("Document with name {name} does not exist."))
}

/// SHA-256 of content, as SSM reports it.
pub fn hash(content: &str) -> String {
    hex::encode(Sha256::digest(content.as_bytes()))
}

/// Parses and checks content; returns the stored version (minus number and names) and type.
pub fn analyze(text: &str, format: Format, doc_type: &str, now: i64) -> Result<DocVersion, ApiError> {
    if text.len() > MAX_CONTENT_BYTES {
        return Err(ApiError::new(
            "MaxDocumentSizeExceeded",
            format!("The content is {} bytes; a document may have at most {MAX_CONTENT_BYTES}.", text.len()),
        ));
    }
    let tree = content::parse(text, format).map_err(fault)?;
    let analysis = schema::analyze(doc_type, &tree).map_err(fault)?;
    Ok(DocVersion {
        version: 0,
        content: text.to_owned(),
        format: format.as_str().to_owned(),
        hash: hash(text),
        schema_version: analysis.schema_version,
        version_name: None,
        display_name: None,
        target_type: None,
        requires: None,
        created: now,
        description: analysis.description,
        parameters: analysis
            .parameters
            .iter()
            .map(|p| (p.name.clone(), p.kind.as_str().to_owned(), p.description.clone(), p.default_text()))
            .collect(),
        platform_types: analysis.platform_types.iter().map(|p| p.to_string()).collect(),
        attachments: Vec::new(),
    })
}

/// Reads a head of `account`.
pub async fn load_head(ctx: &Ctx, account: &str, name: &str) -> Result<Option<(DocHead, i64)>, ApiError> {
    let key = head_key(account, &ctx.principal.region, name);
    let item = ctx.env.store.get(&key).await.map_err(store_fault)?;
    item.map(|i| Ok((decode::<DocHead>(&key, &i.value)?, i.revision))).transpose()
}

/// Every document the caller's account owns in its region (shared and built-in ones are
/// not the account's resources).
pub async fn owned_heads(ctx: &Ctx) -> Result<Vec<DocHead>, ApiError> {
    let p = &ctx.principal;
    crate::base::read_all(ctx.env.store.as_ref(), &format!("doc/{}/{}/", p.account, p.region)).await
}

/// Reads a version of a found document.
pub async fn load_version(ctx: &Ctx, head: &DocHead, version: i64) -> Result<DocVersion, ApiError> {
    if head.owner == AMAZON {
        return builtin::version(&head.name).ok_or_else(|| no_such_document(&head.name));
    }
    let key = version_key(&head.owner, &ctx.principal.region, &head.name, version);
    let item = ctx.env.store.get(&key).await.map_err(store_fault)?.ok_or_else(ApiError::internal)?;
    decode(&key, &item.value)
}

/// Finds a document by name or ARN as the caller may see it: its own, a built-in, or one
/// shared with it (by ARN).
pub async fn find(ctx: &Ctx, name_or_arn: &str) -> Result<Found, ApiError> {
    let p = &ctx.principal;
    if let Some(rest) = name_or_arn.strip_prefix("arn:") {
        let parts: Vec<&str> = rest.splitn(5, ':').collect();
        let [partition, service, region, account, resource] = parts.as_slice() else {
            return Err(no_such_document(name_or_arn));
        };
        let Some(name) = resource.strip_prefix("document/") else { return Err(no_such_document(name_or_arn)) };
        if *partition != "aws" || *service != "ssm" || *region != p.region {
            return Err(no_such_document(name_or_arn));
        }
        if account.is_empty() {
            return builtin::head(name)
                .map(|head| Found { head, owned: false })
                .ok_or_else(|| no_such_document(name_or_arn));
        }
        let Some((head, _)) = load_head(ctx, account, name).await? else { return Err(no_such_document(name_or_arn)) };
        let owned = *account == p.account;
        if !owned && !head.shared_with.iter().any(|a| a == &p.account || a == "all") {
            return Err(no_such_document(name_or_arn));
        }
        return Ok(Found { head, owned });
    }
    if let Some((head, _)) = load_head(ctx, &p.account, name_or_arn).await? {
        return Ok(Found { head, owned: true });
    }
    builtin::head(name_or_arn).map(|head| Found { head, owned: false }).ok_or_else(|| no_such_document(name_or_arn))
}

/// Picks the version a request names: a number, `$LATEST`, `$DEFAULT`, a version name, or
/// (with neither) the default.
pub fn select(head: &DocHead, version: Option<&str>, version_name: Option<&str>) -> Result<i64, ApiError> {
    let invalid = || ApiError::new("InvalidDocumentVersion", "The document version is not valid or does not exist.");
    let by_number = match version {
        None => None,
        Some("$LATEST") => Some(head.latest()),
        Some("$DEFAULT") => Some(head.default_version),
        Some(n) => {
            Some(n.parse::<i64>().ok().filter(|n| head.versions.iter().any(|v| v.version == *n)).ok_or_else(invalid)?)
        }
    };
    let by_name = match version_name {
        None => None,
        Some(name) => Some(
            head.versions.iter().find(|v| v.name.as_deref() == Some(name)).map(|v| v.version).ok_or_else(invalid)?,
        ),
    };
    match (by_number, by_name) {
        (Some(a), Some(b)) if a != b => Err(invalid()),
        (Some(a), _) | (None, Some(a)) => Ok(a),
        (None, None) => Ok(head.default_version),
    }
}

/// The description of one version.
pub fn describe(ctx: &Ctx, head: &DocHead, v: &DocVersion, status: &str) -> DocumentDescription {
    let _ = ctx;
    DocumentDescription {
        hash: v.hash.clone(),
        hash_type: "Sha256".into(),
        name: head.name.clone(),
        display_name: v.display_name.clone(),
        version_name: v.version_name.clone(),
        owner: head.owner.clone(),
        created_date: v.created as f64 / 1000.0,
        status: status.into(),
        document_version: v.version.to_string(),
        description: v.description.clone(),
        parameters: v
            .parameters
            .iter()
            .map(|(name, kind, description, default)| DocumentParameter {
                name: name.clone(),
                kind: kind.clone(),
                description: description.clone(),
                default_value: default.clone(),
            })
            .collect(),
        platform_types: v.platform_types.clone(),
        document_type: head.doc_type.clone(),
        schema_version: v.schema_version.clone(),
        latest_version: head.latest().to_string(),
        default_version: head.default_version.to_string(),
        document_format: v.format.clone(),
        target_type: v.target_type.clone(),
        tags: head.tags.iter().map(|(key, value)| Tag { key: key.clone(), value: value.clone() }).collect(),
        requires: v.requires.clone(),
        attachments_information: (!v.attachments.is_empty())
            .then(|| v.attachments.iter().map(|a| AttachmentInformation { name: a.name.clone() }).collect()),
    }
}

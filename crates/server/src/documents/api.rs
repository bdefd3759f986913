//! CreateDocument, GetDocument, DescribeDocument, UpdateDocument,
//! UpdateDocumentDefaultVersion, DeleteDocument.

use steward_api::ssm::documents::*;
use steward_api::ssm::Empty;
use steward_api::ApiError;
use steward_core::documents::content::{self, Format};
use steward_store::{prefix_end, Expect, Op, Start, StoreError};

use super::*;
use crate::base::encode;

const RESERVED_PREFIXES: &[&str] = &["aws-", "amazon", "amzn", "awsec2", "awsconfigremediation", "awssupport"];

fn check_name(name: &str) -> Result<(), ApiError> {
    let lower = name.to_ascii_lowercase();
    if RESERVED_PREFIXES.iter().any(|p| lower.starts_with(p)) {
        return Err(ApiError::validation(format!("Invalid document name {name}")));
    }
    Ok(())
}

fn format_of(requested: Option<&str>) -> Result<Format, ApiError> {
    Format::parse(requested.unwrap_or("JSON"))
        .ok_or_else(|| ApiError::validation("DocumentFormat must be JSON, YAML or TEXT."))
}

/// The files of a new version: a Package's from its manifest and sources, a runbook's from
/// its `files` (script attachments); other types take none.
async fn version_files(
    ctx: &Ctx,
    doc_type: &str,
    text: &str,
    format: Format,
    attachments: &Option<serde_json::Value>,
) -> Result<Vec<super::Attachment>, ApiError> {
    if doc_type == "Package" {
        return super::attachments::ingest(ctx, text, format, attachments.as_ref()).await;
    }
    if doc_type == "Automation" {
        let files = super::attachments::runbook_files(text, format)?;
        if !files.is_empty() {
            return super::attachments::ingest_files(ctx, &files, attachments.as_ref()).await;
        }
    }
    if attachments.as_ref().and_then(|a| a.as_array()).is_some_and(|a| !a.is_empty()) {
        return Err(ApiError::new(
            "InvalidDocumentOperation",
            "Steward takes attachments for Package documents, and for runbooks that list them in files.",
        ));
    }
    Ok(Vec::new())
}

/// A Package version is named by its manifest's version unless the caller names it.
fn package_version_name(doc_type: &str, text: &str, format: Format) -> Option<String> {
    if doc_type != "Package" {
        return None;
    }
    let tree = content::parse(text, format).ok()?;
    tree.get("version").and_then(|v| v.as_str()).map(str::to_owned)
}

/// CreateDocument.
pub async fn create_document(ctx: Ctx, req: CreateDocumentRequest) -> Result<DocumentDescriptionResponse, ApiError> {
    check_name(&req.name)?;
    let p = &ctx.principal;
    if builtin::head(&req.name).is_some() && !builtin::OVERRIDABLE.contains(&req.name.as_str()) {
        return Err(ApiError::new(
            "DocumentAlreadyExists",
            format!("Document with same name {} already exists", req.name),
        ));
    }
    let doc_type = req.document_type.clone().unwrap_or_else(|| "Command".into());
    let format = format_of(req.document_format.as_deref())?;
    let now = ctx.env.now();
    let mut version = analyze(&req.content, format, &doc_type, now)?;
    version.version = 1;
    version.version_name = req.version_name.clone().or_else(|| package_version_name(&doc_type, &req.content, format));
    version.display_name = req.display_name.clone();
    version.target_type = req.target_type.clone();
    version.requires = req.requires.clone();
    if let Some(tags) = &req.tags {
        crate::base::tags::check_new_tags(&[], tags)?;
    }
    let owned_prefix = format!("doc/{}/{}/", p.account, p.region);
    let owned = ctx
        .env
        .store
        .range(Start::At(&owned_prefix), &prefix_end(&owned_prefix), MAX_DOCUMENTS)
        .await
        .map_err(store_fault)?;
    if owned.len() >= MAX_DOCUMENTS {
        return Err(ApiError::new(
            "DocumentLimitExceeded",
            format!("You can have at most {MAX_DOCUMENTS} documents in a region. Delete some and try again."),
        ));
    }
    version.attachments = version_files(&ctx, &doc_type, &req.content, format, &req.attachments).await?;
    let head = DocHead {
        name: req.name.clone(),
        owner: p.account.clone(),
        doc_type,
        created: now,
        versions: vec![VersionEntry { version: 1, name: version.version_name.clone(), hash: version.hash.clone() }],
        default_version: 1,
        next_version: 2,
        tags: req.tags.as_deref().map(crate::base::tags::tag_pairs).unwrap_or_default(),
        shared_with: Vec::new(),
        shared_version: "$DEFAULT".into(),
    };
    let batch = vec![
        Op::put(head_key(&p.account, &p.region, &req.name), encode(&head)).if_absent(),
        Op::put(version_key(&p.account, &p.region, &req.name, 1), encode(&version)),
    ];
    match ctx.env.store.write(batch).await {
        Ok(()) => Ok(DocumentDescriptionResponse { document_description: describe(&ctx, &head, &version, "Creating") }),
        Err(StoreError::Conflict { .. }) => {
            Err(ApiError::new("DocumentAlreadyExists", format!("Document with same name {} already exists", req.name)))
        }
        Err(e) => Err(store_fault(e)),
    }
}

/// GetDocument: the version asked for (default: the default version), converted to the
/// format asked for.
pub async fn get_document(ctx: Ctx, req: GetDocumentRequest) -> Result<GetDocumentResponse, ApiError> {
    let found = find(&ctx, &req.name).await?;
    let number = select(&found.head, req.document_version.as_deref(), req.version_name.as_deref())?;
    let v = load_version(&ctx, &found.head, number).await?;
    let stored = Format::parse(&v.format).unwrap_or(Format::Json);
    let wanted = match &req.document_format {
        Some(f) => format_of(Some(f))?,
        None => stored,
    };
    let text = match (stored, wanted) {
        (a, b) if a == b => v.content.clone(),
        (Format::Text, _) | (_, Format::Text) => {
            return Err(ApiError::new(
                "InvalidDocumentOperation",
                "A TEXT document cannot be converted to or from JSON or YAML.",
            ))
        }
        (a, b) => content::render(&content::parse(&v.content, a).map_err(fault)?, b),
    };
    Ok(GetDocumentResponse {
        name: found.head.name.clone(),
        created_date: v.created as f64 / 1000.0,
        display_name: v.display_name.clone(),
        version_name: v.version_name.clone(),
        document_version: v.version.to_string(),
        status: "Active".into(),
        content: text,
        document_type: found.head.doc_type.clone(),
        document_format: wanted.as_str().into(),
        requires: v.requires.clone(),
        attachments_content: (!v.attachments.is_empty()).then(|| {
            v.attachments
                .iter()
                .map(|a| AttachmentContent {
                    name: a.name.clone(),
                    size: a.size,
                    hash: a.sha256.clone(),
                    hash_type: "Sha256".into(),
                })
                .collect()
        }),
    })
}

/// DescribeDocument.
pub async fn describe_document(ctx: Ctx, req: DescribeDocumentRequest) -> Result<DescribeDocumentResponse, ApiError> {
    let found = find(&ctx, &req.name).await?;
    let number = select(&found.head, req.document_version.as_deref(), req.version_name.as_deref())?;
    let v = load_version(&ctx, &found.head, number).await?;
    Ok(DescribeDocumentResponse { document: describe(&ctx, &found.head, &v, "Active") })
}

/// The caller's own document, for operations that change it.
async fn owned(ctx: &Ctx, name: &str) -> Result<(DocHead, i64), ApiError> {
    if let Some(found) = load_head(ctx, &ctx.principal.account, name).await? {
        return Ok(found);
    }
    if builtin::head(name).is_some() {
        return Err(ApiError::new(
            "InvalidDocumentOperation",
            format!("{name} is owned by Amazon and cannot be changed."),
        ));
    }
    Err(no_such_document(name))
}

/// UpdateDocument: a new latest version; the default version stays.
pub async fn update_document(ctx: Ctx, req: UpdateDocumentRequest) -> Result<DocumentDescriptionResponse, ApiError> {
    let p = &ctx.principal;
    let (mut head, revision) = owned(&ctx, &req.name).await?;
    match req.document_version.as_deref() {
        None | Some("$LATEST") => {}
        Some(n) if n.parse::<i64>().ok() == Some(head.latest()) => {}
        Some(_) => {
            return Err(ApiError::new(
                "InvalidDocumentVersion",
                "The document version is not valid or does not exist. Only the latest version can be updated.",
            ))
        }
    }
    let latest = load_version(&ctx, &head, head.latest()).await?;
    if head.doc_type == "Command" && latest.schema_version.starts_with("1.") {
        return Err(ApiError::new(
            "InvalidDocumentSchemaVersion",
            "Command documents with schema version 1.x cannot be updated; create a new document instead.",
        ));
    }
    let format = format_of(req.document_format.as_deref())?;
    let now = ctx.env.now();
    let mut version = analyze(&req.content, format, &head.doc_type, now)?;
    if head.versions.iter().any(|v| v.hash == version.hash) {
        return Err(ApiError::new(
            "DuplicateDocumentContent",
            "The content of the document matches another version of it. Change the content and try again.",
        ));
    }
    let version_name = req.version_name.clone().or_else(|| package_version_name(&head.doc_type, &req.content, format));
    if let Some(name) = &version_name {
        if head.versions.iter().any(|v| v.name.as_deref() == Some(name)) {
            return Err(ApiError::new(
                "DuplicateDocumentVersionName",
                format!("The version name {name} is already used by another version of this document."),
            ));
        }
    }
    if head.versions.len() >= MAX_VERSIONS {
        return Err(ApiError::new(
            "DocumentVersionLimitExceeded",
            format!("The document has {MAX_VERSIONS} versions, the most allowed. Delete some and try again."),
        ));
    }
    version.attachments = version_files(&ctx, &head.doc_type, &req.content, format, &req.attachments).await?;
    version.version = head.next_version;
    version.version_name = version_name;
    version.display_name = req.display_name.clone().or(latest.display_name.clone());
    version.target_type = req.target_type.clone().or(latest.target_type.clone());
    version.requires = latest.requires.clone();
    head.versions.push(VersionEntry {
        version: version.version,
        name: version.version_name.clone(),
        hash: version.hash.clone(),
    });
    head.next_version += 1;
    let batch = vec![
        Op::put(head_key(&p.account, &p.region, &req.name), encode(&head)).if_revision(revision),
        Op::put(version_key(&p.account, &p.region, &req.name, version.version), encode(&version)).if_absent(),
    ];
    match ctx.env.store.write(batch).await {
        Ok(()) => Ok(DocumentDescriptionResponse { document_description: describe(&ctx, &head, &version, "Updating") }),
        Err(StoreError::Conflict { .. }) => Err(too_many_updates()),
        Err(e) => Err(store_fault(e)),
    }
}

fn too_many_updates() -> ApiError {
    ApiError::new("TooManyUpdates", "There are concurrent updates for a resource that supports one update at a time.")
}

/// UpdateDocumentDefaultVersion.
pub async fn update_document_default_version(
    ctx: Ctx,
    req: UpdateDocumentDefaultVersionRequest,
) -> Result<UpdateDocumentDefaultVersionResponse, ApiError> {
    let p = &ctx.principal;
    let (mut head, revision) = owned(&ctx, &req.name).await?;
    let number = select(&head, Some(&req.document_version), None)?;
    head.default_version = number;
    let version_name = head.versions.iter().find(|v| v.version == number).and_then(|v| v.name.clone());
    ctx.env
        .store
        .write(vec![Op::put(head_key(&p.account, &p.region, &req.name), encode(&head)).if_revision(revision)])
        .await
        .map_err(|e| match e {
            StoreError::Conflict { .. } => too_many_updates(),
            e => store_fault(e),
        })?;
    Ok(UpdateDocumentDefaultVersionResponse {
        description: DocumentDefaultVersionDescription {
            name: head.name,
            default_version: number.to_string(),
            default_version_name: version_name,
        },
    })
}

/// DeleteDocument: one version (never the default), or the whole document.
pub async fn delete_document(ctx: Ctx, req: DeleteDocumentRequest) -> Result<Empty, ApiError> {
    let p = &ctx.principal;
    let (mut head, revision) = owned(&ctx, &req.name).await?;
    if !head.shared_with.is_empty() {
        return Err(ApiError::new(
            "InvalidDocumentOperation",
            "The document is shared with other accounts. Stop sharing it before you delete it.",
        ));
    }
    let hkey = head_key(&p.account, &p.region, &req.name);
    let batch = if req.document_version.is_some() || req.version_name.is_some() {
        let number = select(&head, req.document_version.as_deref(), req.version_name.as_deref())?;
        if number == head.default_version {
            return Err(ApiError::new("InvalidDocumentOperation", "Default version of the document can't be deleted."));
        }
        head.versions.retain(|v| v.version != number);
        vec![
            Op::put(&hkey, encode(&head)).if_revision(revision),
            Op::delete(version_key(&p.account, &p.region, &req.name, number)).expecting(Expect::Present),
        ]
    } else {
        let mut batch: Vec<Op> = head
            .versions
            .iter()
            .map(|v| Op::delete(version_key(&p.account, &p.region, &req.name, v.version)))
            .collect();
        batch.push(Op::delete(&hkey).if_revision(revision));
        batch
    };
    ctx.env.store.write(batch).await.map_err(|e| match e {
        StoreError::Conflict { .. } => too_many_updates(),
        e => store_fault(e),
    })?;
    Ok(Empty {})
}

//! ListDocuments and ListDocumentVersions.

use base64::Engine;
use steward_api::ssm::documents::*;
use steward_api::ssm::Tag;
use steward_api::ApiError;
use steward_store::{prefix_end, Start};

use super::*;

/// Where a listed document comes from, relative to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Own,
    Amazon,
    Private,
    Public,
}

struct Filter {
    key: String,
    values: Vec<String>,
}

fn invalid_token() -> ApiError {
    ApiError::new("InvalidNextToken", "The specified token isn't valid.")
}

fn parse_filters(req: &ListDocumentsRequest) -> Result<Vec<Filter>, ApiError> {
    if req.filters.is_some() && req.document_filter_list.is_some() {
        return Err(ApiError::validation("You can use either DocumentFilterList or Filters in a single request."));
    }
    let mut filters = Vec::new();
    for f in req.document_filter_list.iter().flatten() {
        filters.push(Filter { key: f.key.clone(), values: vec![f.value.clone()] });
    }
    for f in req.filters.iter().flatten() {
        let key = f.key.clone().unwrap_or_default();
        const KEYS: &[&str] =
            &["Owner", "Name", "DocumentType", "PlatformTypes", "SchemaVersion", "TargetType", "SearchKeyword"];
        if !KEYS.contains(&key.as_str()) && !key.starts_with("tag:") {
            return Err(ApiError::new("InvalidFilterKey", format!("The filter key {key} is not valid.")));
        }
        filters.push(Filter { key, values: f.values.clone().unwrap_or_default() });
    }
    if let Some(owner) = filters.iter().find(|f| f.key == "Owner") {
        const OWNERS: &[&str] = &["Self", "Amazon", "Private", "Public", "ThirdParty", "All"];
        if let Some(bad) = owner.values.iter().find(|v| !OWNERS.contains(&v.as_str())) {
            return Err(ApiError::new(
                "InvalidFilterValue",
                format!("The owner {bad} is not valid. Valid owners: {}.", OWNERS.join(", ")),
            ));
        }
    }
    Ok(filters)
}

fn wanted_sources(filters: &[Filter]) -> Vec<Source> {
    let Some(owner) = filters.iter().find(|f| f.key == "Owner") else {
        return vec![Source::Own, Source::Amazon, Source::Private];
    };
    let mut out = Vec::new();
    for v in &owner.values {
        match v.as_str() {
            "Self" => out.push(Source::Own),
            "Amazon" => out.push(Source::Amazon),
            "Private" => out.push(Source::Private),
            "Public" => out.push(Source::Public),
            "All" => out.extend([Source::Own, Source::Amazon, Source::Private, Source::Public]),
            _ => {}
        }
    }
    out
}

fn matches(filters: &[Filter], head: &DocHead, v: &DocVersion) -> bool {
    filters.iter().all(|f| {
        let any = |actual: &str| f.values.iter().any(|w| w == actual);
        match f.key.as_str() {
            "Owner" => true,
            "Name" => f.values.iter().any(|w| head.name.starts_with(w.as_str())),
            "DocumentType" => any(&head.doc_type),
            "PlatformTypes" => v.platform_types.iter().any(|p| any(p)),
            "SchemaVersion" => any(&v.schema_version),
            "TargetType" => v.target_type.as_deref().is_some_and(any),
            "SearchKeyword" => {
                let name = head.name.to_lowercase();
                f.values.iter().any(|w| name.contains(&w.to_lowercase()))
            }
            key => {
                let tag = &key[4..];
                head.tags.iter().any(|(k, val)| k == tag && (f.values.is_empty() || any(val)))
            }
        }
    })
}

async fn heads_under(ctx: &Ctx, prefix: &str) -> Result<Vec<(String, String)>, ApiError> {
    let items = ctx.env.store.range(Start::At(prefix), &prefix_end(prefix), 100_000).await.map_err(store_fault)?;
    Ok(items
        .into_iter()
        .filter_map(|i| {
            let (owner, name) = i.key[prefix.len()..].split_once('/')?;
            Some((owner.to_owned(), name.to_owned()))
        })
        .collect())
}

/// ListDocuments: the caller's own, the built-in and the shared documents, by name.
pub async fn list_documents(ctx: Ctx, req: ListDocumentsRequest) -> Result<ListDocumentsResponse, ApiError> {
    let filters = parse_filters(&req)?;
    let p = &ctx.principal;
    let mut candidates: Vec<(Source, DocHead)> = Vec::new();
    for source in wanted_sources(&filters) {
        match source {
            Source::Own => {
                let prefix = format!("doc/{}/{}/", p.account, p.region);
                let items = ctx
                    .env
                    .store
                    .range(Start::At(&prefix), &prefix_end(&prefix), MAX_DOCUMENTS + 1)
                    .await
                    .map_err(store_fault)?;
                for item in items {
                    let head: DocHead = decode(&item.key, &item.value)?;
                    candidates.push((Source::Own, head));
                }
            }
            Source::Amazon => {
                let own_names: Vec<String> =
                    candidates.iter().filter(|(s, _)| *s == Source::Own).map(|(_, h)| h.name.clone()).collect();
                for (head, _) in builtin::all() {
                    if !own_names.contains(&head.name) {
                        candidates.push((Source::Amazon, head.clone()));
                    }
                }
            }
            Source::Private | Source::Public => {
                let prefix = match source {
                    Source::Private => format!("docshare/{}/{}/", p.region, p.account),
                    _ => format!("docpublic/{}/", p.region),
                };
                for (owner, name) in heads_under(&ctx, &prefix).await? {
                    if owner == p.account {
                        continue;
                    }
                    if let Some((head, _)) = load_head(&ctx, &owner, &name).await? {
                        let visible = head.shared_with.iter().any(|a| a == &p.account || a == "all");
                        if visible && !candidates.iter().any(|(_, h)| h.owner == head.owner && h.name == head.name) {
                            candidates.push((source, head));
                        }
                    }
                }
            }
        }
    }
    candidates.sort_by(|(_, a), (_, b)| (&a.name, &a.owner).cmp(&(&b.name, &b.owner)));
    let after = match &req.next_token {
        Some(t) => {
            let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(t).map_err(|_| invalid_token())?;
            let text = String::from_utf8(bytes).map_err(|_| invalid_token())?;
            let (name, owner) = text.split_once('\n').ok_or_else(invalid_token)?;
            Some((name.to_owned(), owner.to_owned()))
        }
        None => None,
    };
    let limit = req.max_results.unwrap_or(50) as usize;
    let mut identifiers = Vec::new();
    let mut next_token = None;
    for (source, head) in candidates {
        if after.as_ref().is_some_and(|(n, o)| (&head.name, &head.owner) <= (n, o)) {
            continue;
        }
        let v = load_version(&ctx, &head, head.default_version).await?;
        if !matches(&filters, &head, &v) {
            continue;
        }
        if identifiers.len() == limit {
            let last: &DocumentIdentifier = identifiers.last().expect("limit is at least 1");
            let last_owner = if last.owner == AMAZON { AMAZON.to_owned() } else { last.owner.clone() };
            let last_name = last.name.rsplit('/').next().unwrap_or(&last.name).to_owned();
            next_token =
                Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{last_name}\n{last_owner}")));
            break;
        }
        let shown_name = if matches!(source, Source::Private | Source::Public) {
            arn(&p.region, &head.owner, &head.name)
        } else {
            head.name.clone()
        };
        identifiers.push(DocumentIdentifier {
            name: shown_name,
            created_date: head.created as f64 / 1000.0,
            display_name: v.display_name.clone(),
            owner: head.owner.clone(),
            version_name: v.version_name.clone(),
            platform_types: v.platform_types.clone(),
            document_version: v.version.to_string(),
            document_type: head.doc_type.clone(),
            schema_version: v.schema_version.clone(),
            document_format: v.format.clone(),
            target_type: v.target_type.clone(),
            tags: head.tags.iter().map(|(key, value)| Tag { key: key.clone(), value: value.clone() }).collect(),
        });
    }
    Ok(ListDocumentsResponse { document_identifiers: identifiers, next_token })
}

/// ListDocumentVersions: newest first.
pub async fn list_document_versions(
    ctx: Ctx,
    req: ListDocumentVersionsRequest,
) -> Result<ListDocumentVersionsResponse, ApiError> {
    let found = find(&ctx, &req.name).await?;
    let before: Option<i64> = match &req.next_token {
        Some(t) => Some(t.parse().map_err(|_| invalid_token())?),
        None => None,
    };
    let limit = req.max_results.unwrap_or(50) as usize;
    let mut document_versions = Vec::new();
    let mut next_token = None;
    for entry in found.head.versions.iter().rev() {
        if before.is_some_and(|b| entry.version >= b) {
            continue;
        }
        if document_versions.len() == limit {
            next_token = document_versions.last().map(|v: &DocumentVersionInfo| v.document_version.clone());
            break;
        }
        let v = load_version(&ctx, &found.head, entry.version).await?;
        document_versions.push(DocumentVersionInfo {
            name: found.head.name.clone(),
            display_name: v.display_name.clone(),
            document_version: v.version.to_string(),
            version_name: v.version_name.clone(),
            created_date: v.created as f64 / 1000.0,
            is_default_version: v.version == found.head.default_version,
            document_format: v.format.clone(),
            status: "Active".into(),
        });
    }
    Ok(ListDocumentVersionsResponse { document_versions, next_token })
}

//! ModifyDocumentPermission and DescribeDocumentPermission: sharing a document with other
//! accounts, or with everyone (`all`).

use steward_api::ssm::documents::*;
use steward_api::ssm::Empty;
use steward_api::ApiError;
use steward_store::{prefix_end, Op, Start, StoreError};

use super::*;
use crate::base::encode;

/// Most accounts one document may be shared with.
pub const MAX_SHARED_ACCOUNTS: usize = 1000;
/// Most public documents per account and region.
pub const MAX_PUBLIC_DOCUMENTS: usize = 5;

fn normalise(ids: &Option<Vec<String>>) -> Result<Vec<String>, ApiError> {
    let ids: Vec<String> = ids
        .iter()
        .flatten()
        .map(|id| if id.eq_ignore_ascii_case("all") { "all".to_owned() } else { id.clone() })
        .collect();
    if ids.iter().any(|i| i == "all") && ids.iter().any(|i| i != "all") {
        return Err(ApiError::new("DocumentPermissionLimit", "Accounts can either be all or a group of AWS accounts."));
    }
    Ok(ids)
}

/// ModifyDocumentPermission.
pub async fn modify_document_permission(ctx: Ctx, req: ModifyDocumentPermissionRequest) -> Result<Empty, ApiError> {
    let p = &ctx.principal;
    if req.permission_type != "Share" {
        return Err(ApiError::new("InvalidPermissionType", "The only permission type is Share."));
    }
    let add = normalise(&req.account_ids_to_add)?;
    let remove = normalise(&req.account_ids_to_remove)?;
    if add.is_empty() && remove.is_empty() {
        return Err(ApiError::validation("Specify AccountIdsToAdd, AccountIdsToRemove or both."));
    }
    let Some((mut head, revision)) = load_head(&ctx, &p.account, &req.name).await? else {
        return Err(if builtin::head(&req.name).is_some() {
            ApiError::new("InvalidDocumentOperation", format!("{} is owned by Amazon and cannot be shared.", req.name))
        } else {
            no_such_document(&req.name)
        });
    };
    if let Some(version) = &req.shared_document_version {
        if !matches!(version.as_str(), "$DEFAULT" | "$LATEST" | "$ALL") {
            return Err(ApiError::new(
                "InvalidDocumentVersion",
                "SharedDocumentVersion must be $DEFAULT, $LATEST or $ALL.",
            ));
        }
        head.shared_version = version.clone();
    }
    let was_public = head.shared_with.iter().any(|a| a == "all");
    let mut batch = Vec::new();
    for id in &add {
        if remove.contains(id) || head.shared_with.contains(id) || id == &p.account {
            continue;
        }
        head.shared_with.push(id.clone());
        if id != "all" {
            batch.push(Op::put(format!("docshare/{}/{id}/{}/{}", p.region, p.account, req.name), b"{}".to_vec()));
        }
    }
    for id in &remove {
        if head.shared_with.contains(id) {
            head.shared_with.retain(|a| a != id);
            if id != "all" {
                batch.push(Op::delete(format!("docshare/{}/{id}/{}/{}", p.region, p.account, req.name)));
            }
        }
    }
    if head.shared_with.iter().filter(|a| *a != "all").count() > MAX_SHARED_ACCOUNTS {
        return Err(ApiError::new(
            "DocumentPermissionLimit",
            format!("A document can be shared with at most {MAX_SHARED_ACCOUNTS} accounts."),
        ));
    }
    let public_key = format!("docpublic/{}/{}/{}", p.region, p.account, req.name);
    let is_public = head.shared_with.iter().any(|a| a == "all");
    if is_public && !was_public {
        let prefix = format!("docpublic/{}/{}/", p.region, p.account);
        let public = ctx
            .env
            .store
            .range(Start::At(&prefix), &prefix_end(&prefix), MAX_PUBLIC_DOCUMENTS + 1)
            .await
            .map_err(store_fault)?;
        if public.len() >= MAX_PUBLIC_DOCUMENTS {
            return Err(ApiError::new(
                "DocumentPermissionLimit",
                format!("An account can share at most {MAX_PUBLIC_DOCUMENTS} documents publicly in a region."),
            ));
        }
        batch.push(Op::put(&public_key, b"{}".to_vec()));
    } else if was_public && !is_public {
        batch.push(Op::delete(&public_key));
    }
    batch.push(Op::put(head_key(&p.account, &p.region, &req.name), encode(&head)).if_revision(revision));
    ctx.env.store.write(batch).await.map_err(|e| match e {
        StoreError::Conflict { .. } => ApiError::new(
            "TooManyUpdates",
            "There are concurrent updates for a resource that supports one update at a time.",
        ),
        e => store_fault(e),
    })?;
    Ok(Empty {})
}

/// DescribeDocumentPermission.
pub async fn describe_document_permission(
    ctx: Ctx,
    req: DescribeDocumentPermissionRequest,
) -> Result<DescribeDocumentPermissionResponse, ApiError> {
    if req.permission_type != "Share" {
        return Err(ApiError::new("InvalidPermissionType", "The only permission type is Share."));
    }
    let p = &ctx.principal;
    let Some((head, _)) = load_head(&ctx, &p.account, &req.name).await? else {
        return Err(if builtin::head(&req.name).is_some() {
            ApiError::new("InvalidDocumentOperation", format!("{} is owned by Amazon and is not shared.", req.name))
        } else {
            no_such_document(&req.name)
        });
    };
    let start: usize = match &req.next_token {
        Some(t) => t.parse().map_err(|_| ApiError::new("InvalidNextToken", "The specified token isn't valid."))?,
        None => 0,
    };
    let limit = req.max_results.unwrap_or(200) as usize;
    let page: Vec<&String> = head.shared_with.iter().skip(start).take(limit).collect();
    let next_token = (start + page.len() < head.shared_with.len()).then(|| (start + page.len()).to_string());
    Ok(DescribeDocumentPermissionResponse {
        account_ids: page.iter().map(|a| a.to_string()).collect(),
        account_sharing_info_list: page
            .iter()
            .map(|a| AccountSharingInfo {
                account_id: a.to_string(),
                shared_document_version: head.shared_version.clone(),
            })
            .collect(),
        next_token,
    })
}

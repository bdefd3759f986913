//! `PUT /distributor/v1/uploads/<document>/<file>`: a package file sent to the server,
//! before the CreateDocument or UpdateDocument whose manifest lists it (what
//! `steward package create` does). SigV4-signed like every call, with the body's SHA-256
//! in `x-amz-content-sha256` (`UNSIGNED-PAYLOAD` refused); authorised as
//! `ssm:CreateDocument` or `ssm:UpdateDocument` on the document; streamed to disk while
//! hashed, never held in memory, refused past `--max-attachment-mb`; kept under its hash in
//! the caller's account only if it is what the signature promised. Audited as
//! `UploadDocumentAttachment`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use axum::routing::put;
use axum::Router;
use futures_util::StreamExt;
use serde_json::json;
use sha2::{Digest, Sha256};
use steward_api::model::Service;
use steward_api::ApiError;
use tokio::io::AsyncWriteExt;

use super::App;
use crate::base::peer::Peer;
use crate::base::Ctx;

/// The routes.
pub fn routes(app: Arc<App>) -> Router {
    Router::new().route("/distributor/v1/uploads/{document}/{file}", put(upload)).with_state(app)
}

async fn upload(
    State(app): State<Arc<App>>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    Path((document, file)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut draft = crate::base::audit::Draft {
        source: Service::Ssm.event_source().into(),
        name: "UploadDocumentAttachment".into(),
        source_ip: peer.ip().to_string(),
        user_agent: headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned(),
        parameters: json!({"name": document, "attachmentName": file}),
        ..Default::default()
    };
    let outcome = receive(&app, &mut draft, peer, &document, &file, &method, &uri, &headers, body).await;
    let authenticated = draft.principal.is_some();
    let error = outcome.as_ref().err().map(|e| (e.code(), e.message()));
    let event = draft.finish(&request_id, error, app.env.now(), &app.env.fallback_account);
    if authenticated {
        app.env.audit.record(event).await;
    } else {
        app.env.audit.record_unauthenticated(event).await;
    }
    match outcome {
        Ok(answer) => super::call::json_response(
            StatusCode::OK,
            "application/json",
            &request_id,
            answer.to_string().into_bytes(),
            None,
        ),
        Err(e) => {
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
            super::call::json_response(status, "application/json", &request_id, e.to_body(), Some(e.code()))
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn receive(
    app: &App,
    draft: &mut crate::base::audit::Draft,
    peer: std::net::SocketAddr,
    document: &str,
    file: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<serde_json::Value, ApiError> {
    let pairs = super::request::header_pairs(headers);
    let unhashed = super::request::signed_request(method, uri, &pairs, b"");
    if let Ok(auth) = steward_api::sigv4::parse_authorization(&unhashed) {
        draft.access_key_id = auth.access_key_id;
        draft.region = auth.region;
    }
    let promised = headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase)
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| {
            ApiError::validation("An upload must carry the body's SHA-256 in x-amz-content-sha256 (hex), and sign it.")
        })?;
    // The body is checked against the signed hash once it has all arrived.
    let request = steward_api::sigv4::Request { payload_hash: Some(&promised), ..unhashed };
    let now = crate::base::credentials::wall_clock_secs();
    let mut principal = app.env.credentials.authenticate(&request, Service::Ssm.signing_name(), now).await?;
    principal.source_ip = Some(peer.ip());
    draft.principal = Some(principal.clone());
    if !steward_core::documents::package::valid_file_name(file) {
        return Err(ApiError::validation(format!(
            "The file name {file:?} is not valid: 3 to 128 letters, digits and _ - . characters."
        )));
    }
    let arn = crate::documents::arn(&principal.region, &principal.account, document);
    draft.resources = vec![arn.clone()];
    let ctx = Ctx { env: app.env.clone(), principal };
    if ctx.authorize("ssm:CreateDocument", std::slice::from_ref(&arn), |r| r).await.is_err() {
        ctx.authorize("ssm:UpdateDocument", std::slice::from_ref(&arn), |r| r).await?;
    }
    let scratch = crate::documents::scratch_path();
    let received = spool(body, &scratch, app.env.max_attachment_bytes).await;
    let (sha256, size) = match received {
        Ok(got) => got,
        Err(e) => {
            let _ = tokio::fs::remove_file(&scratch).await;
            return Err(e);
        }
    };
    if sha256 != promised {
        let _ = tokio::fs::remove_file(&scratch).await;
        return Err(ApiError::validation(format!(
            "The body's SHA-256 is {sha256}, not the {promised} the request was signed with; nothing was kept."
        )));
    }
    let key = crate::documents::file_key(&ctx.principal.account, &sha256);
    if let Err(e) = app.env.blobs.put_file(crate::documents::PACKAGE_BUCKET, &key, &scratch).await {
        let _ = tokio::fs::remove_file(&scratch).await;
        return Err(crate::base::store_fault(e));
    }
    Ok(json!({"Name": file, "Hash": sha256, "HashType": "Sha256", "Size": size}))
}

/// Writes the body to `path` while hashing it; its SHA-256 and size.
async fn spool(body: Body, path: &std::path::Path, max_bytes: u64) -> Result<(String, u64), ApiError> {
    let mut out = tokio::fs::File::create(path).await.map_err(|_| ApiError::internal())?;
    let (mut hasher, mut size) = (Sha256::new(), 0u64);
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| ApiError::validation("The upload broke off before its end."))?;
        size += chunk.len() as u64;
        if size > max_bytes {
            return Err(ApiError::new(
                "InvalidDocumentContent",
                format!("The file is larger than the {max_bytes} bytes a package file may have on this server."),
            ));
        }
        hasher.update(&chunk);
        out.write_all(&chunk).await.map_err(|_| ApiError::internal())?;
    }
    out.sync_all().await.map_err(|_| ApiError::internal())?;
    Ok((hex::encode(hasher.finalize()), size))
}

//! GetDeployablePatchSnapshotForInstance: the snapshot a node would apply (its baseline, or a
//! BaselineOverride), kept for a day and readable without signing at a capability URL, as
//! SSM hands out a presigned URL. The URL's token is the only key to it: the store holds its
//! SHA-256, so a store reader cannot turn keys into URLs.
//!
//! Keys: `patchsnap/<sha256(token)>`; a due entry of kind [`KIND_SNAPSHOT_EXPIRY`] erases it.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use steward_api::ssm::patch::*;
use steward_api::ApiError;
use steward_patching::Snapshot;
use steward_store::Op;

use super::baselines::from_override;
use super::patch_group_of;
use super::snapshot::snapshot_for_node;
use crate::base::{decode, encode, schedule, store_fault, Ctx, Env};

/// How long a snapshot URL answers.
const LIFETIME_MS: i64 = 24 * 3600 * 1000;

/// The due entry that erases a snapshot when its URL expires.
pub const KIND_SNAPSHOT_EXPIRY: &str = "patchsnap";

/// Where snapshots are served.
const PATH: &str = "/patch/v1/snapshots/";

#[derive(Serialize, Deserialize)]
struct Stored {
    snapshot: Snapshot,
    /// Epoch ms.
    expires: i64,
}

fn key(hash: &str) -> String {
    format!("patchsnap/{hash}")
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The node's operating system and product as patch baselines name them, from what its
/// agent registered with.
fn node_system(platform_name: &str, platform_version: &str) -> Option<(&'static str, String)> {
    let id = steward_patching::platform::id_from_name(platform_name)?;
    steward_patching::platform::classify(id, platform_version)
}

/// GetDeployablePatchSnapshotForInstance.
pub async fn get_deployable_patch_snapshot_for_instance(
    ctx: Ctx,
    req: GetDeployablePatchSnapshotForInstanceRequest,
) -> Result<GetDeployablePatchSnapshotForInstanceResponse, ApiError> {
    let Some((node, _)) = crate::fleet::load_node(&ctx, &req.instance_id).await? else {
        return Err(ApiError::new("InvalidInstanceId", format!("{} is not a managed node.", req.instance_id)));
    };
    let platform = &node.platform;
    let (os, product) = node_system(&platform.platform_name, &platform.platform_version).ok_or_else(|| {
        ApiError::new(
            "UnsupportedOperatingSystem",
            format!(
                "Patch Manager has no baselines for {} {} ({}).",
                platform.platform_name, platform.platform_version, req.instance_id
            ),
        )
    })?;
    let snapshot = match &req.baseline_override {
        None => snapshot_for_node(&ctx, &node.tags, &req.snapshot_id, os, &product).await?,
        Some(given) => {
            let wanted = given.operating_system.as_deref().unwrap_or("WINDOWS");
            if wanted != os {
                return Err(ApiError::new(
                    "UnsupportedOperatingSystem",
                    format!("The BaselineOverride is for {wanted}; {} runs {os}.", req.instance_id),
                ));
            }
            Snapshot {
                snapshot_id: req.snapshot_id.clone(),
                patch_group: patch_group_of(&node.tags).unwrap_or_default(),
                product: product.clone(),
                baseline: from_override(given, os, ctx.now())?,
            }
        }
    };
    let token = hex::encode(rand::random::<[u8; 32]>());
    let hashed = hash(&token);
    let expires = ctx.now() + LIFETIME_MS;
    let p = &ctx.principal;
    let stored = Stored { snapshot, expires };
    let expiry = schedule::due_key(expires, KIND_SNAPSHOT_EXPIRY, &p.account, &p.region, &hashed);
    ctx.env
        .store
        .write(vec![Op::put(key(&hashed), encode(&stored)), Op::put(expiry, b"{}".to_vec())])
        .await
        .map_err(store_fault)?;
    let scheme = if ctx.env.secure_transport { "https" } else { "http" };
    let host = p.request_host.clone().unwrap_or_else(|| "127.0.0.1".into());
    Ok(GetDeployablePatchSnapshotForInstanceResponse {
        instance_id: req.instance_id,
        snapshot_id: req.snapshot_id,
        snapshot_download_url: format!("{scheme}://{host}{PATH}{token}"),
        product,
    })
}

/// Erases the snapshot a due entry names.
pub async fn on_due(env: &Env, due: &schedule::Due) -> anyhow::Result<bool> {
    env.store.write(vec![schedule::claim(due), Op::delete(key(&due.id))]).await?;
    Ok(true)
}

/// `GET /patch/v1/snapshots/{token}`: the snapshot as JSON while its URL lives.
pub fn routes(env: Arc<Env>) -> Router {
    Router::new().route(&format!("{PATH}{{token}}"), get(download)).with_state(env)
}

async fn download(State(env): State<Arc<Env>>, Path(token): Path<String>) -> Response {
    let gone = || (StatusCode::NOT_FOUND, "No such snapshot, or its URL has expired.\n").into_response();
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return gone();
    }
    let key = key(&hash(&token));
    let item = match env.store.get(&key).await {
        Ok(Some(item)) => item,
        Ok(None) => return gone(),
        Err(e) => {
            tracing::warn!(error = %e, "Cannot read a patch snapshot.");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let Ok(stored) = decode::<Stored>(&key, &item.value) else { return gone() };
    if stored.expires <= env.now() {
        return gone();
    }
    let mut response = serde_json::to_vec(&stored.snapshot).unwrap_or_default().into_response();
    response.headers_mut().insert("content-type", HeaderValue::from_static("application/json"));
    response
}

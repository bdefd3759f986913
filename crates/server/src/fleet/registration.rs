//! `POST /agent/v1/register`: a node proves it holds an activation's code and receives its
//! `mi-` id. The node's public key is stored; its private key never leaves the node.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use steward_protocol::{ErrorBody, RegisterRequest, RegisterResponse};
use steward_store::{Op, StoreError};

use super::*;
use crate::base::{decode, encode, Env};

fn refuse(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = ErrorBody { code: code.into(), message: message.into() };
    (status, axum::Json(body)).into_response()
}

/// A new node id: `mi-` and 17 hex digits.
pub fn new_instance_id() -> String {
    format!("mi-{}", crate::base::crypto::random_string(b"0123456789abcdef", 17))
}

/// Checks a hex Ed25519 public key.
pub fn parse_public_key(hex_key: &str) -> Option<ed25519_dalek::VerifyingKey> {
    let bytes: [u8; 32] = hex::decode(hex_key).ok()?.try_into().ok()?;
    ed25519_dalek::VerifyingKey::from_bytes(&bytes).ok()
}

/// The registration handler.
pub async fn register(State(env): State<Arc<Env>>, body: Bytes) -> Response {
    let Ok(req) = serde_json::from_slice::<RegisterRequest>(&body) else {
        return refuse(StatusCode::BAD_REQUEST, "MalformedRequest", "The registration request is not valid JSON.");
    };
    if parse_public_key(&req.public_key).is_none() {
        return refuse(StatusCode::BAD_REQUEST, "InvalidPublicKey", "The public key must be 32 bytes of Ed25519, hex.");
    }
    // Registrations with one activation all bump its count: take turns on this server,
    // and retry (with jitter) against other servers doing the same.
    let turn = env.agents.activation_lock(&req.activation_id);
    let _turn = turn.lock().await;
    for attempt_no in 0..20u64 {
        match attempt(&env, &req).await {
            Ok(Some(response)) => {
                tracing::info!(
                    instance_id = response.instance_id,
                    activation_id = req.activation_id,
                    "Node registered."
                );
                let node = format!(
                    "arn:aws:ssm:{}:{}:managed-instance/{}",
                    response.region, response.account, response.instance_id
                );
                let details = serde_json::json!({
                    "activationId": req.activation_id,
                    "instanceId": response.instance_id,
                    "platformName": req.platform.platform_name,
                });
                let event = crate::base::audit::service_event(
                    &response.account,
                    &response.region,
                    "RegisterManagedInstance",
                    &[node],
                    details,
                    env.now(),
                );
                env.audit.record(event).await;
                return (StatusCode::OK, axum::Json(response)).into_response();
            }
            Ok(None) => {
                let jitter = rand::random::<u64>() % (10 * (attempt_no + 1));
                tokio::time::sleep(std::time::Duration::from_millis(jitter)).await;
            }
            Err(refusal) => return refusal,
        }
    }
    refuse(StatusCode::SERVICE_UNAVAILABLE, "TooManyUpdates", "Too many registrations at once; try again.")
}

async fn attempt(env: &Env, req: &RegisterRequest) -> Result<Option<RegisterResponse>, Response> {
    let internal = |e: StoreError| {
        tracing::error!(error = %e, "Registration store call failed.");
        refuse(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", "Registration failed; try again.")
    };
    let unknown = || {
        refuse(
            StatusCode::BAD_REQUEST,
            "InvalidActivation",
            format!("Activation {} does not exist or has been deleted.", req.activation_id),
        )
    };
    let index_key = activation_index(&req.activation_id);
    let Some(index) = env.store.get(&index_key).await.map_err(internal)? else { return Err(unknown()) };
    let locator: Locator = decode(&index_key, &index.value).map_err(|_| unknown())?;
    let key = activation_key(&locator.account, &locator.region, &req.activation_id);
    let Some(item) = env.store.get(&key).await.map_err(internal)? else { return Err(unknown()) };
    let mut activation: ActivationRecord = decode(&key, &item.value).map_err(|_| unknown())?;
    if activations::code_hash(&req.activation_code) != activation.code_hash {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "InvalidActivationCode",
            "The activation code is not valid for this activation.",
        ));
    }
    let now = env.now();
    if activation.expires <= now {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "ActivationExpired",
            format!("Activation {} has expired.", activation.id),
        ));
    }
    if activation.count >= activation.limit {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "RegistrationLimitReached",
            format!("Activation {} has reached its registration limit of {}.", activation.id, activation.limit),
        ));
    }
    activation.count += 1;
    let instance_id = new_instance_id();
    let node = NodeRecord {
        instance_id: instance_id.clone(),
        account: locator.account.clone(),
        region: locator.region.clone(),
        public_key: req.public_key.clone(),
        activation_id: activation.id.clone(),
        iam_role: activation.iam_role.clone(),
        name: activation.default_instance_name.clone().unwrap_or_default(),
        registered: now,
        platform: req.platform.clone(),
        last_ping: now,
        connected: false,
        connected_via: String::new(),
        tags: activation.tags.clone(),
    };
    let batch = vec![
        Op::put(&key, encode(&activation)).if_revision(item.revision),
        Op::put(node_key(&locator.account, &locator.region, &instance_id), encode(&node)).if_absent(),
        Op::put(node_index(&instance_id), encode(&locator)).if_absent(),
        // State Manager checks the new node against every association.
        Op::put(super::changed_key(&locator.account, &locator.region, &instance_id), b"{}".to_vec()),
    ];
    match env.store.write(batch).await {
        Ok(()) => Ok(Some(RegisterResponse {
            instance_id,
            account: locator.account,
            region: locator.region,
            ca_pem: env.agents.ca_pem.clone(),
        })),
        Err(StoreError::Conflict { .. }) => Ok(None),
        Err(e) => Err(internal(e)),
    }
}

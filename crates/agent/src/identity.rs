//! The node's identity: an Ed25519 key generated here (mode 0600, never sent) and the id
//! the server gave at registration.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::Context;
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use steward_protocol::{ErrorBody, Platform, RegisterRequest, RegisterResponse, REGISTER_PATH};

use crate::tls::{self, Endpoint};

/// What the agent knows about itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Identity {
    /// The server's base URL.
    pub server: String,
    /// `mi-…`.
    pub instance_id: String,
    /// Account.
    pub account: String,
    /// Region.
    pub region: String,
}

const KEY_FILE: &str = "identity.key";
const IDENTITY_FILE: &str = "identity.json";

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

/// The signing key of a registered node.
pub fn signing_key(state_dir: &Path) -> anyhow::Result<SigningKey> {
    let bytes = fs::read(state_dir.join(KEY_FILE)).context("cannot read the identity key; is this node registered?")?;
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| anyhow::anyhow!("the identity key is damaged"))?;
    Ok(SigningKey::from_bytes(&bytes))
}

/// Loads the identity written by `register`.
pub fn load(state_dir: &Path) -> anyhow::Result<Identity> {
    let path = state_dir.join(IDENTITY_FILE);
    let text = fs::read_to_string(&path)
        .with_context(|| format!("{} is missing: run `steward-agent register` first", path.display()))?;
    serde_json::from_str(&text).context("the identity file is damaged")
}

/// Generates a key, registers it with the activation, and saves the identity.
pub async fn register(
    state_dir: &Path,
    server: &str,
    id: &str,
    code: &str,
    ca_file: Option<&Path>,
    platform: Platform,
) -> anyhow::Result<Identity> {
    fs::create_dir_all(state_dir).with_context(|| format!("cannot create {}", state_dir.display()))?;
    fs::set_permissions(state_dir, fs::Permissions::from_mode(0o700))?;
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let request = RegisterRequest {
        activation_id: id.to_owned(),
        activation_code: code.to_owned(),
        public_key: hex::encode(key.verifying_key().as_bytes()),
        platform,
    };
    let server = server.trim_end_matches('/').to_owned();
    let endpoint = Endpoint::parse(&server)?;
    let tls = tls::for_endpoint(&endpoint, state_dir, ca_file)?;
    let (status, body) = tls::post_json(&endpoint, tls.as_ref(), REGISTER_PATH, &serde_json::to_vec(&request)?).await?;
    if !(200..300).contains(&status) {
        let message = serde_json::from_slice::<ErrorBody>(&body)
            .map(|e| format!("{}: {}", e.code, e.message))
            .unwrap_or_else(|_| format!("HTTP {status}"));
        anyhow::bail!("the server refused the registration: {message}");
    }
    let answer: RegisterResponse = serde_json::from_slice(&body).context("the server's answer is not understood")?;
    // From now on the node trusts the authority the server named, or the one it was told
    // to trust for this first contact.
    let ca_pem = match (&answer.ca_pem, ca_file) {
        (Some(pem), _) => Some(pem.clone().into_bytes()),
        (None, Some(path)) => Some(fs::read(path)?),
        (None, None) => None,
    };
    match ca_pem {
        Some(pem) => write_private(&state_dir.join(tls::CA_FILE), &pem)?,
        None => {
            let _ = fs::remove_file(state_dir.join(tls::CA_FILE));
        }
    }
    write_private(&state_dir.join(KEY_FILE), key.as_bytes())?;
    let identity = Identity { server, instance_id: answer.instance_id, account: answer.account, region: answer.region };
    write_private(&state_dir.join(IDENTITY_FILE), &serde_json::to_vec_pretty(&identity)?)?;
    Ok(identity)
}

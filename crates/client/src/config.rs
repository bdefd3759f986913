//! Where the server is and who the caller is, found as the aws CLI finds them: flags, then
//! `AWS_*` environment variables, then the shared config and credentials files.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::Context;

/// What a client needs to call the server.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// e.g. `https://steward.example:7717`.
    pub endpoint: String,
    /// Region.
    pub region: String,
    /// Access key id.
    pub access_key_id: String,
    /// Secret.
    pub secret_access_key: String,
    /// Session token of temporary credentials.
    pub session_token: Option<String>,
    /// A CA bundle to trust (`AWS_CA_BUNDLE`).
    pub ca_bundle: Option<PathBuf>,
}

/// Flags that override the environment and files.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--endpoint-url`.
    pub endpoint_url: Option<String>,
    /// `--region`.
    pub region: Option<String>,
    /// `--profile`.
    pub profile: Option<String>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn home() -> PathBuf {
    PathBuf::from(env("HOME").unwrap_or_else(|| "/".into()))
}

/// The sections of an INI file: name → key → value.
fn ini(path: &PathBuf) -> HashMap<String, HashMap<String, String>> {
    let mut out: HashMap<String, HashMap<String, String>> = HashMap::new();
    let Ok(text) = std::fs::read_to_string(path) else { return out };
    let mut section = String::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim().to_owned();
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            out.entry(section.clone()).or_default().insert(k.trim().to_owned(), v.trim().to_owned());
        }
    }
    out
}

impl ClientConfig {
    /// Resolves everything, or says what is missing.
    pub fn resolve(flags: &Overrides) -> anyhow::Result<ClientConfig> {
        let profile = flags.profile.clone().or_else(|| env("AWS_PROFILE")).unwrap_or_else(|| "default".into());
        let config_path = env("AWS_CONFIG_FILE").map(PathBuf::from).unwrap_or_else(|| home().join(".aws/config"));
        let creds_path =
            env("AWS_SHARED_CREDENTIALS_FILE").map(PathBuf::from).unwrap_or_else(|| home().join(".aws/credentials"));
        let config = ini(&config_path);
        let section = if profile == "default" { "default".to_owned() } else { format!("profile {profile}") };
        let from_config = |key: &str| config.get(&section).and_then(|s| s.get(key)).cloned();
        let creds = ini(&creds_path);
        let from_creds = |key: &str| creds.get(&profile).and_then(|s| s.get(key)).cloned().or_else(|| from_config(key));
        let endpoint = flags
            .endpoint_url
            .clone()
            .or_else(|| env("AWS_ENDPOINT_URL_SSM"))
            .or_else(|| env("AWS_ENDPOINT_URL"))
            .or_else(|| from_config("endpoint_url"))
            .context("no server: give --endpoint-url or set AWS_ENDPOINT_URL_SSM / AWS_ENDPOINT_URL")?;
        let region = flags
            .region
            .clone()
            .or_else(|| env("AWS_REGION"))
            .or_else(|| env("AWS_DEFAULT_REGION"))
            .or_else(|| from_config("region"))
            .context("no region: give --region or set AWS_REGION")?;
        let (access_key_id, secret_access_key, session_token) =
            match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
                (Some(id), Some(secret)) if flags.profile.is_none() => (id, secret, env("AWS_SESSION_TOKEN")),
                _ => (
                    from_creds("aws_access_key_id").with_context(|| format!("no credentials for profile {profile}"))?,
                    from_creds("aws_secret_access_key")
                        .with_context(|| format!("no secret key for profile {profile}"))?,
                    from_creds("aws_session_token"),
                ),
            };
        let ca_bundle = env("AWS_CA_BUNDLE").or_else(|| from_config("ca_bundle")).map(PathBuf::from);
        Ok(ClientConfig {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            region,
            access_key_id,
            secret_access_key,
            session_token,
            ca_bundle,
        })
    }
}

//! First start and every start: the data dir, the master key, the root account, the admin
//! key, and `admin.env`.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use steward_store::{Op, Store, StoreError};

use crate::base::credentials::Credentials;
use crate::base::encode;
use crate::config::ServerArgs;

const BOOTSTRAP_KEY: &str = "steward/bootstrap";

/// What first start decided, kept in the store.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bootstrap {
    /// The root account.
    pub account: String,
    /// The admin access key id.
    pub admin_access_key_id: String,
}

/// Creates the data dir with mode 0700 (tightening an existing one).
pub fn prepare_data_dir(dir: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create the data dir {}", dir.display()))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot set mode 0700 on {}", dir.display()))
}

/// Reads an existing 32-byte master key (commands other than `server` never make one).
pub fn read_master_key(path: &Path) -> anyhow::Result<[u8; 32]> {
    let bytes = fs::read(path).with_context(|| format!("cannot read the master key {}", path.display()))?;
    bytes.try_into().map_err(|_| anyhow::anyhow!("the master key {} must hold exactly 32 bytes", path.display()))
}

/// Reads the 32-byte master key, generating it (mode 0600) if the default file is missing.
pub fn master_key(args: &ServerArgs) -> anyhow::Result<[u8; 32]> {
    let (path, supplied) = match &args.master_key_file {
        Some(p) => (p.clone(), true),
        None => (args.data_dir.join("master.key"), false),
    };
    if !path.exists() {
        anyhow::ensure!(!supplied, "the master key file {} does not exist", path.display());
        let key = crate::base::crypto::random_key();
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        f.write_all(&key)?;
        f.sync_all()?;
        return Ok(key);
    }
    let bytes = fs::read(&path).with_context(|| format!("cannot read the master key {}", path.display()))?;
    anyhow::ensure!(
        bytes.len() == 32,
        "the master key {} must hold exactly 32 bytes, it holds {}",
        path.display(),
        bytes.len()
    );
    let mut key = [0u8; 32];
    key.copy_from_slice(&bytes);
    Ok(key)
}

fn random_account() -> String {
    let digits = crate::base::crypto::random_string(b"0123456789", 11);
    format!("1{digits}")
}

/// Key of an account's record.
pub fn account_key(account: &str) -> String {
    format!("account/{account}")
}

/// `steward agent publish|list`: agent builds for AWS-UpdateSSMAgent, signed with the
/// store's release key (which the master key unseals), kept in the data directory's blobs.
pub async fn agent_command(args: crate::config::AgentArgs) -> anyhow::Result<()> {
    let store = steward_store::open(&args.server.store_url()).await.context("cannot open the store")?;
    match args.action {
        crate::config::AgentAction::List => {
            for r in crate::fleet::all_releases(store.as_ref()).await.map_err(|e| anyhow::anyhow!("{}", e.message()))? {
                println!("{}\t{}\t{}\t{}", r.version, r.arch, r.size, r.sha256);
            }
            Ok(())
        }
        crate::config::AgentAction::Publish { binary, version, arch } => {
            let master = read_master_key(&args.server.master_key_path())?;
            let blobs = steward_store::blob::LocalBlobs::new(args.server.data_dir.join("blobs"));
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as i64;
            let release =
                crate::fleet::publish_release(store.as_ref(), &blobs, &master, &binary, &version, &arch, now).await?;
            println!("{}", serde_json::to_string_pretty(&release)?);
            Ok(())
        }
    }
}

/// `steward account create|list`.
pub async fn account_command(args: crate::config::AccountArgs) -> anyhow::Result<()> {
    let store = steward_store::open(&args.server.store_url()).await.context("cannot open the store")?;
    match args.action {
        crate::config::AccountAction::List => {
            let prefix = "account/";
            for item in
                store.range(steward_store::Start::At(prefix), &steward_store::prefix_end(prefix), 100_000).await?
            {
                println!("{}", &item.key[prefix.len()..]);
            }
            Ok(())
        }
        crate::config::AccountAction::Create { account_id } => {
            let master = read_master_key(&args.server.master_key_path())?;
            let account = match account_id {
                Some(id) => {
                    anyhow::ensure!(
                        id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()),
                        "--account-id must be 12 digits"
                    );
                    id
                }
                None => random_account(),
            };
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as i64;
            let record = serde_json::json!({"account": account, "created": now});
            match store.write(vec![Op::put(account_key(&account), serde_json::to_vec(&record)?).if_absent()]).await {
                Ok(()) => {}
                Err(StoreError::Conflict { .. }) => anyhow::bail!("account {account} already exists"),
                Err(e) => return Err(e.into()),
            }
            let credentials = Credentials::new(store.clone(), master, None);
            let (id, secret) = credentials
                .create(&account, &format!("arn:aws:iam::{account}:root"), now)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("# The root of account {account}; the secret is shown only now.");
            println!("export AWS_ACCESS_KEY_ID={id}\nexport AWS_SECRET_ACCESS_KEY={secret}\nexport STEWARD_ACCOUNT_ID={account}");
            Ok(())
        }
    }
}

/// Ensures the root account and the admin key exist; returns them with the admin secret.
pub async fn ensure_root(
    store: &dyn Store,
    credentials: &Credentials,
    requested_account: Option<&str>,
    now: i64,
) -> anyhow::Result<(Bootstrap, String)> {
    for _ in 0..3 {
        if let Some(item) = store.get(BOOTSTRAP_KEY).await? {
            let boot: Bootstrap = serde_json::from_slice(&item.value).context("the bootstrap record is unreadable")?;
            let secret = credentials
                .secret_of(&boot.admin_access_key_id)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .context("the admin access key is missing from the store")?;
            return Ok((boot, secret));
        }
        let account = requested_account.map(str::to_owned).unwrap_or_else(random_account);
        let arn = format!("arn:aws:iam::{account}:root");
        let (id, _) = credentials.create(&account, &arn, now).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        let record = serde_json::json!({"account": account, "created": now});
        let boot = Bootstrap { account: account.clone(), admin_access_key_id: id };
        let ops = vec![
            Op::put(BOOTSTRAP_KEY, encode(&boot)).if_absent(),
            Op::put(account_key(&account), serde_json::to_vec(&record)?),
        ];
        match store.write(ops).await {
            Ok(()) | Err(StoreError::Conflict { .. }) => continue, // re-read: another server may have won
            Err(e) => return Err(e.into()),
        }
    }
    anyhow::bail!("could not settle the bootstrap record")
}

/// Writes `admin.env` (mode 0600) so that `. admin.env && aws ssm …` works.
pub fn write_admin_env(
    args: &ServerArgs,
    boot: &Bootstrap,
    secret: &str,
    endpoint: &str,
    ca_bundle: Option<&Path>,
) -> anyhow::Result<()> {
    let path = args.data_dir.join("admin.env");
    let mut text = format!(
        "# Written by steward server on every start. Source it: . {path}\n\
         export AWS_ACCESS_KEY_ID={id}\n\
         export AWS_SECRET_ACCESS_KEY={secret}\n\
         export AWS_REGION={region}\n\
         export AWS_DEFAULT_REGION={region}\n\
         export AWS_ENDPOINT_URL={endpoint}\n\
         export AWS_ENDPOINT_URL_SSM={endpoint}\n\
         export AWS_ENDPOINT_URL_KMS={endpoint}\n\
         export STEWARD_ACCOUNT_ID={account}\n",
        path = path.display(),
        id = boot.admin_access_key_id,
        region = args.region,
        account = boot.account,
    );
    if let Some(ca) = ca_bundle {
        // Absolute, so the file works from any directory.
        let ca = fs::canonicalize(ca).unwrap_or_else(|_| ca.to_path_buf());
        text.push_str(&format!("export AWS_CA_BUNDLE={}\n", ca.display()));
    }
    let tmp = args.data_dir.join("admin.env.tmp");
    let mut f = fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    fs::rename(&tmp, &path)?;
    Ok(())
}

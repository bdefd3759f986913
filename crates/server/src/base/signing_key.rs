//! The server's RSA signing key: what SNS messages are signed with (verifiable with the
//! certificate served at their `SigningCertURL`) and what audit digest files are signed with.
//!
//! One key per store, made on first use, sealed by the master key (`signing/rsa`), so every
//! server sharing the store signs alike and a subscriber needs one certificate. RSA because
//! that is what SNS and CloudTrail sign with and what their verifiers expect.

use std::sync::Arc;

use base64::Engine as _;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use rsa::{Pkcs1v15Sign, RsaPrivateKey, RsaPublicKey};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use steward_api::ApiError;
use steward_store::{Op, Store};

use super::crypto;
use super::record::{decode, encode, store_fault};

/// Where the sealed key lives.
const KEY: &str = "signing/rsa";
/// Binds the sealed bytes to their purpose.
const AAD: &[u8] = b"steward signing key v1";
/// Modulus size: what SNS's own certificates use.
const BITS: usize = 2048;

/// The digest a signature is made over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hash {
    /// SHA-1 (SNS SignatureVersion 1).
    Sha1,
    /// SHA-256 (SNS SignatureVersion 2, digest files).
    Sha256,
}

/// The key, ready to sign.
pub struct SigningKey {
    private: RsaPrivateKey,
    /// A short id derived from the public key: names the certificate's URL.
    pub id: String,
    /// A self-signed X.509 certificate of the public key (PEM).
    pub certificate_pem: String,
}

#[derive(Serialize, Deserialize)]
struct KeyRecord {
    id: String,
    /// PKCS#8 DER sealed by the master key (base64).
    sealed: String,
    certificate_pem: String,
}

impl SigningKey {
    /// PKCS#1 v1.5 signature of `data` under `hash`.
    pub fn sign(&self, hash: Hash, data: &[u8]) -> Vec<u8> {
        let signed = match hash {
            Hash::Sha1 => self.private.sign(Pkcs1v15Sign::new::<sha1::Sha1>(), &sha1::Sha1::digest(data)),
            Hash::Sha256 => self.private.sign(Pkcs1v15Sign::new::<sha2::Sha256>(), &sha2::Sha256::digest(data)),
        };
        signed.expect("an RSA key signs any digest of its own size class")
    }

    /// Whether `signature` is this key's over `data` (for `steward audit verify`).
    pub fn verify(&self, hash: Hash, data: &[u8], signature: &[u8]) -> bool {
        verify_with(&RsaPublicKey::from(&self.private), hash, data, signature)
    }

    /// The public key, DER (SubjectPublicKeyInfo).
    pub fn public_der(&self) -> Vec<u8> {
        RsaPublicKey::from(&self.private).to_public_key_der().map(|d| d.as_bytes().to_vec()).unwrap_or_default()
    }
}

/// Whether `signature` over `data` verifies under `public` (DER SubjectPublicKeyInfo).
pub fn verify_der(public: &[u8], hash: Hash, data: &[u8], signature: &[u8]) -> bool {
    use rsa::pkcs8::DecodePublicKey;
    RsaPublicKey::from_public_key_der(public).is_ok_and(|key| verify_with(&key, hash, data, signature))
}

fn verify_with(key: &RsaPublicKey, hash: Hash, data: &[u8], signature: &[u8]) -> bool {
    match hash {
        Hash::Sha1 => key.verify(Pkcs1v15Sign::new::<sha1::Sha1>(), &sha1::Sha1::digest(data), signature),
        Hash::Sha256 => key.verify(Pkcs1v15Sign::new::<sha2::Sha256>(), &sha2::Sha256::digest(data), signature),
    }
    .is_ok()
}

/// The store's signing key, made and stored on first use. Two servers making it at once
/// both succeed: the second's write loses the race and it reads the first's.
pub async fn load_or_create(store: &dyn Store, master_key: &[u8; 32]) -> Result<Arc<SigningKey>, ApiError> {
    if let Some(found) = load(store, master_key).await? {
        return Ok(found);
    }
    // Key generation takes a moment; it happens once per store.
    let made =
        tokio::task::spawn_blocking(generate).await.map_err(|e| broken(&format!("generation stopped: {e}")))??;
    let (key, der) = made;
    let record = KeyRecord {
        id: key.id.clone(),
        sealed: base64::engine::general_purpose::STANDARD.encode(crypto::seal(master_key, AAD, &der)),
        certificate_pem: key.certificate_pem.clone(),
    };
    match store.write(vec![Op::put(KEY, encode(&record)).if_absent()]).await {
        Ok(_) => Ok(Arc::new(key)),
        Err(steward_store::StoreError::Conflict { .. }) => {
            load(store, master_key).await?.ok_or_else(|| broken("it vanished after a lost race"))
        }
        Err(e) => Err(store_fault(e)),
    }
}

/// The store's signing key if one was made (`steward audit verify` reads it this way: the
/// master key unseals it, so a public key swapped in the store cannot vouch for forgeries).
pub async fn load(store: &dyn Store, master_key: &[u8; 32]) -> Result<Option<Arc<SigningKey>>, ApiError> {
    let Some(found) = store.get(KEY).await.map_err(store_fault)? else { return Ok(None) };
    let record: KeyRecord = decode(KEY, &found.value)?;
    let sealed = base64::engine::general_purpose::STANDARD
        .decode(&record.sealed)
        .map_err(|_| broken("the record is damaged"))?;
    let der =
        crypto::open(master_key, AAD, &sealed).ok_or_else(|| broken("it does not unseal with this master key"))?;
    let private = RsaPrivateKey::from_pkcs8_der(&der).map_err(|_| broken("it is not an RSA key"))?;
    Ok(Some(Arc::new(SigningKey { private, id: record.id, certificate_pem: record.certificate_pem })))
}

/// A server fault with the signing key: logged here, generic to the caller.
fn broken(what: &str) -> ApiError {
    tracing::error!(what, "The signing key is unusable.");
    ApiError::internal()
}

/// A fresh key and its PKCS#8 DER.
fn generate() -> Result<(SigningKey, Vec<u8>), ApiError> {
    let fail = broken;
    let private = RsaPrivateKey::new(&mut rand::thread_rng(), BITS).map_err(|_| fail("generation failed"))?;
    let der = private.to_pkcs8_der().map_err(|_| fail("encoding failed"))?.as_bytes().to_vec();
    let public = RsaPublicKey::from(&private).to_public_key_der().map_err(|_| fail("encoding failed"))?;
    let id = hex::encode(&sha2::Sha256::digest(public.as_bytes())[..16]);
    let pkcs8 = rustls_pki_types::PrivatePkcs8KeyDer::from(der.clone());
    let pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, &rcgen::PKCS_RSA_SHA256)
        .map_err(|_| fail("certificate key"))?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|_| fail("certificate"))?;
    params.distinguished_name.push(rcgen::DnType::CommonName, "Steward message signing");
    let certificate = params.self_signed(&pair).map_err(|_| fail("certificate signing"))?;
    Ok((SigningKey { private, id, certificate_pem: certificate.pem() }, der))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_key_per_store_that_signs_and_verifies() {
        let dir = std::env::temp_dir().join(format!("steward-signing-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = steward_store::sqlite::SqliteStore::open(&dir.join("s.db")).unwrap();
        let master = [3u8; 32];
        let first = load_or_create(&store, &master).await.unwrap();
        let again = load_or_create(&store, &master).await.unwrap();
        assert_eq!(first.id, again.id);
        assert!(first.certificate_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        for hash in [Hash::Sha1, Hash::Sha256] {
            let sig = first.sign(hash, b"message");
            assert!(again.verify(hash, b"message", &sig));
            assert!(!again.verify(hash, b"messagE", &sig));
            assert!(verify_der(&first.public_der(), hash, b"message", &sig));
        }
        assert!(load_or_create(&store, &[4u8; 32]).await.is_err(), "another master key cannot open it");
        let _ = std::fs::remove_dir_all(dir);
    }
}

//! Authenticated encryption (AES-256-GCM) with a random nonce, and random identifiers.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;

/// Nonce length of AES-GCM.
pub const NONCE_LEN: usize = 12;
/// Bytes AES-GCM adds to a plaintext: nonce and tag.
pub const OVERHEAD: usize = NONCE_LEN + 16;

/// Encrypts `plaintext` under `key`, binding `aad`; returns nonce || ciphertext || tag.
pub fn seal(key: &[u8; 32], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new(key.into());
    let mut nonce = [0u8; NONCE_LEN];
    rand::thread_rng().fill_bytes(&mut nonce);
    let ct = cipher
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad })
        .expect("AES-GCM encryption cannot fail for in-memory buffers");
    let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    out
}

/// Decrypts what [`seal`] made; `None` if the key, `aad` or bytes are wrong.
pub fn open(key: &[u8; 32], aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() < OVERHEAD {
        return None;
    }
    let (nonce, ct) = sealed.split_at(NONCE_LEN);
    Aes256Gcm::new(key.into()).decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad }).ok()
}

/// 32 random bytes.
pub fn random_key() -> [u8; 32] {
    let mut k = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut k);
    k
}

/// `n` random characters from `alphabet`.
pub fn random_string(alphabet: &[u8], n: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..n).map(|_| alphabet[(rng.next_u32() as usize) % alphabet.len()] as char).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn seal_open_round_trip_and_binding() {
        let key = super::random_key();
        let sealed = super::seal(&key, b"ctx", b"secret");
        assert_eq!(super::open(&key, b"ctx", &sealed).as_deref(), Some(&b"secret"[..]));
        assert_eq!(super::open(&key, b"other", &sealed), None);
        assert_eq!(super::open(&super::random_key(), b"ctx", &sealed), None);
        assert_eq!(super::open(&key, b"ctx", &sealed[..10]), None);
    }
}

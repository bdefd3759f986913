//! Digest files, as CloudTrail makes them: for each export of audit events, a JSON file in
//! the blob store (`steward-audit-digest/<last seq>.json`) naming the export file with its
//! SHA-256 and the previous digest with its hash and signature, signed with the server's
//! RSA key (SHA256withRSA, the signature beside it as `<name>.sig`, hex). The newest
//! digest is named in the store (`audit/digest-head`).
//!
//! So a copy of the trail outside the store can be checked on its own: `steward audit
//! verify` walks the digests back from the head, checks each signature with the key the
//! master key unseals (a replaced public key does not help a forger), each export file's
//! hash and hash chain, and that the files follow each other without a gap.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::Digest as _;
use steward_store::blob::BlobStore;
use steward_store::{Op, Store};

use super::audit_export::{verify, ExportFile, Verdict, EXPORT_BUCKET};
use super::signing_key::{Hash, SigningKey};

/// The blob-store bucket digests go to.
pub const DIGEST_BUCKET: &str = "steward-audit-digest";
const HEAD_KEY: &str = "audit/digest-head";

/// The newest digest, as the next one links to it.
#[derive(Serialize, Deserialize)]
struct Head {
    object: String,
    hash: String,
    signature: String,
    end_time: String,
}

fn iso(ms: i64) -> String {
    steward_api::time::format_iso8601(ms.div_euclid(1000))
}

/// What CloudTrail signs: the digest's end time, where it lies, its hash and the previous
/// digest's signature, one per line.
fn signing_string(end_time: &str, object: &str, hash: &str, previous_signature: &str) -> String {
    format!("{end_time}\n{DIGEST_BUCKET}/{object}\n{hash}\n{previous_signature}")
}

/// Writes the digest of `file` after the current head and makes it the head.
pub async fn write(
    store: &dyn Store,
    blobs: &dyn BlobStore,
    key: &SigningKey,
    account: &str,
    file: &ExportFile,
    now_ms: i64,
) -> anyhow::Result<()> {
    let found = store.get(HEAD_KEY).await?;
    let previous: Option<Head> = found.as_ref().map(|i| serde_json::from_slice(&i.value)).transpose()?;
    let end_time = iso(now_ms);
    let object = format!("{:020}.json", file.last_seq);
    let digest = json!({
        "awsAccountId": account,
        "digestStartTime": previous.as_ref().map_or_else(|| iso(file.oldest_ms), |p| p.end_time.clone()),
        "digestEndTime": end_time,
        "digestS3Bucket": DIGEST_BUCKET,
        "digestS3Object": object,
        "digestPublicKeyFingerprint": key.id,
        "digestSignatureAlgorithm": "SHA256withRSA",
        "newestEventTime": iso(file.newest_ms),
        "oldestEventTime": iso(file.oldest_ms),
        "previousDigestS3Bucket": previous.as_ref().map(|_| DIGEST_BUCKET),
        "previousDigestS3Object": previous.as_ref().map(|p| p.object.clone()),
        "previousDigestHashValue": previous.as_ref().map(|p| p.hash.clone()),
        "previousDigestHashAlgorithm": previous.as_ref().map(|_| "SHA-256"),
        "previousDigestSignature": previous.as_ref().map(|p| p.signature.clone()),
        "logFiles": [{
            "s3Bucket": EXPORT_BUCKET,
            "s3Object": file.object,
            "hashValue": file.sha256,
            "hashAlgorithm": "SHA-256",
            "newestEventTime": iso(file.newest_ms),
            "oldestEventTime": iso(file.oldest_ms),
            "firstSeq": file.first_seq,
            "lastSeq": file.last_seq,
        }],
    });
    let bytes = serde_json::to_vec(&digest)?;
    let hash = hex::encode(sha2::Sha256::digest(&bytes));
    let previous_signature = previous.as_ref().map(|p| p.signature.as_str()).unwrap_or_default();
    let signature =
        hex::encode(key.sign(Hash::Sha256, signing_string(&end_time, &object, &hash, previous_signature).as_bytes()));
    blobs.put(DIGEST_BUCKET, &object, bytes).await?;
    blobs.put(DIGEST_BUCKET, &format!("{object}.sig"), signature.clone().into_bytes()).await?;
    let head = Head { object, hash, signature, end_time };
    let op = Op::put(HEAD_KEY, serde_json::to_vec(&head)?);
    store
        .write(vec![match found {
            Some(item) => op.if_revision(item.revision),
            None => op.if_absent(),
        }])
        .await?;
    Ok(())
}

/// What walking the digests found.
#[derive(Debug, PartialEq, Eq)]
pub enum DigestVerdict {
    /// No digest was ever written.
    None,
    /// Every digest verifies: how many, and the events their files cover.
    Intact { digests: u64, first_seq: u64, last_seq: u64 },
    /// The first problem met, walking back from the newest.
    Broken(String),
}

/// Walks the digests back from the head: each must be present, unaltered, signed by `key`,
/// and link to the one before; each export file it names must be present, unaltered, hold
/// an intact chain of the events it claims, and end right before the next file begins.
pub async fn verify_all(store: &dyn Store, blobs: &dyn BlobStore, key: &SigningKey) -> anyhow::Result<DigestVerdict> {
    let Some(found) = store.get(HEAD_KEY).await? else { return Ok(DigestVerdict::None) };
    let head: Head = serde_json::from_slice(&found.value)?;
    let broken = |why: String| Ok(DigestVerdict::Broken(why));
    let (mut object, mut want_hash, mut want_signature) = (head.object, head.hash, head.signature);
    let mut digests = 0;
    // The first event of the file digested after this one: its seq and the hash it links to.
    let mut newer_first: Option<(u64, String)> = None;
    let mut last_seq = 0;
    let mut first_seq;
    loop {
        let Some(bytes) = blobs.get(DIGEST_BUCKET, &object).await? else {
            return broken(format!("digest {object} is missing"));
        };
        let hash = hex::encode(sha2::Sha256::digest(&bytes));
        if hash != want_hash {
            return broken(format!("digest {object} was altered: its hash is not the one the next digest recorded"));
        }
        let signature = blobs.get(DIGEST_BUCKET, &format!("{object}.sig")).await?.unwrap_or_default();
        if signature != want_signature.as_bytes() {
            return broken(format!("the signature of digest {object} is missing or not the one recorded after it"));
        }
        let digest: Value = serde_json::from_slice(&bytes)?;
        let text = |name: &str| digest[name].as_str().unwrap_or_default().to_owned();
        let previous_signature = text("previousDigestSignature");
        let signed = signing_string(&text("digestEndTime"), &object, &hash, &previous_signature);
        let raw_signature = hex::decode(&want_signature).unwrap_or_default();
        if !key.verify(Hash::Sha256, signed.as_bytes(), &raw_signature) {
            return broken(format!("digest {object} is not signed by this server's key"));
        }
        let files = digest["logFiles"].as_array().cloned().unwrap_or_default();
        let Some(file) = files.first() else { return broken(format!("digest {object} names no export file")) };
        let name = file["s3Object"].as_str().unwrap_or_default();
        let Some(content) = blobs.get(EXPORT_BUCKET, name).await? else {
            return broken(format!("export file {name} (in digest {object}) is missing"));
        };
        if hex::encode(sha2::Sha256::digest(&content)) != file["hashValue"].as_str().unwrap_or_default() {
            return broken(format!("export file {name} was altered: its hash is not the one digest {object} signed"));
        }
        let events: Vec<Value> = String::from_utf8_lossy(&content)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(serde_json::from_str)
            .collect::<Result<_, _>>()?;
        if let Verdict::Broken { line, reason } = verify(&events) {
            return broken(format!("export file {name}, event {line}: {reason}"));
        }
        let (first, last) = (file["firstSeq"].as_u64().unwrap_or(0), file["lastSeq"].as_u64().unwrap_or(0));
        let seqs = (events.first().and_then(|e| e["seq"].as_u64()), events.last().and_then(|e| e["seq"].as_u64()));
        if seqs != (Some(first), Some(last)) {
            return broken(format!("export file {name} does not hold events {first} to {last}"));
        }
        let last_hash = events.last().and_then(|e| e["hash"].as_str()).unwrap_or_default();
        match &newer_first {
            Some((next, _)) if *next != last + 1 => {
                return broken(format!("events {} to {} are in no digested export file", last + 1, next - 1));
            }
            Some((next, link)) if link != last_hash => {
                return broken(format!("event {next} does not link to event {last} of export file {name}"));
            }
            Some(_) => {}
            None => last_seq = last,
        }
        let first_link = events.first().and_then(|e| e["prevHash"].as_str()).unwrap_or_default().to_owned();
        newer_first = Some((first, first_link));
        first_seq = first;
        digests += 1;
        if previous_signature.is_empty() {
            break;
        }
        object = text("previousDigestS3Object");
        want_hash = text("previousDigestHashValue");
        want_signature = previous_signature;
    }
    Ok(DigestVerdict::Intact { digests, first_seq, last_seq })
}

/// What verifying the whole trail found: the store's chain (from its checkpoint, when events
/// were pruned) and the signed digests of what was exported.
#[derive(Debug)]
pub struct TrailVerdict {
    /// Where pruning left the chain's start.
    pub checkpoint: Option<super::audit_export::Checkpoint>,
    /// The store's chain.
    pub chain: super::audit_export::Verdict,
    /// The digests (None without a signing key or any digest).
    pub digests: DigestVerdict,
}

/// Verifies the store's chain and walks the digests back from their head: what
/// `steward audit verify` and the console's Verify report.
pub async fn verify_trail(
    store: &dyn Store,
    blobs: &dyn BlobStore,
    key: Option<&SigningKey>,
) -> anyhow::Result<TrailVerdict> {
    let (checkpoint, events) = super::audit_export::chain_with_checkpoint(store).await?;
    let chain = super::audit_export::verify_from(checkpoint.as_ref(), &events);
    let digests = match key {
        Some(key) => verify_all(store, blobs, key).await?,
        None => DigestVerdict::None,
    };
    Ok(TrailVerdict { checkpoint, chain, digests })
}

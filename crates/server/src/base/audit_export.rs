//! Reading the chain back: export as JSON lines (to a file or the blob store) and
//! verification that no event was edited, removed or reordered.

use serde_json::Value;
use steward_store::{prefix_end, Op, Start, Store};

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use super::audit::{batch_events, chain_hash, log_key_at, GENESIS, LOG_PREFIX};

/// The blob-store bucket exports go to.
pub const EXPORT_BUCKET: &str = "steward-audit";
const EXPORTED_KEY: &str = "audit/exported";

/// How far back in time (ms) an event may be stored relative to one with a higher seq:
/// servers sharing a store may disagree on the clock by this much.
const CLOCK_SKEW_MS: i64 = 60_000;

/// Events with seq above `after_seq` (oldest first), at most `limit` of the oldest such.
/// The log is stored newest first, so this reads back from the newest until it is past
/// `after_seq` by more than any clock skew.
pub async fn events_after(store: &dyn Store, after_seq: u64, limit: usize) -> anyhow::Result<Vec<Value>> {
    let end = prefix_end(LOG_PREFIX);
    let mut found = Vec::new();
    let mut cursor: Option<String> = None;
    let mut horizon: Option<i64> = None;
    'scan: loop {
        let start = match &cursor {
            Some(k) => Start::After(k),
            None => Start::At(LOG_PREFIX),
        };
        let page = store.range(start, &end, 1000).await?;
        for item in &page {
            cursor = Some(item.key.clone());
            for event in batch_events(&item.value).into_iter().rev() {
                let seq = event["seq"].as_u64().unwrap_or(0);
                let millis = event["eventTimeMillis"].as_i64().unwrap_or(0);
                if seq > after_seq {
                    found.push(event);
                } else {
                    let limit_ms = *horizon.get_or_insert(millis - CLOCK_SKEW_MS);
                    if millis < limit_ms {
                        break 'scan;
                    }
                }
            }
        }
        if page.len() < 1000 {
            break;
        }
    }
    found.sort_by_key(|e| e["seq"].as_u64().unwrap_or(0));
    found.truncate(limit);
    Ok(found)
}

/// What verification found.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every link holds: how many events and the last hash.
    Intact { events: u64, head: String },
    /// The first broken link: the line (1-based) and why.
    Broken { line: u64, reason: String },
}

/// Checks a sequence of events, the first of which may follow an earlier export (its
/// `prevHash` is then taken on trust unless it is the genesis event).
pub fn verify<'a>(events: impl IntoIterator<Item = &'a Value>) -> Verdict {
    let mut previous: Option<(u64, String)> = None;
    let mut count = 0;
    for (i, event) in events.into_iter().enumerate() {
        let line = i as u64 + 1;
        let broken = |reason: String| Verdict::Broken { line, reason };
        let (Some(seq), Some(prev), Some(hash)) =
            (event["seq"].as_u64(), event["prevHash"].as_str(), event["hash"].as_str())
        else {
            return broken("the event lacks seq, prevHash or hash".into());
        };
        match &previous {
            Some((last_seq, last_hash)) => {
                if seq != last_seq + 1 {
                    return broken(format!("event {seq} follows event {last_seq}: events are missing or reordered"));
                }
                if prev != last_hash {
                    return broken(format!("event {seq} does not link to the hash of event {last_seq}"));
                }
            }
            None if seq == 1 && prev != GENESIS => return broken("the first event does not start the chain".into()),
            None => {}
        }
        if chain_hash(prev, event) != hash {
            return broken(format!("event {seq} was altered: its hash does not match its content"));
        }
        previous = Some((seq, hash.to_owned()));
        count += 1;
    }
    Verdict::Intact { events: count, head: previous.map(|(_, h)| h).unwrap_or_else(|| GENESIS.into()) }
}

/// Every event in the store, in sequence order.
pub async fn all_events(store: &dyn Store) -> anyhow::Result<Vec<Value>> {
    events_after(store, 0, usize::MAX).await
}

/// Where the chain's pruned part ends: the last pruned event's seq and hash. What remains
/// must start right after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The last pruned event.
    pub seq: u64,
    /// Its hash.
    pub hash: String,
}

const CHECKPOINT_KEY: &str = "audit/checkpoint";

/// The checkpoint, if events were ever pruned.
pub async fn checkpoint(store: &dyn Store) -> anyhow::Result<Option<Checkpoint>> {
    Ok(match store.get(CHECKPOINT_KEY).await? {
        Some(item) => Some(serde_json::from_slice(&item.value)?),
        None => None,
    })
}

/// The checkpoint and the events after it, read so that they agree: a prune committing
/// between the two reads (a server runs beside `steward audit verify`) moves the checkpoint,
/// so the pair is read again until the checkpoint holds still across the events' read.
pub async fn chain_with_checkpoint(store: &dyn Store) -> anyhow::Result<(Option<Checkpoint>, Vec<Value>)> {
    let mut before = checkpoint(store).await?;
    loop {
        let events = all_events(store).await?;
        let after = checkpoint(store).await?;
        if after == before {
            return Ok((after, events));
        }
        before = after;
    }
}

/// Checks the store's events: from the genesis, or from the checkpoint left by pruning.
/// Unlike an export (which may be any stretch of the chain), the store's chain must start
/// at one of those: its oldest events cannot be removed unnoticed.
pub fn verify_from(checkpoint: Option<&Checkpoint>, events: &[Value]) -> Verdict {
    if let Some(first) = events.first() {
        let (seq, prev) = (first["seq"].as_u64().unwrap_or(0), first["prevHash"].as_str().unwrap_or(""));
        let (want_seq, want_prev) = match checkpoint {
            Some(cp) => (cp.seq + 1, cp.hash.as_str()),
            None => (1, GENESIS),
        };
        if seq != want_seq || prev != want_prev {
            let after = match checkpoint {
                Some(cp) => format!("the checkpoint left by pruning (event {})", cp.seq),
                None => "the start of the chain".to_owned(),
            };
            return Verdict::Broken {
                line: 1,
                reason: format!("event {seq} does not follow {after}: events are missing"),
            };
        }
    }
    verify(events)
}

/// Deletes stored events recorded before `cutoff` (epoch ms) that were already exported,
/// oldest first, and moves the checkpoint to the last one deleted; returns how many. Only a
/// prefix of the chain goes, so what remains verifies from the checkpoint.
pub async fn prune(store: &dyn Store, cutoff: i64) -> anyhow::Result<usize> {
    let exported = match store.get(EXPORTED_KEY).await? {
        Some(item) => String::from_utf8_lossy(&item.value).parse::<u64>().unwrap_or(0),
        None => 0,
    };
    let before = checkpoint(store).await?;
    // Batches whose newest event is at or before the cutoff (keys sort newest first).
    let old = store.range(Start::At(&log_key_at(cutoff)), &prefix_end(LOG_PREFIX), 10_000).await?;
    // Servers sharing a store may write a batch a little out of time order: the batches just
    // after the cutoff bound how far the prefix may go.
    let after = store.range(Start::At(&log_key_at(cutoff + CLOCK_SKEW_MS)), &log_key_at(cutoff), 10_000).await?;
    let seqs = |value: &[u8]| batch_events(value).iter().filter_map(|e| e["seq"].as_u64()).collect::<Vec<_>>();
    let newer_min = after.iter().flat_map(|i| seqs(&i.value)).min().unwrap_or(u64::MAX);
    let limit = exported.min(newer_min.saturating_sub(1));
    let mut doomed = Vec::new();
    let mut last: Option<Checkpoint> = None;
    for item in &old {
        let events = batch_events(&item.value);
        let max = events.iter().filter_map(|e| e["seq"].as_u64()).max().unwrap_or(0);
        if max == 0 || max > limit {
            continue;
        }
        if let Some(e) = events.iter().max_by_key(|e| e["seq"].as_u64().unwrap_or(0)) {
            if last.as_ref().is_none_or(|l| max > l.seq) {
                last = Some(Checkpoint { seq: max, hash: e["hash"].as_str().unwrap_or_default().to_owned() });
            }
        }
        doomed.push((item.key.clone(), events.len()));
    }
    let Some(last) = last else { return Ok(0) };
    if before.as_ref().is_some_and(|b| b.seq >= last.seq) {
        return Ok(0);
    }
    let pruned = doomed.iter().map(|(_, n)| n).sum();
    let mut batch: Vec<Op> = doomed.into_iter().map(|(key, _)| Op::delete(key)).collect();
    batch.push(Op::put(CHECKPOINT_KEY, serde_json::to_vec(&last)?));
    // One batch (at most 10,000 deletes and the checkpoint): the chain and its checkpoint
    // never disagree. Older batches beyond those go in the next pass.
    store.write(batch).await?;
    Ok(pruned)
}

/// One export file, as digests list it.
pub struct ExportFile {
    /// Its name in [`EXPORT_BUCKET`].
    pub object: String,
    /// SHA-256 of its bytes (hex).
    pub sha256: String,
    /// Sequence number of its first event.
    pub first_seq: u64,
    /// Sequence number of its last event.
    pub last_seq: u64,
    /// Event time of its oldest event (epoch ms).
    pub oldest_ms: i64,
    /// Event time of its newest event (epoch ms).
    pub newest_ms: i64,
}

/// Exports what is new since the last export; the file written, if there was anything new.
pub async fn export_once(
    store: &dyn Store,
    blobs: &dyn steward_store::blob::BlobStore,
) -> anyhow::Result<Option<ExportFile>> {
    let (done, revision) = match store.get(EXPORTED_KEY).await? {
        Some(item) => (String::from_utf8_lossy(&item.value).parse::<u64>().unwrap_or(0), Some(item.revision)),
        None => (0, None),
    };
    let events = events_after(store, done, 10_000).await?;
    let (Some(first), Some(last)) =
        (events.first().and_then(|e| e["seq"].as_u64()), events.last().and_then(|e| e["seq"].as_u64()))
    else {
        return Ok(None);
    };
    let mut lines = Vec::new();
    for event in &events {
        lines.extend(serde_json::to_vec(event)?);
        lines.push(b'\n');
    }
    let times = events.iter().filter_map(|e| e["eventTimeMillis"].as_i64());
    let (oldest_ms, newest_ms) = (times.clone().min().unwrap_or(0), times.max().unwrap_or(0));
    let file = ExportFile {
        object: format!("{first:020}-{last:020}.jsonl"),
        sha256: hex::encode(sha2::Sha256::digest(&lines)),
        first_seq: first,
        last_seq: last,
        oldest_ms,
        newest_ms,
    };
    blobs.put(EXPORT_BUCKET, &file.object, lines).await?;
    let op = Op::put(EXPORTED_KEY, last.to_string().into_bytes());
    store
        .write(vec![match revision {
            Some(r) => op.if_revision(r),
            None => op.if_absent(),
        }])
        .await?;
    Ok(Some(file))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn chain(n: u64) -> Vec<Value> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|seq| {
                let mut e = json!({"eventName": format!("Op{seq}"), "seq": seq, "prevHash": prev});
                let h = chain_hash(&prev, &e);
                e["hash"] = json!(h);
                prev = h;
                e
            })
            .collect()
    }

    #[test]
    fn intact_chains_verify() {
        let events = chain(5);
        assert!(matches!(verify(&events), Verdict::Intact { events: 5, .. }));
        assert!(matches!(verify(&events[2..]), Verdict::Intact { events: 3, .. }), "an export may start mid-chain");
    }

    #[test]
    fn edits_removals_and_reorders_are_found() {
        let mut edited = chain(5);
        edited[2]["eventName"] = json!("Tampered");
        assert!(matches!(verify(&edited), Verdict::Broken { line: 3, .. }));
        let mut removed = chain(5);
        removed.remove(1);
        assert!(matches!(verify(&removed), Verdict::Broken { line: 2, .. }));
        let mut swapped = chain(5);
        swapped.swap(1, 2);
        assert!(matches!(verify(&swapped), Verdict::Broken { line: 2, .. }));
        let mut first_gone = chain(3);
        first_gone[0]["prevHash"] = json!("ab");
        assert!(matches!(verify(&first_gone), Verdict::Broken { line: 1, .. }));
    }
}

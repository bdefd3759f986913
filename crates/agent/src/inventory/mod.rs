//! `aws:softwareInventory`: gathers the types the step's inputs enable, and sends each
//! type's content only when it changed since the server last stored it — an unchanged type
//! costs its name and hash.

mod custom;
mod files;
mod packages;
pub(crate) use packages::paragraphs;
mod services;
mod system;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};
use steward_protocol::{AgentMessage, InventoryItem, ServerMessage};

use crate::calls::Calls;

/// One entry of a type's content: attribute → value.
pub type Entry = BTreeMap<String, String>;

/// Where the node's owner puts custom inventory files, under the agent's state directory.
pub const CUSTOM_FOLDER: &str = "inventory/custom";
/// The hash of each type the server holds, as the agent last stored it.
const HASHES_FILE: &str = "inventory/hashes.json";

/// Seconds since the epoch as `2026-12-07T10:00:00Z`.
pub fn rfc3339(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Days to a civil date (proleptic Gregorian), by 400-year eras.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

fn enabled(inputs: &Value, key: &str) -> bool {
    inputs[key].as_str().is_none_or(|v| v.eq_ignore_ascii_case("enabled"))
}

/// A gathered type before it is sent.
struct Gathered {
    type_name: String,
    schema_version: String,
    content: Vec<Entry>,
}

fn gather(inputs: &Value, state_dir: &Path, instance_id: &str) -> Result<(Vec<Gathered>, Vec<String>), String> {
    let searches = files::parse(&inputs["files"])?;
    let mut out = Vec::new();
    let mut add = |name: &str, version: &str, content| {
        out.push(Gathered { type_name: name.into(), schema_version: version.into(), content })
    };
    add("AWS:InstanceInformation", "1.0", system::instance_information(instance_id));
    if enabled(inputs, "applications") {
        let mut applications = packages::applications();
        applications.extend(crate::package::installed_applications(state_dir));
        add("AWS:Application", "1.1", applications);
    }
    if enabled(inputs, "awsComponents") {
        add("AWS:AWSComponent", "1.0", system::components());
    }
    if enabled(inputs, "networkConfig") {
        add("AWS:Network", "1.0", system::network());
    }
    if enabled(inputs, "services") {
        add("AWS:Service", "1.0", services::services());
    }
    if enabled(inputs, "instanceDetailedInformation") {
        add("AWS:InstanceDetailedInformation", "1.0", system::detailed_information());
    }
    if !searches.is_empty() {
        add("AWS:File", "1.0", files::files(&searches)?);
    }
    let mut problems = Vec::new();
    if enabled(inputs, "customInventory") {
        let (types, bad) = custom::read(&state_dir.join(CUSTOM_FOLDER));
        problems = bad;
        out.extend(types.into_iter().map(|t| Gathered {
            type_name: t.type_name,
            schema_version: t.schema_version,
            content: t.content,
        }));
    }
    Ok((out, problems))
}

/// What a gathering would send, every type with its content (for `steward-agent inventory`).
pub fn gather_items(inputs: &Value, state_dir: &Path, instance_id: &str) -> Result<Vec<InventoryItem>, String> {
    let (gathered, problems) = gather(inputs, state_dir, instance_id)?;
    for p in problems {
        eprintln!("Skipped custom inventory {p}");
    }
    let capture_time = rfc3339(crate::records::now_ms() / 1000);
    Ok(gathered
        .into_iter()
        .map(|g| InventoryItem {
            content_hash: hash(&g.content),
            type_name: g.type_name,
            schema_version: g.schema_version,
            capture_time: capture_time.clone(),
            content: Some(g.content),
        })
        .collect())
}

fn hash(content: &[Entry]) -> String {
    hex::encode(Sha256::digest(serde_json::to_vec(content).expect("entries serialise")))
}

fn load_hashes(path: &Path) -> BTreeMap<String, String> {
    std::fs::read(path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
}

fn save_hashes(path: &Path, hashes: &BTreeMap<String, String>) {
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let staged = path.with_extension("json.new");
    if std::fs::write(&staged, serde_json::to_vec(hashes).expect("hashes serialise")).is_ok() {
        let _ = std::fs::rename(staged, path);
    }
}

/// Asks the server to store `items`; `Err((code, message))` when it refuses.
async fn put(calls: &Calls, items: Vec<InventoryItem>) -> Result<(), (String, String)> {
    let answer = calls
        .ask(|request_id| AgentMessage::PutInventory { request_id, items }, Duration::from_secs(120))
        .await
        .map_err(|why| ("Unreachable".to_owned(), why))?;
    match answer {
        ServerMessage::InventoryStored { error: None, .. } => Ok(()),
        ServerMessage::InventoryStored { error: Some(e), .. } => Err((e.code, e.message)),
        _ => Err(("Unexpected".into(), "the server answered with something else".into())),
    }
}

/// Runs the step: what it says on success, or why it failed.
pub async fn run(inputs: &Value, state_dir: PathBuf, instance_id: String, calls: &Calls) -> Result<String, String> {
    let (inputs_owned, dir) = (inputs.clone(), state_dir.clone());
    let (gathered, problems) = tokio::task::spawn_blocking(move || gather(&inputs_owned, &dir, &instance_id))
        .await
        .map_err(|e| format!("gathering failed: {e}"))??;
    let hashes_path = state_dir.join(HASHES_FILE);
    let stored = load_hashes(&hashes_path);
    let capture_time = rfc3339(crate::records::now_ms() / 1000);
    let mut items = Vec::new();
    let mut full: Vec<InventoryItem> = Vec::new();
    let mut hashes = BTreeMap::new();
    for g in gathered {
        let content_hash = hash(&g.content);
        let unchanged = stored.get(&g.type_name) == Some(&content_hash);
        hashes.insert(g.type_name.clone(), content_hash.clone());
        let item = InventoryItem {
            type_name: g.type_name,
            schema_version: g.schema_version,
            capture_time: capture_time.clone(),
            content_hash,
            content: Some(g.content),
        };
        full.push(item.clone());
        items.push(if unchanged { InventoryItem { content: None, ..item } } else { item });
    }
    let changed = items.iter().filter(|i| i.content.is_some()).count();
    let total = items.len();
    let mut resent = 0;
    for batch in batches(items) {
        match put(calls, batch.clone()).await {
            Ok(()) => {}
            // The server no longer holds what a hash stands for (its inventory was deleted):
            // the batch goes again, whole.
            Err((code, _)) if code == "ItemContentMismatchException" => {
                let names: Vec<&String> = batch.iter().map(|i| &i.type_name).collect();
                let whole: Vec<InventoryItem> =
                    full.iter().filter(|i| names.contains(&&i.type_name)).cloned().collect();
                resent += whole.iter().zip(&batch).filter(|(_, b)| b.content.is_none()).count();
                put(calls, whole).await.map_err(|(code, message)| refused(&code, &message))?;
            }
            Err((code, message)) => return Err(refused(&code, &message)),
        }
    }
    save_hashes(&hashes_path, &hashes);
    let sent = changed + resent;
    let mut text =
        format!("Inventory: {total} types gathered, {sent} sent with their content, {} unchanged.\n", total - sent);
    for p in problems {
        text.push_str(&format!("Skipped custom inventory {p}\n"));
    }
    Ok(text)
}

fn refused(code: &str, message: &str) -> String {
    format!("The server did not store the inventory: {code}: {message}")
}

/// Most items of one PutInventory, and most content bytes, as SSM takes them.
const BATCH_ITEMS: usize = 30;
const BATCH_BYTES: usize = 1 << 20;

/// Items in calls the server accepts: at most 30 items and 1 MiB of content each (an item
/// larger than that goes alone, and the server says why it refuses it).
fn batches(items: Vec<InventoryItem>) -> Vec<Vec<InventoryItem>> {
    let mut out: Vec<Vec<InventoryItem>> = Vec::new();
    let mut bytes = 0;
    for item in items {
        let size = item.content.as_ref().map_or(0, |c| serde_json::to_vec(c).map_or(0, |b| b.len()));
        let fits = out.last().is_some_and(|b| b.len() < BATCH_ITEMS && bytes + size <= BATCH_BYTES);
        if !fits {
            out.push(Vec::new());
            bytes = 0;
        }
        bytes += size;
        out.last_mut().expect("a batch").push(item);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn hashes_are_stable_and_content_sensitive() {
        let mut a = Entry::new();
        a.insert("Name".into(), "x".into());
        let h = hash(std::slice::from_ref(&a));
        assert_eq!(h, hash(std::slice::from_ref(&a)));
        a.insert("Version".into(), "1".into());
        assert_ne!(h, hash(&[a]));
    }

    #[test]
    fn batches_keep_to_the_servers_limits() {
        let item = |n: usize, bytes: usize| InventoryItem {
            type_name: format!("Custom:T{n}"),
            schema_version: "1.0".into(),
            capture_time: rfc3339(0),
            content_hash: String::new(),
            content: Some(vec![Entry::from([("v".to_owned(), "x".repeat(bytes))])]),
        };
        let sizes: Vec<usize> = batches((0..65).map(|n| item(n, 10)).collect()).iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![30, 30, 5]);
        let big: Vec<usize> =
            batches(vec![item(0, 700_000), item(1, 700_000), item(2, 10)]).iter().map(Vec::len).collect();
        assert_eq!(big, vec![1, 2]);
    }
}

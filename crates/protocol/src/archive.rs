//! Zip archives as both sides unpack them (a Distributor package on a node, a runbook's
//! script attachment on the server): every entry inside the target folder, no symbolic
//! links, at most so many entries and bytes, permissions kept less setuid/setgid and
//! group/world write.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// How much an archive may unpack to.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Entries.
    pub entries: usize,
    /// Bytes in all.
    pub bytes: u64,
}

/// Unpacks `archive` into `into` (which exists). `what` names the archive in errors
/// ("package file"). A refused archive may leave some files behind: unpack into a folder
/// of its own and remove it on error.
pub fn extract(archive: &Path, into: &Path, what: &str, limits: Limits) -> Result<(), String> {
    let bad = |e: zip::result::ZipError| format!("The {what} is not a zip archive that can be read: {e}");
    let file = std::fs::File::open(archive).map_err(|e| format!("Cannot read the {what}: {e}"))?;
    let mut zip = zip::ZipArchive::new(file).map_err(bad)?;
    if zip.len() > limits.entries {
        return Err(format!("The {what} has more than {} entries.", limits.entries));
    }
    let mut total = 0u64;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(bad)?;
        let Some(relative) = entry.enclosed_name() else {
            return Err(format!("The {what} holds an entry outside its folder: {}", entry.name()));
        };
        let mode = entry.unix_mode().unwrap_or(0o644);
        if mode & 0o170000 == 0o120000 {
            return Err(format!("The {what} holds a symbolic link ({}); it is not unpacked.", entry.name()));
        }
        let target = into.join(relative);
        if entry.is_dir() {
            std::fs::create_dir_all(&target).map_err(|e| format!("Cannot create {}: {e}", target.display()))?;
            continue;
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("Cannot create {}: {e}", parent.display()))?;
        }
        let mut out = std::fs::File::create(&target).map_err(|e| format!("Cannot write {}: {e}", target.display()))?;
        let budget = limits.bytes - total;
        let copied = std::io::copy(&mut (&mut entry).take(budget + 1), &mut out)
            .map_err(|e| format!("Cannot unpack {}: {e}", target.display()))?;
        total += copied;
        if total > limits.bytes {
            return Err(format!("The {what} unpacks to more than {} bytes.", limits.bytes));
        }
        let _ = std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode & 0o755));
    }
    Ok(())
}

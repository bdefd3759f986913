//! `AWS:File`: files under the paths the `files` parameter names, by name pattern, within
//! SSM's limits (DirScanLimit directories, default 5,000; 500 files in all — past either,
//! nothing is collected and the step says why); symbolic links are not followed.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{rfc3339, Entry};

/// One search of the `files` parameter.
#[derive(Debug, PartialEq)]
pub struct Search {
    path: PathBuf,
    patterns: Vec<String>,
    recursive: bool,
    dir_scan_limit: usize,
    dir_depth_limit: usize,
}

/// Most files collected over all searches, as SSM.
const FILE_COUNT_LIMIT: usize = 500;

/// The searches of the `files` parameter (a JSON list, possibly given as a string).
pub fn parse(setting: &Value) -> Result<Vec<Search>, String> {
    let list = match setting {
        Value::String(s) if s.trim().is_empty() => return Ok(Vec::new()),
        Value::String(s) => serde_json::from_str(s).map_err(|e| format!("the files parameter is not JSON: {e}"))?,
        Value::Null => return Ok(Vec::new()),
        other => other.clone(),
    };
    let Value::Array(items) = list else { return Err("the files parameter must be a JSON list".into()) };
    let limit = |v: &Value, default: usize| v.as_u64().map(|n| n as usize).unwrap_or(default);
    items
        .iter()
        .map(|item| {
            let path = item["Path"]
                .as_str()
                .filter(|p| p.starts_with('/'))
                .ok_or("each files entry needs an absolute Path")?;
            let patterns = match &item["Pattern"] {
                Value::Array(p) => p.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
                Value::String(p) => vec![p.clone()],
                _ => vec!["*".to_owned()],
            };
            Ok(Search {
                path: PathBuf::from(path),
                patterns,
                recursive: item["Recursive"].as_bool().unwrap_or(false),
                dir_scan_limit: limit(&item["DirScanLimit"], 5000),
                // Not SSM's: a depth bound as well, deep by default.
                dir_depth_limit: limit(&item["DirDepthLimit"], 64),
            })
        })
        .collect::<Result<_, &str>>()
        .map_err(str::to_owned)
}

/// `*` and `?` wildcards over a whole name.
fn matches(pattern: &[u8], name: &[u8]) -> bool {
    match (pattern.first(), name.first()) {
        (None, None) => true,
        (Some(b'*'), _) => matches(&pattern[1..], name) || (!name.is_empty() && matches(pattern, &name[1..])),
        (Some(b'?'), Some(_)) => matches(&pattern[1..], &name[1..]),
        (Some(p), Some(n)) if p == n => matches(&pattern[1..], &name[1..]),
        _ => false,
    }
}

fn time_of(t: std::io::Result<std::time::SystemTime>) -> String {
    t.ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| rfc3339(d.as_secs() as i64))
        .unwrap_or_default()
}

/// The files found by every search, or why none are collected.
pub fn files(searches: &[Search]) -> Result<Vec<Entry>, String> {
    let mut out = Vec::new();
    for search in searches {
        let mut dirs_scanned = 0;
        let mut pending = vec![(search.path.clone(), 0usize)];
        while let Some((dir, depth)) = pending.pop() {
            dirs_scanned += 1;
            if dirs_scanned > search.dir_scan_limit {
                return Err(format!(
                    "Directory Scan Limit Exceeded under {}: more than {} directories.",
                    search.path.display(),
                    search.dir_scan_limit
                ));
            }
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            let mut entries: Vec<_> = entries.flatten().collect();
            entries.sort_by_key(|e| e.file_name());
            for entry in entries {
                let Ok(meta) = entry.path().symlink_metadata() else { continue };
                if meta.is_dir() {
                    if search.recursive && depth < search.dir_depth_limit {
                        pending.push((entry.path(), depth + 1));
                    }
                    continue;
                }
                if !meta.is_file() {
                    continue;
                }
                let name = entry.file_name().to_string_lossy().into_owned();
                if search.patterns.iter().any(|p| matches(p.as_bytes(), name.as_bytes())) {
                    if out.len() == FILE_COUNT_LIMIT {
                        return Err(format!("File Count Limit Exceeded: more than {FILE_COUNT_LIMIT} files match."));
                    }
                    out.push(file_entry(&name, &dir, &meta));
                }
            }
        }
    }
    Ok(out)
}

fn file_entry(name: &str, dir: &Path, meta: &std::fs::Metadata) -> Entry {
    let mut e = Entry::new();
    e.insert("Name".into(), name.into());
    e.insert("Size".into(), meta.len().to_string());
    e.insert("Description".into(), String::new());
    e.insert("FileVersion".into(), String::new());
    e.insert("InstalledDate".into(), time_of(meta.created()));
    e.insert("ModificationTime".into(), time_of(meta.modified()));
    e.insert("LastAccessTime".into(), time_of(meta.accessed()));
    e.insert("ProductName".into(), String::new());
    e.insert("InstalledDir".into(), dir.display().to_string());
    e.insert("ProductLanguage".into(), String::new());
    e.insert("CompanyName".into(), String::new());
    e.insert("ProductVersion".into(), String::new());
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(matches(b"*.conf", b"a.conf"));
        assert!(matches(b"a?c", b"abc"));
        assert!(!matches(b"*.conf", b"a.confx"));
        assert!(matches(b"*", b""));
    }

    #[test]
    fn searches_within_limits() {
        let dir = std::env::temp_dir().join(format!("steward-files-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub/deeper")).unwrap();
        std::fs::write(dir.join("a.conf"), "x").unwrap();
        std::fs::write(dir.join("b.txt"), "x").unwrap();
        std::fs::write(dir.join("sub/c.conf"), "xyz").unwrap();
        std::fs::write(dir.join("sub/deeper/d.conf"), "x").unwrap();
        let setting = serde_json::json!(format!(
            r#"[{{"Path":"{}","Pattern":["*.conf"],"Recursive":true,"DirDepthLimit":1}}]"#,
            dir.display()
        ));
        let found = files(&parse(&setting).unwrap()).unwrap();
        let names: Vec<&str> = found.iter().map(|e| e["Name"].as_str()).collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(names.contains(&"a.conf") && names.contains(&"c.conf"));
        assert!(parse(&serde_json::json!("[{\"Path\":\"relative\"}]")).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }
}

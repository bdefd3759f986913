//! Embeds the web console's bundle (`console/dist`, built by `make console`) in the server
//! binary as a list of files. Without a bundle the list is empty and the server builds all
//! the same; `/console` then says how to build one.

use std::path::{Path, PathBuf};
use std::{env, fs};

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, out);
        } else if let Ok(rel) = path.strip_prefix(root) {
            out.push((rel.to_string_lossy().replace('\\', "/"), path));
        }
    }
}

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let console = manifest.join("../../console");
    let dist = env::var_os("STEWARD_CONSOLE_DIST").map(PathBuf::from).unwrap_or_else(|| console.join("dist"));
    println!("cargo:rerun-if-env-changed=STEWARD_CONSOLE_DIST");
    // A directory's time changes as entries come and go: a new or rebuilt bundle is noticed.
    for watched in [&console, &dist] {
        if watched.exists() {
            println!("cargo:rerun-if-changed={}", watched.display());
        }
    }
    let mut files = Vec::new();
    collect(&dist, &dist, &mut files);
    files.sort();
    let mut out = String::from("/// The console's files: (path under `/console/`, contents).\n");
    out.push_str("pub static FILES: &[(&str, &[u8])] = &[\n");
    for (rel, path) in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        let absolute = fs::canonicalize(path).unwrap_or_else(|_| path.clone());
        out.push_str(&format!("    ({rel:?}, include_bytes!({:?})),\n", absolute.display().to_string()));
    }
    out.push_str("];\n");
    let target = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("console_files.rs");
    // Written only when it changes, so an unchanged bundle rebuilds nothing.
    if fs::read_to_string(&target).ok().as_deref() != Some(out.as_str()) {
        fs::write(&target, out).expect("OUT_DIR is writable");
    }
}

//! Layering of `crates/server/src`, checked on the source text like rust-analyzer's tidy test:
//! `base` < capabilities by rank < `app`, plus the process files (`main`, `lib`, `config`, …).
//! The parse follows `server-deps.py`: `use` trees, inline `crate::`/`super::`/`self::` paths,
//! `alias::name` uses of imported modules and `child::name` uses inside a `mod.rs`, each
//! resolved to the deepest existing file. Comments and `#[cfg(test)]` tails are not read.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// Capabilities by first path segment (`x/` or `x.rs`) and rank. A capability may import `base`,
/// strictly lower ranks and its own files. New capabilities (inventory, patch, automation, …)
/// get a line here, which is the point: new code has to pick a rank.
#[rustfmt::skip]
const CAPABILITIES: &[(&str, u8)] = &[
    ("documents", 1), ("parameters", 1), ("fleet", 1), ("iam", 1), ("kms", 1), ("cloudtrail", 1), ("sns", 1),
    ("groups", 1),
    ("commands", 2), ("sessions", 2), ("compliance", 2), ("inventory", 2),
    ("patch", 3), ("automation", 3),
    ("associations", 4), ("windows", 4),
];

/// Top-level files that parse flags and start the process; like `app`, they may import anything.
const PROCESS: &[&str] = &["main.rs", "lib.rs", "config.rs", "bootstrap.rs", "tls.rs", "package_cli.rs"];

/// The only files that build an `Env` (`app::serve`, `Env::for_tests`).
const ENV_BUILDERS: &[&str] = &["app/mod.rs", "base/env.rs"];

/// First segments of `x/…` literals that are not store keys.
#[rustfmt::skip]
const NOT_KEYS: &[&str] = &[
    "application/", "text/", "http/", // MIME types, ALPN id
    "builtin/",                       // include_str! paths of the built-in documents
    "alias/",                         // KMS alias names ("alias/aws/ssm")
    "key/", "document/", "parameter/", "managed-instance/", "association/", "maintenancewindow/", // ARN resources
    "aws-service-role/",              // IAM role path
];

#[derive(Clone, Copy, PartialEq, Debug)]
enum Layer {
    Base,
    App,
    Process,
    Capability(&'static str, u8),
    Unclassified,
}

struct File {
    rel: String,
    module: Vec<String>,
    layer: Layer,
    /// Comments and the `#[cfg(test)]` tail removed, string literals left as `""`.
    code: String,
    literals: Vec<String>,
    /// Target file -> names used through the edge.
    edges: BTreeMap<String, BTreeSet<String>>,
}

/// Module path -> file (`[]` is `lib.rs`).
type Modules = BTreeMap<Vec<String>, String>;

#[test]
fn server_layers() {
    let violations = check(&load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src")));
    for v in &violations {
        println!("{v}");
    }
    assert!(violations.is_empty(), "{} layering violations in crates/server/src (listed above)", violations.len());
}

fn load(src: &Path) -> Vec<File> {
    let mut rels = Vec::new();
    walk(src, "", &mut rels);
    rels.sort();
    let mut files: Vec<File> = rels
        .into_iter()
        .map(|rel| {
            let (code, literals) = scan(&fs::read_to_string(src.join(&rel)).unwrap());
            File { module: module_of(&rel), layer: layer_of(&rel), rel, code, literals, edges: BTreeMap::new() }
        })
        .collect();
    // main.rs is a second crate root that goes through `steward_server::`, so it has no edges.
    let modules: Modules =
        files.iter().filter(|f| f.rel != "main.rs").map(|f| (f.module.clone(), f.rel.clone())).collect();
    for f in files.iter_mut().filter(|f| f.rel != "main.rs") {
        f.edges = edges(&f.rel, &f.module, &f.code, &modules);
    }
    files
}

fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) {
    for entry in fs::read_dir(dir).unwrap().map(Result::unwrap) {
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        if entry.file_type().unwrap().is_dir() {
            walk(&entry.path(), &format!("{name}/"), out);
        } else if name.ends_with(".rs") {
            out.push(name);
        }
    }
}

fn module_of(rel: &str) -> Vec<String> {
    let mut parts: Vec<String> = rel.trim_end_matches(".rs").split('/').map(String::from).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts
}

fn top_of(rel: &str) -> &str {
    rel.split('/').next().unwrap().trim_end_matches(".rs")
}

fn layer_of(rel: &str) -> Layer {
    match top_of(rel) {
        "base" => Layer::Base,
        "app" => Layer::App,
        _ if PROCESS.contains(&rel) => Layer::Process,
        top => CAPABILITIES.iter().find(|c| c.0 == top).map_or(Layer::Unclassified, |&(n, r)| Layer::Capability(n, r)),
    }
}

/// Who owns a file's store keys: its capability, or its layer.
fn owner(f: &File) -> &str {
    match f.layer {
        Layer::Base => "base",
        Layer::App => "app",
        Layer::Process => "process",
        Layer::Capability(name, _) => name,
        Layer::Unclassified => top_of(&f.rel),
    }
}

fn describe(layer: Layer) -> String {
    match layer {
        Layer::Capability(name, rank) => format!("{name}, rank {rank}"),
        Layer::Unclassified => "unclassified".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// Splits source into code and plain string literals. Comments go (a path in a doc comment is
/// no import); literals are set aside and left as `""` (nor is a path in a string); so is
/// everything from the first `#[cfg(test)]` on, as tests may reach anywhere.
fn scan(src: &str) -> (String, Vec<String>) {
    let s: Vec<char> = src.chars().collect();
    let (mut code, mut literals, mut i) = (String::new(), Vec::new(), 0);
    while i < s.len() && !code.ends_with("#[cfg(test)]") {
        let after_word = i > 0 && is_word(s[i - 1]);
        if s[i..].starts_with(&['/', '/']) {
            i += s[i..].iter().take_while(|&&c| c != '\n').count();
        } else if s[i..].starts_with(&['/', '*']) {
            i = block_comment_end(&s, i);
        } else if s[i] == '"' {
            let (end, text) = string_at(&s, i);
            literals.push(text);
            code.push_str("\"\"");
            i = end;
        } else if let Some(end) = (!after_word).then(|| raw_or_byte_string_end(&s, i)).flatten() {
            code.push_str("\"\"");
            i = end;
        } else if s[i] == '\'' && (s.get(i + 1) == Some(&'\\') || s.get(i + 2) == Some(&'\'')) {
            // A char literal ('"' would otherwise open a string); a lifetime is kept as code.
            let escaped = s[i + 1] == '\\';
            i = if escaped { i + 3 + s[i + 3..].iter().position(|&c| c == '\'').unwrap() + 1 } else { i + 3 };
            code.push_str("' '");
        } else {
            code.push(s[i]);
            i += 1;
        }
    }
    (code.trim_end_matches("#[cfg(test)]").to_string(), literals)
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Block comments nest in Rust.
fn block_comment_end(s: &[char], mut i: usize) -> usize {
    let mut depth = 0;
    while i < s.len() {
        match (s[i], s.get(i + 1)) {
            ('/', Some('*')) => (depth, i) = (depth + 1, i + 2),
            ('*', Some('/')) if depth == 1 => return i + 2,
            ('*', Some('/')) => (depth, i) = (depth - 1, i + 2),
            _ => i += 1,
        }
    }
    i
}

/// End and text of the `"…"` literal opening at `i`.
fn string_at(s: &[char], i: usize) -> (usize, String) {
    let (mut j, mut text) = (i + 1, String::new());
    while s[j] != '"' {
        let len = if s[j] == '\\' { 2 } else { 1 };
        text.extend(&s[j..j + len]);
        j += len;
    }
    (j + 1, text)
}

/// End of a byte string `b"…"` or raw string `r#"…"#`/`br"…"` opening at `i`, if one does.
fn raw_or_byte_string_end(s: &[char], i: usize) -> Option<usize> {
    if s[i..].starts_with(&['b', '"']) {
        return Some(string_at(s, i + 1).0);
    }
    let j = i + if s[i..].starts_with(&['b', 'r']) {
        2
    } else if s[i] == 'r' {
        1
    } else {
        return None;
    };
    let hashes = s[j..].iter().take_while(|&&c| c == '#').count();
    if s.get(j + hashes) != Some(&'"') {
        return None; // r#ident
    }
    let close: Vec<char> = std::iter::once('"').chain(std::iter::repeat_n('#', hashes)).collect();
    let body = j + hashes + 1;
    Some(body + s[body..].windows(close.len()).position(|w| w == close).unwrap() + close.len())
}

fn edges(rel: &str, module: &[String], code: &str, modules: &Modules) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut add = |target: &[String], name: &str| {
        if target != module && modules[target] != rel {
            out.entry(modules[target].clone()).or_default().insert(name.to_string());
        }
    };
    // A `use` that names a module makes its last segment (or alias) a handle for `alias::name`.
    let mut aliases: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (segs, alias) in use_trees(code).into_iter().flat_map(|tree| expand(tree, &[])) {
        let Some(mut path) = absolutize(&segs, module) else { continue };
        if path.last().is_some_and(|s| s == "self") {
            path.pop();
        }
        let Some((target, rest)) = resolve(&path, modules) else { continue };
        match rest.first() {
            Some(name) => add(target, name),
            None if !target.is_empty() => {
                aliases.insert(alias.unwrap_or_else(|| path.last().unwrap().clone()), target.to_vec());
            }
            None => {}
        }
    }
    for segs in ["crate", "super", "self"].iter().flat_map(|head| paths_after(code, head)) {
        let Some(path) = absolutize(&segs, module) else { continue };
        if let Some((target, rest)) = resolve(&path, modules) {
            add(target, rest.first().map_or("(module)", String::as_str));
        }
    }
    // A mod.rs (or lib.rs) names its submodules without `use`: `pub use send::plan;`.
    if rel.ends_with("mod.rs") || rel == "lib.rs" {
        for child in modules.keys().filter(|m| m.len() == module.len() + 1 && m.starts_with(module)) {
            aliases.entry(child.last().unwrap().clone()).or_insert_with(|| child.clone());
        }
    }
    for (name, target) in &aliases {
        for segs in paths_after(code, name) {
            let sub = [target.clone(), vec![segs[1].clone()]].concat();
            if modules.contains_key(&sub) {
                add(&sub, "(module)")
            } else {
                add(target, &segs[1])
            }
        }
    }
    out
}

/// The tree of every `use …;` (with `pub use`, `pub(crate) use`).
fn use_trees(code: &str) -> Vec<&str> {
    word_starts(code, "use")
        .filter_map(|i| Some(&code[i + 3..]).filter(|r| r.starts_with(char::is_whitespace)))
        .filter_map(|rest| rest.find(';').map(|end| &rest[..end]))
        .collect()
}

/// Flattens a use tree (`a::{b, c::{d as e}}`) into paths, each with its `as` alias.
fn expand(tree: &str, prefix: &[String]) -> Vec<(Vec<String>, Option<String>)> {
    let tree = tree.trim();
    let path = |text: &str| -> Vec<String> {
        let segs = text.split("::").map(str::trim).filter(|s| !s.is_empty()).map(String::from);
        prefix.iter().cloned().chain(segs).collect()
    };
    if let Some(open) = tree.find('{').filter(|_| tree.ends_with('}')) {
        let (base, inner, mut depth) = (path(&tree[..open]), &tree[open + 1..tree.len() - 1], 0);
        let parts = inner.split(|c| {
            depth += (c == '{') as i32 - (c == '}') as i32;
            c == ',' && depth == 0
        });
        return parts.filter(|p| !p.trim().is_empty()).flat_map(|p| expand(p, &base)).collect();
    }
    match tree.split_whitespace().collect::<Vec<_>>()[..] {
        [ref head @ .., "as", alias] => vec![(path(&head.concat()), Some(alias.to_string()))],
        ref words => vec![(path(&words.concat()), None)],
    }
}

/// `crate::`, `super::`, `self::` paths as module paths from the crate root; `None` for others.
fn absolutize(segs: &[String], module: &[String]) -> Option<Vec<String>> {
    let mut base = module.to_vec();
    match segs.first()?.as_str() {
        "crate" => return Some(segs[1..].to_vec()),
        "super" | "self" => {}
        _ => return None,
    }
    let relative = segs.iter().take_while(|s| *s == "super" || *s == "self").count();
    base.truncate(base.len().saturating_sub(segs[..relative].iter().filter(|s| *s == "super").count()));
    Some([base, segs[relative..].to_vec()].concat())
}

/// The deepest file along `path` (items of the crate root are in `lib.rs`) and the names after it.
fn resolve<'a>(path: &'a [String], modules: &Modules) -> Option<(&'a [String], &'a [String])> {
    (0..=path.len()).rev().find(|&k| modules.contains_key(&path[..k])).map(|k| path.split_at(k))
}

/// Byte offsets of `word` where it does not continue a longer word.
fn word_starts<'a>(code: &'a str, word: &'a str) -> impl Iterator<Item = usize> + 'a {
    code.match_indices(word).map(|(i, _)| i).filter(move |&i| !code[..i].ends_with(is_word))
}

/// Every `head::a::b…` path that is not the tail of a longer path.
fn paths_after(code: &str, head: &str) -> Vec<Vec<String>> {
    let starts = word_starts(code, head).filter(|&i| !code[..i].ends_with(':'));
    starts
        .filter_map(|i| {
            let (mut segs, mut rest) = (vec![head.to_string()], &code[i + head.len()..]);
            while let Some(tail) = rest.strip_prefix("::") {
                let len = tail.find(|c: char| !is_word(c)).unwrap_or(tail.len());
                if len == 0 {
                    break;
                }
                segs.push(tail[..len].to_string());
                rest = &tail[len..];
            }
            Some(segs).filter(|s| s.len() > 1)
        })
        .collect()
}

fn check(files: &[File]) -> Vec<String> {
    let by_rel: BTreeMap<&str, &File> = files.iter().map(|f| (f.rel.as_str(), f)).collect();
    let mut out = Vec::new();
    for f in files {
        if f.layer == Layer::Unclassified {
            let hint = "move it under base/ or app/, or give it a rank in CAPABILITIES";
            out.push(format!("{}: unclassified file `{}`: {hint}", f.rel, top_of(&f.rel)));
        }
        for (target, names) in &f.edges {
            let to = by_rel[target.as_str()];
            let names = names.iter().map(String::as_str).collect::<Vec<_>>().join(", ");
            for rule in edge_breaks(f, to) {
                out.push(format!("{}: {rule}: -> {target} [{}] ({names})", f.rel, describe(to.layer)));
            }
        }
        if f.layer != Layer::Base && f.code.contains("Principal::root(") {
            out.push(format!("{}: rule 6 (Principal::root only in base/): Principal::root(", f.rel));
        }
        if env_literals(&f.code) > 0 && !ENV_BUILDERS.contains(&f.rel.as_str()) {
            out.push(format!("{}: rule 7 (Env built only in {ENV_BUILDERS:?}): Env {{ … }}", f.rel));
        }
    }
    out.extend(shared_key_prefixes(files));
    out.extend(cycles(files));
    out.sort();
    out
}

/// Rules 1-4 for one import edge: the rules it breaks.
fn edge_breaks(from: &File, to: &File) -> Vec<&'static str> {
    use Layer::*;
    let mut broken = Vec::new();
    if from.layer == Base && to.layer != Base {
        broken.push("rule 1 (base imports only base)");
    }
    if let Capability(name, rank) = from.layer {
        if !matches!(to.layer, Base | Capability(..)) || matches!(to.layer, Capability(n, r) if n != name && r >= rank)
        {
            broken.push("rule 2 (capability imports only base, lower ranks, itself)");
        }
    }
    if to.layer == App && !matches!(from.layer, App | Process) {
        broken.push("rule 3 (only app and process name crate::app)");
    }
    // A capability's interface is its root file; its submodules are its own business.
    if matches!(to.layer, Capability(..)) && from.layer != to.layer && to.module.len() > 1 {
        broken.push("rule 4 (other capabilities' internals)");
    }
    broken
}

/// `Env {` struct literals: where an expression starts (`= Env {`, `Arc::new(base::Env {`), so
/// neither `struct Env {`, `impl Env {`, `-> Env {` nor `&Env {`.
fn env_literals(code: &str) -> usize {
    let expression = |before: &str| before.ends_with(['=', '(', ',', '{', '[']) || before.ends_with("return");
    let path_start = |i: usize| code[..i].trim_end_matches(|c| is_word(c) || c == ':').trim_end();
    let literal = |i: usize| code[i + 3..].trim_start().starts_with('{') && expression(path_start(i));
    word_starts(code, "Env").filter(|&i| literal(i)).count()
}

/// The store key prefix a literal formats: `node/` for "node/{account}/…", two levels under
/// `iam/` ("iam/user/"), where one capability keeps several record kinds.
fn key_prefix(literal: &str) -> Option<&str> {
    let first = literal.find('/')? + 1;
    let name = &literal[..first - 1];
    let key_like = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !key_like || NOT_KEYS.contains(&&literal[..first]) {
        return None;
    }
    let second = literal[first..].find('/').map_or(literal.len(), |j| first + j + 1);
    Some(&literal[..if name == "iam" { second } else { first }])
}

/// Rule 5: a key prefix formatted by two owners means one of them reads the other's records.
fn shared_key_prefixes(files: &[File]) -> Vec<String> {
    let mut owners: BTreeMap<&str, BTreeMap<&str, BTreeSet<&str>>> = BTreeMap::new();
    for f in files {
        for key in f.literals.iter().filter_map(|l| key_prefix(l)) {
            owners.entry(key).or_default().entry(owner(f)).or_default().insert(&f.rel);
        }
    }
    let list = |owners: &BTreeMap<&str, BTreeSet<&str>>| -> Vec<String> {
        owners
            .iter()
            .map(|(o, files)| format!("{o} ({})", files.iter().copied().collect::<Vec<_>>().join(" ")))
            .collect()
    };
    owners
        .iter()
        .filter(|(_, o)| o.len() > 1)
        .map(|(key, o)| format!("\"{key}\": rule 5 (one owner per key prefix): formatted by {}", list(o).join(", ")))
        .collect()
}

/// Rule 8, leaving out a mod.rs's edges to its own submodules (`mod x; pub use x::y;` is its
/// interface, not a dependency of its logic).
fn cycles(files: &[File]) -> Vec<String> {
    let index: BTreeMap<&str, usize> = files.iter().enumerate().map(|(i, f)| (f.rel.as_str(), i)).collect();
    let own_submodule = |f: &File, to: &File| {
        f.rel.ends_with("mod.rs") && to.module.len() == f.module.len() + 1 && to.module.starts_with(&f.module)
    };
    let adj: Vec<Vec<usize>> = files
        .iter()
        .map(|f| f.edges.keys().map(|t| index[t.as_str()]).filter(|&t| !own_submodule(f, &files[t])).collect())
        .collect();
    let names = |c: &[usize]| c.iter().map(|&i| files[i].rel.as_str()).collect::<Vec<_>>().join(" ");
    let cycles = strongly_connected(&adj).into_iter().filter(|c| c.len() > 1);
    cycles.map(|c| format!("{}: rule 8 (no import cycle): {} files: {}", files[c[0]].rel, c.len(), names(&c))).collect()
}

/// Strongly connected components by mutual reachability: quadratic, and the graph is ~100 files.
fn strongly_connected(adj: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let reach: Vec<Vec<bool>> = (0..adj.len())
        .map(|v| {
            let (mut seen, mut todo) = (vec![false; adj.len()], vec![v]);
            while let Some(u) = todo.pop() {
                for &w in adj[u].iter().filter(|&&w| !std::mem::replace(&mut seen[w], true)) {
                    todo.push(w);
                }
            }
            seen
        })
        .collect();
    let mut done = vec![false; adj.len()];
    let mut out = Vec::new();
    for v in (0..adj.len()).filter(|&v| reach[v][v]) {
        if !done[v] {
            let c: Vec<usize> = (0..adj.len()).filter(|&w| reach[v][w] && reach[w][v]).collect();
            c.iter().for_each(|&w| done[w] = true);
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod parser {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn modules(rels: &[&str]) -> Modules {
        rels.iter().map(|r| (module_of(r), r.to_string())).collect()
    }

    #[test]
    fn use_trees_flatten_braces_and_aliases() {
        let (code, _) = scan("pub(crate) use crate::{a::{b, c as d}, e::{self}};\nuse std::fmt;");
        let trees: Vec<_> = use_trees(&code).into_iter().flat_map(|t| expand(t, &[])).collect();
        assert_eq!(
            trees,
            vec![
                (strings(&["crate", "a", "b"]), None),
                (strings(&["crate", "a", "c"]), Some("d".to_string())),
                (strings(&["crate", "e", "self"]), None),
                (strings(&["std", "fmt"]), None),
            ]
        );
    }

    #[test]
    fn super_and_children_resolve_to_files() {
        let m = modules(&["lib.rs", "a/mod.rs", "a/b.rs", "c.rs", "d/mod.rs", "d/e.rs"]);
        let code = "use super::*; use crate::d; fn f() { super::super::c::g(); d::e::h(); crate::run(); }";
        let found = edges("a/b.rs", &module_of("a/b.rs"), code, &m);
        let expect =
            [("a/mod.rs", "*"), ("c.rs", "g"), ("d/e.rs", "(module)"), ("d/mod.rs", "(module)"), ("lib.rs", "run")];
        assert_eq!(found, expect.iter().map(|(f, n)| (f.to_string(), [n.to_string()].into())).collect());
        let found = edges("a/mod.rs", &module_of("a/mod.rs"), "pub use b::X as Y;", &m);
        assert_eq!(found, [("a/b.rs".to_string(), ["X".to_string()].into())].into());
    }

    #[test]
    fn comments_strings_and_tests_are_not_code() {
        let src = r##"// crate::x
let s = "// crate::y"; /* crate::z /* nested */ */ let q = ('"', '\'', '\u{22}');
fn f<'a>(b: &'a [u8]) { r#"crate::w"#; b"k/"; }
#[cfg(test)]
fn t() { "node/" }"##;
        let (code, literals) = scan(src);
        assert!(!code.contains("crate::") && !code.contains("cfg(test)"), "{code}");
        assert!(code.contains("fn f<'a>(b: &'a [u8])"), "{code}");
        assert_eq!(literals, vec!["// crate::y"]);
    }

    #[test]
    fn key_prefixes_and_env_literals() {
        assert_eq!(key_prefix("node/{account}/{region}/"), Some("node/"));
        assert_eq!(key_prefix("iam/user/{account}/"), Some("iam/user/"));
        assert_eq!(key_prefix("iam/generation"), Some("iam/generation"));
        assert_eq!(key_prefix("application/json"), None);
        assert_eq!(key_prefix("Alias must start with \\\"alias/"), None);
        let code =
            "pub struct Env {} impl Env { fn f() -> Env { Env {} } fn g(&self) -> &Env { Arc::new(base::Env {}) } }";
        assert_eq!(env_literals(code), 2);
    }
}

//! The layering rule of `docs/architecture.md`, checked on the source tree in milliseconds.
//!
//! The layer table is read from the doc itself (so the doc and the check cannot drift apart).
//! Every file under `src/` is scanned for module references: `use crate::…` and `use super::…`
//! lines (grouped `{…}` imports expanded), `pub use` re-exports, and inline paths such as
//! `crate::x::y::f(…)` in expressions and types. Comments and string literals are skipped.
//! Two rules are enforced:
//! - no module imports from a layer above its own;
//! - no import cycle: among the crate's top-level modules, and among the children of any one
//!   module (a module may use its own children and its ancestors; that is not a cycle).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module → module it uses → the first file and line that does.
type Graph = BTreeMap<String, BTreeMap<String, (String, usize)>>;

/// One reference from a source file to a module.
#[derive(Debug, Clone)]
struct Reference {
    /// The file, relative to the crate root, e.g. `src/batch/mod.rs`.
    file: String,
    line: usize,
    /// The module the file is, as a path (`["batch"]`, `["composite", "gpu"]`).
    from: Vec<String>,
    /// The module referenced (the longest known module prefix of the path).
    to: Vec<String>,
}

/// The layer table from `docs/architecture.md`: module name → (layer index, layer name).
fn layer_table(doc: &str) -> BTreeMap<String, (usize, String)> {
    let mut table = BTreeMap::new();
    let section =
        doc.split("<!-- layers:begin -->").nth(1).and_then(|s| s.split("<!-- layers:end -->").next());
    let section =
        section.expect("docs/architecture.md has a <!-- layers:begin --> … <!-- layers:end --> table");
    for row in section.lines().filter(|l| l.trim_start().starts_with('|')) {
        let cells: Vec<&str> = row.trim().trim_matches('|').split('|').map(str::trim).collect();
        let Ok(index) = cells[0].parse::<usize>() else { continue };
        for module in cells[2].split(',') {
            let module = module.trim().trim_matches('`');
            if !module.is_empty() {
                table.insert(module.to_string(), (index, cells[1].trim_matches('`').to_string()));
            }
        }
    }
    table
}

/// Source text with comments, string and char literals blanked out (line breaks kept), so
/// paths are only found in code.
fn code_only(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    let keep_newlines =
        |out: &mut Vec<u8>, s: &[u8]| out.extend(s.iter().map(|&c| if c == b'\n' { b'\n' } else { b' ' }));
    while i < b.len() {
        let rest = &b[i..];
        if rest.starts_with(b"//") {
            let end = rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len());
            keep_newlines(&mut out, &rest[..end]);
            i += end;
        } else if rest.starts_with(b"/*") {
            let mut depth = 0;
            let mut j = 0;
            while j < rest.len() {
                if rest[j..].starts_with(b"/*") {
                    depth += 1;
                    j += 2;
                } else if rest[j..].starts_with(b"*/") {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            keep_newlines(&mut out, &rest[..j]);
            i += j;
        } else if rest[0] == b'r'
            && (rest.get(1) == Some(&b'"') || rest.get(1) == Some(&b'#'))
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'))
        {
            // Raw string r"…" / r#"…"#.
            let hashes = rest[1..].iter().take_while(|&&c| c == b'#').count();
            if rest.get(1 + hashes) != Some(&b'"') {
                out.push(rest[0]);
                i += 1;
                continue;
            }
            let close: Vec<u8> = std::iter::once(b'"').chain(std::iter::repeat_n(b'#', hashes)).collect();
            let body = &rest[2 + hashes..];
            let end = body
                .windows(close.len())
                .position(|w| w == close.as_slice())
                .map_or(body.len(), |p| p + close.len());
            keep_newlines(&mut out, &rest[..2 + hashes + end]);
            i += 2 + hashes + end;
        } else if rest[0] == b'"' {
            let mut j = 1;
            while j < rest.len() && rest[j] != b'"' {
                j += if rest[j] == b'\\' { 2 } else { 1 };
            }
            let j = (j + 1).min(rest.len());
            keep_newlines(&mut out, &rest[..j]);
            i += j;
        } else if rest[0] == b'\'' {
            // A char literal ('x', '\n', '\'', '\u{..}') or a lifetime ('a): blank literals only.
            let len = if rest.get(1) == Some(&b'\\') {
                rest[2..].iter().position(|&c| c == b'\'').map(|p| p + 3)
            } else if rest.get(2) == Some(&b'\'') {
                Some(3)
            } else {
                std::str::from_utf8(&rest[1..rest.len().min(6)])
                    .ok()
                    .and_then(|s| s.chars().next().map(|c| c.len_utf8()))
                    .filter(|&n| rest.get(1 + n) == Some(&b'\''))
                    .map(|n| n + 2)
            };
            let len = len.unwrap_or(1);
            keep_newlines(&mut out, &rest[..len]);
            i += len;
        } else {
            out.push(rest[0]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Every path that starts with `crate::`, `super::` or `self::` in `code`, with its line;
/// grouped imports (`crate::{a, b::{c, d}}`) are expanded into one path each.
fn paths_in(code: &str) -> Vec<(usize, Vec<String>)> {
    let b = code.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let boundary = i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_' || b[i - 1] == b':');
        let starts = ["crate", "super", "self"]
            .iter()
            .find(|k| code[i..].starts_with(*k) && code[i + k.len()..].trim_start().starts_with("::"));
        if let (true, Some(_)) = (boundary, starts) {
            let line = code[..i].matches('\n').count() + 1;
            let (paths, end) = parse_path(code, i);
            found.extend(paths.into_iter().map(|p| (line, p)));
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    found
}

/// Parses a path (with `{…}` groups) at `start`; returns the expanded paths and where it ends.
fn parse_path(code: &str, start: usize) -> (Vec<Vec<String>>, usize) {
    let b = code.as_bytes();
    let mut segs: Vec<String> = Vec::new();
    let mut i = start;
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i < b.len() && b[i] == b'{' {
            // A group: each comma-separated item continues the prefix.
            let mut out = Vec::new();
            i += 1;
            loop {
                while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b',') {
                    i += 1;
                }
                if i >= b.len() || b[i] == b'}' {
                    return (out, i + 1);
                }
                let (inner, end) = parse_path(code, i);
                for p in inner {
                    let mut full = segs.clone();
                    // `self` inside a group names the prefix itself.
                    full.extend(p.into_iter().filter(|s| s != "self"));
                    out.push(full);
                }
                // An item that is not a path (a stray token) is stepped over.
                i = if end <= i { i + 1 } else { end };
            }
        }
        let id_start = i;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
            i += 1;
        }
        if i == id_start {
            if b.get(i) == Some(&b'*') {
                i += 1;
            }
            return (vec![segs], i);
        }
        segs.push(code[id_start..i].to_string());
        let mut j = i;
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        if code[j..].starts_with("::") {
            i = j + 2;
        } else {
            return (vec![segs], i);
        }
    }
}

/// The module a source file is: `src/a/b.rs` → `a::b`, `src/a/mod.rs` → `a`, `src/lib.rs` → root.
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel.iter().skip(1).map(|s| s.to_string_lossy().into_owned()).collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_string());
    }
    parts
}

/// Scans every `.rs` file of `root/src` (but the binary's `main.rs` and the `bin/` folder, which
/// sit above the library) and returns each reference to a module of the crate.
fn references(root: &Path) -> (BTreeSet<Vec<String>>, Vec<Reference>) {
    let mut files = Vec::new();
    let mut stack = vec![root.join("src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("src/ is readable").flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "rs") {
                files.push(p);
            }
        }
    }
    let rel = |p: &Path| p.strip_prefix(root).expect("under root").to_path_buf();
    let library: Vec<PathBuf> = files
        .into_iter()
        .map(|p| rel(&p))
        .filter(|r| r != Path::new("src/main.rs") && !r.starts_with("src/bin"))
        .collect();
    let modules: BTreeSet<Vec<String>> = library.iter().map(|r| module_of(r)).collect();
    let mut refs = Vec::new();
    for file in &library {
        let from = module_of(file);
        let text = std::fs::read_to_string(root.join(file)).expect("source is readable");
        for (line, path) in paths_in(&code_only(&text)) {
            // Resolve `super`/`self` against the file's module.
            let mut base: Vec<String> = Vec::new();
            let mut segs = path.as_slice();
            match segs.first().map(String::as_str) {
                Some("crate") => segs = &segs[1..],
                Some("self") => {
                    base = from.clone();
                    segs = &segs[1..];
                }
                Some("super") => {
                    base = from.clone();
                    // `super` in `a/b.rs` (module `a::b`) is `a`; in `a/mod.rs` (module `a`) the root.
                    while segs.first().map(String::as_str) == Some("super") {
                        base.pop();
                        segs = &segs[1..];
                    }
                }
                _ => continue,
            }
            let mut target = base;
            target.extend(segs.iter().cloned());
            // The longest prefix that is a module of the crate.
            let to = (0..=target.len()).rev().map(|n| target[..n].to_vec()).find(|p| modules.contains(p));
            if let Some(to) = to {
                refs.push(Reference { file: file.display().to_string(), line, from: from.clone(), to });
            }
        }
    }
    (modules, refs)
}

/// Problems with the layering, one line each, naming the file and line of the import.
fn violations(root: &Path) -> Vec<String> {
    let doc =
        std::fs::read_to_string(root.join("docs/architecture.md")).expect("docs/architecture.md exists");
    let layers = layer_table(&doc);
    let (modules, refs) = references(root);
    let mut problems = Vec::new();
    // Every top-level module has a layer.
    for top in modules.iter().filter(|m| m.len() == 1) {
        if !layers.contains_key(&top[0]) {
            problems.push(format!("src: module `{}` has no layer in docs/architecture.md", top[0]));
        }
    }
    // Upward imports.
    for r in &refs {
        let (Some(from), Some(to)) = (r.from.first(), r.to.first()) else { continue };
        if from == to {
            continue;
        }
        if let (Some(lf), Some(lt)) = (layers.get(from), layers.get(to)) {
            if lt.0 > lf.0 {
                problems.push(format!(
                    "{}:{}: upward import: `{}` (layer {} {}) uses `crate::{}` (layer {} {})",
                    r.file,
                    r.line,
                    r.from.join("::"),
                    lf.0,
                    lf.1,
                    r.to.join("::"),
                    lt.0,
                    lt.1
                ));
            }
        }
    }
    // Cycles among siblings: an edge between the two children of the common ancestor.
    let mut graphs: BTreeMap<Vec<String>, Graph> = BTreeMap::new();
    for r in &refs {
        let common = r.from.iter().zip(&r.to).take_while(|(a, b)| a == b).count();
        if common == r.from.len() || common == r.to.len() {
            continue; // an ancestor or a descendant: a module's own business
        }
        graphs
            .entry(r.from[..common].to_vec())
            .or_default()
            .entry(r.from[common].clone())
            .or_default()
            .entry(r.to[common].clone())
            .or_insert((r.file.clone(), r.line));
    }
    // Cycles the doc lists as known debts (`<!-- allowed-cycle: a::b a::c -->`), each named.
    let allowed: Vec<BTreeSet<String>> = doc
        .lines()
        .filter_map(|l| l.trim().strip_prefix("<!-- allowed-cycle:")?.strip_suffix("-->").map(str::to_owned))
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect();
    for (parent, graph) in &graphs {
        for cycle in cycles(graph) {
            let prefix = if parent.is_empty() { String::new() } else { format!("{}::", parent.join("::")) };
            let members: BTreeSet<String> = cycle.iter().map(|m| format!("{prefix}{m}")).collect();
            if allowed.contains(&members) {
                continue;
            }
            let steps: Vec<String> = cycle
                .windows(2)
                .map(|w| {
                    let (file, line) = &graph[&w[0]][&w[1]];
                    format!("{prefix}{} → {prefix}{} ({file}:{line})", w[0], w[1])
                })
                .collect();
            problems.push(format!("import cycle: {}", steps.join(", ")));
        }
    }
    problems
}

/// One cycle per strongly connected component of more than one node, as a closed walk.
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let mut seen_in_cycle = BTreeSet::new();
    for start in graph.keys() {
        if seen_in_cycle.contains(start) {
            continue;
        }
        // Shortest path back to `start` (breadth-first), if any.
        let mut prev: BTreeMap<String, String> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start.clone()]);
        let mut closed = None;
        while let Some(n) = queue.pop_front() {
            for next in graph.get(&n).into_iter().flat_map(|e| e.keys()) {
                if next == start {
                    closed = Some(n.clone());
                    break;
                }
                if !prev.contains_key(next) {
                    prev.insert(next.clone(), n.clone());
                    queue.push_back(next.clone());
                }
            }
            if closed.is_some() {
                break;
            }
        }
        if let Some(last) = closed {
            let mut walk = vec![start.clone(), last.clone()];
            let mut n = last;
            while &n != start {
                n = prev[&n].clone();
                walk.push(n.clone());
            }
            walk.reverse();
            seen_in_cycle.extend(walk.iter().cloned());
            found.push(walk);
        }
    }
    found
}

#[test]
fn the_source_tree_keeps_its_layers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let problems = violations(root);
    assert!(problems.is_empty(), "layering problems (see docs/architecture.md):\n{}", problems.join("\n"));
}

/// A throwaway crate layout with the real layer table.
fn planted(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("docs")).unwrap();
    std::fs::write(
        dir.path().join("docs/architecture.md"),
        "<!-- layers:begin -->\n| layer | name | modules |\n|---|---|---|\n| 0 | model | `model` |\n| 1 | stages | `layout`, `composite` |\n| 2 | pipeline | `pipeline` |\n<!-- layers:end -->\n",
    )
    .unwrap();
    for (path, text) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

const CLEAN: &[(&str, &str)] = &[
    ("src/lib.rs", "pub mod model; pub mod layout; pub mod composite; pub mod pipeline;\n"),
    ("src/model.rs", "pub struct Rect;\n"),
    ("src/layout/mod.rs", "pub mod doc;\nuse crate::model::Rect;\nuse doc::Doc;\n"),
    ("src/layout/doc.rs", "use super::super::model::Rect; // parent's parent\npub struct Doc;\n"),
    ("src/composite.rs", "use crate::{layout::{self, doc::Doc}, model};\n"),
    ("src/pipeline.rs", "pub fn run() { crate::composite::f(); }\n"),
];

#[test]
fn a_clean_tree_passes() {
    let dir = planted(CLEAN);
    assert_eq!(violations(dir.path()), Vec::<String>::new());
}

#[test]
fn a_planted_cycle_is_found_through_super_and_inline_paths() {
    let mut files = CLEAN.to_vec();
    // layout → composite through `super::` in a child, composite → layout through a group import.
    files.push(("src/layout/doc.rs", "pub struct Doc;\nfn f() -> super::super::composite::X { todo!() }\n"));
    let dir = planted(&files);
    let problems = violations(dir.path());
    assert!(
        problems.iter().any(|p| p.starts_with("import cycle:") && p.contains("src/layout/doc.rs:2")),
        "{problems:?}"
    );
}

#[test]
fn a_planted_upward_import_is_found_in_an_inline_path_and_a_reexport() {
    let mut files = CLEAN.to_vec();
    files.push(("src/model.rs", "pub struct Rect;\n\nfn f() { let _ = crate::pipeline::run(); }\n"));
    files.push(("src/layout/mod.rs", "pub mod doc;\npub use crate::pipeline::run;\n"));
    let dir = planted(&files);
    let problems = violations(dir.path());
    assert!(problems.iter().any(|p| p.starts_with("src/model.rs:3: upward import")), "{problems:?}");
    assert!(problems.iter().any(|p| p.starts_with("src/layout/mod.rs:2: upward import")), "{problems:?}");
}

#[test]
fn comments_and_strings_are_not_imports() {
    let mut files = CLEAN.to_vec();
    files.push((
        "src/model.rs",
        "//! See [`crate::pipeline`].\npub struct Rect; /* crate::pipeline */\nconst S: &str = \"crate::pipeline::x\";\nconst R: &str = r#\"crate::pipeline\"#;\nconst C: char = '\"';\n",
    ));
    let dir = planted(&files);
    assert_eq!(violations(dir.path()), Vec::<String>::new());
}

#[test]
fn a_cycle_between_children_of_one_module_is_found() {
    let mut files = CLEAN.to_vec();
    files.push(("src/layout/mod.rs", "pub mod doc; pub mod text;\n"));
    files.push(("src/layout/doc.rs", "use super::text::T;\npub struct Doc;\n"));
    files.push(("src/layout/text.rs", "use crate::layout::doc::Doc;\npub struct T;\n"));
    let dir = planted(&files);
    let problems = violations(dir.path());
    assert!(problems.iter().any(|p| p.contains("layout::doc → layout::text")), "{problems:?}");
}

#[test]
fn only_the_cycle_the_doc_allows_is_let_through() {
    let mut files = CLEAN.to_vec();
    files.push(("src/layout/mod.rs", "pub mod doc; pub mod text;\n"));
    files.push(("src/layout/doc.rs", "use super::text::T;\npub struct Doc;\n"));
    files.push(("src/layout/text.rs", "use crate::layout::doc::Doc;\npub struct T;\n"));
    let dir = planted(&files);
    let doc = dir.path().join("docs/architecture.md");
    let text = std::fs::read_to_string(&doc).unwrap();
    std::fs::write(&doc, format!("{text}<!-- allowed-cycle: layout::doc layout::text -->\n")).unwrap();
    assert_eq!(violations(dir.path()), Vec::<String>::new());
    std::fs::write(&doc, format!("{text}<!-- allowed-cycle: layout::doc layout::other -->\n")).unwrap();
    assert_eq!(violations(dir.path()).len(), 1);
}

#[test]
fn a_module_without_a_layer_is_reported() {
    let mut files = CLEAN.to_vec();
    files.push(("src/stray.rs", "pub fn f() {}\n"));
    let dir = planted(&files);
    assert!(violations(dir.path()).iter().any(|p| p.contains("`stray` has no layer")));
}

/// `rust-version` in Cargo.toml says what the build really needs: the newest `rust-version` any
/// dependency in Cargo.lock declares (opencv 0.101 and redis-style crates need 1.88), neither
/// less (a user's older toolchain would fail deep in a dependency) nor more.
#[test]
fn rust_version_is_what_the_dependencies_need() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let declared = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .map(|v| v.trim().trim_matches('"').to_string())
        .expect("Cargo.toml declares rust-version");
    let out = std::process::Command::new(env!("CARGO"))
        // This platform's packages only: the others (Windows console crates) are not
        // downloaded by a build here, and --offline would fail on them on a fresh machine.
        .args(["metadata", "--format-version", "1", "--locked", "--offline", "--filter-platform"])
        .arg(env!("TARGET_TRIPLE"))
        .current_dir(root)
        .output()
        .expect("cargo metadata runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let parse = |v: &str| -> Vec<u32> { v.split('.').map(|p| p.parse().unwrap_or(0)).take(2).collect() };
    let (needed, by) = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["name"] != "coverforge")
        .filter_map(|p| Some((p["rust_version"].as_str()?.to_string(), p["name"].as_str()?.to_string())))
        .max_by_key(|(v, _)| parse(v))
        .expect("dependencies declare rust-version");
    assert_eq!(
        parse(&declared),
        parse(&needed),
        "Cargo.toml says rust-version {declared}; {by} needs {needed}"
    );
}

//! The dependency graph between the crate's top-level modules (drawn at the top of
//! docs/architecture.md), checked against every `crate::` path in the sources.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Each module and the modules it may use. `platform` is the streams worker's glue and
/// may use everything.
const ALLOWED: &[(&str, &[&str])] = &[
    ("protocol", &[]),
    ("server_timing", &[]),
    ("internal", &[]),
    ("http", &["protocol"]),
    ("auth", &["protocol"]),
    ("store", &["protocol"]),
    ("metrics", &["store", "http", "protocol"]),
    ("edge", &["http", "ds", "protocol"]),
    ("ds", &["http", "auth", "protocol"]),
    ("stream_do", &["store", "http", "auth", "internal", "metrics", "ds", "protocol"]),
    ("adapters", &["store", "http", "auth", "protocol"]),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable source folder") {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules a file names through `crate::`, outside comments.
fn used_modules(source: &str) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    for line in source.lines().map(str::trim_start).filter(|l| !l.starts_with("//")) {
        for (i, _) in line.match_indices("crate::") {
            let rest = &line[i + "crate::".len()..];
            let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                used.insert(name);
            }
        }
    }
    used
}

#[test]
fn modules_only_use_the_modules_below_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = Vec::new();
    let mut checked = 0;
    for file in files {
        let relative = file.strip_prefix(&src).expect("inside src");
        let module = relative.iter().next().and_then(|m| m.to_str()).unwrap_or("").trim_end_matches(".rs");
        let Some((_, allowed)) = ALLOWED.iter().find(|(m, _)| *m == module) else { continue };
        checked += 1;
        let source = std::fs::read_to_string(&file).expect("readable source");
        for used in used_modules(&source) {
            if used != module && !allowed.contains(&used.as_str()) {
                violations.push(format!("{} uses crate::{used}", relative.display()));
            }
        }
    }
    assert!(checked > 40, "only {checked} files were checked");
    assert!(violations.is_empty(), "modules use what they may not: {violations:#?}");
}

#[test]
fn paths_in_comments_and_own_paths_are_not_uses() {
    let used = used_modules(
        "use crate::http::Reply;\n// see crate::platform\nlet x = crate::store::Span::page(0, 1, 2);",
    );
    assert_eq!(used.into_iter().collect::<Vec<_>>(), vec!["http", "store"]);
}

//! The layers of the crate's module doc, checked: every `crate::…` path in
//! `src` names a module on a lower layer than the file's own, or its own
//! module. A new top-level module must be given a layer here.

use std::collections::BTreeMap;
use std::path::Path;

/// Each top-level module's layer, as the crate's module doc draws them.
const LAYERS: [(&str, u32); 20] = [
    ("config", 0),
    ("platform", 1),
    ("web", 2),
    ("auth", 3),
    ("billing", 4),
    ("plans", 5),
    ("market", 6),
    ("watchlist", 7),
    ("news", 7),
    ("charts", 7),
    ("scripts", 7),
    ("stream", 8),
    ("backtests", 8),
    ("alerts", 8),
    ("state", 9),
    ("ops", 10),
    ("site", 10),
    ("usage", 10),
    ("router", 11),
    ("startup", 12),
];

fn layer_of(module: &str) -> Option<u32> {
    LAYERS
        .iter()
        .find(|(name, _)| *name == module)
        .map(|(_, layer)| *layer)
}

/// The top-level module a source file belongs to (`market` for
/// `src/market/binance/rest.rs`, `plans` for `src/plans.rs`).
fn module_of(relative: &Path) -> String {
    let first = relative
        .components()
        .next()
        .map(|c| c.as_os_str().to_string_lossy().to_string());
    first.unwrap_or_default().trim_end_matches(".rs").to_string()
}

/// Every top-level module a file's code names through `crate::`, also
/// inside grouped imports (`use crate::{a, b::c}`).
fn modules_named(source: &str) -> Vec<String> {
    let mut named = Vec::new();
    let code: String = source
        .lines()
        .filter(|line| {
            let line = line.trim_start();
            !line.starts_with("//")
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    named.push(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                named.push(name);
            }
        }
    }
    named
}

fn rust_files(dir: &Path, into: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src is readable").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, into);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            into.push(path);
        }
    }
}

#[test]
fn no_module_uses_one_above_it_or_beside_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut wrong: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(&src).expect("under src");
        let own = module_of(relative);
        // The crate root declares every module; this file names them in
        // its own test.
        if matches!(own.as_str(), "lib" | "main" | "layers") {
            continue;
        }
        let own_layer = layer_of(&own).unwrap_or_else(|| panic!("{own} has no layer in layers.rs"));
        let source = std::fs::read_to_string(&file).expect("readable");
        for named in modules_named(&source) {
            if named == own {
                continue;
            }
            let Some(layer) = layer_of(&named) else {
                panic!("{} names crate::{named}, which has no layer", relative.display());
            };
            if layer >= own_layer {
                wrong
                    .entry(relative.display().to_string())
                    .or_default()
                    .push(format!("{named} (layer {layer}, own {own_layer})"));
            }
        }
    }
    assert!(wrong.is_empty(), "imports against the layers: {wrong:#?}");
}

#[test]
fn the_reader_finds_grouped_and_plain_paths() {
    let source = "use crate::{market, web::ApiError};\n// crate::startup in a comment\nlet x = crate::plans::Action::Watch;";
    assert_eq!(modules_named(source), ["market", "web", "plans"]);
}

//! The README's module picture is checked, not just drawn: every module of this crate appears in
//! it once, and every `crate::` path in a module's source names a module lower in the picture.
//! An arrow that runs back up (or sideways) fails this test with the file that draws it.

use std::path::{Path, PathBuf};

/// The picture's layers, top first: the module names at the start of each of its lines.
fn layers() -> Vec<Vec<String>> {
    let readme = include_str!("../../README.md");
    let start = readme.find("\ncli/ ").expect("the README's module picture starts with `cli/`");
    let block = &readme[start + 1..];
    let block = &block[..block.find("```").expect("the module picture ends")];
    block
        .lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_lowercase()))
        .map(|l| {
            let names = l.split("   ").next().unwrap_or_default();
            names.split_whitespace().map(|m| m.trim_end_matches('/').to_string()).collect()
        })
        .collect()
}

/// The modules `lib.rs` declares.
fn declared() -> Vec<String> {
    include_str!("lib.rs")
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod ").or_else(|| l.trim().strip_prefix("mod ")))
        .map(|m| m.trim_end_matches(';').to_string())
        .filter(|m| m != "layering")
        .collect()
}

/// Every `.rs` file of module `name`.
fn sources(name: &str) -> Vec<PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let file = src.join(format!("{name}.rs"));
    if file.exists() {
        return vec![file];
    }
    let mut out = Vec::new();
    let mut dirs = vec![src.join(name)];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out
}

/// The crate modules a source file names (`crate::x`).
fn uses(text: &str) -> Vec<String> {
    text.match_indices("crate::")
        .map(|(at, m)| {
            let rest = &text[at + m.len()..];
            rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect()
        })
        .collect()
}

#[test]
fn every_module_is_in_the_picture_once() {
    let pictured: Vec<String> = layers().into_iter().flatten().collect();
    let mut declared = declared();
    declared.sort();
    let mut sorted = pictured.clone();
    sorted.sort();
    assert_eq!(sorted, declared, "the README's module picture and lib.rs list different modules");
}

#[test]
fn every_arrow_points_down() {
    let layers = layers();
    let layer_of = |m: &str| layers.iter().position(|l| l.iter().any(|x| x == m));
    let mut wrong = Vec::new();
    for (i, layer) in layers.iter().enumerate() {
        for module in layer {
            for file in sources(module) {
                let text = std::fs::read_to_string(&file).expect("read source");
                for used in uses(&text) {
                    if used == *module {
                        continue;
                    }
                    match layer_of(&used) {
                        Some(j) if j > i => {}
                        _ => wrong.push(format!("{} uses crate::{used}", file.display())),
                    }
                }
            }
        }
    }
    wrong.sort();
    wrong.dedup();
    assert!(wrong.is_empty(), "arrows that do not point down the README's picture:\n{}", wrong.join("\n"));
}

//! The modules of `app` do not import each other in a circle: the rooms' low-level modules,
//! `images::store` and `org::shared`, are where rooms that call each other meet (see
//! docs/architecture.md).
//! A module's dependencies are the `crate::…` and `super::…` paths its source names; a module
//! may always use its own ancestors (they only declare it and hold shared types).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn modules(dir: &Path, prefix: &[String], out: &mut BTreeMap<String, String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
        if path.is_dir() {
            modules(&path, &[prefix, &[stem]].concat(), out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let name = if stem == "mod" || stem == "lib" { prefix.to_vec() } else { [prefix, &[stem]].concat() };
            out.insert(name.join("::"), std::fs::read_to_string(&path).unwrap());
        }
    }
}

/// The longest known module that `path` (a `::` path from the crate root) lies in.
fn owner(path: &[&str], known: &BTreeMap<String, String>) -> Option<String> {
    (1..=path.len()).rev().map(|n| path[..n].join("::")).find(|m| known.contains_key(m))
}

fn without_comments(source: &str) -> String {
    source.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

/// The `a::b::c` paths after `marker`, with one level of `{x, y}` groups expanded.
fn paths_after<'a>(source: &'a str, marker: &str) -> Vec<Vec<&'a str>> {
    let mut found = Vec::new();
    for (i, _) in source.match_indices(marker) {
        let rest = &source[i + marker.len()..];
        let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).unwrap_or(rest.len());
        let head: Vec<&str> = rest[..end].split("::").filter(|s| !s.is_empty()).collect();
        if rest[end..].starts_with('{') && rest[..end].ends_with("::") {
            let group = &rest[end + 1..end + rest[end..].find('}').unwrap_or(1)];
            for item in group.split(',') {
                let first = item.trim().split([':', ' ']).next().unwrap_or("");
                if !first.is_empty() && first != "self" {
                    found.push([head.clone(), vec![first]].concat());
                }
            }
        }
        found.push(head);
    }
    found
}

fn dependencies(known: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph = BTreeMap::new();
    for (module, source) in known {
        let source = without_comments(source);
        let me: Vec<&str> = module.split("::").filter(|s| !s.is_empty()).collect();
        let mut paths = paths_after(&source, "crate::");
        for p in paths_after(&source, "super::") {
            let parent = &me[..me.len().saturating_sub(1)];
            paths.push([parent, &p[..]].concat());
        }
        let deps: BTreeSet<String> = paths
            .iter()
            .filter_map(|p| owner(p, known))
            .filter(|d| d != module && !module.starts_with(&format!("{d}::")) && !d.is_empty())
            .collect();
        graph.insert(module.clone(), deps);
    }
    graph
}

/// A circle through `start`, if there is one.
fn circle(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    let mut stack = vec![vec![start.to_string()]];
    let mut seen = BTreeSet::new();
    while let Some(path) = stack.pop() {
        for next in &graph[path.last().unwrap()] {
            if next == start {
                return Some([path.clone(), vec![next.clone()]].concat());
            }
            if seen.insert(next.clone()) {
                stack.push([path.clone(), vec![next.clone()]].concat());
            }
        }
    }
    None
}

#[test]
fn no_module_of_app_depends_on_itself_through_others() {
    let mut known = BTreeMap::new();
    modules(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &[], &mut known);
    let graph = dependencies(&known);
    assert!(graph["backend::images::events"].contains("backend::images::store"), "the scan sees imports");
    let circles: Vec<String> = graph.keys().filter_map(|m| circle(&graph, m)).map(|c| c.join(" → ")).collect();
    assert!(circles.is_empty(), "modules that import each other in a circle:\n{}", circles.join("\n"));
}

//! One owner per table: every table of the migrations is named by exactly one room's module
//! doc ("Owns the `a` and `b` tables"), and every `insert into`, `update` and `delete from` in
//! the source is in the room that owns its table. A room is a folder of `app/src/backend` or a
//! file at its top; code outside the backend (pages, server functions, the server crate) writes
//! no table at all. Another room that needs a write calls the owner's helper.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The words of `text`, lower-cased, quotes dropped: `update "user" set` is `update user set`.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

/// The tables the migrations create.
fn tables() -> BTreeSet<String> {
    let mut tables = BTreeSet::new();
    for entry in std::fs::read_dir(root().join("migrations")).unwrap() {
        let sql = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let w = words(&sql);
        for (i, pair) in w.windows(2).enumerate() {
            if pair == ["create", "table"] {
                let name = if w.get(i + 2).is_some_and(|x| x == "if") { &w[i + 5] } else { &w[i + 2] };
                tables.insert(name.clone());
            }
        }
    }
    tables
}

/// The room a file of `app/src/backend` is in (`None` outside the backend).
fn room(file: &Path) -> Option<String> {
    let backend = root().join("app/src/backend");
    let rest = file.strip_prefix(&backend).ok()?;
    let first = rest.components().next()?.as_os_str().to_str()?.to_string();
    Some(if first == "mod.rs" { "backend".into() } else { first.trim_end_matches(".rs").into() })
}

/// The tables a module doc says its room owns.
fn owned(source: &str) -> BTreeSet<String> {
    let doc: String =
        source.lines().filter_map(|l| l.trim_start().strip_prefix("//!")).collect::<Vec<_>>().join(" ").to_lowercase();
    let mut out = BTreeSet::new();
    for (i, _) in doc.match_indices("owns the ") {
        let sentence = &doc[i..];
        let end = sentence.find(" table").unwrap_or(0);
        for (n, part) in sentence[..end].split('`').enumerate() {
            if n % 2 == 1 {
                out.insert(part.to_string());
            }
        }
    }
    out
}

/// Each write in `source`: (line, table).
fn writes(source: &str, tables: &BTreeSet<String>) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in source.lines().enumerate() {
        let code = line.trim_start();
        if code.starts_with("//") {
            continue;
        }
        let w = words(code);
        for (i, word) in w.iter().enumerate() {
            let target = match word.as_str() {
                "insert" if w.get(i + 1).is_some_and(|x| x == "into") => w.get(i + 2),
                "delete" if w.get(i + 1).is_some_and(|x| x == "from") => w.get(i + 2),
                "update" => w.get(i + 1),
                _ => None,
            };
            if let Some(t) = target.filter(|t| tables.contains(*t)) {
                found.push((n + 1, t.clone()));
            }
        }
    }
    found
}

#[test]
fn every_table_has_one_owner_and_only_its_owner_writes_it() {
    let tables = tables();
    assert!(tables.contains("user") && tables.contains("tag"), "the migrations were read: {tables:?}");
    let mut files = Vec::new();
    rust_files(&root().join("app/src"), &mut files);
    rust_files(&root().join("server/src"), &mut files);

    // The owners, from the rooms' module docs.
    let backend = root().join("app/src/backend");
    let mut owner: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for file in files.iter().filter(|f| {
        f.parent() == Some(backend.as_path()) || f.file_name().is_some_and(|n| n == "mod.rs") && f.starts_with(&backend)
    }) {
        let Some(room) = room(file) else { continue };
        let source = std::fs::read_to_string(file).unwrap();
        for table in owned(&source) {
            assert!(tables.contains(&table), "{} says it owns `{table}`, which no migration creates", file.display());
            owner.entry(table).or_default().push(room.clone());
        }
    }
    let mut problems = Vec::new();
    for table in &tables {
        match owner.get(table).map(Vec::as_slice) {
            Some([_]) => {}
            None => problems.push(format!("`{table}` has no owner: name it in a room's module doc")),
            Some(many) => problems.push(format!("`{table}` is claimed by {many:?}")),
        }
    }

    // The writes, each in its table's room.
    let mut seen = 0;
    for file in &files {
        let source = std::fs::read_to_string(file).unwrap();
        let here = room(file);
        for (line, table) in writes(&source, &tables) {
            seen += 1;
            let Some(rooms) = owner.get(&table) else { continue };
            if here.as_ref() != rooms.first() {
                let at = file.strip_prefix(root()).unwrap_or(file).display().to_string();
                problems.push(format!("{at}:{line} writes `{table}`, owned by `{}`", rooms[0]));
            }
        }
    }
    assert!(seen > 50, "the writes were found ({seen})");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_reader_finds_writes_and_owners() {
    let tables: BTreeSet<String> = ["user", "team_member"].map(String::from).into();
    let source = "// update user set x\nsqlx::query!(r#\"update \"user\" set a = 1\"#);\n\
                  \"insert into team_member (a) values (1) on conflict do update set a = 2\"\n\
                  \"select 1 from team_member for update\"";
    assert_eq!(writes(source, &tables), [(2, "user".to_string()), (3, "team_member".to_string())]);
    let doc = "//! Teams. Owns the `team`, `team_member` and\n//! `namespace` tables: the rest is `elsewhere`.";
    assert_eq!(owned(doc), ["namespace", "team", "team_member"].map(String::from).into());
}

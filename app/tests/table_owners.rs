//! One owner per table: every table of the migrations is named by exactly one room's module
//! doc ("Owns the `a` and `b` tables"), and every `insert into`, `update` and `delete from` in
//! the source is in the room that owns its table. A room is a folder of `app/src/backend` or a
//! file at its top; code outside the backend (pages, server functions, the server crate) writes
//! no table at all. Another room that needs a write calls the owner's helper.
//!
//! And every write runs on a `Change` (see `backend::access::principal`): begun by a person the
//! policy allowed or by one of the system's named duties. The helpers that write take
//! `&mut Change`, so the compiler holds them to it; what it cannot see, a query run on the
//! bare pool or on a connection of its own, this test does.

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

/// The `fn` each line is in: the index of the line that opens it.
fn enclosing_fns(source: &str) -> Vec<Option<usize>> {
    let mut current = None;
    source
        .lines()
        .enumerate()
        .map(|(n, line)| {
            let code = line.trim_start();
            if !code.starts_with("//") && (code.contains("fn ") && code.contains('(')) && !code.contains("|") {
                current = Some(n);
            }
            current
        })
        .collect()
}

/// The executor a statement written at line `at` runs on: the argument of the first
/// `.execute(`, `.fetch_one(`, `.fetch_optional(`, `.fetch_all(` or `.fetch(` from there.
fn executor(lines: &[&str], at: usize) -> Option<String> {
    let text = lines[at..lines.len().min(at + 60)].join("\n");
    let start = ["execute(", "fetch_one(", "fetch_optional(", "fetch_all(", "fetch("]
        .iter()
        .filter_map(|call| text.find(&format!(".{call}")).map(|i| i + call.len() + 1))
        .min()?;
    let rest = &text[start..];
    let mut depth = 0;
    for (i, c) in rest.char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth == 0 => return Some(rest[..i].trim().to_string()),
            ')' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// Why a write (at line `at` of `source`) might not run on a `Change`, if it might.
fn not_on_a_change(source: &str, at: usize, fns: &[Option<usize>]) -> Option<String> {
    let lines: Vec<&str> = source.lines().collect();
    let Some(start) = fns[at] else { return Some("outside any function".into()) };
    let Some(on) = executor(&lines, at) else { return Some("no executor found".into()) };
    if !on.starts_with("&mut ") {
        return Some(format!("runs on `{on}`, not on a change"));
    }
    let body = lines[start..=at].join("\n");
    for bare in ["PgConnection", "Transaction", ".begin()"] {
        if body.contains(bare) {
            return Some(format!("its function has a bare `{bare}`"));
        }
    }
    // A connection of its own, from the pool.
    let own = body.lines().filter(|l| l.contains(".acquire()")).filter_map(|l| {
        let name = l.trim_start().strip_prefix("let mut ")?;
        Some(name.split(|c: char| !(c.is_alphanumeric() || c == '_')).next()?.to_string())
    });
    for name in own {
        if on == format!("&mut *{name}") || on == format!("&mut {name}") {
            return Some(format!("runs on `{name}`, a bare connection (`.acquire()`)"));
        }
    }
    if on.contains(".acquire()") {
        return Some("runs on a bare connection (`.acquire()`)".into());
    }
    let begun = ["Change", "Duty::", ".begin(", "begin_for(", "durable("].iter().any(|b| body.contains(b));
    if !begun && !on.contains("Duty::") {
        return Some("its function neither takes nor begins a change".into());
    }
    None
}

#[test]
fn every_write_runs_on_a_change() {
    let tables = tables();
    let mut files = Vec::new();
    rust_files(&root().join("app/src"), &mut files);
    rust_files(&root().join("server/src"), &mut files);
    let principal = root().join("app/src/backend/access/principal.rs");
    let mut problems = Vec::new();
    let mut seen = 0;
    for file in &files {
        let source = std::fs::read_to_string(file).unwrap();
        let at = file.strip_prefix(root()).unwrap_or(file).display().to_string();
        // Only `Change` begins a transaction, but for reading.
        if *file != principal {
            for (n, line) in source.lines().enumerate() {
                let next: String = source.lines().skip(n).take(3).collect();
                if line.contains(".begin()") && !next.contains("read only") {
                    problems.push(format!("{at}:{}: a bare transaction; begin a `Change`", n + 1));
                }
            }
        }
        let fns = enclosing_fns(&source);
        for (line, table) in writes(&source, &tables) {
            seen += 1;
            if let Some(why) = not_on_a_change(&source, line - 1, &fns) {
                problems.push(format!("{at}:{line} writes `{table}`: {why}"));
            }
        }
    }
    assert!(seen > 50, "the writes were found ({seen})");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_checker_refuses_a_write_on_the_pool() {
    let tables: BTreeSet<String> = ["team"].map(String::from).into();
    let check = |source: &str| {
        let fns = enclosing_fns(source);
        let (line, _) = writes(source, &tables)[0].clone();
        not_on_a_change(source, line - 1, &fns)
    };
    let on_pool = "async fn f(db: &PgPool) {\n    sqlx::query!(\"delete from team\")\n        .execute(db).await?;\n}";
    assert!(check(on_pool).is_some_and(|w| w.contains("runs on `db`")));
    let own = "async fn f(db: &PgPool) {\n    let mut c = db.acquire().await?;\n    sqlx::query!(\"delete from team\").execute(&mut *c).await?;\n}";
    assert!(check(own).is_some_and(|w| w.contains(".acquire()")), "{:?}", check(own));
    let allowed = "async fn f(db: &PgPool, a: Allowed<'_>) {\n    let mut tx = a.begin(db).await?;\n    sqlx::query!(\"delete from team\").execute(&mut *tx).await?;\n}";
    assert_eq!(check(allowed), None);
    let helper =
        "async fn f(c: &mut Change<'_>) {\n    sqlx::query!(\"delete from team\").execute(&mut **c).await?;\n}";
    assert_eq!(check(helper), None);
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

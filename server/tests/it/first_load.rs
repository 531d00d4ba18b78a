//! The front end's weight: what a first visit to the sign-in page, the dashboard and a
//! repository page downloads before it is interactive, measured in Chromium at desktop and
//! phone width against the release build that ships (`cargo leptos build --release --split`:
//! wasm-opt, sections split into modules of their own, hashed file names), and that each of
//! those pages hydrates and a page the first visit did not load brings its own code later.
//!
//! `make test` builds that site first and names it in `PORTCULLIS_TEST_RELEASE_SITE` (its hash
//! file in `PORTCULLIS_TEST_RELEASE_HASHES`); a plain `cargo test` without it skips this file
//! with a note.

use crate::common;

use common::replica::Replica;
use common::stack::{oci_image, Stack};
use common::*;
use serde_json::Value;

/// At most this many bytes of gzip-compressed wasm and JavaScript before a page is interactive
/// (docs/performance.md, "Front-end weight": the heaviest page, a repository's tags, is at
/// 410.2 KB, and the split moves a few hundred bytes between modules from build to build).
const BUDGET: u64 = 412_000;

/// Runs `end2end/first-load.js` on `paths` with `cookie` (or as a visitor): its JSON lines.
async fn first_load(base: &str, cookie: Option<&str>, paths: &[&str]) -> Vec<Value> {
    let out = node_script("first-load.js")
        .arg(base)
        .arg(cookie.unwrap_or("-"))
        .args(paths)
        .output()
        .await
        .expect("node runs (deploy/local/setup.sh installs it)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "first-load.js failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    stdout.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect()
}

#[tokio::test]
async fn a_first_visit_downloads_no_more_than_its_budget_of_compressed_code_and_hydrates() {
    let (Ok(site), Ok(hashes)) =
        (std::env::var("PORTCULLIS_TEST_RELEASE_SITE"), std::env::var("PORTCULLIS_TEST_RELEASE_HASHES"))
    else {
        eprintln!("skipped: PORTCULLIS_TEST_RELEASE_SITE names no release build (make test builds one)");
        return;
    };
    let db = fresh_db().await;
    let stack = Stack::start(&db).await;
    let world = stack.replica_world().await;
    let root = world.root().await;
    let alice = world.person("alice").await;
    let image = oci_image(stack.dir.path(), "first load", &[("org.opencontainers.image.title", "app")]);
    stack.push(&image, &alice.creds(), "alice/app:latest").await.expect_ok("pushing");
    stack.wait_for_tag(&alice, "alice/app", "latest").await;

    // The release site's server: this build's binary beside the release build's hash file,
    // which says the site's hashed file names.
    let bin = tempfile::tempdir().unwrap();
    let exe = bin.path().join("portcullis");
    std::fs::copy(env!("CARGO_BIN_EXE_portcullis"), &exe).unwrap();
    std::fs::copy(&hashes, bin.path().join("hash.txt")).unwrap();
    let (url, registry_url) = (database_url(&db), format!("http://{}", stack.registry));
    let log = stack.dir.path().join("release.log");
    let release = Replica::start_exe(
        &exe,
        &[
            ("PORTCULLIS_DATABASE_URL", url.as_str()),
            ("PORTCULLIS_REGISTRY_URL", registry_url.as_str()),
            ("PORTCULLIS_REGISTRY_HOST", stack.registry.as_str()),
            ("PORTCULLIS_SITE_ROOT", site.as_str()),
            ("PORTCULLIS_SYNC_INTERVAL_SECS", "0"),
            ("RUST_LOG", "warn"),
        ],
        Some(&log),
    )
    .await;

    let cookie = root.session().await;
    let mut results = first_load(&release.base, Some(&cookie), &["/", "/repositories/alice/app"]).await;
    results.extend(first_load(&release.base, None, &["/login"]).await);

    let mut over = Vec::new();
    for r in &results {
        eprintln!("{r}");
        if let (Some(path), Some(gzip)) = (r["path"].as_str(), r["gzip"].as_u64()) {
            if gzip > BUDGET {
                over.push(format!("{path} ({}): {gzip} bytes gzip, over {BUDGET}", r["width"]));
            }
        }
    }
    let pages = results.iter().filter(|r| r["gzip"].is_u64()).count();
    assert_eq!(pages, 6, "three pages at two widths: {results:?}");
    assert!(
        results.iter().any(|r| r["navigated"] == "/admin/users"),
        "a page not loaded at first brings its code: {results:?}"
    );
    assert!(over.is_empty(), "over the budget:\n{}", over.join("\n"));
}

//! A burst of registry events while PostgreSQL is down is not lost: the inbox refuses what it
//! cannot store, the registry resends, and once the database is back every push shows up.
//! Runs its own PostgreSQL cluster (deploy/local/pg.sh with its own directory), so stopping it
//! disturbs no other test.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::stack::{oci_image, Options, Stack};
use common::*;
use sqlx::postgres::PgPoolOptions;

/// Starts the test's own cluster. A start that fails is tried again, on a newly chosen port
/// when `may_move` (a port taken between being chosen and being bound); the last failure shows
/// the server log.
fn start_pg(dir: &Path, may_move: bool) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/local/pg.sh");
    for attempt in 1..=3 {
        let out = Command::new(&script).arg("start").env("PORTCULLIS_PG_DIR", dir).output().expect("pg.sh runs");
        if out.status.success() {
            return;
        }
        let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
        assert!(attempt < 3, "pg.sh start: {}\n{log}", String::from_utf8_lossy(&out.stderr));
        if may_move {
            let _ = std::fs::remove_file(dir.join("port"));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn pg(dir: &Path, args: &[&str]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/local/pg.sh");
    let out = Command::new(script).args(args).env("PORTCULLIS_PG_DIR", dir).output().expect("pg.sh runs");
    assert!(out.status.success(), "pg.sh {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Pushes an OCI layout's image with the registry HTTP API and a token obtained beforehand
/// (while PostgreSQL is down, no new token can be had).
async fn push_with_token(registry: &str, token: &str, layout: &Path, repo: &str, tag: &str) {
    let http = reqwest::Client::new();
    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let manifest_digest = index["manifests"][0]["digest"].as_str().unwrap().to_string();
    let blob = |d: &str| std::fs::read(layout.join("blobs/sha256").join(d.trim_start_matches("sha256:"))).unwrap();
    let manifest_bytes = blob(&manifest_digest);
    let manifest: serde_json::Value = serde_json::from_slice(&manifest_bytes).unwrap();
    let mut blobs = vec![manifest["config"]["digest"].as_str().unwrap().to_string()];
    blobs.extend(manifest["layers"].as_array().unwrap().iter().map(|l| l["digest"].as_str().unwrap().to_string()));
    for digest in blobs {
        let start =
            http.post(format!("http://{registry}/v2/{repo}/blobs/uploads/")).bearer_auth(token).send().await.unwrap();
        assert_eq!(start.status(), 202, "starting an upload");
        let location = start.headers()["location"].to_str().unwrap().to_string();
        let url = if location.starts_with("http") { location } else { format!("http://{registry}{location}") };
        let sep = if url.contains('?') { '&' } else { '?' };
        let put =
            http.put(format!("{url}{sep}digest={digest}")).bearer_auth(token).body(blob(&digest)).send().await.unwrap();
        assert_eq!(put.status(), 201, "uploading {digest}");
    }
    let put = http
        .put(format!("http://{registry}/v2/{repo}/manifests/{tag}"))
        .bearer_auth(token)
        .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest_bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201, "putting the manifest");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_sent_while_the_database_is_down_arrive_when_it_is_back() {
    let base = tempfile::tempdir().unwrap();
    let dir = base.path().join("pg");
    start_pg(&dir, true);
    struct Stop<'a>(&'a Path);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            let _ = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/local/pg.sh"))
                .arg("stop")
                .env("PORTCULLIS_PG_DIR", self.0)
                .output();
        }
    }
    let _stop = Stop(&dir);
    let url = pg(&dir, &["url", "portcullis"]);
    let admin_url = pg(&dir, &["url", "postgres"]);
    let admin = PgPoolOptions::new().max_connections(1).connect(&admin_url).await.unwrap();
    sqlx::query("create database portcullis").execute(&admin).await.unwrap();
    admin.close().await;
    let db =
        PgPoolOptions::new().max_connections(8).acquire_timeout(Duration::from_secs(2)).connect(&url).await.unwrap();

    let stack = Stack::start_full(&db, |_| {}, Options::default()).await;
    let app = server::router(stack.state.clone(), &server::Config::defaults());
    let (_, admin_token) = bootstrap(&app).await;
    user_with_token(&app, &admin_token, "alice").await;
    let image = oci_image(stack.dir.path(), "before the outage", &[]);
    stack.push(&image, "alice:alice password 1", "alice/app:before").await.expect_ok("push before the outage");

    // A token for the pushes during the outage, taken while the database is up.
    let token = stack.token(Some(("alice", "alice password 1")), &["repository:alice/app:pull,push"]).await;
    let token = token.json::<serde_json::Value>().await.unwrap()["token"].as_str().unwrap().to_string();

    pg(&dir, &["stop"]);
    for i in 0..5 {
        let layout = oci_image(stack.dir.path(), &format!("during the outage {i}"), &[]);
        push_with_token(&stack.registry, &token, &layout, "alice/app", &format!("during-{i}")).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    start_pg(&dir, false);

    let check = || async {
        let tags: Vec<String> =
            sqlx::query_scalar("select name from tag order by name").fetch_all(&db).await.unwrap_or_default();
        (0..5).all(|i| tags.contains(&format!("during-{i}"))) && tags.contains(&"before".to_string())
    };
    for _ in 0..300 {
        if check().await {
            let refused: i64 = sqlx::query_scalar("select count(*) from registry_event where outcome = 'failed'")
                .fetch_one(&db)
                .await
                .unwrap();
            assert_eq!(refused, 0);
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the pushes made during the outage never arrived; registry log:\n{}", stack.registry_log());
}

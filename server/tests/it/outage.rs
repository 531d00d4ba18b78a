//! A burst of registry events while PostgreSQL is down is not lost: the inbox refuses what it
//! cannot store, the registry resends, and once the database is back every push shows up.
//! Runs its own PostgreSQL cluster (deploy/local/pg.sh with its own directory), so stopping it
//! disturbs no other test.

use crate::common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::cluster::{pg, start_pg, start_pg_with, Cluster};
use common::stack::{oci_image, push_layout, Options, Stack};
use common::*;
use sqlx::postgres::PgPoolOptions;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_sent_while_the_database_is_down_arrive_when_it_is_back() {
    let base = tempfile::tempdir().unwrap();
    let dir = base.path().join("pg");
    let cluster = Cluster::start(&dir, "").await;
    let url = cluster.url.clone();
    let db =
        PgPoolOptions::new().max_connections(8).acquire_timeout(Duration::from_secs(2)).connect(&url).await.unwrap();

    let stack = Stack::start_full(&db, |_| {}, Options::default()).await;
    let alice = stack.world().person("alice").await;
    let image = oci_image(stack.dir.path(), "before the outage", &[]);
    stack.push(&image, &alice.creds(), "alice/app:before").await.expect_ok("push before the outage");

    // A token for the pushes during the outage, taken while the database is up.
    let token = stack.registry_token(&alice, &["repository:alice/app:pull,push"]).await;

    pg(&dir, &["stop"]);
    // Straight to the registry: the gate fails closed while it cannot read the tag rules, and
    // what is tested here is the registry's notifications waiting for the database.
    for i in 0..5 {
        let layout = oci_image(stack.dir.path(), &format!("during the outage {i}"), &[]);
        push_layout(&stack.registry_direct, &token, &layout, "alice/app", &format!("during-{i}")).await;
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

/// Kills every process of the cluster at once with SIGKILL: a crash, with no chance to write
/// what is still in memory.
fn crash_pg(dir: &Path) {
    let pid = std::fs::read_to_string(dir.join("data/postmaster.pid")).unwrap();
    let pid = pid.lines().next().unwrap().trim().to_string();
    let children = Command::new("pgrep").args(["-P", &pid]).output().unwrap();
    let mut pids: Vec<String> =
        String::from_utf8_lossy(&children.stdout).split_whitespace().map(String::from).collect();
    pids.push(pid);
    // A backend that ends on its own between pgrep and kill makes kill report failure; what
    // matters is that every one of them is gone afterwards.
    let _ = Command::new("kill").arg("-KILL").args(&pids).status().unwrap();
    // Until the processes are gone (reaped), pg_ctl would take the cluster for running.
    for _ in 0..200 {
        if pids.iter().all(|p| !Path::new(&format!("/proc/{p}")).exists()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the killed PostgreSQL processes {pids:?} did not go away");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_events_survive_a_crash_of_postgresql() {
    let base = tempfile::tempdir().unwrap();
    let dir = base.path().join("pg");
    // The cluster runs as `make run` and `make test` run theirs (synchronous_commit=off), and
    // writes its log of changes to disk as rarely as it can: what a commit left in memory is
    // lost in a crash unless the commit itself waited for the disk.
    let lazy = "-c wal_writer_delay=10000 -c wal_writer_flush_after=1000000 -c checkpoint_timeout=3600";
    let cluster = Cluster::start(&dir, lazy).await;
    let url = cluster.url.clone();
    let db =
        PgPoolOptions::new().max_connections(8).acquire_timeout(Duration::from_secs(2)).connect(&url).await.unwrap();
    server::migrate(&db).await.unwrap();
    // Only the inbox: no worker changes the events while they are counted.
    let state = server::state(db.clone(), &server::Config::defaults()).await.unwrap();
    let app = server::router(state.clone(), &server::Config::defaults());
    for i in 0..40 {
        let envelope = serde_json::json!({"events": [{"id": format!("durable-{i}"), "action": "pull",
            "target": {"repository": "alice/app", "tag": "1"}, "request": {"method": "GET"}}]});
        let req = axum::http::Request::post("/v2/webhooks/events")
            .header("authorization", format!("Bearer {}", state.events_secret))
            .body(axum::body::Body::from(envelope.to_string()))
            .unwrap();
        assert_eq!(send(&app, req).await.status, axum::http::StatusCode::OK, "event {i} acknowledged");
    }
    crash_pg(&dir);
    drop((app, state, db));
    start_pg_with(&dir, false, lazy);
    let db = PgPoolOptions::new().max_connections(1).connect(&url).await.unwrap();
    let kept: i64 = sqlx::query_scalar("select count(*) from registry_event where event_id like 'durable-%'")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(kept, 40, "every acknowledged event is still there after the crash");
}

//! Two replicas on one database: the test's in-process router and a real `portcullis serve`
//! process. What one changes, the other's caches forget at once (through PostgreSQL's
//! NOTIFY), long before their 60-second backstop.

use crate::common;

use std::process::Command;
use std::time::{Duration, Instant};

use app::model::Visibility;
use common::replica::Replica;
use common::stack::claims;
use common::*;
use serde_json::{json, Value};
use sqlx::PgPool;

async fn start_replica(db: &PgPool) -> Replica {
    start_replica_with(db, &[], None).await
}

/// A replica with more settings, its output going to `log`.
async fn start_replica_with(db: &PgPool, settings: &[(&str, &str)], log: Option<&std::path::Path>) -> Replica {
    let url = database_url(db);
    let mut all = vec![
        ("PORTCULLIS_DATABASE_URL", url.as_str()),
        // No registry: this replica only answers token requests.
        ("PORTCULLIS_REGISTRY_URL", "http://127.0.0.1:9"),
        ("PORTCULLIS_SYNC_INTERVAL_SECS", "0"),
        ("RUST_LOG", "warn"),
    ];
    all.extend_from_slice(settings);
    Replica::start(&all, log).await
}

/// What an anonymous token from `replica` grants on `alice/app`.
async fn anonymous_grant(replica: &Replica) -> Value {
    let r =
        reqwest::get(format!("{}/v2/token?service=portcullis-registry&scope=repository:alice/app:pull", replica.base))
            .await
            .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let body: Value = r.json().await.unwrap();
    claims(body["token"].as_str().unwrap())["access"].clone()
}

#[tokio::test]
async fn a_change_on_one_replica_reaches_the_other_replicas_caches() {
    let world = World::new().await;
    let root = world.root().await;
    world.person("alice").await;
    let ns_path = format!("/api/v1/namespaces/{}", root.set_visibility("alice", Visibility::Public).await.namespace.id);

    let other = start_replica(&world.db).await;
    let pull = json!([{"type": "repository", "name": "alice/app", "actions": ["pull"]}]);
    // Asked twice, so the other replica has the namespace's facts cached.
    for _ in 0..2 {
        assert_eq!(anonymous_grant(&other).await, pull, "a public namespace: anyone pulls");
    }

    // Made private through this replica: the other stops granting within moments.
    let r = root.put(&ns_path, json!({"visibility": "private"})).await;
    assert_eq!(r.status, axum::http::StatusCode::OK);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let access = anonymous_grant(&other).await;
        if access == json!([]) {
            break;
        }
        assert!(Instant::now() < deadline, "the other replica still grants {access} after the change");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Whether `replica` issues a token for alice's access token.
async fn token_works(replica: &Replica, token: &str) -> bool {
    let r = reqwest::Client::new()
        .get(format!("{}/v2/token?service=portcullis-registry&scope=repository:alice/app:pull", replica.base))
        .basic_auth("alice", Some(token))
        .send()
        .await
        .unwrap();
    r.status().is_success()
}

#[tokio::test]
async fn a_change_made_while_the_listener_was_cut_off_still_reaches_the_caches() {
    let world = World::new().await;
    let alice = world.person("alice").await;
    let other = start_replica(&world.db).await;
    for _ in 0..2 {
        assert!(token_works(&other, &alice.token).await, "alice's token works (and is remembered)");
    }
    // The listener's connection is cut, and the change notification sent meanwhile is lost:
    // in one transaction, the listener's session is terminated, alice disabled and the change
    // announced (the announcement reaches no one).
    let mut tx = world.db.begin().await.unwrap();
    let cut: i64 = sqlx::query_scalar(
        "select count(*) from (select pg_terminate_backend(pid) from pg_stat_activity
                               where datname = current_database() and query like 'LISTEN%') t",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert!(cut >= 1, "the other replica listens");
    common::behind::disable(&mut *tx, "alice").await;
    sqlx::query("select pg_notify('portcullis_changes', 'user.disable')").execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    // The other replica noticed the lost connection, so it forgot what it knew.
    let deadline = Instant::now() + Duration::from_secs(5);
    while token_works(&other, &alice.token).await {
        assert!(Instant::now() < deadline, "the other replica still takes a disabled user's token");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `portcullis health`, the image's health check, run against `base`.
fn health(base: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["health", "--url", base])
        .env_remove("PORTCULLIS_CONFIG")
        .output()
        .expect("the portcullis binary runs")
}

#[tokio::test]
async fn the_health_command_passes_a_ready_replica_and_fails_where_none_answers() {
    let world = World::new().await;
    let replica = start_replica(&world.db).await;
    let ready = health(&replica.base);
    assert!(ready.status.success(), "{}", String::from_utf8_lossy(&ready.stderr));
    let closed = free_port();
    let nobody = health(&format!("http://127.0.0.1:{closed}"));
    assert!(!nobody.status.success(), "no server, no health");
}

#[tokio::test]
async fn every_log_line_of_a_request_names_it_and_so_does_the_response() {
    let world = World::new().await;
    world.person("alice").await;
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("replica.log");
    let replica =
        start_replica_with(&world.db, &[("PORTCULLIS_LOG_FORMAT", "json"), ("RUST_LOG", "info")], Some(&log_path))
            .await;
    let http = reqwest::Client::new();
    let login = |id: Option<&'static str>| {
        let mut req = http
            .post(format!("{}/api/login", replica.base))
            .header("accept", "application/json")
            .form(&[("username", "alice"), ("password", "not her password")]);
        if let Some(id) = id {
            req = req.header(server::REQUEST_ID, id);
        }
        req.send()
    };
    // A proxy's id is kept, and the refused sign-in is logged under it.
    let named = login(Some("proxy-id-42")).await.unwrap();
    assert_eq!(named.headers()[server::REQUEST_ID], "proxy-id-42");
    // Without one (or with one that is not plain), a new id.
    let fresh = login(None).await.unwrap();
    let id = fresh.headers()[server::REQUEST_ID].to_str().unwrap().to_string();
    assert_eq!(id.len(), 32, "{id}");
    let odd = http.get(format!("{}/healthz", replica.base)).header(server::REQUEST_ID, "a b\"c").send().await.unwrap();
    assert_ne!(odd.headers()[server::REQUEST_ID], "a b\"c");

    let mut refused = Vec::new();
    for _ in 0..50 {
        refused = std::fs::read_to_string(&log_path)
            .unwrap()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["fields"]["message"] == "login refused")
            .collect();
        if refused.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The request's span encloses whatever spans the handler opens (a server function's).
    let request_id = |v: &Value| -> Option<String> {
        let spans = v["spans"].as_array()?;
        spans.iter().find(|s| s["name"] == "request")?["id"].as_str().map(String::from)
    };
    let ids: Vec<String> = refused.iter().filter_map(request_id).collect();
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert_eq!(ids, vec!["proxy-id-42".to_string(), id], "{refused:?}\n{log}");
}

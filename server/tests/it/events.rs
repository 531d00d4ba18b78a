//! The events pipeline under hostile input and failure: manifests a pusher crafted (NUL
//! characters, megabytes of annotations, a config that is a huge blob), a namespace deleted
//! while its events waited, a worker that panics or loses its connection, and the history
//! of processed events kept bounded. Against the real registry.

use crate::common;

use app::api::images::RegistryStatus;
use app::error::AppError;
use app::model::TeamRole;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::stack::{digest_of, layer, oci_image, push_raw, Options, Stack};
use common::*;
use serde_json::{json, Value};

/// A stack (with `options`) on a fresh database, and the world of its people.
async fn start(options: Options) -> (Stack, World) {
    let db = fresh_db().await;
    let stack = Stack::start_full(&db, |_| {}, options).await;
    let world = stack.world();
    (stack, world)
}

/// Posts `envelope` to the inbox with the registry's secret.
async fn post_events(stack: &Stack, world: &World, envelope: &Value) -> StatusCode {
    let req = Request::post("/v2/webhooks/events")
        .header(header::CONTENT_TYPE, "application/vnd.docker.distribution.events.v1+json")
        .header(header::AUTHORIZATION, format!("Bearer {}", stack.state.events_secret))
        .body(Body::from(envelope.to_string()))
        .unwrap();
    send(&world.app, req).await.status
}

/// The outcome and reason of event `event_id`, once it has been processed.
async fn outcome(stack: &Stack, event_id: &str) -> Option<(String, String)> {
    let db = &stack.state.db;
    stack
        .eventually(&format!("event {event_id} being processed"), || async {
            sqlx::query_scalar::<_, i64>(
                "select count(*) from registry_event where event_id = $1 and processed_at is not null",
            )
            .bind(event_id)
            .fetch_one(db)
            .await
            .unwrap()
                == 1
        })
        .await;
    sqlx::query_as("select outcome, coalesce(reason, '') from registry_event where event_id = $1")
        .bind(event_id)
        .fetch_optional(db)
        .await
        .unwrap()
}

/// An OCI manifest of one layer, with whatever annotations the layer descriptor carries and
/// a config blob of the caller's (its size as declared, when given).
fn manifest(config: &[u8], declared_config_size: Option<usize>, layer_bytes: &[u8], annotations: Value) -> Vec<u8> {
    json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest_of(config),
                    "size": declared_config_size.unwrap_or(config.len()) },
        "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest_of(layer_bytes),
                     "size": layer_bytes.len(), "annotations": annotations }],
    })
    .to_string()
    .into_bytes()
}

fn config(label: &str) -> Vec<u8> {
    json!({ "architecture": "amd64", "os": "linux", "created": "2026-11-27T12:00:00Z",
            "config": { "Labels": { "org.example.case": label } },
            "rootfs": { "type": "layers", "diff_ids": [] } })
    .to_string()
    .into_bytes()
}

#[tokio::test]
async fn hostile_manifests_never_stall_the_events_behind_them() {
    let (stack, world) = start(Options::default()).await;
    let alice = world.person("alice").await;
    let token = stack.registry_token(&alice, &["repository:alice/odd:pull,push"]).await;
    let registry = stack.registry.clone();

    // A layer annotation with a NUL character: PostgreSQL's jsonb refuses "\u0000".
    let (c, l) = (config("nul"), layer("nul"));
    let m = manifest(&c, None, &l, json!({ "org.example.note": "before\u{0}after" }));
    assert!(String::from_utf8_lossy(&m).contains("\\u0000"));
    push_raw(&registry, &token, "alice/odd", "nul", &[c, l], &m).await;
    // An annotation of 1.5 MB: the registry's envelope is far over the server's 1 MiB limit.
    let (c, l) = (config("huge"), layer("huge"));
    let m = manifest(&c, None, &l, json!({ "org.example.blob": "x".repeat(1_500_000) }));
    push_raw(&registry, &token, "alice/odd", "huge", &[c, l], &m).await;
    // And an ordinary push after both: it must not wait behind them.
    let image = oci_image(stack.dir.path(), "after the odd ones", &[]);
    stack.push(&image, &alice.creds(), "alice/odd:after").await.expect_ok("an ordinary push");

    for tag in ["nul", "huge", "after"] {
        stack.wait_for_tag(&alice, "alice/odd", tag).await;
    }
    let t = stack.wait_for_tag(&alice, "alice/odd", "nul").await;
    assert!(t.labels.contains(&("org.example.case".into(), "nul".into())), "{t:?}");
    // Every event the registry sent was taken the first time: nothing waits, nothing failed.
    let (pending, failed): (i64, i64) = sqlx::query_as(
        "select count(*) filter (where processed_at is null), count(*) filter (where outcome = 'failed') from registry_event",
    )
    .fetch_one(&world.db)
    .await
    .unwrap();
    assert_eq!((pending, failed), (0, 0));
    let truncated: i64 =
        sqlx::query_scalar("select count(*) from registry_event where raw -> 'portcullis' ->> 'truncated' = 'true'")
            .fetch_one(&world.db)
            .await
            .unwrap();
    assert!(truncated >= 1, "the 1.5 MB event is stored without its references");
    assert!(!stack.registry_log().contains("retrying"), "the registry never had to resend");
}

#[tokio::test]
async fn the_registry_sends_manifest_events_only() {
    let (stack, world) = start(Options::default()).await;
    let alice = world.person("alice").await;
    let image = oci_image(stack.dir.path(), "an ordinary push", &[]);
    stack.push(&image, &alice.creds(), "alice/app:1").await.expect_ok("an ordinary push");
    stack.wait_for_tag(&alice, "alice/app", "1").await;
    // Blob uploads and pulls stay out of the inbox.
    let blobs: i64 = sqlx::query_scalar(
        "select count(*) from registry_event where raw -> 'target' ->> 'mediaType' = 'application/octet-stream'",
    )
    .fetch_one(&world.db)
    .await
    .unwrap();
    assert_eq!(blobs, 0, "blob events are not sent (ignoredmediatypes)");
}

#[tokio::test]
async fn a_config_over_8_mib_is_not_read_and_the_image_says_what_is_missing() {
    let (stack, world) = start(Options::default()).await;
    let alice = world.person("alice").await;
    let token = stack.registry_token(&alice, &["repository:alice/odd:pull,push"]).await;
    let registry = stack.registry.clone();
    // A config that is a 9 MiB blob, declared as such, is not read; nor is one whose
    // descriptor lies about its size. The images are recorded, saying what is missing.
    let big: Vec<u8> = (0..9 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let l = layer("big config");
    let honest = manifest(&big, None, &l, json!({}));
    push_raw(&registry, &token, "alice/odd", "bigconfig", &[big.clone(), l.clone()], &honest).await;
    let liar = manifest(&big, Some(120), &l, json!({ "org.example.variant": "liar" }));
    push_raw(&registry, &token, "alice/odd", "liar", &[], &liar).await;
    for tag in ["bigconfig", "liar"] {
        let t = stack.wait_for_tag(&alice, "alice/odd", tag).await;
        let d = alice.tag_detail(t.id).await;
        let why = d.incomplete_reason.clone().unwrap_or_default();
        assert!(why.contains("larger than 8 MiB"), "{tag}: {d:?}");
        assert!(d.config.is_none() && t.size == Some(l.len() as i64), "{tag}: {d:?}");
    }
    // Reconcile takes them as they are: it does not fetch them again and again.
    let report = app::backend::images::reconcile::reconcile(&stack.state, "test").await.unwrap().unwrap();
    assert_eq!((report.tags_added, report.tags_updated, report.tags_removed), (0, 0, 0), "{report:?}");
    assert!(report.error.is_none(), "{report:?}");
}

#[tokio::test]
async fn the_inbox_acknowledges_every_body_once_the_secret_is_right() {
    let (stack, world) = start(Options::default()).await;
    // Events it can store only after cleaning them, events too big for a row, bodies too big
    // for the server's usual limit: all 2xx, all recorded.
    let nul = json!({"events": [{"id": "nul\u{0}id", "action": "pull", "target": {"repository": "alice/x\u{0}"},
                                 "request": {"method": "GET"}, "actor": {"name": "alice"}}]});
    assert_eq!(post_events(&stack, &world, &nul).await, StatusCode::OK);
    let big = json!({"events": [{"id": "big-one", "action": "pull",
                                 "target": {"repository": "alice/x", "references": [{"annotations": {"k": "y".repeat(3_000_000)}}]}}]});
    assert_eq!(post_events(&stack, &world, &big).await, StatusCode::OK);
    assert_eq!(outcome(&stack, "nulid").await.unwrap().0, "skipped");
    assert_eq!(outcome(&stack, "big-one").await.unwrap().0, "skipped");
    let stored: i64 =
        sqlx::query_scalar("select octet_length(raw::text)::bigint from registry_event where event_id = 'big-one'")
            .fetch_one(&world.db)
            .await
            .unwrap();
    assert!(stored < 70_000, "stored {stored} bytes");
    // A body over the inbox's own limit is recorded as unreadable, not refused.
    let huge = format!("{{\"events\": [{{\"id\": \"{}\"}}]}}", "z".repeat(33 * 1024 * 1024));
    let req = Request::post("/v2/webhooks/events")
        .header(header::AUTHORIZATION, format!("Bearer {}", stack.state.events_secret))
        .body(Body::from(huge))
        .unwrap();
    assert_eq!(send(&world.app, req).await.status, StatusCode::ACCEPTED);
    let why: String = sqlx::query_scalar("select reason from registry_event where event_id like 'unreadable:%'")
        .fetch_one(&world.db)
        .await
        .unwrap();
    assert!(why.contains("over 32 MiB"), "{why}");
    // Only the secret is ever refused.
    let req = Request::post("/v2/webhooks/events").body(Body::from(nul.to_string())).unwrap();
    assert_eq!(send(&world.app, req).await.status, StatusCode::UNAUTHORIZED);
}

/// Envelopes that arrive together are committed together (`backend::together`): each is
/// answered only once its own events are stored, resends among them are stored once.
#[tokio::test]
async fn a_crowd_of_envelopes_is_stored_whole_and_once() {
    let (stack, world) = start(Options::default()).await;
    let envelope = |i: usize| {
        json!({"events": [
            {"id": format!("crowd-{i}-a"), "action": "pull", "target": {"repository": "alice/x", "tag": "v1"}},
            {"id": format!("crowd-{i}-b"), "action": "pull", "target": {"repository": "alice/x", "tag": "v2"}},
        ]})
    };
    // 48 envelopes at once, the last 16 of them resending the first 16.
    let posts = (0..48).map(|i| {
        let (stack, world, body) = (&stack, &world, envelope(i % 32));
        async move { post_events(stack, world, &body).await }
    });
    let statuses = futures_util::future::join_all(posts).await;
    assert!(statuses.iter().all(|s| *s == StatusCode::OK), "{statuses:?}");
    let stored: i64 = sqlx::query_scalar("select count(*) from registry_event where event_id like 'crowd-%'")
        .fetch_one(&world.db)
        .await
        .unwrap();
    assert_eq!(stored, 64, "32 envelopes of two events, each stored once");
}

/// What the inbox acknowledges is on disk, even on a server that commits asynchronously (the
/// tests' own PostgreSQL runs with `synchronous_commit = off`, where only the WAL writer
/// flushes, a few times a second): each acknowledged envelope was flushed.
#[tokio::test]
async fn inbox_commits_reach_the_disk() {
    let (stack, world) = start(Options::default()).await;
    // A connection reports its WAL statistics when it goes idle, at most once a second unless
    // told to: every idle connection of the server's pool is told first.
    let pool = &stack.state.hot;
    let syncs = || async {
        let mut all = Vec::new();
        while let Some(mut c) = pool.try_acquire() {
            sqlx::query("select pg_stat_force_next_flush()").execute(&mut *c).await.unwrap();
            all.push(c);
        }
        drop(all);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        sqlx::query_scalar::<_, i64>("select wal_sync from pg_stat_wal").fetch_one(&world.db).await.unwrap()
    };
    let before = syncs().await;
    for i in 0..20 {
        let body =
            json!({"events": [{"id": format!("durable-{i}"), "action": "pull", "target": {"repository": "alice/x"}}]});
        assert_eq!(post_events(&stack, &world, &body).await, StatusCode::OK);
    }
    let flushed = syncs().await - before;
    // Not always 20: a flush by another connection or the WAL writer can cover a commit just
    // before its own. Without the inbox's own setting, only the WAL writer flushes (a few).
    assert!(flushed >= 10, "20 acknowledged envelopes, {flushed} flushes");
}

#[tokio::test]
async fn a_late_push_does_not_bring_back_a_deleted_namespace() {
    let (stack, world) = start(Options { without_notifications: true, ..Default::default() }).await;
    let (root, alice, bob) = (world.root().await, world.person("alice").await, world.person("bob").await);
    let team = alice.create_team("acme").await;
    let r = alice
        .post(&format!("/api/v1/teams/{}/members", team.id), json!({"username": "bob", "role": TeamRole::Contributor}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let ns = alice.create_namespace("acme", "acme").await;
    // Bob pushes; its event has not been applied when alice deletes the (empty) namespace.
    let image = oci_image(stack.dir.path(), "late", &[]);
    stack.push(&image, &bob.creds(), "acme/app:1.0").await.expect_ok("bob pushes to acme");
    let r = alice.delete(&format!("/api/v1/namespaces/{}", ns.namespace.id)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let digest = {
        let token = stack.registry_token(&root, &["repository:acme/app:pull"]).await;
        let r = stack.registry_get("/v2/acme/app/manifests/1.0", &token).await;
        r.headers()["docker-content-digest"].to_str().unwrap().to_string()
    };
    let event = |id: &str, actor: &str| {
        json!({"events": [{"id": id, "action": "push", "timestamp": "2026-11-27T20:30:12Z",
            "target": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "repository": "acme/app",
                       "digest": digest, "tag": "1.0"},
            "actor": {"name": actor}, "request": {"method": "PUT"}}]})
    };
    assert_eq!(post_events(&stack, &world, &event("late-push", "bob")).await, StatusCode::OK);
    let (outcome_of_late, why) = outcome(&stack, "late-push").await.unwrap();
    assert_eq!(outcome_of_late, "skipped", "{why}");
    assert!(why.contains("not an administrator"), "{why}");
    assert!(!root.namespaces().await.iter().any(|n| n.namespace.name == "acme"));
    // Its twin: the same push by an administrator creates the namespace, theirs and private.
    assert_eq!(post_events(&stack, &world, &event("admin-push", "root")).await, StatusCode::OK);
    assert_eq!(outcome(&stack, "admin-push").await.unwrap().0, "applied");
    let acme = root.namespace("acme").await;
    assert_eq!(
        (acme.namespace.team_name.as_str(), acme.namespace.visibility),
        ("root", app::model::Visibility::Private)
    );
}

#[tokio::test]
async fn the_event_worker_survives_a_panic() {
    let (stack, world) = start(Options::default()).await;
    let alice = world.person("alice").await;
    let image = oci_image(stack.dir.path(), "survivor", &[]);
    stack.push(&image, &alice.creds(), "alice/app:1").await.expect_ok("push");
    stack.wait_for_tag(&alice, "alice/app", "1").await;
    // A panic while it holds its lock: it is restarted, and the lock went with its connection.
    app::backend::images::events::panic_next_drain();
    stack.push(&image, &alice.creds(), "alice/app:2").await.expect_ok("push");
    stack.wait_for_tag(&alice, "alice/app", "2").await;
    // A drain that began before the fault was set may have applied :2; the fault then hits
    // the next one. Either way the worker comes back with a connection of its own.
    let worker_connections = || async {
        sqlx::query_scalar::<_, i64>(
            "select count(*) from pg_stat_activity where application_name = $1 and datname = current_database()",
        )
        .bind(app::backend::images::events::WORKER_CONNECTION)
        .fetch_one(&world.db)
        .await
        .unwrap()
    };
    stack
        .eventually("the worker's restart", || async {
            !app::backend::images::events::panic_pending() && worker_connections().await == 1
        })
        .await;
    let holders: Vec<String> = sqlx::query_scalar(
        "select coalesce(a.application_name, '') from pg_locks l join pg_stat_activity a using (pid)
         where l.locktype = 'advisory' and l.objid = hashtext('portcullis.events')::oid",
    )
    .fetch_all(&world.db)
    .await
    .unwrap();
    assert!(holders.iter().all(|h| h == app::backend::images::events::WORKER_CONNECTION), "lock held by {holders:?}");
}

#[tokio::test]
async fn the_event_worker_survives_a_lost_connection() {
    let (stack, world) = start(Options::default()).await;
    let alice = world.person("alice").await;
    let image = oci_image(stack.dir.path(), "survivor", &[]);
    stack.push(&image, &alice.creds(), "alice/app:1").await.expect_ok("push");
    stack.wait_for_tag(&alice, "alice/app", "1").await;
    // Its connection killed under it: it reconnects. (Only this test's database: another
    // test process's worker may linger on the same server.)
    let killed: i64 = sqlx::query_scalar(
        "select count(*) from (select pg_terminate_backend(pid) from pg_stat_activity
                               where application_name = $1 and datname = current_database()) k",
    )
    .bind(app::backend::images::events::WORKER_CONNECTION)
    .fetch_one(&world.db)
    .await
    .unwrap();
    assert_eq!(killed, 1, "the worker has a connection of its own");
    stack.push(&image, &alice.creds(), "alice/app:3").await.expect_ok("push");
    stack.wait_for_tag(&alice, "alice/app", "3").await;
}

#[tokio::test]
async fn processed_events_are_pruned_after_their_retention_and_waiting_ones_are_not() {
    let (stack, world) = start(Options::default()).await;
    for (id, age_days, processed) in [("old", 20, true), ("recent", 2, true), ("waiting", 20, false)] {
        sqlx::query(
            "insert into registry_event (event_id, action, repository, raw, received_at, processed_at, outcome)
             values ($1, 'pull', 'alice/none', '{}', now() - make_interval(days => $2),
                     case when $3 then now() - make_interval(days => $2) end, case when $3 then 'skipped' end)",
        )
        .bind(id)
        .bind(age_days)
        .bind(processed)
        .execute(&world.db)
        .await
        .unwrap();
    }
    let report = app::backend::maintenance::run(&stack.state).await.unwrap();
    assert_eq!(report.events, 1, "{report:?}");
    let left: Vec<String> =
        sqlx::query_scalar("select event_id from registry_event order by event_id").fetch_all(&world.db).await.unwrap();
    assert!(left.contains(&"recent".into()) && !left.contains(&"old".into()), "{left:?}");
    // The "waiting" event is not the worker's to prune; it is applied (skipped) meanwhile.
}

#[tokio::test]
async fn administrators_see_the_inbox_counted() {
    let (stack, world) = start(Options::default()).await;
    let (root, alice) = (world.root().await, world.person("alice").await);
    let image = oci_image(stack.dir.path(), "counted", &[]);
    stack.push(&image, &alice.creds(), "alice/app:1").await.expect_ok("push");
    stack.wait_for_tag(&alice, "alice/app", "1").await;
    let status = call(&world.app, "/api/admin/registry", &[], Some(&root.session().await)).await;
    let inbox = status.parse::<RegistryStatus>().inbox;
    assert!(inbox.applied >= 1, "{inbox:?}");
    assert_eq!(inbox.retention_days, 14);
    // Anyone else is refused, with the status that says so.
    let refused = call(&world.app, "/api/admin/registry", &[], Some(&alice.session().await)).await;
    assert_eq!(refused.status, axum::http::StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(matches!(refused.parse::<AppError>(), AppError::Forbidden(_)), "{}", refused.body);
}

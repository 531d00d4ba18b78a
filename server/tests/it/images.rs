//! Images in Portcullis: registry notifications, reconcile, metadata, browsing, deletes and
//! search, against the real registry and skopeo.

use crate::common;

use std::path::{Path, PathBuf};

use app::api::images::{Page, SearchData};
use app::model::{NamespaceView, RepositoryView, TagView, TeamRole, Visibility};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::stack::{oci_image, oci_index_image, Options, Stack};
use common::*;
use serde_json::json;

/// A stack (with `options`) on a fresh database, and the world of its people.
async fn start(options: Options) -> (Stack, World) {
    let db = fresh_db().await;
    let stack = Stack::start_full(&db, |_| {}, options).await;
    let world = stack.world();
    (stack, world)
}

fn label(k: &str, v: &str) -> (String, String) {
    (k.to_string(), v.to_string())
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The image `alice/hello` is pushed as: two labels, OCI.
fn hello_image(stack: &Stack) -> PathBuf {
    let labels = [("org.opencontainers.image.title", "hello"), ("org.example.team", "platform")];
    oci_image(stack.dir.path(), "hello oci", &labels)
}

/// Pushes `image` as `alice/hello:<tag>` (with skopeo `flags`) and waits until it shows.
async fn push_hello(stack: &Stack, alice: &Person, image: &Path, tag: &str, flags: &[&str]) -> TagView {
    let repo_tag = format!("alice/hello:{tag}");
    stack.push_with(image, &alice.creds(), &repo_tag, flags).await.expect_ok(&format!("push {repo_tag}"));
    stack.wait_for_tag(alice, "alice/hello", tag).await
}

/// Pushes a two-platform index as `alice/multi:1.0` and waits until it shows.
async fn push_multi(stack: &Stack, alice: &Person) -> TagView {
    let index = oci_index_image(stack.dir.path(), &[("linux", "amd64"), ("linux", "arm64")]);
    stack.push_with(&index, &alice.creds(), "alice/multi:1.0", &["--all"]).await.expect_ok("push an OCI index");
    stack.wait_for_tag(alice, "alice/multi", "1.0").await
}

#[tokio::test]
async fn an_oci_push_shows_up_with_its_labels_size_config_and_manifest() {
    let (stack, world) = start(Options::default()).await;
    let alice = world.person("alice").await;
    let t = push_hello(&stack, &alice, &hello_image(&stack), "1.0", &[]).await;
    assert_eq!(t.name, "1.0");
    assert_eq!(t.media_type.as_deref(), Some("application/vnd.oci.image.manifest.v1+json"));
    assert_eq!(t.platforms, ["linux/amd64"]);
    assert_eq!(t.pushed_by.as_deref(), Some("alice"), "the pusher is the verified token subject");
    assert!(t.size.unwrap() > 0);
    assert!(t.labels.contains(&label("org.example.team", "platform")), "{t:?}");
    assert_eq!(t.created, Some("2026-11-27T12:00:00Z".parse().unwrap()));
    // The tag page has what the image runs, how it was built and the manifest itself.
    let d = alice.tag_detail(t.id).await;
    let c = d.config.as_ref().unwrap();
    assert_eq!(
        (&c.cmd, &c.env, &c.exposed_ports),
        (&strings(&["cat", "/hello.txt"]), &strings(&["GREETING=hello"]), &strings(&["8080/tcp"]))
    );
    assert_eq!(c.history[0].layer_size, t.size, "the step that made the layer carries its size");
    assert!(c.history[1].empty_layer);
    let manifest: serde_json::Value = serde_json::from_str(d.manifest_json.as_deref().unwrap()).unwrap();
    assert_eq!(manifest["layers"][0]["size"].as_i64(), t.size);
    let html = get(&world.app, &format!("/tags/{}", t.id), Some(&alice.session().await)).await;
    for want in ["Build history", "COPY hello.txt /", "GREETING=hello", "8080/tcp", "schemaVersion"] {
        assert!(html.body.contains(want), "{want} missing from the tag page");
    }
}

#[tokio::test]
async fn a_pull_is_recorded_and_the_checks_of_a_push_are_not() {
    let (stack, world) = start(Options::default()).await;
    let alice = world.person("alice").await;
    let t = push_hello(&stack, &alice, &hello_image(&stack), "1.0", &[]).await;
    assert!(t.last_pulled_at.is_none(), "the HEAD checks of a push are not pulls: {t:?}");
    stack.pull(&alice.creds(), "alice/hello:1.0").await.expect_ok("pull it");
    stack
        .eventually("the pull being recorded", || async {
            alice.tags("alice/hello", "name=1.0").await.items[0].last_pulled_at.is_some()
        })
        .await;
}

#[tokio::test]
async fn a_docker_v2s2_push_shows_up_with_its_labels() {
    let (stack, world) = start(Options::default()).await;
    let alice = world.person("alice").await;
    // Docker v2 schema 2, converted by skopeo on the way.
    let t = push_hello(&stack, &alice, &hello_image(&stack), "v2s2", &["--format", "v2s2"]).await;
    assert_eq!(t.media_type.as_deref(), Some("application/vnd.docker.distribution.manifest.v2+json"));
    assert!(t.labels.contains(&label("org.opencontainers.image.title", "hello")));
}

#[tokio::test]
async fn an_index_shows_its_platforms_and_a_platform_of_it_knows_the_index() {
    let (stack, world) = start(Options::default()).await;
    let alice = world.person("alice").await;
    // An OCI index with two platforms shows both.
    let t = push_multi(&stack, &alice).await;
    assert_eq!(t.media_type.as_deref(), Some("application/vnd.oci.image.index.v1+json"));
    assert_eq!(t.platforms, ["linux/amd64", "linux/arm64"]);
    let detail = alice.tag_detail(t.id).await;
    assert_eq!(detail.index_entries.len(), 2);
    // One of its platforms tagged on its own knows it is part of the index, so deleting it
    // says what it breaks.
    let amd64 = &detail.index_entries[0].1;
    let (src, dst) = (stack.image_ref(&format!("alice/multi@{amd64}")), stack.image_ref("alice/multi:amd64"));
    let creds = alice.creds();
    stack
        .skopeo(&[
            "copy",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            "--src-creds",
            &creds,
            "--dest-creds",
            &creds,
            &src,
            &dst,
        ])
        .await
        .expect_ok("tag one platform of the index");
    let t = stack.wait_for_tag(&alice, "alice/multi", "amd64").await;
    assert_eq!(t.in_indexes, ["1.0"], "{t:?}");
}

#[tokio::test]
async fn the_pages_show_repositories_tags_and_namespaces() {
    let (stack, world) = start(Options::default()).await;
    let alice = world.person("alice").await;
    let image = hello_image(&stack);
    push_hello(&stack, &alice, &image, "1.0", &[]).await;
    push_hello(&stack, &alice, &image, "v2s2", &["--format", "v2s2"]).await;
    let index = push_multi(&stack, &alice).await;
    let cookie = alice.session().await;
    let html = get(&world.app, "/repositories/alice/hello", Some(&cookie)).await;
    assert_eq!(html.status, StatusCode::OK);
    for want in ["1.0", "v2s2", "linux/amd64", "team=platform", "docker pull", "alice/hello:1.0"] {
        assert!(html.body.contains(want), "{want} missing from the repository page");
    }
    let html = get(&world.app, &format!("/tags/{}", index.id), Some(&cookie)).await;
    assert!(html.body.contains("linux/arm64") && html.body.contains("Platforms of this index"));
    let html = get(&world.app, "/namespaces/alice", Some(&cookie)).await;
    assert!(html.body.contains("alice/multi") && html.body.contains("alice/hello"));
    // alice may push, so her repository page gives the push line; bob, who may only pull
    // from her now public namespace, gets the pull line alone.
    let html = get(&world.app, "/repositories/alice/hello", Some(&cookie)).await;
    let push_line = html.body.split("docker push ").nth(1).map(|rest| rest.split('<').next().unwrap_or_default());
    assert!(
        push_line.is_some_and(|l| l.ends_with("/alice/hello:1.0") || l.ends_with("/alice/hello:v2s2")),
        "{push_line:?}"
    );
    alice.set_visibility("alice", app::model::Visibility::Public).await;
    let bob = world.person("bob").await;
    let html = get(&world.app, "/repositories/alice/hello", Some(&bob.session().await)).await;
    assert!(html.body.contains("docker pull") && !html.body.contains("docker push"), "{}", html.body);
}

#[tokio::test]
async fn tag_filters_and_sort_run_in_the_database() {
    let (stack, world) = start(Options::default()).await;
    let alice = world.person("alice").await;
    let image = hello_image(&stack);
    push_hello(&stack, &alice, &image, "1.0", &[]).await;
    push_hello(&stack, &alice, &image, "v2s2", &["--format", "v2s2"]).await;
    let by_label = alice.tags("alice/hello", "label=org.example.team%3Dplatform").await;
    assert_eq!(by_label.total, 2);
    let none = alice.tags("alice/hello", "label=org.example.team%3Dother").await;
    assert_eq!(none.total, 0);
    let sorted = alice.tags("alice/hello", "sort=name").await;
    assert_eq!(sorted.items[0].name, "1.0");
}

#[tokio::test]
async fn tags_of_one_digest_know_each_other() {
    let (stack, world) = start(Options::default()).await;
    let alice = world.person("alice").await;
    let image = hello_image(&stack);
    push_hello(&stack, &alice, &image, "1.0", &[]).await;
    // The same image again.
    let latest = push_hello(&stack, &alice, &image, "latest", &[]).await;
    assert_eq!(latest.shared_with, ["1.0"]);
}

#[tokio::test]
async fn a_cosign_signature_marks_the_image_it_signs_only() {
    let (stack, world) = start(Options::default()).await;
    let alice = world.person("alice").await;
    let image = hello_image(&stack);
    push_hello(&stack, &alice, &image, "v2s2", &["--format", "v2s2"]).await;
    let latest = push_hello(&stack, &alice, &image, "latest", &[]).await;
    // A cosign signature tag (sha256-<digest>.sig) marks the image it signs.
    let sig_tag = format!("{}.sig", latest.digest.replace(':', "-"));
    let sig = oci_image(stack.dir.path(), "a signature", &[]);
    stack.push(&sig, &alice.creds(), &format!("alice/hello:{sig_tag}")).await.expect_ok("push a signature");
    stack.wait_for_tag(&alice, "alice/hello", &sig_tag).await;
    assert!(alice.tag("alice/hello", "latest").await.signed);
    assert!(!alice.tag("alice/hello", "v2s2").await.signed);
}

/// A request to the registry's notification inbox with `authorization`, if any.
fn inbox(authorization: Option<String>, body: String) -> Request<Body> {
    let mut r = Request::post("/v2/webhooks/events")
        .header(header::CONTENT_TYPE, "application/vnd.docker.distribution.events.v1+json");
    if let Some(a) = authorization {
        r = r.header(header::AUTHORIZATION, a);
    }
    r.body(Body::from(body)).unwrap()
}

/// An event it cannot use: a blob pull.
fn blob_pull() -> String {
    json!({"events": [{
        "id": "replayed-event-1", "timestamp": "2026-11-27T20:30:11Z", "action": "pull",
        "target": {"mediaType": "application/octet-stream", "digest": "sha256:00", "repository": "alice/x"},
        "actor": {"name": "alice"}
    }]})
    .to_string()
}

#[tokio::test]
async fn the_inbox_needs_the_secret() {
    let (stack, world) = start(Options::default()).await;
    let secret = format!("Bearer {}", stack.state.events_secret);
    assert_eq!(send(&world.app, inbox(None, blob_pull())).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        send(&world.app, inbox(Some("Bearer wrong".into()), blob_pull())).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(send(&world.app, inbox(Some(secret), blob_pull())).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_resent_event_is_stored_once_and_one_it_cannot_use_is_skipped_with_a_reason() {
    let (stack, world) = start(Options::default()).await;
    let secret = format!("Bearer {}", stack.state.events_secret);
    for _ in 0..3 {
        assert_eq!(send(&world.app, inbox(Some(secret.clone()), blob_pull())).await.status, StatusCode::OK);
    }
    let stored: i64 = sqlx::query_scalar("select count(*) from registry_event where event_id = 'replayed-event-1'")
        .fetch_one(&world.db)
        .await
        .unwrap();
    assert_eq!(stored, 1, "a resent event is stored once");
    // An event it cannot use is acknowledged and recorded as skipped, with the reason.
    stack
        .eventually("the blob pull being recorded as skipped", || async {
            let r: Option<(Option<String>, Option<String>)> =
                sqlx::query_as("select outcome, reason from registry_event where event_id = 'replayed-event-1'")
                    .fetch_optional(&world.db)
                    .await
                    .unwrap();
            matches!(r, Some((Some(o), Some(_))) if o == "skipped")
        })
        .await;
}

#[tokio::test]
async fn garbage_in_the_inbox_is_acknowledged_and_recorded_with_the_reason() {
    let (stack, world) = start(Options::default()).await;
    let secret = format!("Bearer {}", stack.state.events_secret);
    // Refusing it would stall the registry's queue.
    assert_eq!(send(&world.app, inbox(Some(secret), "not json".into())).await.status, StatusCode::ACCEPTED);
    let reason: String = sqlx::query_scalar("select reason from registry_event where event_id like 'unreadable:%'")
        .fetch_one(&world.db)
        .await
        .unwrap();
    assert!(reason.contains("not an event envelope"), "{reason}");
}

#[tokio::test]
async fn a_push_whose_manifest_is_gone_holds_up_no_event_after_it() {
    let (stack, world) = start(Options::default()).await;
    let secret = format!("Bearer {}", stack.state.events_secret);
    // Of its own repository or any other.
    let push_then_pull = json!({"events": [
        {"id": "gone-push", "action": "push", "timestamp": "2026-11-27T20:30:12Z",
         "target": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "repository": "alice/gone",
                    "digest": "sha256:1111111111111111111111111111111111111111111111111111111111111111", "tag": "1"},
         "actor": {"name": "alice"}},
        {"id": "after-it", "action": "pull", "timestamp": "2026-11-27T20:30:13Z",
         "target": {"mediaType": "application/octet-stream", "digest": "sha256:00", "repository": "alice/other"},
         "actor": {"name": "alice"}},
    ]});
    assert_eq!(send(&world.app, inbox(Some(secret), push_then_pull.to_string())).await.status, StatusCode::OK);
    stack
        .eventually("both events being processed", || async {
            let n: i64 = sqlx::query_scalar(
                "select count(*) from registry_event where event_id in ('gone-push', 'after-it') and processed_at is not null",
            )
            .fetch_one(&world.db)
            .await
            .unwrap();
            n == 2
        })
        .await;
}

/// Runs the catalog reconcile as `portcullis sync` does.
async fn reconcile(stack: &Stack) -> app::backend::images::reconcile::ReconcileReport {
    app::backend::images::reconcile::reconcile(&stack.state, "test").await.unwrap().unwrap()
}

/// Alice, who pushed `alice/quiet:1.0` and `:2.0` (one image) while notifications were off.
async fn quiet_pushes(stack: &Stack, world: &World) -> (Person, PathBuf) {
    let alice = world.person("alice").await;
    let image = oci_image(stack.dir.path(), "quiet push", &[("org.example.kind", "quiet")]);
    stack.push(&image, &alice.creds(), "alice/quiet:1.0").await.expect_ok("push without notifications");
    stack.push(&image, &alice.creds(), "alice/quiet:2.0").await.expect_ok("push without notifications");
    (alice, image)
}

#[tokio::test]
async fn reconcile_finds_pushes_notifications_missed_and_fills_in_old_rows() {
    let (stack, world) = start(Options { without_notifications: true, ..Default::default() }).await;
    let (alice, _) = quiet_pushes(&stack, &world).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(alice.repository("alice/quiet").await.is_none(), "nothing known before reconcile");

    let report = reconcile(&stack).await;
    assert_eq!((report.repositories, report.tags_added), (1, 2), "{report:?}");
    let page = alice.tags("alice/quiet", "").await;
    assert_eq!(page.total, 2);
    assert!(page.items[0].labels.contains(&label("org.example.kind", "quiet")));
    // Rows from before manifests were kept in full are filled in; tags stay as they are.
    sqlx::query("update manifest set manifest_json = null, config = null").execute(&world.db).await.unwrap();
    let again = reconcile(&stack).await;
    assert_eq!((again.tags_added, again.tags_updated, again.tags_removed), (0, 0, 0), "a second run changes nothing");
    let filled: i64 =
        sqlx::query_scalar("select count(*) from manifest where manifest_json is not null and config is not null")
            .fetch_one(&world.db)
            .await
            .unwrap();
    assert_eq!(filled, 1, "the one image of both tags is filled in");
}

#[tokio::test]
async fn reconcile_finds_deletes_notifications_missed() {
    let (stack, world) = start(Options { without_notifications: true, ..Default::default() }).await;
    let (alice, _) = quiet_pushes(&stack, &world).await;
    reconcile(&stack).await;
    stack.delete(&alice.creds(), "alice/quiet:1.0").await.expect_ok("delete without notifications");
    let report = reconcile(&stack).await;
    assert_eq!(report.tags_removed, 2, "deleting the digest removed both tags: {report:?}");
    assert_eq!(alice.tags("alice/quiet", "").await.total, 0);
}

#[tokio::test]
async fn reconcile_keeps_what_events_wrote_while_it_ran() {
    let (stack, world) = start(Options { without_notifications: true, ..Default::default() }).await;
    let (alice, _) = quiet_pushes(&stack, &world).await;
    reconcile(&stack).await;
    // What an event applied while a run was under way (a tag written after the run started,
    // by the database's clock) is newer than anything the run read, so the run neither removes
    // it nor its repository.
    let repo: i64 = sqlx::query_scalar("select repository_id from repository where name = 'alice/quiet'")
        .fetch_one(&world.db)
        .await
        .unwrap();
    sqlx::query("insert into repository (name, namespace_id) select 'alice/racing', namespace_id from repository where repository_id = $1")
        .bind(repo)
        .execute(&world.db)
        .await
        .unwrap();
    for (r, tag) in [("alice/quiet", "3.0"), ("alice/racing", "1.0")] {
        sqlx::query(
            "insert into tag (repository_id, name, digest, updated_at)
             select repository_id, $2, 'sha256:00', now() + interval '1 hour' from repository where name = $1",
        )
        .bind(r)
        .bind(tag)
        .execute(&world.db)
        .await
        .unwrap();
    }
    let report = reconcile(&stack).await;
    assert_eq!((report.tags_removed, report.repositories_removed), (0, 0), "{report:?}");
    assert_eq!(alice.tags("alice/quiet", "name=3.0").await.total, 1);
    assert!(alice.repository("alice/racing").await.is_some());
}

#[tokio::test]
async fn reconcile_adds_a_tag_of_a_repository_with_a_delete_since_it_started_only_at_its_next_run() {
    let (stack, world) = start(Options { without_notifications: true, ..Default::default() }).await;
    let (alice, image) = quiet_pushes(&stack, &world).await;
    reconcile(&stack).await;
    // A tag reconcile finds in a repository that saw a delete applied since the run started
    // may be the very tag deleted: the next run adds it.
    stack.push(&image, &alice.creds(), "alice/quiet:4.0").await.expect_ok("push without notifications");
    sqlx::query(
        "insert into registry_event (event_id, action, repository, raw, processed_at, outcome)
         values ('a-delete-meanwhile', 'delete', 'alice/quiet', '{}', now() + interval '1 hour', 'applied')",
    )
    .execute(&world.db)
    .await
    .unwrap();
    reconcile(&stack).await;
    assert_eq!(alice.tags("alice/quiet", "name=4.0").await.total, 0);
    sqlx::query(
        "update registry_event set processed_at = now() - interval '1 hour' where event_id = 'a-delete-meanwhile'",
    )
    .execute(&world.db)
    .await
    .unwrap();
    let report = reconcile(&stack).await;
    assert_eq!(report.tags_added, 1, "{report:?}");
}

#[tokio::test]
async fn only_administrators_run_a_sync() {
    let (_stack, world) = start(Options { without_notifications: true, ..Default::default() }).await;
    let (root, alice) = (world.root().await, world.person("alice").await);
    // `portcullis sync` runs the same code; an administrator's button too.
    assert_eq!(call(&world.app, "/api/admin/reconcile", &[], Some(&root.session().await)).await.status, StatusCode::OK);
    assert_eq!(
        call(&world.app, "/api/admin/reconcile", &[], Some(&alice.session().await)).await.status,
        StatusCode::FORBIDDEN
    );
}

/// Alice's team `acme` and its namespace `acme`, where bob is a viewer; `acme/app:1.0` and
/// `acme/app:same` are one image, pushed by alice. Returns alice, bob, the namespace.
async fn acme_app(stack: &Stack, world: &World) -> (Person, Person, NamespaceView) {
    let (alice, bob) = (world.person("alice").await, world.person("bob").await);
    let team = alice.create_team("acme").await;
    let ns = alice.create_namespace("acme", "acme").await;
    alice.add_member(team.id, "bob", TeamRole::Viewer).await;
    let image = oci_image(stack.dir.path(), "deletable", &[]);
    stack.push(&image, &alice.creds(), "acme/app:1.0").await.expect_ok("push");
    stack.push(&image, &alice.creds(), "acme/app:same").await.expect_ok("push the same digest under another tag");
    stack.wait_for_tag(&bob, "acme/app", "same").await;
    (alice, bob, ns)
}

#[tokio::test]
async fn a_viewer_is_neither_offered_nor_allowed_a_delete() {
    let (stack, world) = start(Options::default()).await;
    let (_, bob, _) = acme_app(&stack, &world).await;
    let tag = bob.tag("acme/app", "1.0").await.id;
    // The viewer is not offered delete, and is refused when forcing it.
    let page = get(&world.app, "/repositories/acme/app", Some(&bob.session().await)).await;
    assert!(!page.body.contains("Delete…"), "a viewer is not offered a tag's delete");
    assert!(!page.body.contains("-/settings"), "nor the settings tab");
    let settings = get(&world.app, "/repositories/acme/app/-/settings", Some(&bob.session().await)).await;
    assert_eq!(settings.status, StatusCode::FORBIDDEN, "nor the settings page, where the repository's delete is");
    assert!(!settings.body.contains("Delete repository"));
    assert_eq!(bob.delete(&format!("/api/v1/tags/{tag}")).await.status, StatusCode::FORBIDDEN);
    stack.inspect(Some(&bob.creds()), "acme/app:1.0").await.expect_ok("still there after the refused delete");
}

#[tokio::test]
async fn the_owner_deletes_a_tag_with_every_tag_of_its_image_and_not_a_moved_one() {
    let (stack, world) = start(Options::default()).await;
    let (alice, _, _) = acme_app(&stack, &world).await;
    let tag = alice.tag("acme/app", "1.0").await;
    // The owner is offered it, sees which tags go with it, and deletes.
    let page = get(&world.app, "/repositories/acme/app", Some(&alice.session().await)).await;
    assert!(
        page.body.contains("Delete…") && page.body.contains("these tags go too: same"),
        "the owner sees what a delete removes"
    );
    let settings = get(&world.app, "/repositories/acme/app/-/settings", Some(&alice.session().await)).await;
    assert_eq!(settings.status, StatusCode::OK);
    assert!(
        settings.body.contains("Delete repository") && settings.body.contains("Cleanup policy"),
        "{}",
        settings.body
    );
    // A delete of another image than the tag points at is refused: the tag moved meanwhile.
    let stale = format!("/api/v1/tags/{}?digest=sha256:{}", tag.id, "0".repeat(64));
    assert_eq!(alice.delete(&stale).await.status, StatusCode::CONFLICT);
    stack.inspect(Some(&alice.creds()), "acme/app:1.0").await.expect_ok("still there after the refused delete");
    let r = alice.delete(&format!("/api/v1/tags/{}?digest={}", tag.id, tag.digest)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let mut gone = r.json()["deleted_tags"].as_array().unwrap().clone();
    gone.sort_by_key(|v| v.as_str().unwrap().to_string());
    assert_eq!(gone, vec![json!("1.0"), json!("same")]);
    stack.inspect(Some(&alice.creds()), "acme/app:1.0").await.expect_missing("the registry no longer serves it");
    assert_eq!(alice.tags("acme/app", "").await.total, 0);
    let logged: i64 =
        sqlx::query_scalar("select count(*) from audit_event where action = 'image.delete' and actor_name = 'alice'")
            .fetch_one(&world.db)
            .await
            .unwrap();
    assert!(logged >= 1);
}

#[tokio::test]
async fn a_namespace_is_deleted_only_once_its_images_are_gone() {
    let (stack, world) = start(Options::default()).await;
    let (alice, _, ns) = acme_app(&stack, &world).await;
    // A namespace that still holds images is not deleted: a namespace of the same name made
    // later would inherit them.
    let ns_path = format!("/api/v1/namespaces/{}", ns.namespace.id);
    assert_eq!(alice.delete(&ns_path).await.status, StatusCode::CONFLICT);
    let tag = alice.tag("acme/app", "1.0").await;
    let r = alice.delete(&format!("/api/v1/tags/{}?digest={}", tag.id, tag.digest)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Once its images are gone, the namespace may go (its empty repository with it).
    let r = alice.delete(&ns_path).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
}

#[tokio::test]
async fn a_repository_is_deleted_whole_by_its_owner_only_platforms_included() {
    let (stack, world) = start(Options::default()).await;
    let (alice, bob, _) = acme_app(&stack, &world).await;
    // For the owner every manifest goes, the per-platform images of a multi-platform one
    // included.
    let index = oci_index_image(stack.dir.path(), &[("linux", "amd64"), ("linux", "arm64")]);
    stack.push_with(&index, &alice.creds(), "acme/multi:1.0", &["--all"]).await.expect_ok("push an index");
    let t = stack.wait_for_tag(&alice, "acme/multi", "1.0").await;
    let child = alice.tag_detail(t.id).await.index_entries[0].1.clone();
    let repo = format!("/api/v1/repositories/{}", alice.repository("acme/multi").await.unwrap().id);
    assert_eq!(bob.delete(&repo).await.status, StatusCode::FORBIDDEN);
    let r = alice.delete(&repo).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    stack.inspect(Some(&alice.creds()), "acme/multi:1.0").await.expect_missing("the index is gone");
    stack.inspect(Some(&alice.creds()), &format!("acme/multi@{child}")).await.expect_missing("its platforms too");
}

#[tokio::test]
async fn private_images_never_show_to_outsiders() {
    let (stack, world) = start(Options::default()).await;
    let (alice, bob) = (world.person("alice").await, world.person("bob").await);
    let image = oci_image(stack.dir.path(), "secret stuff", &[("org.example.codename", "bluebird")]);
    stack.push(&image, &alice.creds(), "alice/secret:1.0").await.expect_ok("push");
    stack.wait_for_tag(&alice, "alice/secret", "1.0").await;

    let search = |who: Option<&Person>| {
        let app = world.app.clone();
        let who = who.cloned();
        async move {
            let cookie = match &who {
                Some(p) => Some(p.session().await),
                None => None,
            };
            call(&app, "/api/images/search", &[("q", "bluebird")], cookie.as_deref()).await.parse::<SearchData>()
        }
    };
    let found = search(Some(&alice)).await;
    assert_eq!(found.tags.len(), 1, "the owner finds it by label: {found:?}");
    let found = search(Some(&bob)).await;
    assert!(found.tags.is_empty() && found.repositories.is_empty(), "{found:?}");
    assert!(search(None).await.tags.is_empty());
    let explore = call(&world.app, "/api/images/explore", &[], None).await.parse::<Page<RepositoryView>>();
    assert!(explore.items.is_empty(), "{explore:?}");
    assert!(bob.repositories().await.is_empty());
    assert_eq!(get(&world.app, "/repositories/alice/secret", None).await.status, StatusCode::NOT_FOUND);
    // The dashboard's recent pushes: alice sees hers, bob (searching by uppercase too) not.
    let recent = |who: &Person| {
        let (app, who) = (world.app.clone(), who.clone());
        async move {
            let r = call(&app, "/api/dashboard", &[], Some(&who.session().await)).await;
            r.parse::<app::api::dashboard::DashboardData>().recent
        }
    };
    assert_eq!(recent(&alice).await[0].repository, "alice/secret");
    assert!(recent(&bob).await.is_empty());
    let found = call(&world.app, "/api/images/search", &[("q", "ALICE")], Some(&alice.session().await)).await;
    let found = found.parse::<SearchData>();
    assert_eq!(found.namespaces[0].namespace.name, "alice", "{found:?}");

    // Made public, it is explored and found by anyone.
    alice.set_visibility("alice", Visibility::Public).await;
    let explore = call(&world.app, "/api/images/explore", &[], None).await.parse::<Page<RepositoryView>>();
    assert_eq!(explore.items[0].name, "alice/secret");
    assert_eq!(explore.total, 1, "{explore:?}");
    assert_eq!(search(None).await.tags.len(), 1);
}

/// Search results come 20 of each kind a page, none twice, and the last page says so.
#[tokio::test]
async fn search_results_are_paged() {
    let world = World::new().await;
    let (alice, bob) = (world.person("alice").await, world.person("bob").await);
    sqlx::query(
        "insert into repository (name, namespace_id)
         select 'alice/kestrel-' || lpad(g::text, 2, '0'), namespace_id
         from namespace cross join generate_series(1, 45) g where name = 'alice'",
    )
    .execute(&world.db)
    .await
    .unwrap();
    let search = |who: &Person, page: &'static str| {
        let (app, who) = (world.app.clone(), who.clone());
        async move {
            let cookie = who.session().await;
            call(&app, "/api/images/search", &[("q", "kestrel"), ("page", page)], Some(&cookie))
                .await
                .parse::<SearchData>()
        }
    };
    let mut seen = std::collections::HashSet::new();
    for (page, n, more) in [("1", 20, true), ("2", 20, true), ("3", 5, false)] {
        let found = search(&alice, page).await;
        assert_eq!((found.repositories.len(), found.more), (n, more), "page {page}: {found:?}");
        assert!(found.repositories.iter().all(|r| seen.insert(r.name.clone())), "page {page} repeats");
    }
    assert_eq!(seen.len(), 45);
    let outsider = search(&bob, "1").await;
    assert!(outsider.repositories.is_empty() && !outsider.more, "{outsider:?}");

    // One or two characters are in most names: those matches come by name, still only what
    // the searcher may see.
    let short = |who: &Person, q: &'static str| {
        let (app, who) = (world.app.clone(), who.clone());
        async move {
            let cookie = who.session().await;
            call(&app, "/api/images/search", &[("q", q)], Some(&cookie)).await.parse::<SearchData>()
        }
    };
    let found = short(&alice, "7").await;
    let names: Vec<_> = found.repositories.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["alice/kestrel-07", "alice/kestrel-17", "alice/kestrel-27", "alice/kestrel-37"]);
    assert!(found.tags.is_empty() && !found.more, "{found:?}");
    let found = short(&alice, "l-").await;
    assert_eq!((found.repositories.len(), found.more), (20, true), "{found:?}");
    assert_eq!(found.repositories[0].name, "alice/kestrel-01");
    assert!(short(&bob, "7").await.repositories.is_empty());

    // Short tag names are found whole, and a pull reference finds its tag.
    sqlx::query(
        "insert into tag (repository_id, name, digest)
         select repository_id, t, 'sha256:' || repeat('a', 64) from repository
         cross join (values ('t5'), ('t55')) v (t) where name in ('alice/kestrel-01', 'alice/kestrel-02')",
    )
    .execute(&world.db)
    .await
    .unwrap();
    let found = short(&alice, "t5").await;
    let tags: Vec<_> = found.tags.iter().map(|(r, t)| format!("{r}:{}", t.name)).collect();
    assert_eq!(tags.len(), 2, "{tags:?}");
    assert!(tags.iter().all(|t| t.ends_with(":t5")), "{tags:?}");
    assert!(short(&bob, "t5").await.tags.is_empty());
    let found = short(&alice, "127.0.0.1:5000/alice/kestrel-02:t55").await;
    assert_eq!(found.tags.first().map(|(r, t)| (r.as_str(), t.name.as_str())), Some(("alice/kestrel-02", "t55")));
    let named = found.tags[0].1.id;
    assert_eq!(found.named, Some(named));
    let refused = short(&bob, "alice/kestrel-02:t55").await;
    assert!(refused.tags.is_empty() && refused.named.is_none());
    // The search page goes straight to the tag's page; for bob it stays a search with nothing.
    let page = |who: &Person| {
        let (app, who) = (world.app.clone(), who.clone());
        async move { get(&app, "/search?q=alice%2Fkestrel-02%3At55", Some(&who.session().await)).await }
    };
    let jumped = page(&alice).await;
    assert_eq!((jumped.status, jumped.location()), (StatusCode::FOUND, Some(format!("/tags/{named}").as_str())));
    assert_eq!(page(&bob).await.status, StatusCode::OK);
}

#[tokio::test]
async fn an_admin_push_to_an_unknown_namespace_creates_it() {
    let (stack, world) = start(Options::default()).await;
    let (root, alice) = (world.root().await, world.person("alice").await);
    let image = oci_image(stack.dir.path(), "new namespace", &[]);
    stack.push(&image, &root.creds(), "brandnew/app:1.0").await.expect_ok("an admin pushes anywhere");
    stack.wait_for_tag(&root, "brandnew/app", "1.0").await;
    let created = root.namespace("brandnew").await;
    assert_eq!(created.namespace.visibility, Visibility::Private);
    assert_eq!(created.namespace.team_name, "root", "owned by the pusher's personal team");
    assert!(alice.repositories().await.is_empty(), "private to its team");
}

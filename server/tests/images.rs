//! Images in Portcullis: registry notifications, reconcile, metadata, browsing, deletes and
//! search, against the real registry and skopeo.

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::stack::{oci_image, oci_index_image, Options, Stack};
use common::*;
use serde_json::{json, Value};
use sqlx::PgPool;

const ALICE: &str = "alice:alice password 1";
const BOB: &str = "bob:bob password 1";

struct World {
    stack: Stack,
    app: axum::Router,
    admin: String,
    alice: String,
    bob: String,
}

async fn world(db: &PgPool, options: Options) -> World {
    let stack = Stack::start_full(db, |_| {}, options).await;
    let app = server::router(stack.state.clone(), &server::Config::defaults());
    let (_, admin) = bootstrap(&app).await;
    let (_, alice) = user_with_token(&app, &admin, "alice").await;
    let (_, bob) = user_with_token(&app, &admin, "bob").await;
    World { stack, app, admin, alice, bob }
}

impl World {
    async fn repositories(&self, token: Option<&str>) -> Vec<Value> {
        api(&self.app, "GET", "/api/v1/repositories", token, None).await.json().as_array().cloned().unwrap_or_default()
    }

    async fn repo_id(&self, token: &str, name: &str) -> Option<i64> {
        self.repositories(Some(token)).await.into_iter().find(|r| r["name"] == name).and_then(|r| r["id"].as_i64())
    }

    async fn tags(&self, token: &str, repo: &str, query: &str) -> Value {
        let id = self.repo_id(token, repo).await.unwrap_or_else(|| panic!("{repo} is not listed"));
        let r = api(&self.app, "GET", &format!("/api/v1/repositories/{id}/tags?{query}"), Some(token), None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.json()
    }

    /// Waits until the tag shows in Portcullis (the registry's event was applied).
    async fn wait_for_tag(&self, token: &str, repo: &str, tag: &str) {
        self.stack
            .eventually(&format!("{repo}:{tag} appearing"), || async {
                match self.repo_id(token, repo).await {
                    Some(id) => {
                        let r = api(
                            &self.app,
                            "GET",
                            &format!("/api/v1/repositories/{id}/tags?name={tag}"),
                            Some(token),
                            None,
                        )
                        .await;
                        r.json()["items"].as_array().is_some_and(|a| a.iter().any(|t| t["name"] == tag))
                    }
                    None => false,
                }
            })
            .await;
    }
}

#[tokio::test]
async fn pushes_show_up_with_labels_sizes_and_platforms() {
    let db = fresh_db().await;
    let w = world(&db, Options::default()).await;
    let labels = [("org.opencontainers.image.title", "hello"), ("org.example.team", "platform")];
    let oci = oci_image(w.stack.dir.path(), "hello oci", &labels);
    w.stack.push(&oci, ALICE, "alice/hello:1.0").await.expect_ok("push an OCI image");
    w.wait_for_tag(&w.alice, "alice/hello", "1.0").await;
    let page = w.tags(&w.alice, "alice/hello", "").await;
    let t = &page["items"][0];
    assert_eq!(t["name"], "1.0");
    assert_eq!(t["media_type"], "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(t["platforms"], json!(["linux/amd64"]));
    assert_eq!(t["pushed_by"], "alice", "the pusher is the verified token subject");
    assert!(t["size"].as_i64().unwrap() > 0);
    assert!(t["labels"].as_array().unwrap().contains(&json!(["org.example.team", "platform"])), "{t}");
    assert_eq!(t["created"], "2026-11-27T12:00:00Z");
    assert!(t["last_pulled_at"].is_null(), "the HEAD checks of a push are not pulls: {t}");
    // The tag page has what the image runs, how it was built and the manifest itself.
    let d = api(&w.app, "GET", &format!("/api/v1/tags/{}", t["id"]), Some(&w.alice), None).await.json();
    let c = &d["config"];
    assert_eq!(
        (&c["cmd"], &c["env"], &c["exposed_ports"]),
        (&json!(["cat", "/hello.txt"]), &json!(["GREETING=hello"]), &json!(["8080/tcp"]))
    );
    assert_eq!(c["history"][0]["layer_size"], t["size"], "the step that made the layer carries its size");
    assert_eq!(c["history"][1]["empty_layer"], true);
    let manifest: Value = serde_json::from_str(d["manifest_json"].as_str().unwrap()).unwrap();
    assert_eq!(manifest["layers"][0]["size"], t["size"]);
    let html = get(
        &w.app,
        &format!("/tags/{}", t["id"]),
        Some(&log_in(&w.app, "alice", "alice password 1").await.session_cookie().unwrap()),
    )
    .await;
    for want in ["Build history", "COPY hello.txt /", "GREETING=hello", "8080/tcp", "schemaVersion"] {
        assert!(html.body.contains(want), "{want} missing from the tag page");
    }
    w.stack.pull(ALICE, "alice/hello:1.0").await.expect_ok("pull it");
    w.stack
        .eventually("the pull being recorded", || async {
            !w.tags(&w.alice, "alice/hello", "name=1.0").await["items"][0]["last_pulled_at"].is_null()
        })
        .await;

    // Docker v2 schema 2, converted by skopeo on the way.
    w.stack
        .push_with(&oci, ALICE, "alice/hello:v2s2", &["--format", "v2s2"])
        .await
        .expect_ok("push a Docker v2s2 image");
    w.wait_for_tag(&w.alice, "alice/hello", "v2s2").await;
    let t = &w.tags(&w.alice, "alice/hello", "name=v2s2").await["items"][0];
    assert_eq!(t["media_type"], "application/vnd.docker.distribution.manifest.v2+json");
    assert!(t["labels"].as_array().unwrap().contains(&json!(["org.opencontainers.image.title", "hello"])));

    // An OCI index with two platforms shows both.
    let index = oci_index_image(w.stack.dir.path(), &[("linux", "amd64"), ("linux", "arm64")]);
    w.stack.push_with(&index, ALICE, "alice/multi:1.0", &["--all"]).await.expect_ok("push an OCI index");
    w.wait_for_tag(&w.alice, "alice/multi", "1.0").await;
    let t = &w.tags(&w.alice, "alice/multi", "").await["items"][0];
    assert_eq!(t["media_type"], "application/vnd.oci.image.index.v1+json");
    assert_eq!(t["platforms"], json!(["linux/amd64", "linux/arm64"]));
    let tag_id = t["id"].as_i64().unwrap();
    let detail = api(&w.app, "GET", &format!("/api/v1/tags/{tag_id}"), Some(&w.alice), None).await.json();
    assert_eq!(detail["index_entries"].as_array().unwrap().len(), 2);
    // One of its platforms tagged on its own knows it is part of the index, so deleting it
    // says what it breaks.
    let amd64 = detail["index_entries"][0][1].as_str().unwrap().to_string();
    let (src, dst) = (w.stack.image_ref(&format!("alice/multi@{amd64}")), w.stack.image_ref("alice/multi:amd64"));
    w.stack
        .skopeo(&[
            "copy",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            "--src-creds",
            ALICE,
            "--dest-creds",
            ALICE,
            &src,
            &dst,
        ])
        .await
        .expect_ok("tag one platform of the index");
    w.wait_for_tag(&w.alice, "alice/multi", "amd64").await;
    let t = &w.tags(&w.alice, "alice/multi", "name=amd64").await["items"][0];
    assert_eq!(t["in_indexes"], json!(["1.0"]), "{t}");

    // The pages show the same.
    let cookie = log_in(&w.app, "alice", "alice password 1").await.session_cookie().unwrap();
    let html = get(&w.app, "/repositories/alice/hello", Some(&cookie)).await;
    assert_eq!(html.status, StatusCode::OK);
    for want in ["1.0", "v2s2", "linux/amd64", "team=platform", "docker pull", "alice/hello:1.0"] {
        assert!(html.body.contains(want), "{want} missing from the repository page");
    }
    let html = get(&w.app, &format!("/tags/{tag_id}"), Some(&cookie)).await;
    assert!(html.body.contains("linux/arm64") && html.body.contains("Platforms of this index"));
    let html = get(&w.app, "/namespaces/alice", Some(&cookie)).await;
    assert!(html.body.contains("alice/multi") && html.body.contains("alice/hello"));
    // Filters and sort run in the database.
    let by_label = w.tags(&w.alice, "alice/hello", "label=org.example.team%3Dplatform").await;
    assert_eq!(by_label["total"], 2);
    let none = w.tags(&w.alice, "alice/hello", "label=org.example.team%3Dother").await;
    assert_eq!(none["total"], 0);
    let sorted = w.tags(&w.alice, "alice/hello", "sort=name").await;
    assert_eq!(sorted["items"][0]["name"], "1.0");
    // Tags of one digest know each other.
    w.stack.push(&oci, ALICE, "alice/hello:latest").await.expect_ok("push the same image again");
    w.wait_for_tag(&w.alice, "alice/hello", "latest").await;
    let latest = &w.tags(&w.alice, "alice/hello", "name=latest").await["items"][0];
    assert_eq!(latest["shared_with"], json!(["1.0"]));

    // A cosign signature tag (sha256-<digest>.sig) marks the image it signs.
    let digest = latest["digest"].as_str().unwrap().to_string();
    let sig_tag = format!("{}.sig", digest.replace(':', "-"));
    let sig = oci_image(w.stack.dir.path(), "a signature", &[]);
    w.stack.push(&sig, ALICE, &format!("alice/hello:{sig_tag}")).await.expect_ok("push a signature");
    w.wait_for_tag(&w.alice, "alice/hello", &sig_tag).await;
    assert_eq!(w.tags(&w.alice, "alice/hello", "name=latest").await["items"][0]["signed"], true);
    assert_eq!(w.tags(&w.alice, "alice/hello", "name=v2s2").await["items"][0]["signed"], false);
}

#[tokio::test]
async fn the_inbox_needs_the_secret_and_ignores_replays() {
    let db = fresh_db().await;
    let w = world(&db, Options::default()).await;
    let envelope = json!({"events": [{
        "id": "replayed-event-1", "timestamp": "2026-11-27T20:30:11Z", "action": "pull",
        "target": {"mediaType": "application/octet-stream", "digest": "sha256:00", "repository": "alice/x"},
        "actor": {"name": "alice"}
    }]});
    let post = |auth: Option<String>, body: String| {
        let mut r = Request::post("/v2/webhooks/events")
            .header(header::CONTENT_TYPE, "application/vnd.docker.distribution.events.v1+json");
        if let Some(a) = auth {
            r = r.header(header::AUTHORIZATION, a);
        }
        r.body(Body::from(body)).unwrap()
    };
    let secret = format!("Bearer {}", w.stack.state.events_secret);
    assert_eq!(send(&w.app, post(None, envelope.to_string())).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        send(&w.app, post(Some("Bearer wrong".into()), envelope.to_string())).await.status,
        StatusCode::UNAUTHORIZED
    );
    for _ in 0..3 {
        assert_eq!(send(&w.app, post(Some(secret.clone()), envelope.to_string())).await.status, StatusCode::OK);
    }
    let stored: i64 = sqlx::query_scalar("select count(*) from registry_event where event_id = 'replayed-event-1'")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(stored, 1, "a resent event is stored once");
    // An event it cannot use is acknowledged and recorded as skipped, with the reason.
    w.stack
        .eventually("the blob pull being recorded as skipped", || async {
            let r: Option<(Option<String>, Option<String>)> =
                sqlx::query_as("select outcome, reason from registry_event where event_id = 'replayed-event-1'")
                    .fetch_optional(&db)
                    .await
                    .unwrap();
            matches!(r, Some((Some(o), Some(_))) if o == "skipped")
        })
        .await;
    // Garbage is acknowledged too (refusing it would stall the registry's queue), and
    // recorded with the reason.
    assert_eq!(send(&w.app, post(Some(secret.clone()), "not json".into())).await.status, StatusCode::ACCEPTED);
    let reason: String = sqlx::query_scalar("select reason from registry_event where event_id like 'unreadable:%'")
        .fetch_one(&db)
        .await
        .unwrap();
    assert!(reason.contains("not an event envelope"), "{reason}");

    // A push whose manifest is gone from the registry cannot hold up the events after it,
    // of its own repository or any other.
    let push_then_pull = json!({"events": [
        {"id": "gone-push", "action": "push", "timestamp": "2026-11-27T20:30:12Z",
         "target": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "repository": "alice/gone",
                    "digest": "sha256:1111111111111111111111111111111111111111111111111111111111111111", "tag": "1"},
         "actor": {"name": "alice"}},
        {"id": "after-it", "action": "pull", "timestamp": "2026-11-27T20:30:13Z",
         "target": {"mediaType": "application/octet-stream", "digest": "sha256:00", "repository": "alice/other"},
         "actor": {"name": "alice"}},
    ]});
    assert_eq!(send(&w.app, post(Some(secret), push_then_pull.to_string())).await.status, StatusCode::OK);
    w.stack
        .eventually("both events being processed", || async {
            let n: i64 = sqlx::query_scalar(
                "select count(*) from registry_event where event_id in ('gone-push', 'after-it') and processed_at is not null",
            )
            .fetch_one(&db)
            .await
            .unwrap();
            n == 2
        })
        .await;
}

#[tokio::test]
async fn reconcile_finds_what_notifications_missed() {
    let db = fresh_db().await;
    let w = world(&db, Options { without_notifications: true }).await;
    let image = oci_image(w.stack.dir.path(), "quiet push", &[("org.example.kind", "quiet")]);
    w.stack.push(&image, ALICE, "alice/quiet:1.0").await.expect_ok("push without notifications");
    w.stack.push(&image, ALICE, "alice/quiet:2.0").await.expect_ok("push without notifications");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(w.repo_id(&w.alice, "alice/quiet").await.is_none(), "nothing known before reconcile");

    let report = app::backend::images::reconcile::reconcile(&w.stack.state, "test").await.unwrap().unwrap();
    assert_eq!((report.repositories, report.tags_added), (1, 2), "{report:?}");
    let page = w.tags(&w.alice, "alice/quiet", "").await;
    assert_eq!(page["total"], 2);
    assert!(page["items"][0]["labels"].as_array().unwrap().contains(&json!(["org.example.kind", "quiet"])));
    // Rows from before manifests were kept in full are filled in; tags stay as they are.
    sqlx::query("update manifest set manifest_json = null, config = null").execute(&db).await.unwrap();
    let again = app::backend::images::reconcile::reconcile(&w.stack.state, "test").await.unwrap().unwrap();
    assert_eq!((again.tags_added, again.tags_updated, again.tags_removed), (0, 0, 0), "a second run changes nothing");
    let filled: i64 =
        sqlx::query_scalar("select count(*) from manifest where manifest_json is not null and config is not null")
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(filled, 1, "the one image of both tags is filled in");

    w.stack.delete(ALICE, "alice/quiet:1.0").await.expect_ok("delete without notifications");
    let report = app::backend::images::reconcile::reconcile(&w.stack.state, "test").await.unwrap().unwrap();
    assert_eq!(report.tags_removed, 2, "deleting the digest removed both tags: {report:?}");
    assert_eq!(w.tags(&w.alice, "alice/quiet", "").await["total"], 0);

    // What an event applied while a run was under way (a tag written after the run started,
    // by the database's clock) is newer than anything the run read, so the run neither removes
    // it nor its repository.
    let repo: i64 = sqlx::query_scalar("select repository_id from repository where name = 'alice/quiet'")
        .fetch_one(&db)
        .await
        .unwrap();
    sqlx::query("insert into repository (name, namespace_id) select 'alice/racing', namespace_id from repository where repository_id = $1")
        .bind(repo)
        .execute(&db)
        .await
        .unwrap();
    for (r, tag) in [("alice/quiet", "3.0"), ("alice/racing", "1.0")] {
        sqlx::query(
            "insert into tag (repository_id, name, digest, updated_at)
             select repository_id, $2, 'sha256:00', now() + interval '1 hour' from repository where name = $1",
        )
        .bind(r)
        .bind(tag)
        .execute(&db)
        .await
        .unwrap();
    }
    let report = app::backend::images::reconcile::reconcile(&w.stack.state, "test").await.unwrap().unwrap();
    assert_eq!((report.tags_removed, report.repositories_removed), (0, 0), "{report:?}");
    assert_eq!(w.tags(&w.alice, "alice/quiet", "name=3.0").await["total"], 1);
    assert!(w.repo_id(&w.alice, "alice/racing").await.is_some());
    // A tag reconcile finds in a repository that saw a delete applied since the run started
    // may be the very tag deleted: the next run adds it.
    w.stack.push(&image, ALICE, "alice/quiet:4.0").await.expect_ok("push without notifications");
    sqlx::query(
        "insert into registry_event (event_id, action, repository, raw, processed_at, outcome)
         values ('a-delete-meanwhile', 'delete', 'alice/quiet', '{}', now() + interval '1 hour', 'applied')",
    )
    .execute(&db)
    .await
    .unwrap();
    app::backend::images::reconcile::reconcile(&w.stack.state, "test").await.unwrap().unwrap();
    assert_eq!(w.tags(&w.alice, "alice/quiet", "name=4.0").await["total"], 0);
    sqlx::query(
        "update registry_event set processed_at = now() - interval '1 hour' where event_id = 'a-delete-meanwhile'",
    )
    .execute(&db)
    .await
    .unwrap();
    let report = app::backend::images::reconcile::reconcile(&w.stack.state, "test").await.unwrap().unwrap();
    assert_eq!(report.tags_added, 1, "{report:?}");
    // `portcullis sync` runs the same code; an administrator's button too.
    let cookie = log_in(&w.app, "root", "root password 1").await.session_cookie().unwrap();
    assert_eq!(call(&w.app, "/api/admin/sync", &[], Some(&cookie)).await.status, StatusCode::OK);
    let alice_cookie = log_in(&w.app, "alice", "alice password 1").await.session_cookie().unwrap();
    assert_eq!(call(&w.app, "/api/admin/sync", &[], Some(&alice_cookie)).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn deletes_follow_the_policy_and_reach_the_registry() {
    let db = fresh_db().await;
    let w = world(&db, Options::default()).await;
    let team = api(&w.app, "POST", "/api/v1/teams", Some(&w.alice), Some(json!({"name": "acme"}))).await.json()["id"]
        .as_i64()
        .unwrap();
    let ns = api(&w.app, "POST", "/api/v1/namespaces", Some(&w.alice), Some(json!({"name": "acme", "team": "acme"})))
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    api(
        &w.app,
        "POST",
        &format!("/api/v1/teams/{team}/members"),
        Some(&w.alice),
        Some(json!({"username": "bob", "role": "viewer"})),
    )
    .await;
    let image = oci_image(w.stack.dir.path(), "deletable", &[]);
    w.stack.push(&image, ALICE, "acme/app:1.0").await.expect_ok("push");
    w.stack.push(&image, ALICE, "acme/app:same").await.expect_ok("push the same digest under another tag");
    w.wait_for_tag(&w.bob, "acme/app", "same").await;
    let tag = w.tags(&w.bob, "acme/app", "name=1.0").await["items"][0]["id"].as_i64().unwrap();

    // The viewer is not offered delete, and is refused when forcing it.
    let bob_cookie = log_in(&w.app, "bob", "bob password 1").await.session_cookie().unwrap();
    let page = get(&w.app, "/repositories/acme/app", Some(&bob_cookie)).await;
    assert!(
        !page.body.contains("Delete…") && !page.body.contains("Delete repository"),
        "a viewer is not offered delete"
    );
    assert_eq!(
        api(&w.app, "DELETE", &format!("/api/v1/tags/{tag}"), Some(&w.bob), None).await.status,
        StatusCode::FORBIDDEN
    );
    w.stack.inspect(Some(BOB), "acme/app:1.0").await.expect_ok("still there after the refused delete");

    // A namespace that still holds images is not deleted: a namespace of the same name made
    // later would inherit them.
    let ns_path = format!("/api/v1/namespaces/{ns}");
    assert_eq!(api(&w.app, "DELETE", &ns_path, Some(&w.alice), None).await.status, StatusCode::CONFLICT);

    // The owner is offered it, sees which tags go with it, and deletes.
    let alice_cookie = log_in(&w.app, "alice", "alice password 1").await.session_cookie().unwrap();
    let page = get(&w.app, "/repositories/acme/app", Some(&alice_cookie)).await;
    assert!(
        page.body.contains("Delete…") && page.body.contains("these tags go too: same"),
        "the owner sees what a delete removes"
    );
    // A delete of another image than the tag points at is refused: the tag moved meanwhile.
    let stale = format!("/api/v1/tags/{tag}?digest=sha256:{}", "0".repeat(64));
    assert_eq!(api(&w.app, "DELETE", &stale, Some(&w.alice), None).await.status, StatusCode::CONFLICT);
    w.stack.inspect(Some(ALICE), "acme/app:1.0").await.expect_ok("still there after the refused delete");
    let digest = w.tags(&w.alice, "acme/app", "name=1.0").await["items"][0]["digest"].as_str().unwrap().to_string();
    let r = api(&w.app, "DELETE", &format!("/api/v1/tags/{tag}?digest={digest}"), Some(&w.alice), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let mut gone = r.json()["deleted_tags"].as_array().unwrap().clone();
    gone.sort_by_key(|v| v.as_str().unwrap().to_string());
    assert_eq!(gone, vec![json!("1.0"), json!("same")]);
    w.stack.inspect(Some(ALICE), "acme/app:1.0").await.expect_missing("the registry no longer serves it");
    assert_eq!(w.tags(&w.alice, "acme/app", "").await["total"], 0);
    let logged: i64 =
        sqlx::query_scalar("select count(*) from audit_event where action = 'image.delete' and actor_name = 'alice'")
            .fetch_one(&db)
            .await
            .unwrap();
    assert!(logged >= 1);

    // A whole repository: refused to the viewer; for the owner every manifest goes, the
    // per-platform images of a multi-platform one included.
    let index = oci_index_image(w.stack.dir.path(), &[("linux", "amd64"), ("linux", "arm64")]);
    w.stack.push_with(&index, ALICE, "acme/multi:1.0", &["--all"]).await.expect_ok("push an index");
    w.wait_for_tag(&w.alice, "acme/multi", "1.0").await;
    let t = &w.tags(&w.alice, "acme/multi", "").await["items"][0];
    let detail = api(&w.app, "GET", &format!("/api/v1/tags/{}", t["id"]), Some(&w.alice), None).await.json();
    let child = detail["index_entries"][0][1].as_str().unwrap().to_string();
    let repo = format!("/api/v1/repositories/{}", w.repo_id(&w.alice, "acme/multi").await.unwrap());
    assert_eq!(api(&w.app, "DELETE", &repo, Some(&w.bob), None).await.status, StatusCode::FORBIDDEN);
    let r = api(&w.app, "DELETE", &repo, Some(&w.alice), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    w.stack.inspect(Some(ALICE), "acme/multi:1.0").await.expect_missing("the index is gone");
    w.stack.inspect(Some(ALICE), &format!("acme/multi@{child}")).await.expect_missing("its platforms too");

    // Once its images are gone, the namespace may go (its empty repository with it).
    let r = api(&w.app, "DELETE", &ns_path, Some(&w.alice), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
}

#[tokio::test]
async fn private_images_never_show_to_outsiders() {
    let db = fresh_db().await;
    let w = world(&db, Options::default()).await;
    let image = oci_image(w.stack.dir.path(), "secret stuff", &[("org.example.codename", "bluebird")]);
    w.stack.push(&image, ALICE, "alice/secret:1.0").await.expect_ok("push");
    w.wait_for_tag(&w.alice, "alice/secret", "1.0").await;

    let search = |token: Option<String>| {
        let app = w.app.clone();
        async move {
            let cookie = match token.as_deref() {
                Some(user) => Some(log_in(&app, user, &format!("{user} password 1")).await.session_cookie().unwrap()),
                None => None,
            };
            call(&app, "/api/images/search", &[("q", "bluebird")], cookie.as_deref()).await.json()
        }
    };
    let found = search(Some("alice".into())).await;
    assert_eq!(found["tags"].as_array().unwrap().len(), 1, "the owner finds it by label: {found}");
    let found = search(Some("bob".into())).await;
    assert!(
        found["tags"].as_array().unwrap().is_empty() && found["repositories"].as_array().unwrap().is_empty(),
        "{found}"
    );
    assert!(search(None).await["tags"].as_array().unwrap().is_empty());
    let explore = call(&w.app, "/api/images/explore", &[], None).await.json();
    assert!(explore["items"].as_array().unwrap().is_empty(), "{explore}");
    assert!(w.repositories(Some(&w.bob)).await.is_empty());
    assert_eq!(get(&w.app, "/repositories/alice/secret", None).await.status, StatusCode::NOT_FOUND);
    // The dashboard's recent pushes: alice sees hers, bob (searching by uppercase too) not.
    let recent = |user: &'static str| {
        let app = w.app.clone();
        async move {
            let cookie = log_in(&app, user, &format!("{user} password 1")).await.session_cookie().unwrap();
            call(&app, "/api/images/recent", &[], Some(&cookie)).await.json()
        }
    };
    assert_eq!(recent("alice").await[0][0], "alice/secret");
    assert_eq!(recent("bob").await, json!([]));
    let cookie = log_in(&w.app, "alice", "alice password 1").await.session_cookie().unwrap();
    let found = call(&w.app, "/api/images/search", &[("q", "ALICE")], Some(&cookie)).await.json();
    assert_eq!(found["namespaces"][0]["name"], "alice", "{found}");

    // Made public, it is explored and found by anyone.
    let ns = api(&w.app, "GET", "/api/v1/namespaces", Some(&w.alice), None).await.json()[0]["id"].clone();
    api(&w.app, "PUT", &format!("/api/v1/namespaces/{ns}"), Some(&w.alice), Some(json!({"visibility": "public"})))
        .await;
    let explore = call(&w.app, "/api/images/explore", &[], None).await.json();
    assert_eq!(explore["items"][0]["name"], "alice/secret");
    assert_eq!(search(None).await["tags"].as_array().unwrap().len(), 1);
    let _ = &w.admin;
}

#[tokio::test]
async fn an_admin_push_to_an_unknown_namespace_creates_it() {
    let db = fresh_db().await;
    let w = world(&db, Options::default()).await;
    let image = oci_image(w.stack.dir.path(), "new namespace", &[]);
    w.stack.push(&image, "root:root password 1", "brandnew/app:1.0").await.expect_ok("an admin pushes anywhere");
    w.wait_for_tag(&w.admin, "brandnew/app", "1.0").await;
    let ns = api(&w.app, "GET", "/api/v1/namespaces", Some(&w.admin), None).await.json();
    let created =
        ns.as_array().unwrap().iter().find(|n| n["name"] == "brandnew").expect("the namespace was created").clone();
    assert_eq!(created["visibility"], "private");
    assert_eq!(created["team_name"], "root", "owned by the pusher's personal team");
    assert!(w.repositories(Some(&w.alice)).await.is_empty(), "private to its team");
}

//! Tag history and restore, through the real registry: every move of a tag is kept with who
//! made it, and an earlier image is put back under its tag (the registry serves it again),
//! by those who may push there only.

use crate::common;

use std::path::PathBuf;

use app::model::{TagDetail, TagMove, TagView};
use axum::http::StatusCode;
use common::stack::{oci_image, Stack};
use common::*;
use serde_json::json;

/// Two different images to push under the same tag.
fn two_images(stack: &Stack) -> (PathBuf, PathBuf) {
    let dir = |name: &str| {
        let d = stack.dir.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        d
    };
    (oci_image(&dir("a"), "image A", &[]), oci_image(&dir("b"), "image B", &[]))
}

/// Waits until `repo:tag` points at something else than `not`.
async fn wait_for_move(stack: &Stack, who: &Person, repo: &str, tag: &str, not: &str) -> TagView {
    for _ in 0..150 {
        if let Some(t) = who.find_tag(repo, tag).await.filter(|t| t.digest != not) {
            return t;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{repo}:{tag} never moved from {not}:\n{}", stack.registry_log());
}

/// The digest the registry serves for `repo:tag`.
async fn served(stack: &Stack, who: &Person, repo_tag: &str) -> String {
    let image = stack.image_ref(repo_tag);
    let out = stack.skopeo(&["inspect", "--tls-verify=false", "--creds", &who.creds(), &image]).await;
    out.expect_ok("inspecting");
    let info: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    info["Digest"].as_str().unwrap().to_string()
}

/// alice has pushed image A, then image B, as `alice/app:latest`.
async fn moved_once() -> (Stack, World, Person, TagView, TagView) {
    let db = fresh_db().await;
    let stack = Stack::start(&db).await;
    let world = stack.replica_world().await;
    let alice = world.person("alice").await;
    let (a, b) = two_images(&stack);
    stack.push(&a, &alice.creds(), "alice/app:latest").await.expect_ok("pushing A");
    let first = stack.wait_for_tag(&alice, "alice/app", "latest").await;
    stack.push(&b, &alice.creds(), "alice/app:latest").await.expect_ok("pushing B");
    let second = wait_for_move(&stack, &alice, "alice/app", "latest", &first.digest).await;
    (stack, world, alice, first, second)
}

#[tokio::test]
async fn every_move_of_a_tag_is_kept_with_who_made_it_even_after_the_tag_is_deleted() {
    let (stack, _world, alice, first, second) = moved_once().await;
    let detail: TagDetail = alice.get(&format!("/api/v1/tags/{}", second.id)).await.parse();
    let seen: Vec<(&str, Option<&str>, Option<&str>)> =
        detail.history.iter().map(|m| (m.source.as_str(), m.digest.as_deref(), m.actor.as_deref())).collect();
    assert_eq!(
        seen,
        vec![
            ("push", Some(second.digest.as_str()), Some("alice")),
            ("push", Some(first.digest.as_str()), Some("alice"))
        ]
    );
    assert_eq!(detail.history[0].previous_digest.as_deref(), Some(first.digest.as_str()));
    assert_eq!(detail.history[0].describe(), "moved by alice");
    assert!(detail.can_push);

    // Deleted in the UI: the repository's history still has it, naming alice.
    let r = alice.delete(&format!("/api/v1/tags/{}?digest={}", second.id, second.digest)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let repo = alice.repository("alice/app").await.expect("the repository stays");
    let history: Vec<TagMove> = alice.get(&format!("/api/v1/repositories/{}/history", repo.id)).await.parse();
    assert_eq!(history.len(), 3, "{history:?}");
    assert_eq!((history[0].digest.as_deref(), history[0].source.as_str()), (None, "delete"));
    assert_eq!(history[0].previous_digest.as_deref(), Some(second.digest.as_str()));
    assert_eq!(history[0].actor.as_deref(), Some("alice"), "the user who deleted, not Portcullis's own event");
    assert_eq!(history[0].describe(), "deleted by alice");
    stack.inspect(Some(&alice.creds()), "alice/app:latest").await.expect_missing("deleted in the registry");
}

#[tokio::test]
async fn an_earlier_image_is_put_back_under_its_tag_and_the_registry_serves_it() {
    let (stack, world, alice, first, second) = moved_once().await;
    assert_eq!(served(&stack, &alice, "alice/app:latest").await, second.digest);
    let repo = alice.repository("alice/app").await.unwrap();
    let restore = format!("/api/v1/repositories/{}/restore", repo.id);

    let r = alice.post(&restore, json!({ "tag": "latest", "digest": first.digest })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["previous"], json!(second.digest));
    assert_eq!(served(&stack, &alice, "alice/app:latest").await, first.digest, "the registry serves A again");
    stack.pull(&alice.creds(), "alice/app:latest").await.expect_ok("pulling the restored image");
    let now = alice.find_tag("alice/app", "latest").await.unwrap();
    assert_eq!((now.digest.as_str(), now.pushed_by.as_deref()), (first.digest.as_str(), Some("alice")));
    let history: Vec<TagMove> = alice.get(&format!("/api/v1/repositories/{}/history", repo.id)).await.parse();
    assert_eq!(history[0].source, "restore", "{history:?}");
    assert_eq!(history[0].describe(), "put back by alice");
    // The registry's own push event, applied afterwards, adds no second move.
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let again: Vec<TagMove> = alice.get(&format!("/api/v1/repositories/{}/history", repo.id)).await.parse();
    assert_eq!(again.len(), history.len(), "{again:?}");
    let logged: i64 =
        sqlx::query_scalar("select count(*) from audit_event where action = 'tag.restore' and actor_name = 'alice'")
            .fetch_one(&world.db)
            .await
            .unwrap();
    assert_eq!(logged, 1);

    // Already there, and an image the registry no longer has: each says so.
    let r = alice.post(&restore, json!({ "tag": "latest", "digest": first.digest })).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(r.body.contains("already points at"), "{}", r.body);
    let gone = format!("sha256:{}", "e".repeat(64));
    let r = alice.post(&restore, json!({ "tag": "latest", "digest": gone })).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(r.body.contains("no longer in the registry"), "{}", r.body);
    let r = alice.post(&restore, json!({ "tag": "no/slash", "digest": first.digest })).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
}

#[tokio::test]
async fn only_those_who_may_push_put_an_image_back() {
    let (stack, world, alice, first, second) = moved_once().await;
    let bob = world.person("bob").await;
    let repo = alice.repository("alice/app").await.unwrap();
    let restore = format!("/api/v1/repositories/{}/restore", repo.id);
    let r = bob.post(&restore, json!({ "tag": "latest", "digest": first.digest })).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "alice's private repository is not bob's to see: {}", r.body);
    // Public, bob sees its history but still may not push there.
    let ns = alice.namespace("alice").await;
    let r = alice.put(&format!("/api/v1/namespaces/{}", ns.namespace.id), json!({ "visibility": "public" })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let history: Vec<TagMove> = bob.get(&format!("/api/v1/repositories/{}/history", repo.id)).await.parse();
    assert_eq!(history.len(), 2);
    // The repository's history page shows bob the moves, and offers no put back; alice it offers.
    let page = common::get(&world.app, "/repositories/alice/app/-/history", Some(&bob.session().await)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("moved by alice") && !page.body.contains("Put back…"), "{}", page.body);
    let page = common::get(&world.app, "/repositories/alice/app/-/history", Some(&alice.session().await)).await;
    assert!(page.body.contains("Put back…"), "{}", page.body);
    let r = bob.post(&restore, json!({ "tag": "latest", "digest": first.digest })).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(served(&stack, &alice, "alice/app:latest").await, second.digest, "nothing moved");
}

#[tokio::test]
async fn a_deleted_namespace_takes_its_history_with_it() {
    let db = fresh_db().await;
    let stack = Stack::start(&db).await;
    let world = stack.replica_world().await;
    let (alice, bob) = (world.person("alice").await, world.person("bob").await);
    let (a, b) = two_images(&stack);
    alice.create_team("acme-old").await;
    let old = alice.create_namespace("acme", "acme-old").await;
    stack.push(&a, &alice.creds(), "acme/app:latest").await.expect_ok("alice pushes to acme");
    stack.wait_for_tag(&alice, "acme/app", "latest").await;
    let repo = alice.repository("acme/app").await.unwrap();
    assert_eq!(alice.delete(&format!("/api/v1/repositories/{}", repo.id)).await.status, StatusCode::NO_CONTENT);
    let r = alice.delete(&format!("/api/v1/namespaces/{}", old.namespace.id)).await;
    assert!(r.status.is_success(), "{} {}", r.status, r.body);

    // bob makes a namespace of the same name: the old team's tags, digests and names are not his to read.
    bob.create_team("acme-new").await;
    bob.create_namespace("acme", "acme-new").await;
    stack.push(&b, &bob.creds(), "acme/app:v1").await.expect_ok("bob pushes to the new acme");
    stack.wait_for_tag(&bob, "acme/app", "v1").await;
    let repo = bob.repository("acme/app").await.unwrap();
    let history: Vec<TagMove> = bob.get(&format!("/api/v1/repositories/{}/history", repo.id)).await.parse();
    let seen: Vec<(&str, Option<&str>)> = history.iter().map(|m| (m.tag.as_str(), m.actor.as_deref())).collect();
    assert_eq!(seen, vec![("v1", Some("bob"))], "{history:?}");
}

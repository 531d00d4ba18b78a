//! The manifest gate (issue 29) with a real registry and a real client: skopeo talks to
//! Portcullis's gate (single-address mode, as `make run` serves 127.0.0.1:5000), which
//! checks manifest requests and streams everything else to the registry.

use crate::common;

use app::backend::registry::keys::{KeyAlgorithm, Signer};
use common::stack::{claims, digest_of, oci_image, Options, Stack};
use common::*;
use serde_json::json;

async fn start() -> (Stack, World) {
    let db = fresh_db().await;
    let stack = Stack::start_full(&db, |_| {}, Options::default()).await;
    let world = stack.replica_world().await;
    (stack, world)
}

#[tokio::test]
async fn through_the_gate_pushes_pulls_and_deletes_work_and_refusals_keep_their_twins() {
    let (stack, world) = start().await;
    let (alice, bob) = (world.person("alice").await, world.person("bob").await);
    let image = oci_image(stack.dir.path(), "through the gate", &[]);
    assert_ne!(stack.registry, stack.registry_direct, "skopeo must talk to the gate");

    stack.push(&image, &alice.creds(), "alice/app:1.0").await.expect_ok("alice pushes through the gate");
    stack.pull(&alice.creds(), "alice/app:1.0").await.expect_ok("alice pulls through the gate");
    let tags = stack.list_tags(&alice.creds(), "alice/app").await;
    tags.expect_ok("alice lists her tags through the gate");
    assert!(tags.stdout.contains("\"1.0\""), "{}", tags.stdout);
    // What went through the gate reached Portcullis's own records (the registry's event).
    stack.wait_for_tag(&alice, "alice/app", "1.0").await;

    stack.push(&image, &bob.creds(), "alice/app:evil").await.expect_refused("bob pushes to alice's namespace");
    stack.inspect(Some(&bob.creds()), "alice/app:1.0").await.expect_refused("bob pulls alice's private image");
    stack.inspect(None, "alice/app:1.0").await.expect_refused("anonymous pulls alice's private image");
    stack.delete(&bob.creds(), "alice/app:1.0").await.expect_refused("bob deletes alice's image");

    stack.delete(&alice.creds(), "alice/app:1.0").await.expect_ok("alice deletes her image through the gate");
    stack.inspect(Some(&alice.creds()), "alice/app:1.0").await.expect_missing("the deleted image");
}

#[tokio::test]
async fn an_immutable_tag_never_moves_nor_goes_but_a_retry_passes() {
    let (stack, world) = start().await;
    let (alice, bob) = (world.person("alice").await, world.person("bob").await);
    let ns = alice.namespace("alice").await.namespace.id;
    let (first, second) =
        (oci_image(stack.dir.path(), "release one", &[]), oci_image(stack.dir.path(), "release two", &[]));

    let r = bob.post(&format!("/api/v1/namespaces/{ns}/tag_rules"), json!({ "tags": "v*" })).await;
    assert!(r.status == 403 || r.status == 404, "bob may not set alice's rules: {} {}", r.status, r.body);
    let r = alice.post(&format!("/api/v1/namespaces/{ns}/tag_rules"), json!({ "tags": "v*" })).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let rule: app::model::TagRuleView = r.parse();
    assert_eq!((rule.repositories.as_str(), rule.tags.as_str(), rule.kind.as_str()), ("*", "v*", "immutable"));
    let r = alice.post(&format!("/api/v1/namespaces/{ns}/tag_rules"), json!({ "tags": "v 1" })).await;
    assert_eq!(r.status, 422, "a tag glob with a space: {}", r.body);
    let r = alice.get(&format!("/api/v1/namespaces/{ns}/tag_rules")).await;
    assert_eq!(r.parse::<Vec<app::model::TagRuleView>>().len(), 1);

    stack.push(&first, &alice.creds(), "alice/app:v1").await.expect_ok("the first push of an immutable tag");
    stack.push(&first, &alice.creds(), "alice/app:v1").await.expect_ok("the same digest again (a retry)");
    let moved = stack.push(&second, &alice.creds(), "alice/app:v1").await;
    moved.expect_refused("moving an immutable tag");
    assert!(
        moved.stderr.contains("immutable") && moved.stderr.contains("rule \\\"v*"),
        "the rule is named: {}",
        moved.stderr
    );
    let deleted = stack.delete(&alice.creds(), "alice/app:v1").await;
    deleted.expect_refused("deleting an immutable tag's image");
    assert!(deleted.stderr.contains("immutable"), "{}", deleted.stderr);

    // A tag no rule covers moves and goes as before.
    stack.push(&first, &alice.creds(), "alice/app:dev").await.expect_ok("a mutable tag");
    stack.push(&second, &alice.creds(), "alice/app:dev").await.expect_ok("a mutable tag moves");
    let pulled = stack.inspect(Some(&alice.creds()), "alice/app:v1").await;
    pulled.expect_ok("the immutable tag is still there");

    // The dashboard's own doors hold the rule too: neither "Put back…" nor deleting the tag.
    let v1 = stack.wait_for_tag(&alice, "alice/app", "v1").await;
    let mut dev = stack.wait_for_tag(&alice, "alice/app", "dev").await;
    for _ in 0..100 {
        if dev.digest != v1.digest {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        dev = stack.wait_for_tag(&alice, "alice/app", "dev").await;
    }
    assert_ne!(dev.digest, v1.digest, "dev moved to the second image");
    let repo = alice.repository("alice/app").await.expect("alice/app is recorded");
    let r = alice
        .post(&format!("/api/v1/repositories/{}/restore", repo.id), json!({ "tag": "v1", "digest": dev.digest }))
        .await;
    assert_eq!(r.status, 403, "putting another image under an immutable tag: {}", r.body);
    assert!(r.body.contains("immutable"), "{}", r.body);
    let r = alice.delete(&format!("/api/v1/tags/{}", v1.id)).await;
    assert_eq!(r.status, 403, "deleting an immutable tag from the dashboard: {}", r.body);

    // Without the rule, the tag moves.
    let r = bob.delete(&format!("/api/v1/namespaces/{ns}/tag_rules/{}", rule.id)).await;
    assert!(r.status == 403 || r.status == 404, "bob may not remove alice's rule: {}", r.status);
    let r = alice.delete(&format!("/api/v1/namespaces/{ns}/tag_rules/{}", rule.id)).await;
    assert_eq!(r.status, 204, "{}", r.body);
    stack.push(&second, &alice.creds(), "alice/app:v1").await.expect_ok("the tag moves once the rule is gone");
    let actions = world.actions().await;
    assert!(
        actions.iter().any(|a| a == "tag_rule.add") && actions.iter().any(|a| a == "tag_rule.remove"),
        "{actions:?}"
    );
}

#[tokio::test]
async fn bad_input_at_the_gate_is_refused_in_the_registrys_words_and_never_forwarded() {
    let (stack, world) = start().await;
    let alice = world.person("alice").await;
    let http = reqwest::Client::new();
    let gate = format!("http://{}", stack.registry);
    let url = |path: &str| format!("{gate}/v2/alice/neverforwarded{path}");
    let code = |v: serde_json::Value| v["errors"][0]["code"].as_str().unwrap_or_default().to_string();

    // No token: the registry's challenge, naming the token endpoint and the scope.
    let r = http.get(url("/manifests/v1")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_string();
    assert!(challenge.starts_with(&format!("Bearer realm=\"{}/v2/token\"", stack.url)), "{challenge}");
    assert!(challenge.contains("scope=\"repository:alice/neverforwarded:pull\""), "{challenge}");
    assert_eq!(code(r.json().await.unwrap()), "UNAUTHORIZED");

    // A token for another repository does not open this one.
    let other = stack.registry_token(&alice, &["repository:alice/other:pull,push"]).await;
    let r = http.get(url("/manifests/v1")).bearer_auth(&other).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"].to_str().unwrap().contains("insufficient_scope"));

    // A token signed by a key that is not Portcullis's.
    let now = chrono::Utc::now().timestamp();
    let forged = Signer::ephemeral(KeyAlgorithm::ES256)
        .unwrap()
        .sign(&json!({
            "iss": "portcullis", "sub": "alice", "aud": "portcullis-registry", "exp": now + 300, "nbf": now, "iat": now,
            "jti": "x", "access": [{ "type": "repository", "name": "alice/neverforwarded", "actions": ["pull", "push"] }]
        }))
        .unwrap();
    let r = http.get(url("/manifests/v1")).bearer_auth(&forged).send().await.unwrap();
    assert_eq!(r.status(), 401, "a forged token");

    let token = stack.registry_token(&alice, &["repository:alice/neverforwarded:pull,push,delete"]).await;
    let put = |path: &str, content_type: &str, body: Vec<u8>| {
        http.put(url(path)).bearer_auth(&token).header("content-type", content_type).body(body).send()
    };
    let oci = "application/vnd.oci.image.manifest.v1+json";
    let r = put("/manifests/v1", "text/plain", b"{}".to_vec()).await.unwrap();
    assert_eq!((r.status().as_u16(), code(r.json().await.unwrap()).as_str()), (400, "MANIFEST_INVALID"), "wrong type");
    let r = put("/manifests/v1", oci, b"{not json".to_vec()).await.unwrap();
    assert_eq!((r.status().as_u16(), code(r.json().await.unwrap()).as_str()), (400, "MANIFEST_INVALID"), "broken JSON");
    let r = put("/manifests/v1", oci, vec![b' '; 5 << 20]).await.unwrap();
    assert_eq!((r.status().as_u16(), code(r.json().await.unwrap()).as_str()), (413, "SIZE_INVALID"), "oversized");
    let wrong = format!("/manifests/sha256:{}", "0".repeat(64));
    let r = put(&wrong, oci, b"{}".to_vec()).await.unwrap();
    assert_eq!((r.status().as_u16(), code(r.json().await.unwrap()).as_str()), (400, "DIGEST_INVALID"), "wrong digest");
    for trick in ["/manifests/..%2f..%2fv1", "/manifests/.v1", "/manifests/v1%00", "/manifests/sha256:xyz"] {
        let r = http.get(url(trick)).bearer_auth(&token).send().await.unwrap();
        assert_eq!((r.status().as_u16(), code(r.json().await.unwrap()).as_str()), (400, "TAG_INVALID"), "{trick}");
    }
    let r = http.get(format!("{gate}/v2/Alice/NeverForwarded/manifests/v1")).bearer_auth(&token).send().await.unwrap();
    assert_eq!((r.status().as_u16(), code(r.json().await.unwrap()).as_str()), (400, "NAME_INVALID"));
    let r = http.patch(url("/manifests/v1")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 405);

    assert!(
        !stack.registry_log().to_lowercase().contains("neverforwarded"),
        "nothing refused reached the registry: {}",
        stack.registry_log()
    );
    // The same token, used right, passes.
    let r = http.get(url("/manifests/v1")).bearer_auth(&token).header("accept", oci).send().await.unwrap();
    assert_eq!(r.status(), 404, "an unknown tag, answered by the registry");
    assert_eq!(code(r.json().await.unwrap()), "MANIFEST_UNKNOWN");
}

#[tokio::test]
async fn behind_a_proxy_the_registry_answers_for_the_address_the_client_used() {
    let (stack, world) = start().await;
    let alice = world.person("alice").await;
    let token = stack.registry_token(&alice, &["repository:alice/app:pull,push"]).await;
    let http = reqwest::Client::new();
    let gate = format!("http://{}", stack.registry);
    let r = http
        .get(format!("{gate}/v2/"))
        .header("host", "images.example.org")
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-for", "127.0.0.1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "{}", r.text().await.unwrap());
    let r = http
        .post(format!("{gate}/v2/alice/app/blobs/uploads/"))
        .bearer_auth(&token)
        .header("host", "images.example.org")
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let location = r.headers()["location"].to_str().unwrap();
    assert!(location.starts_with("https://images.example.org/v2/alice/app/blobs/uploads/"), "{location}");
}

#[tokio::test]
async fn a_protected_tag_is_pushed_and_deleted_only_by_the_roles_its_rule_names() {
    let (stack, world) = start().await;
    let (root, alice, bob) = (world.root().await, world.person("alice").await, world.person("bob").await);
    let team = bob.create_team("acme").await;
    let ns = bob.create_namespace("acme", "acme").await.namespace.id;
    bob.add_member(team.id, "alice", app::model::TeamRole::Contributor).await;
    let (one, two) = (oci_image(stack.dir.path(), "build one", &[]), oci_image(stack.dir.path(), "build two", &[]));

    let rule = json!({ "tags": "prod", "kind": "protected", "push_role": "owner", "delete_role": "admin" });
    let r = alice.post(&format!("/api/v1/namespaces/{ns}/tag_rules"), rule.clone()).await;
    assert_eq!(r.status, 403, "a contributor may not set the team's rules: {}", r.body);
    let r = bob.post(&format!("/api/v1/namespaces/{ns}/tag_rules"), rule).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let bad = json!({ "tags": "prod", "kind": "protected", "push_role": "everyone" });
    assert_eq!(bob.post(&format!("/api/v1/namespaces/{ns}/tag_rules"), bad).await.status, 422);

    // alice may move dev, but not prod as a contributor; owner bob may.
    stack.push(&one, &alice.creds(), "acme/app:dev").await.expect_ok("a contributor pushes an unprotected tag");
    stack.push(&two, &alice.creds(), "acme/app:dev").await.expect_ok("and moves it");
    let refused = stack.push(&one, &alice.creds(), "acme/app:prod").await;
    refused.expect_refused("a contributor pushes a protected tag");
    assert!(
        refused.stderr.contains("protected") && refused.stderr.contains("only owners of the team and administrators"),
        "the rule and the way past it are named: {}",
        refused.stderr
    );
    stack.push(&one, &bob.creds(), "acme/app:prod").await.expect_ok("an owner pushes the protected tag");
    stack.push(&two, &bob.creds(), "acme/app:prod").await.expect_ok("and moves it");
    stack.wait_for_tag(&bob, "acme/app", "prod").await;

    // Deleting prod is for administrators only: not the owner, and not through dev, which
    // shares its image (a delete names the image and takes every tag on it).
    let deleted = stack.delete(&bob.creds(), "acme/app:prod").await;
    deleted.expect_refused("an owner deletes a tag only administrators may delete");
    assert!(deleted.stderr.contains("protected"), "{}", deleted.stderr);
    stack.delete(&bob.creds(), "acme/app:dev").await.expect_refused("deleting prod's image through dev");
    stack.delete(&root.creds(), "acme/app:prod").await.expect_ok("an administrator deletes it");

    let actions = world.actions().await;
    assert!(
        actions.iter().filter(|a| *a == "gate.refuse").count() >= 3,
        "each refusal is in the activity log: {actions:?}"
    );
}

#[tokio::test]
async fn read_only_mode_refuses_every_push_and_delete_on_every_replica_while_pulls_go_on() {
    let (stack, world) = start().await;
    let (root, alice) = (world.root().await, world.person("alice").await);
    let (first, second) = (oci_image(stack.dir.path(), "before", &[]), oci_image(stack.dir.path(), "during", &[]));
    stack.push(&first, &alice.creds(), "alice/app:1.0").await.expect_ok("a push before read-only mode");
    let tag = stack.wait_for_tag(&alice, "alice/app", "1.0").await;
    let earlier = stack.registry_token(&alice, &["repository:alice/app:pull,push,delete"]).await;

    // Only administrators switch it, with a message of at most 500 characters.
    let r = alice.put("/api/v1/read_only", json!({ "enabled": true })).await;
    assert_eq!(r.status, 403, "alice may not make the registry read-only: {}", r.body);
    let r = root.put("/api/v1/read_only", json!({ "enabled": true, "message": "x".repeat(501) })).await;
    assert_eq!(r.status, 422, "{}", r.body);
    let r = root.put("/api/v1/read_only", json!({ "enabled": true, "mesage": "typo" })).await;
    assert_eq!(r.status, 422, "an unknown field: {}", r.body);
    let said = "garbage collection until 14:00 UTC";
    let r = root.put("/api/v1/read_only", json!({ "enabled": true, "message": said })).await;
    assert_eq!(r.status, 200, "{}", r.body);

    // The switch was made on another replica (the world's): the stack's follows within seconds.
    let http = reqwest::Client::new();
    let mut seen = serde_json::Value::Null;
    for _ in 0..100 {
        let r = http.get(format!("{}/api/v1/read_only", stack.url)).bearer_auth(&alice.token).send().await.unwrap();
        seen = r.json().await.unwrap();
        if seen["enabled"] == true {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(seen, json!({ "enabled": true, "message": said }));

    // Pushes and deletes are refused, administrators' too, and the client is told why.
    let pushed = stack.push(&second, &alice.creds(), "alice/app:2.0").await;
    pushed.expect_refused("alice's push while read-only");
    assert!(pushed.stderr.contains(said), "the refusal carries the message: {}", pushed.stderr);
    stack.push(&second, &root.creds(), "root/app:2.0").await.expect_refused("an administrator's push while read-only");
    stack.delete(&alice.creds(), "alice/app:1.0").await.expect_refused("alice's delete while read-only");
    // The token endpoint grants no push or delete now.
    let t = stack.registry_token(&alice, &["repository:alice/app:pull,push,delete"]).await;
    assert_eq!(claims(&t)["access"], json!([{ "type": "repository", "name": "alice/app", "actions": ["pull"] }]));
    // A token granted before the switch is held at the gate.
    let r = http
        .delete(format!("http://{}/v2/alice/app/manifests/{}", stack.registry, tag.digest))
        .bearer_auth(&earlier)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "DENIED");
    // The dashboard's own delete waits too.
    let r = alice.delete(&format!("/api/v1/tags/{}", tag.id)).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("read-only"), "{}", r.body);
    // Pulls go on, and every page says why nothing can be pushed.
    stack.pull(&alice.creds(), "alice/app:1.0").await.expect_ok("a pull while read-only");
    let page = http.get(format!("{}/explore", stack.url)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(said), "the banner is on every page");

    // Off again: pushes go on, and both switches are in the activity log.
    let r = root.put("/api/v1/read_only", json!({ "enabled": false })).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut pushed = stack.push(&second, &alice.creds(), "alice/app:2.0").await;
    for _ in 0..60 {
        if pushed.ok {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        pushed = stack.push(&second, &alice.creds(), "alice/app:2.0").await;
    }
    pushed.expect_ok("a push once read-only mode is off");
    let page = http.get(format!("{}/explore", stack.url)).send().await.unwrap().text().await.unwrap();
    assert!(!page.contains(said), "no banner once it is off");
    let actions = world.actions().await;
    for a in ["settings.read_only.on", "settings.read_only.off"] {
        assert!(actions.iter().any(|x| x == a), "{a}: {actions:?}");
    }
}

#[tokio::test]
async fn a_quota_refuses_the_push_that_would_go_over_it_and_counts_a_shared_layer_once() {
    let (stack, world) = start().await;
    let (root, alice, bob) = (world.root().await, world.person("alice").await, world.person("bob").await);
    let ns = alice.namespace("alice").await.namespace.id;
    let images: Vec<_> = ["first", "second", "third"].iter().map(|c| oci_image(stack.dir.path(), c, &[])).collect();
    let quota = format!("/api/v1/namespaces/{ns}/quota");
    // Waits until a namespace's usage is `bytes` (the registry's events are applied after the push).
    let usage_becomes = |who: &common::Person, quota: String, bytes: Option<i64>, not: i64| {
        let who = who.clone();
        async move {
            let mut seen = serde_json::Value::Null;
            for _ in 0..100 {
                seen = who.get(&quota).await.json();
                let used = seen["used_bytes"].as_i64().unwrap_or(-1);
                if bytes.map_or(used != not, |b| used == b) {
                    return used;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            panic!("usage never became {bytes:?}: {seen}");
        }
    };
    let used_becomes = |bytes: i64| usage_becomes(&alice, quota.clone(), Some(bytes), 0);

    // What each image takes as pushed (skopeo compresses its layer on the way), measured in
    // bob's namespace, one after the other.
    let bob_quota = format!("/api/v1/namespaces/{}/quota", bob.namespace("bob").await.namespace.id);
    let mut sizes = Vec::new();
    let mut before = 0;
    for (i, image) in images.iter().enumerate() {
        stack.push(image, &bob.creds(), &format!("bob/probe:{i}")).await.expect_ok("bob pushes to his namespace");
        let after = usage_becomes(&bob, bob_quota.clone(), None, before).await;
        sizes.push(after - before);
        before = after;
    }
    assert!(sizes.iter().all(|s| *s > 0), "{sizes:?}");

    used_becomes(0).await;
    let q = alice.get(&quota).await.json();
    assert_eq!((q["limit_bytes"].clone(), q["limit_source"].clone()), (json!(null), json!("none")));
    stack.push(&images[0], &alice.creds(), "alice/app:first").await.expect_ok("a push without a quota");
    used_becomes(sizes[0]).await;

    // Only administrators set a quota; bob does not even see alice's.
    let r = alice.put(&quota, json!({ "limit_bytes": 1 })).await;
    assert_eq!(r.status, 403, "alice may not set her own quota: {}", r.body);
    assert_eq!(bob.get(&quota).await.status, 404, "bob does not see alice's private namespace");
    let r = root.put(&quota, json!({ "limit_bytes": -1 })).await;
    assert_eq!(r.status, 422, "{}", r.body);
    let r = root.put(&quota, json!({})).await;
    assert_eq!(r.status, 422, "no limit given is not \"the default\": {}", r.body);
    let limit = sizes[0] + sizes[1];
    let r = root.put(&quota, json!({ "limit_bytes": limit })).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["limit_source"], "namespace");

    // Exactly at the limit passes; one more image's layers do not.
    stack.push(&images[1], &alice.creds(), "alice/app:second").await.expect_ok("a push that reaches the quota exactly");
    used_becomes(limit).await;
    assert_eq!(alice.get(&quota).await.json()["limit_bytes"], limit);
    let over = stack.push(&images[2], &alice.creds(), "alice/app:third").await;
    over.expect_refused("a push over the quota");
    assert!(over.stderr.contains("quota exceeded: used"), "the refusal says why: {}", over.stderr);
    // What the namespace holds already adds nothing: another tag, another repository.
    stack.push(&images[0], &alice.creds(), "alice/app:again").await.expect_ok("a tag on an image it holds");
    stack.push(&images[0], &alice.creds(), "alice/copy:first").await.expect_ok("the same layers in another repository");
    stack.wait_for_tag(&alice, "alice/copy", "first").await;
    used_becomes(limit).await;

    // Deleting an image brings usage down, and the push goes in.
    stack.delete(&alice.creds(), "alice/app:second").await.expect_ok("alice deletes an image");
    used_becomes(sizes[0]).await;
    stack.push(&images[1], &alice.creds(), "alice/app:second").await.expect_ok("the push fits after the delete");
    used_becomes(limit).await;

    // Reconcile counts it all again from what is recorded, and comes to the same.
    sqlx::query("update namespace_usage set bytes = 0").execute(&stack.state.db).await.unwrap();
    app::backend::images::reconcile::reconcile(&stack.state, "test").await.unwrap().unwrap();
    used_becomes(limit).await;

    // Back to the site's default (none here).
    let r = root.put(&quota, json!({ "limit_bytes": null })).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["limit_source"], "none");
    let actions = world.actions().await;
    assert!(actions.iter().any(|a| a == "quota.set") && actions.iter().any(|a| a == "gate.refuse"), "{actions:?}");
}

#[tokio::test]
async fn a_tag_says_what_applies_to_it_rules_cleanup_signature_and_storage() {
    let (stack, world) = start().await;
    let (root, alice, bob) = (world.root().await, world.person("alice").await, world.person("bob").await);
    let ns = alice.namespace("alice").await.namespace.id;
    let r = alice.post(&format!("/api/v1/namespaces/{ns}/tag_rules"), json!({ "tags": "v*" })).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = alice.put(&format!("/api/v1/namespaces/{ns}/cleanup"), json!({ "keep_last": 1 })).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = root.put(&format!("/api/v1/namespaces/{ns}/quota"), json!({ "limit_bytes": 1_000_000 })).await;
    assert_eq!(r.status, 200, "{}", r.body);
    for (tag, content) in [("v1", "release"), ("dev1", "older dev"), ("dev2", "newer dev")] {
        let image = oci_image(stack.dir.path(), content, &[]);
        stack.push(&image, &alice.creds(), &format!("alice/app:{tag}")).await.expect_ok("a push");
        stack.wait_for_tag(&alice, "alice/app", tag).await;
    }
    let life = |tag: &str| {
        let (alice, tag) = (alice.clone(), tag.to_string());
        async move {
            let t = alice.tag("alice/app", &tag).await;
            let r = alice.get(&format!("/api/v1/tags/{}", t.id)).await;
            assert_eq!(r.status, 200, "{}", r.body);
            r.json()["life"].clone()
        }
    };
    let v1 = life("v1").await;
    assert_eq!(v1["rules"][0]["tags"], "v*");
    assert_eq!(v1["cleanup"]["action"], "keep");
    assert!(v1["cleanup"]["reason"].as_str().unwrap().contains("immutable"), "{v1}");
    assert_eq!(v1["signature"]["state"], "unsigned");
    assert_eq!(v1["quota"]["limit_bytes"], 1_000_000);
    assert!(v1["quota"]["used_bytes"].as_i64().unwrap() > 0, "{v1}");
    let (dev1, dev2) = (life("dev1").await, life("dev2").await);
    assert_eq!(dev1["rules"], json!([]));
    assert_eq!(
        (dev1["cleanup"]["action"].as_str(), dev1["cleanup"]["policy"].as_str()),
        (Some("delete"), Some("namespace alice"))
    );
    assert_eq!(dev2["cleanup"]["action"], "keep");
    assert!(dev2["cleanup"]["reason"].as_str().unwrap().contains("most recently pushed"), "{dev2}");
    // bob sees none of it: the tag is in alice's private namespace.
    let id = alice.tag("alice/app", "v1").await.id;
    assert_eq!(bob.get(&format!("/api/v1/tags/{id}")).await.status, 404);
}

/// A cosign key pair as `cosign generate-key-pair` makes one: ECDSA P-256, the public half
/// as PEM.
struct CosignKey {
    pair: aws_lc_rs::signature::EcdsaKeyPair,
    pem: String,
}

fn cosign_key() -> CosignKey {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
    use base64::Engine as _;
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
    let der = pair.public_key().as_der().unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
    let lines: Vec<_> = b64.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
    CosignKey { pair, pem: format!("-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n", lines.join("\n")) }
}

/// Attaches a cosign "simple signing" signature to `repo@target` as cosign does: the tag
/// `sha256-<hex>.sig` holds a manifest whose layer is the payload (claiming `claimed`), with
/// the payload's signature by `key` in its annotation.
async fn attach_signature(stack: &Stack, token: &str, repo: &str, target: &str, claimed: &str, key: &CosignKey) {
    let (payload, signature) = simple_signing(stack, repo, claimed, key);
    let config = br#"{"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":[]}}"#.to_vec();
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest_of(&config), "size": config.len() },
        "layers": [{
            "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
            "digest": digest_of(&payload), "size": payload.len(),
            "annotations": { "dev.cosignproject.cosign/signature": signature }
        }]
    });
    let tag = format!("sha256-{}.sig", target.trim_start_matches("sha256:"));
    common::stack::push_raw(&stack.registry, token, repo, &tag, &[config, payload], manifest.to_string().as_bytes())
        .await;
}

/// A cosign simple-signing payload claiming `claimed`, and its signature by `key` (base64).
fn simple_signing(stack: &Stack, repo: &str, claimed: &str, key: &CosignKey) -> (Vec<u8>, String) {
    use base64::Engine as _;
    let payload = json!({
        "critical": {
            "identity": { "docker-reference": format!("{}/{repo}", stack.registry) },
            "image": { "docker-manifest-digest": claimed },
            "type": "cosign container image signature"
        },
        "optional": null
    })
    .to_string()
    .into_bytes();
    let signature = key.pair.sign(&aws_lc_rs::rand::SystemRandom::new(), &payload).unwrap();
    (payload, base64::engine::general_purpose::STANDARD.encode(signature.as_ref()))
}

#[tokio::test]
async fn a_namespace_that_requires_signatures_serves_only_images_its_keys_signed() {
    let (stack, world) = start().await;
    let (alice, bob) = (world.person("alice").await, world.person("bob").await);
    let ns = alice.namespace("alice").await.namespace.id;
    let r = alice.put(&format!("/api/v1/namespaces/{ns}"), json!({ "visibility": "public" })).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (trusted, stranger) = (cosign_key(), cosign_key());
    let policy = format!("/api/v1/namespaces/{ns}/signature_policy");
    let keys = format!("/api/v1/namespaces/{ns}/trusted_keys");

    // Who may set it, and what is refused on the way.
    let r = bob.put(&policy, json!({ "required": true })).await;
    assert_eq!(r.status, 403, "bob may not set alice's signature policy: {}", r.body);
    let r = bob.post(&keys, json!({ "name": "mine", "public_key": stranger.pem })).await;
    assert_eq!(r.status, 403, "bob may not add keys to alice's namespace: {}", r.body);
    let r = alice.put(&policy, json!({ "required": true })).await;
    assert_eq!(r.status, 422, "requiring signatures without a key: {}", r.body);
    let r = alice
        .post(
            &keys,
            json!({ "name": "ci", "public_key": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----" }),
        )
        .await;
    assert_eq!(r.status, 422, "not a key: {}", r.body);
    let r = alice.post(&keys, json!({ "name": "ci", "public_key": trusted.pem })).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let key_id = r.json()["id"].as_i64().unwrap();
    let r = alice.post(&keys, json!({ "name": "again", "public_key": trusted.pem })).await;
    assert_eq!(r.status, 409, "the same key twice: {}", r.body);
    let r = alice.put(&policy, json!({ "required": true })).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["keys"][0]["name"], "ci");

    // Four images: signed by the trusted key, by a key nobody trusts, a trusted signature of
    // another image, and none.
    let token = stack.registry_token(&alice, &["repository:alice/app:pull,push"]).await;
    let mut digests = Vec::new();
    for tag in ["signed", "stranger", "other", "unsigned"] {
        let image = oci_image(stack.dir.path(), tag, &[]);
        stack.push(&image, &alice.creds(), &format!("alice/app:{tag}")).await.expect_ok("alice pushes");
        digests.push(stack.wait_for_tag(&alice, "alice/app", tag).await.digest);
    }
    attach_signature(&stack, &token, "alice/app", &digests[0], &digests[0], &trusted).await;
    attach_signature(&stack, &token, "alice/app", &digests[1], &digests[1], &stranger).await;
    attach_signature(&stack, &token, "alice/app", &digests[2], &digests[0], &trusted).await;

    stack.pull(&bob.creds(), "alice/app:signed").await.expect_ok("bob pulls the signed image");
    stack.inspect(None, "alice/app:signed").await.expect_ok("anonymous reads the signed image");
    let sig = format!("alice/app:sha256-{}.sig", digests[0].trim_start_matches("sha256:"));
    stack.inspect(Some(&bob.creds()), &sig).await.expect_ok("a signature itself passes");
    for (tag, why) in [
        ("stranger", "a key namespace alice does not trust"),
        ("other", "the signature found is for"),
        ("unsigned", "is not signed"),
    ] {
        let refused = stack.pull(&bob.creds(), &format!("alice/app:{tag}")).await;
        refused.expect_refused(&format!("bob pulls the image {tag}"));
        assert!(refused.stderr.contains(why), "the refusal of {tag} says why ({why}): {}", refused.stderr);
    }
    // Its pusher may pull it unsigned within the grace window (CI signs what it pushed)...
    stack.pull(&alice.creds(), "alice/app:unsigned").await.expect_ok("alice pulls what she just pushed");
    // ...and not after it.
    sqlx::query("update gate_push set pushed_at = now() - interval '1 day'").execute(&stack.state.db).await.unwrap();
    stack.pull(&alice.creds(), "alice/app:unsigned").await.expect_refused("alice, after the grace window");

    // A multi-platform image: the index is signed, and its platforms' images pass with it.
    let index = common::stack::oci_index_image(stack.dir.path(), &[("linux", "amd64"), ("linux", "arm64")]);
    stack.push_with(&index, &alice.creds(), "alice/multi:1", &["--all"]).await.expect_ok("alice pushes an index");
    let multi = stack.wait_for_tag(&alice, "alice/multi", "1").await.digest;
    let unsigned_index = common::stack::oci_index_image(stack.dir.path(), &[("linux", "amd64"), ("linux", "s390x")]);
    stack.push_with(&unsigned_index, &alice.creds(), "alice/multi:2", &["--all"]).await.expect_ok("another index");
    stack.wait_for_tag(&alice, "alice/multi", "2").await;
    let token = stack.registry_token(&alice, &["repository:alice/multi:pull,push"]).await;
    attach_signature(&stack, &token, "alice/multi", &multi, &multi, &trusted).await;
    stack.pull(&bob.creds(), "alice/multi:1").await.expect_ok("bob pulls the signed index's image for his platform");
    stack.pull(&bob.creds(), "alice/multi:2").await.expect_refused("bob pulls the unsigned index");

    // The tag page says it, signature by signature.
    let sig_tag = format!("sha256-{}.sig", digests[1].trim_start_matches("sha256:"));
    stack.wait_for_tag(&alice, "alice/app", &sig_tag).await;
    let life = |tag: &str| {
        let (alice, tag) = (alice.clone(), tag.to_string());
        async move {
            let t = alice.tag("alice/app", &tag).await;
            alice.get(&format!("/api/v1/tags/{}", t.id)).await.json()["life"]["signature"].clone()
        }
    };
    for (i, tag) in ["signed", "stranger", "other"].iter().enumerate() {
        let sig_tag = format!("sha256-{}.sig", digests[i].trim_start_matches("sha256:"));
        stack.wait_for_tag(&alice, "alice/app", &sig_tag).await;
        let mut seen = life(tag).await;
        for _ in 0..50 {
            if seen["state"] != "unsigned" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            seen = life(tag).await;
        }
        match *tag {
            "signed" => {
                assert_eq!((seen["state"].as_str(), seen["key"].as_str()), (Some("signed"), Some("ci")), "{seen}")
            }
            _ => assert_eq!(seen["state"], "invalid", "{tag}: {seen}"),
        }
    }
    assert_eq!(life("unsigned").await["state"], "unsigned");

    // The last key stays while signatures are required; off again, everything passes.
    let r = alice.delete(&format!("{keys}/{key_id}")).await;
    assert_eq!(r.status, 409, "{}", r.body);
    let r = alice.put(&policy, json!({ "required": false })).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // (The gate, another replica, reads the policy again within 5 s.)
    let mut pulled = stack.pull(&bob.creds(), "alice/app:unsigned").await;
    for _ in 0..20 {
        if pulled.ok {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        pulled = stack.pull(&bob.creds(), "alice/app:unsigned").await;
    }
    pulled.expect_ok("bob pulls once signatures are not required");
    let r = alice.delete(&format!("{keys}/{key_id}")).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let actions = world.actions().await;
    for a in ["signature_policy.set", "trusted_key.add", "trusted_key.remove", "gate.refuse"] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
}

#[tokio::test]
async fn the_referrers_api_lists_what_refers_to_a_manifest_for_whoever_may_pull_it() {
    let (stack, world) = start().await;
    let (alice, bob) = (world.person("alice").await, world.person("bob").await);
    let image = oci_image(stack.dir.path(), "with things attached", &[]);
    stack.push(&image, &alice.creds(), "alice/app:1").await.expect_ok("alice pushes");
    let digest = stack.wait_for_tag(&alice, "alice/app", "1").await.digest;
    let token = stack.registry_token(&alice, &["repository:alice/app:pull,push,delete"]).await;
    let subject = stack.registry_get(&format!("/v2/alice/app/manifests/{digest}"), &token).await;
    let subject_size = subject.bytes().await.unwrap().len();
    let http = reqwest::Client::new();
    let gate = |path: String| format!("http://{}{path}", stack.registry);

    // An SBOM and a cosign signature stored the OCI 1.1 way, each naming the image as subject.
    let empty = b"{}".to_vec();
    let key = cosign_key();
    let (payload, signature) = simple_signing(&stack, "alice/app", &digest, &key);
    let sbom = br#"{"spdxVersion":"SPDX-2.3","name":"app"}"#.to_vec();
    let artifact = |artifact_type: &str, layer_type: &str, layer: &[u8], annotations: serde_json::Value| {
        json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": artifact_type,
            "config": { "mediaType": "application/vnd.oci.empty.v1+json", "digest": digest_of(&empty), "size": 2 },
            "layers": [{ "mediaType": layer_type, "digest": digest_of(layer), "size": layer.len(), "annotations": annotations }],
            "subject": { "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": subject_size },
            "annotations": { "org.opencontainers.image.created": "2026-12-08T00:00:00Z" }
        })
        .to_string()
        .into_bytes()
    };
    let sbom_manifest = artifact("application/spdx+json", "application/spdx+json", &sbom, json!({}));
    let sig_manifest = artifact(
        "application/vnd.dev.cosign.artifact.sig.v1+json",
        "application/vnd.dev.cosign.simplesigning.v1+json",
        &payload,
        json!({ "dev.cosignproject.cosign/signature": signature }),
    );
    let blobs = [empty.clone(), sbom.clone(), payload.clone()];
    common::stack::upload_blobs(&stack.registry, &token, "alice/app", &blobs).await;
    let mut referrers = Vec::new();
    for body in [&sbom_manifest, &sig_manifest] {
        let d = digest_of(body);
        let put = http
            .put(gate(format!("/v2/alice/app/manifests/{d}")))
            .bearer_auth(&token)
            .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(put.headers().get("oci-subject").and_then(|v| v.to_str().ok()), Some(digest.as_str()));
        assert_eq!(put.status(), 201, "{}", put.text().await.unwrap());
        referrers.push(d);
    }

    let list = |token: Option<String>, query: &str| {
        let (http, url) = (http.clone(), gate(format!("/v2/alice/app/referrers/{digest}{query}")));
        async move {
            let mut req = http.get(url);
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            req.send().await.unwrap()
        }
    };
    let all = list(Some(token.clone()), "").await;
    assert_eq!(all.status(), 200);
    assert_eq!(all.headers()["content-type"], "application/vnd.oci.image.index.v1+json");
    assert!(all.headers().get("oci-filters-applied").is_none());
    let index: serde_json::Value = all.json().await.unwrap();
    assert_eq!(index["schemaVersion"], 2);
    let found: Vec<_> =
        index["manifests"].as_array().unwrap().iter().map(|m| m["digest"].as_str().unwrap().to_string()).collect();
    assert_eq!(found, referrers, "{index}");
    assert_eq!(index["manifests"][0]["artifactType"], "application/spdx+json");
    assert_eq!(index["manifests"][0]["size"], sbom_manifest.len());
    assert_eq!(index["manifests"][0]["annotations"]["org.opencontainers.image.created"], "2026-12-08T00:00:00Z");

    let sboms = list(Some(token.clone()), "?artifactType=application%2Fspdx%2Bjson").await;
    assert_eq!(sboms.headers().get("oci-filters-applied").and_then(|v| v.to_str().ok()), Some("artifactType"));
    let sboms: serde_json::Value = sboms.json().await.unwrap();
    assert_eq!(sboms["manifests"].as_array().unwrap().len(), 1, "{sboms}");
    let other = format!("sha256:{}", "0".repeat(64));
    let none = http.get(gate(format!("/v2/alice/app/referrers/{other}"))).bearer_auth(&token).send().await.unwrap();
    assert_eq!(none.status(), 200, "an unknown subject has no referrers, and is no 404");
    assert_eq!(none.json::<serde_json::Value>().await.unwrap()["manifests"], json!([]));

    // Only whoever may pull the repository: bob's token grants him nothing here.
    let bobs = stack.registry_token(&bob, &["repository:alice/app:pull"]).await;
    assert_eq!(list(Some(bobs), "").await.status(), 401, "bob lists alice's referrers");
    let anonymous = list(None, "").await;
    assert_eq!(anonymous.status(), 401);
    assert!(anonymous.headers()["www-authenticate"].to_str().unwrap().contains("repository:alice/app:pull"));
    let bad = http.get(gate("/v2/alice/app/referrers/sha256:nothex".into())).bearer_auth(&token).send().await.unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("DIGEST_INVALID"));

    // The tag page lists them, and the signature found the OCI 1.1 way verifies.
    let ns = alice.namespace("alice").await.namespace.id;
    let r = alice
        .post(&format!("/api/v1/namespaces/{ns}/trusted_keys"), json!({ "name": "ci", "public_key": key.pem }))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = alice.tag("alice/app", "1").await.id;
    let mut life = serde_json::Value::Null;
    for _ in 0..60 {
        life = alice.get(&format!("/api/v1/tags/{id}")).await.json()["life"].clone();
        if life["signature"]["state"] == "signed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let signed = (life["signature"]["state"].as_str(), life["signature"]["key"].as_str());
    assert_eq!(signed, (Some("signed"), Some("ci")), "{life}");
    let kinds: Vec<_> = life["attached"].as_array().unwrap().iter().map(|a| a["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["SBOM", "signature"]);

    // A deleted referrer leaves the list.
    let url = gate(format!("/v2/alice/app/manifests/{}", referrers[0]));
    let gone = http.delete(url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(gone.status(), 202);
    let index: serde_json::Value = list(Some(token.clone()), "").await.json().await.unwrap();
    assert_eq!(index["manifests"].as_array().unwrap().len(), 1, "{index}");
    assert_eq!(index["manifests"][0]["digest"], referrers[1]);
}

#[tokio::test]
async fn administrators_set_the_site_default_quota_and_it_holds_where_a_namespace_has_none() {
    let (stack, world) = start().await;
    let (root, alice) = (world.root().await, world.person("alice").await);
    let r = alice.get("/api/v1/default_quota").await;
    assert_eq!(r.json(), json!({ "limit_bytes": null, "from": "configuration" }));
    let r = alice.put("/api/v1/default_quota", json!({ "limit_bytes": 1 })).await;
    assert_eq!(r.status, 403, "alice may not set the site's default: {}", r.body);
    let r = root.put("/api/v1/default_quota", json!({ "limit_bytes": -1 })).await;
    assert_eq!(r.status, 422, "{}", r.body);
    let r = root.put("/api/v1/default_quota", json!({ "limit_bytes": 1 })).await;
    assert_eq!(r.json(), json!({ "limit_bytes": 1, "from": "administrators" }));
    let ns = alice.namespace("alice").await.namespace.id;
    let q = alice.get(&format!("/api/v1/namespaces/{ns}/quota")).await.json();
    assert_eq!((q["limit_bytes"].clone(), q["limit_source"].clone()), (json!(1), json!("site")));

    // The gate (another replica) follows within its settings cache's 5 s.
    let image = oci_image(stack.dir.path(), "over a one-byte default", &[]);
    let mut refused = None;
    for _ in 0..40 {
        let push = stack.push(&image, &alice.creds(), "alice/app:1").await;
        if !push.ok {
            refused = Some(push);
            break;
        }
        stack.delete(&alice.creds(), "alice/app:1").await.expect_ok("undo a push the old default let in");
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let refused = refused.expect("the default quota holds at the gate");
    assert!(refused.stderr.contains("quota exceeded"), "{}", refused.stderr);

    // 0: no default quota at all; null: the configuration's again (none here).
    let r = root.put("/api/v1/default_quota", json!({ "limit_bytes": 0 })).await;
    assert_eq!(r.json(), json!({ "limit_bytes": null, "from": "administrators" }));
    stack
        .eventually("the push passes without a default quota", || async {
            stack.push(&image, &alice.creds(), "alice/app:1").await.ok
        })
        .await;
    let r = root.put("/api/v1/default_quota", json!({ "limit_bytes": null })).await;
    assert_eq!(r.json(), json!({ "limit_bytes": null, "from": "configuration" }));
    assert!(world.actions().await.iter().filter(|a| *a == "quota.default.set").count() >= 3);
}

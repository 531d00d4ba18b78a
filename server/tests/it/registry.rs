//! Pushes and pulls through a real registry (Debian's docker-registry) with a real client
//! (skopeo), every permission next to its refused twin.

use crate::common;

use app::model::{AccessTokenView, TeamRole, Visibility};
use base64::Engine as _;
use common::stack::{claims, jwt_header, oci_image, Stack};
use common::*;
use serde_json::json;

/// The people of `stack`, whose API calls go through a router of their own over the stack's
/// database (as through another replica): what they change reaches the served registry's
/// token service through the database.
async fn world(stack: &Stack) -> World {
    stack.replica_world().await
}

/// A stack on a fresh database, and its people.
async fn start() -> (Stack, World) {
    let db = fresh_db().await;
    let stack = Stack::start(&db).await;
    let world = world(&stack).await;
    (stack, world)
}

/// A stack with alice and bob, and an image for alice to push.
async fn alice_and_bob() -> (Stack, Person, Person, std::path::PathBuf) {
    let (stack, world) = start().await;
    let (alice, bob) = (world.person("alice").await, world.person("bob").await);
    let image = oci_image(stack.dir.path(), "hello from alice", &[("org.opencontainers.image.title", "hello")]);
    (stack, alice, bob, image)
}

#[tokio::test]
async fn skopeo_logs_in_with_the_right_password_only() {
    let (stack, world) = start().await;
    let alice = world.person("alice").await;
    let login =
        stack.skopeo(&["login", "--tls-verify=false", "-u", "alice", "-p", &alice.password, &stack.registry]).await;
    login.expect_ok("skopeo login as alice");
    let bad = stack.skopeo(&["login", "--tls-verify=false", "-u", "alice", "-p", "wrong", &stack.registry]).await;
    assert!(!bad.ok, "login with a wrong password must fail");
}

#[tokio::test]
async fn a_personal_namespace_is_its_owners_alone_while_private() {
    let (stack, alice, bob, image) = alice_and_bob().await;

    stack.push(&image, &alice.creds(), "alice/hello:1.0").await.expect_ok("alice pushes to her namespace");
    stack.pull(&alice.creds(), "alice/hello:1.0").await.expect_ok("alice pulls her image");
    let tags = stack.list_tags(&alice.creds(), "alice/hello").await;
    tags.expect_ok("alice lists her tags");
    assert!(tags.stdout.contains("\"1.0\""), "{}", tags.stdout);

    stack.push(&image, &bob.creds(), "alice/hello:evil").await.expect_refused("bob pushes to alice's namespace");
    stack.inspect(Some(&bob.creds()), "alice/hello:1.0").await.expect_refused("bob pulls alice's private image");
    stack.inspect(None, "alice/hello:1.0").await.expect_refused("anonymous pulls alice's private image");
}

#[tokio::test]
async fn visibility_opens_a_namespace_to_pulls_never_to_pushes() {
    let (stack, alice, bob, image) = alice_and_bob().await;
    stack.push(&image, &alice.creds(), "alice/hello:1.0").await.expect_ok("alice pushes to her namespace");

    alice.set_visibility("alice", Visibility::Protected).await;
    stack.inspect(Some(&bob.creds()), "alice/hello:1.0").await.expect_ok("bob pulls a protected image");
    stack.inspect(None, "alice/hello:1.0").await.expect_refused("anonymous pulls a protected image");
    stack.push(&image, &bob.creds(), "alice/hello:evil").await.expect_refused("bob still cannot push");

    alice.set_visibility("alice", Visibility::Public).await;
    stack.inspect(None, "alice/hello:1.0").await.expect_ok("anyone pulls a public image");
    let raw = stack.inspect(Some(&bob.creds()), "alice/hello:1.0").await;
    assert!(raw.stdout.contains("application/vnd.oci.image.manifest.v1+json"), "{}", raw.stdout);
    stack.push(&image, &bob.creds(), "alice/hello:evil").await.expect_refused("bob cannot push to a public one");
}

/// Root; alice, owner of team `acme` and its namespace `acme`; bob, a contributor; carol, a
/// viewer.
struct Acme {
    root: Person,
    alice: Person,
    bob: Person,
    carol: Person,
}

async fn acme(world: &World) -> Acme {
    let root = world.root().await;
    let (alice, bob, carol) = (world.person("alice").await, world.person("bob").await, world.person("carol").await);
    let team = alice.create_team("acme").await;
    alice.create_namespace("acme", "acme").await;
    alice.add_member(team.id, "bob", TeamRole::Contributor).await;
    alice.add_member(team.id, "carol", TeamRole::Viewer).await;
    Acme { root, alice, bob, carol }
}

#[tokio::test]
async fn team_roles_decide_push_and_pull() {
    let (stack, world) = start().await;
    let Acme { root, bob, carol, .. } = acme(&world).await;
    let image = oci_image(stack.dir.path(), "acme app", &[]);
    stack.push(&image, &bob.creds(), "acme/app:1.0").await.expect_ok("a contributor pushes");
    stack.inspect(Some(&carol.creds()), "acme/app:1.0").await.expect_ok("a viewer pulls");
    stack.push(&image, &carol.creds(), "acme/app:2.0").await.expect_refused("a viewer pushes");
    stack.inspect(Some(&root.creds()), "acme/app:1.0").await.expect_ok("an admin pulls anything");
}

#[tokio::test]
async fn only_owners_delete_by_default() {
    let (stack, world) = start().await;
    let Acme { alice, bob, carol, .. } = acme(&world).await;
    let image = oci_image(stack.dir.path(), "acme app", &[]);
    stack.push(&image, &bob.creds(), "acme/app:1.0").await.expect_ok("a contributor pushes");
    // Deletes: owners yes, contributors not (the default), viewers never.
    stack.push(&image, &alice.creds(), "acme/app:2.0").await.expect_ok("the owner pushes");
    stack.delete(&carol.creds(), "acme/app:2.0").await.expect_refused("a viewer deletes");
    stack.delete(&bob.creds(), "acme/app:2.0").await.expect_refused("a contributor deletes");
    stack.delete(&alice.creds(), "acme/app:2.0").await.expect_ok("the owner deletes");
    stack
        .inspect(Some(&alice.creds()), "acme/app:1.0")
        .await
        .expect_missing("the deleted manifest (1.0 pointed at it too)");
}

#[tokio::test]
async fn only_administrators_push_to_the_global_namespace_and_everyone_pulls_from_it() {
    let (stack, world) = start().await;
    let (root, alice) = (world.root().await, world.person("alice").await);
    let image = oci_image(stack.dir.path(), "acme app", &[]);
    stack.push(&image, &alice.creds(), "library-app:1.0").await.expect_refused("a user pushes to the global namespace");
    stack.push(&image, &root.creds(), "library-app:1.0").await.expect_ok("an admin pushes to the global namespace");
    stack.inspect(None, "library-app:1.0").await.expect_ok("anyone pulls from the global namespace");
}

#[tokio::test]
async fn only_administrators_push_to_a_namespace_that_does_not_exist() {
    let (stack, world) = start().await;
    let (root, alice) = (world.root().await, world.person("alice").await);
    let image = oci_image(stack.dir.path(), "acme app", &[]);
    stack.push(&image, &alice.creds(), "nowhere/app:1.0").await.expect_refused("a user pushes to an unknown namespace");
    stack.push(&image, &root.creds(), "nowhere/app:1.0").await.expect_ok("an admin pushes to an unknown namespace");
}

#[tokio::test]
async fn only_administrators_list_the_catalog() {
    let (stack, world) = start().await;
    let Acme { root, alice, bob, .. } = acme(&world).await;
    let image = oci_image(stack.dir.path(), "acme app", &[]);
    stack.push(&image, &bob.creds(), "acme/app:1.0").await.expect_ok("a contributor pushes");
    let admin_token = stack.registry_token(&root, &["registry:catalog:*"]).await;
    let r = stack.registry_get("/v2/_catalog", &admin_token).await;
    assert_eq!(r.status(), 200);
    let catalog: serde_json::Value = r.json().await.unwrap();
    assert!(catalog["repositories"].as_array().unwrap().iter().any(|r| r == "acme/app"), "{catalog}");
    let alice_token = stack.registry_token(&alice, &["registry:catalog:*"]).await;
    let r = stack.registry_get("/v2/_catalog", &alice_token).await;
    assert_eq!(r.status(), 401, "alice's token does not grant the catalog");
}

#[tokio::test]
async fn contributors_delete_when_the_settings_say_so() {
    let db = fresh_db().await;
    let stack = Stack::start_with(&db, |c| c.contributors_may_delete = true).await;
    let world = world(&stack).await;
    let (alice, bob) = (world.person("alice").await, world.person("bob").await);
    let team = alice.create_team("acme").await;
    alice.create_namespace("acme", "acme").await;
    alice.add_member(team.id, "bob", TeamRole::Contributor).await;
    let image = oci_image(stack.dir.path(), "acme app", &[]);
    stack.push(&image, &bob.creds(), "acme/app:1.0").await.expect_ok("a contributor pushes");
    stack.delete(&bob.creds(), "acme/app:1.0").await.expect_ok("a contributor deletes when contributors may");
}

/// Root and alice, who has pushed `alice/app:1.0` with her (full access) token; the image.
async fn alice_with_an_image(stack: &Stack) -> (Person, Person, std::path::PathBuf) {
    let world = world(stack).await;
    let (root, alice) = (world.root().await, world.person("alice").await);
    let image = oci_image(stack.dir.path(), "tokens", &[]);
    stack.push(&image, &alice.creds_with(&alice.token), "alice/app:1.0").await.expect_ok("a full access token pushes");
    (root, alice, image)
}

#[tokio::test]
async fn a_pull_only_token_pulls_but_does_not_push() {
    let db = fresh_db().await;
    let stack = Stack::start(&db).await;
    let (root, alice, image) = alice_with_an_image(&stack).await;
    let pull_only = alice.creds_with(&root.mint_for(alice.id, json!({"name": "ro", "pull_only": true})).await);
    stack.inspect(Some(&pull_only), "alice/app:1.0").await.expect_ok("a pull-only token pulls");
    stack.push(&image, &pull_only, "alice/app:2.0").await.expect_refused("a pull-only token pushes");
}

#[tokio::test]
async fn a_namespace_token_works_in_its_namespace_only() {
    let db = fresh_db().await;
    let stack = Stack::start(&db).await;
    let (_, alice, image) = alice_with_an_image(&stack).await;
    alice.create_team("acme").await;
    alice.create_namespace("acme", "acme").await;
    let only_acme = alice.creds_with(&alice.mint(json!({"name": "acme-ci", "namespaces": ["acme"]})).await);
    stack.push(&image, &only_acme, "acme/app:1.0").await.expect_ok("a namespace token pushes to its namespace");
    stack.inspect(Some(&only_acme), "alice/app:1.0").await.expect_refused("a namespace token pulls elsewhere");
}

#[tokio::test]
async fn an_expired_token_is_refused_even_one_the_cache_knows() {
    let db = fresh_db().await;
    let stack = Stack::start(&db).await;
    let (_, alice, _) = alice_with_an_image(&stack).await;
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(3)).to_rfc3339();
    let expiring = alice.creds_with(&alice.mint(json!({"name": "soon", "expires_at": soon})).await);
    stack.inspect(Some(&expiring), "alice/app:1.0").await.expect_ok("a token before it expires");
    tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
    stack.inspect(Some(&expiring), "alice/app:1.0").await.expect_refused("an expired token (even one the cache knows)");
}

#[tokio::test]
async fn a_revoked_token_is_refused() {
    let db = fresh_db().await;
    let stack = Stack::start(&db).await;
    let (root, alice, _) = alice_with_an_image(&stack).await;
    let pull_only = alice.creds_with(&root.mint_for(alice.id, json!({"name": "ro", "pull_only": true})).await);
    stack.inspect(Some(&pull_only), "alice/app:1.0").await.expect_ok("a pull-only token pulls");
    let tokens = alice.get(&format!("/api/v1/users/{}/application_tokens", alice.id)).await;
    let ro_id = tokens.parse::<Vec<AccessTokenView>>().into_iter().find(|t| t.name == "ro").unwrap().id;
    alice.delete(&format!("/api/v1/users/application_tokens/{ro_id}")).await;
    stack.inspect(Some(&pull_only), "alice/app:1.0").await.expect_refused("a revoked token");
}

#[tokio::test]
async fn a_disabled_users_password_and_tokens_are_refused() {
    let db = fresh_db().await;
    let stack = Stack::start(&db).await;
    let (root, alice, _) = alice_with_an_image(&stack).await;
    stack.inspect(Some(&alice.creds()), "alice/app:1.0").await.expect_ok("alice before she is disabled");
    root.put(&format!("/api/v1/users/{}", alice.id), json!({"enabled": false})).await;
    stack.inspect(Some(&alice.creds()), "alice/app:1.0").await.expect_refused("a disabled user's password");
    let full = alice.creds_with(&alice.token);
    stack.inspect(Some(&full), "alice/app:1.0").await.expect_refused("a disabled user's token");
}

#[tokio::test]
async fn an_administrators_restricted_tokens_carry_no_administrator_powers() {
    let (stack, world) = start().await;
    let (root, alice) = (world.root().await, world.person("alice").await);
    let image = oci_image(stack.dir.path(), "admin tokens", &[]);
    stack.push(&image, &alice.creds(), "alice/private:1.0").await.expect_ok("alice pushes a private image");
    let full = root.creds_with(&root.token);
    let pull_only = root.creds_with(&root.mint(json!({"name": "ro", "pull_only": true})).await);
    let only_root = root.creds_with(&root.mint(json!({"name": "own", "namespaces": ["root"]})).await);

    // The unrestricted token acts as the administrator...
    stack.inspect(Some(&full), "alice/private:1.0").await.expect_ok("an administrator's full token pulls anything");
    stack.push(&image, &full, "alice/private:by-root").await.expect_ok("and pushes anywhere");
    // ...a restricted one never does: not in the registry, not in the catalog, not in the API.
    stack.inspect(Some(&pull_only), "alice/private:1.0").await.expect_refused("a pull-only token of an administrator");
    stack.inspect(Some(&only_root), "alice/private:1.0").await.expect_refused("a namespace token of an administrator");
    stack.push(&image, &only_root, "alice/private:evil").await.expect_refused("a namespace token pushes elsewhere");
    stack.push(&image, &only_root, "root/app:1.0").await.expect_ok("a namespace token pushes to its namespace");
    stack.inspect(Some(&pull_only), "root/app:1.0").await.expect_ok("a pull-only token pulls its owner's own images");
    for (who, creds, catalog) in
        [("full", &full, true), ("pull-only", &pull_only, false), ("namespace", &only_root, false)]
    {
        let (user, secret) = creds.split_once(':').unwrap();
        let r = stack.token(Some((user, secret)), &["registry:catalog:*"]).await;
        let token = r.json::<serde_json::Value>().await.unwrap()["token"].as_str().unwrap().to_string();
        assert_eq!(
            claims(&token)["access"].as_array().is_some_and(|a| !a.is_empty()),
            catalog,
            "{who} token and the catalog"
        );
        let listed = stack.registry_get("/v2/_catalog", &token).await.status();
        assert_eq!(listed == 200, catalog, "{who} token lists the registry's catalog: {listed}");
        let users = world.bearer(secret).get("/api/v1/users").await.status;
        assert_eq!(users == axum::http::StatusCode::OK, catalog, "{who} token lists users: {users}");
    }
}

#[tokio::test]
async fn a_refresh_token_alone_is_enough() {
    let (stack, world) = start().await;
    let alice = world.person("alice").await;
    let image = oci_image(stack.dir.path(), "refresh", &[]);
    // Log in the way docker does: offline_token=true returns the identity token.
    let r = reqwest::Client::new()
        .get(format!(
            "{}/v2/token?account=alice&client_id=docker&offline_token=true&service=portcullis-registry",
            stack.url
        ))
        .basic_auth(&alice.name, Some(&alice.password))
        .send()
        .await
        .unwrap();
    let refresh = r.json::<serde_json::Value>().await.unwrap()["refresh_token"].as_str().unwrap().to_string();
    let authfile = stack.dir.path().join("identity.json");
    // containers/image reads the identity token only next to an `auth` entry naming the user.
    let auth = base64::engine::general_purpose::STANDARD.encode("alice:");
    std::fs::write(
        &authfile,
        json!({"auths": {stack.registry.clone(): {"auth": auth, "identitytoken": refresh}}}).to_string(),
    )
    .unwrap();
    let authfile = authfile.display().to_string();
    let src = format!("oci:{}:1.0", image.display());
    stack
        .skopeo(&[
            "copy",
            "--dest-tls-verify=false",
            "--dest-authfile",
            &authfile,
            &src,
            &stack.image_ref("alice/refresh:1.0"),
        ])
        .await
        .expect_ok("push with only the identity token");
    stack
        .skopeo(&[
            "inspect",
            "--raw",
            "--tls-verify=false",
            "--authfile",
            &authfile,
            &stack.image_ref("alice/refresh:1.0"),
        ])
        .await
        .expect_ok("pull with only the identity token");
    std::fs::write(
        stack.dir.path().join("identity.json"),
        json!({"auths": {stack.registry.clone(): {"auth": auth, "identitytoken": "pcrt_forged"}}}).to_string(),
    )
    .unwrap();
    let forged = stack
        .skopeo(&[
            "inspect",
            "--raw",
            "--tls-verify=false",
            "--authfile",
            &authfile,
            &stack.image_ref("alice/refresh:1.0"),
        ])
        .await;
    assert!(!forged.ok, "a forged identity token must fail");
}

#[tokio::test]
async fn key_rotation_keeps_old_tokens_valid_and_new_pushes_working() {
    let (stack, world) = start().await;
    let alice = world.person("alice").await;
    let image = oci_image(stack.dir.path(), "rotation", &[]);
    stack.push(&image, &alice.creds(), "alice/app:1.0").await.expect_ok("push before rotation");
    let old = stack.registry_token(&alice, &["repository:alice/app:pull"]).await;

    let new_kid = stack.state.keys.rotate(&stack.state.db).await.unwrap();
    let new = stack.registry_token(&alice, &["repository:alice/app:pull"]).await;
    assert_eq!(jwt_header(&new)["kid"], new_kid);
    assert_ne!(jwt_header(&old)["kid"], jwt_header(&new)["kid"]);
    assert_eq!(claims(&old)["sub"], "alice");

    for (which, token) in [("old", &old), ("new", &new)] {
        let r = stack.registry_get("/v2/alice/app/tags/list", token).await;
        assert_eq!(r.status(), 200, "the {which} key's token: {}", stack.registry_log());
    }
    stack.push(&image, &alice.creds(), "alice/app:2.0").await.expect_ok("push after rotation");
    stack.inspect(Some(&alice.creds()), "alice/app:2.0").await.expect_ok("pull after rotation");
}

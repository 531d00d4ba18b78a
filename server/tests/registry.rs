//! Pushes and pulls through a real registry (Debian's docker-registry) with a real client
//! (skopeo), every permission next to its refused twin.

mod common;

use base64::Engine as _;
use common::stack::{claims, jwt_header, oci_image, Stack};
use common::*;
use serde_json::json;

const ALICE: &str = "alice:alice password 1";
const BOB: &str = "bob:bob password 1";
const ROOT: &str = "root:root password 1";

/// root (admin), alice and bob, through the API of the running server.
async fn people(stack: &Stack) -> (String, i64, String, i64, String) {
    let app = server::app(stack.state.db.clone(), &server::Config::defaults()).await.unwrap();
    let (_, admin) = bootstrap(&app).await;
    let (alice_id, alice) = user_with_token(&app, &admin, "alice").await;
    let (bob_id, bob) = user_with_token(&app, &admin, "bob").await;
    (admin, alice_id, alice, bob_id, bob)
}

async fn rest(stack: &Stack) -> axum::Router {
    server::app(stack.state.db.clone(), &server::Config::defaults()).await.unwrap()
}

async fn set_visibility(app: &axum::Router, token: &str, namespace: &str, visibility: &str) {
    let list = api(app, "GET", "/api/v1/namespaces", Some(token), None).await.json();
    let id = list.as_array().unwrap().iter().find(|n| n["name"] == namespace).unwrap()["id"].clone();
    let r = api(app, "PUT", &format!("/api/v1/namespaces/{id}"), Some(token), Some(json!({"visibility": visibility})))
        .await;
    assert_eq!(r.status, axum::http::StatusCode::OK, "{}", r.body);
}

#[tokio::test]
async fn personal_namespaces_follow_their_visibility() {
    let db = fresh_db().await;
    let stack = Stack::start(&db).await;
    let (_, _, alice_token, _, _) = people(&stack).await;
    let image = oci_image(stack.dir.path(), "hello from alice", &[("org.opencontainers.image.title", "hello")]);

    let login =
        stack.skopeo(&["login", "--tls-verify=false", "-u", "alice", "-p", "alice password 1", &stack.registry]).await;
    login.expect_ok("skopeo login as alice");
    let bad = stack.skopeo(&["login", "--tls-verify=false", "-u", "alice", "-p", "wrong", &stack.registry]).await;
    assert!(!bad.ok, "login with a wrong password must fail");

    stack.push(&image, ALICE, "alice/hello:1.0").await.expect_ok("alice pushes to her namespace");
    stack.pull(ALICE, "alice/hello:1.0").await.expect_ok("alice pulls her image");
    let tags = stack.list_tags(ALICE, "alice/hello").await;
    tags.expect_ok("alice lists her tags");
    assert!(tags.stdout.contains("\"1.0\""), "{}", tags.stdout);

    stack.push(&image, BOB, "alice/hello:evil").await.expect_refused("bob pushes to alice's namespace");
    stack.inspect(Some(BOB), "alice/hello:1.0").await.expect_refused("bob pulls alice's private image");
    stack.inspect(None, "alice/hello:1.0").await.expect_refused("anonymous pulls alice's private image");

    let app = rest(&stack).await;
    set_visibility(&app, &alice_token, "alice", "protected").await;
    stack.inspect(Some(BOB), "alice/hello:1.0").await.expect_ok("bob pulls a protected image");
    stack.inspect(None, "alice/hello:1.0").await.expect_refused("anonymous pulls a protected image");
    stack.push(&image, BOB, "alice/hello:evil").await.expect_refused("bob still cannot push");

    set_visibility(&app, &alice_token, "alice", "public").await;
    stack.inspect(None, "alice/hello:1.0").await.expect_ok("anyone pulls a public image");
    let raw = stack.inspect(Some(BOB), "alice/hello:1.0").await;
    assert!(raw.stdout.contains("application/vnd.oci.image.manifest.v1+json"), "{}", raw.stdout);
}

#[tokio::test]
async fn team_roles_decide_push_pull_and_delete() {
    let db = fresh_db().await;
    let stack = Stack::start(&db).await;
    let (admin, _, alice, _, _) = people(&stack).await;
    let app = rest(&stack).await;
    let (_, carol) = user_with_token(&app, &admin, "carol").await;
    let team = api(&app, "POST", "/api/v1/teams", Some(&alice), Some(json!({"name": "acme"}))).await.json()["id"]
        .as_i64()
        .unwrap();
    api(&app, "POST", "/api/v1/namespaces", Some(&alice), Some(json!({"name": "acme", "team": "acme"}))).await;
    let members = format!("/api/v1/teams/{team}/members");
    api(&app, "POST", &members, Some(&alice), Some(json!({"username": "bob", "role": "contributor"}))).await;
    api(&app, "POST", &members, Some(&alice), Some(json!({"username": "carol", "role": "viewer"}))).await;
    let _ = carol;
    const CAROL: &str = "carol:carol password 1";
    let image = oci_image(stack.dir.path(), "acme app", &[]);

    stack.push(&image, BOB, "acme/app:1.0").await.expect_ok("a contributor pushes");
    stack.inspect(Some(CAROL), "acme/app:1.0").await.expect_ok("a viewer pulls");
    stack.push(&image, CAROL, "acme/app:2.0").await.expect_refused("a viewer pushes");
    stack.inspect(Some(ROOT), "acme/app:1.0").await.expect_ok("an admin pulls anything");

    // Deletes: owners yes, contributors not (the default), viewers never.
    stack.push(&image, ALICE, "acme/app:2.0").await.expect_ok("the owner pushes");
    stack.delete(CAROL, "acme/app:2.0").await.expect_refused("a viewer deletes");
    stack.delete(BOB, "acme/app:2.0").await.expect_refused("a contributor deletes");
    stack.delete(ALICE, "acme/app:2.0").await.expect_ok("the owner deletes");
    stack.inspect(Some(ALICE), "acme/app:1.0").await.expect_missing("the deleted manifest (1.0 pointed at it too)");

    // Only administrators push to the global namespace; everyone pulls from it.
    stack.push(&image, ALICE, "library-app:1.0").await.expect_refused("a user pushes to the global namespace");
    stack.push(&image, ROOT, "library-app:1.0").await.expect_ok("an admin pushes to the global namespace");
    stack.inspect(None, "library-app:1.0").await.expect_ok("anyone pulls from the global namespace");

    // A namespace that does not exist: nobody but an admin.
    stack.push(&image, ALICE, "nowhere/app:1.0").await.expect_refused("a user pushes to an unknown namespace");

    // Only administrators list the catalog.
    let admin_token = stack
        .token(Some(("root", "root password 1")), &["registry:catalog:*"])
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let r = stack.registry_get("/v2/_catalog", admin_token["token"].as_str().unwrap()).await;
    assert_eq!(r.status(), 200);
    let catalog: serde_json::Value = r.json().await.unwrap();
    assert!(catalog["repositories"].as_array().unwrap().iter().any(|r| r == "acme/app"), "{catalog}");
    let alice_token = stack
        .token(Some(("alice", "alice password 1")), &["registry:catalog:*"])
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let r = stack.registry_get("/v2/_catalog", alice_token["token"].as_str().unwrap()).await;
    assert_eq!(r.status(), 401, "alice's token does not grant the catalog");
}

#[tokio::test]
async fn contributors_delete_when_the_settings_say_so() {
    let db = fresh_db().await;
    let stack = Stack::start_with(&db, |c| c.contributors_may_delete = true).await;
    let (_, _, alice, _, _) = people(&stack).await;
    let app = rest(&stack).await;
    let team = api(&app, "POST", "/api/v1/teams", Some(&alice), Some(json!({"name": "acme"}))).await.json()["id"]
        .as_i64()
        .unwrap();
    api(&app, "POST", "/api/v1/namespaces", Some(&alice), Some(json!({"name": "acme", "team": "acme"}))).await;
    api(
        &app,
        "POST",
        &format!("/api/v1/teams/{team}/members"),
        Some(&alice),
        Some(json!({"username": "bob", "role": "contributor"})),
    )
    .await;
    let image = oci_image(stack.dir.path(), "acme app", &[]);
    stack.push(&image, BOB, "acme/app:1.0").await.expect_ok("a contributor pushes");
    stack.delete(BOB, "acme/app:1.0").await.expect_ok("a contributor deletes when contributors may");
}

#[tokio::test]
async fn access_tokens_and_disabled_users() {
    let db = fresh_db().await;
    let stack = Stack::start(&db).await;
    let (admin, alice_id, alice, _, _) = people(&stack).await;
    let app = rest(&stack).await;
    let image = oci_image(stack.dir.path(), "tokens", &[]);
    let full = format!("alice:{alice}");
    stack.push(&image, &full, "alice/app:1.0").await.expect_ok("a full access token pushes");

    let pull_only = token_for(&app, &admin, alice_id, json!({"name": "ro", "pull_only": true})).await;
    let pull_only = format!("alice:{pull_only}");
    stack.inspect(Some(&pull_only), "alice/app:1.0").await.expect_ok("a pull-only token pulls");
    stack.push(&image, &pull_only, "alice/app:2.0").await.expect_refused("a pull-only token pushes");

    api(&app, "POST", "/api/v1/teams", Some(&alice), Some(json!({"name": "acme"}))).await;
    api(&app, "POST", "/api/v1/namespaces", Some(&alice), Some(json!({"name": "acme", "team": "acme"}))).await;
    let only_acme = token_for(&app, &alice, alice_id, json!({"name": "acme-ci", "namespaces": ["acme"]})).await;
    let only_acme = format!("alice:{only_acme}");
    stack.push(&image, &only_acme, "acme/app:1.0").await.expect_ok("a namespace token pushes to its namespace");
    stack.inspect(Some(&only_acme), "alice/app:1.0").await.expect_refused("a namespace token pulls elsewhere");

    let soon = (chrono::Utc::now() + chrono::Duration::seconds(3)).to_rfc3339();
    let expiring = token_for(&app, &alice, alice_id, json!({"name": "soon", "expires_at": soon})).await;
    let expiring = format!("alice:{expiring}");
    stack.inspect(Some(&expiring), "alice/app:1.0").await.expect_ok("a token before it expires");
    tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
    stack.inspect(Some(&expiring), "alice/app:1.0").await.expect_refused("an expired token (even one the cache knows)");

    let tokens =
        api(&app, "GET", &format!("/api/v1/users/{alice_id}/application_tokens"), Some(&alice), None).await.json();
    let ro_id = tokens.as_array().unwrap().iter().find(|t| t["name"] == "ro").unwrap()["id"].as_i64().unwrap();
    api(&app, "DELETE", &format!("/api/v1/users/application_tokens/{ro_id}"), Some(&alice), None).await;
    stack.inspect(Some(&pull_only), "alice/app:1.0").await.expect_refused("a revoked token");

    stack.inspect(Some(ALICE), "alice/app:1.0").await.expect_ok("alice before she is disabled");
    api(&app, "PUT", &format!("/api/v1/users/{alice_id}"), Some(&admin), Some(json!({"enabled": false}))).await;
    stack.inspect(Some(ALICE), "alice/app:1.0").await.expect_refused("a disabled user's password");
    stack.inspect(Some(&full), "alice/app:1.0").await.expect_refused("a disabled user's token");
}

#[tokio::test]
async fn an_administrators_restricted_tokens_carry_no_administrator_powers() {
    let db = fresh_db().await;
    let stack = Stack::start(&db).await;
    let (admin, _, _, _, _) = people(&stack).await;
    let app = rest(&stack).await;
    let image = oci_image(stack.dir.path(), "admin tokens", &[]);
    stack.push(&image, ALICE, "alice/private:1.0").await.expect_ok("alice pushes a private image");
    let root_id = api(&app, "GET", "/api/v1/users", Some(&admin), None)
        .await
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "root")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let mint = |body: serde_json::Value| {
        let (app, admin) = (app.clone(), admin.clone());
        async move { format!("root:{}", token_for(&app, &admin, root_id, body).await) }
    };
    let full = format!("root:{admin}");
    let pull_only = mint(json!({"name": "ro", "pull_only": true})).await;
    let only_root = mint(json!({"name": "own", "namespaces": ["root"]})).await;

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
        let users = api(&app, "GET", "/api/v1/users", Some(secret), None).await.status;
        assert_eq!(users == axum::http::StatusCode::OK, catalog, "{who} token lists users: {users}");
    }
}

#[tokio::test]
async fn a_refresh_token_alone_is_enough() {
    let db = fresh_db().await;
    let stack = Stack::start(&db).await;
    people(&stack).await;
    let image = oci_image(stack.dir.path(), "refresh", &[]);
    // Log in the way docker does: offline_token=true returns the identity token.
    let r = reqwest::Client::new()
        .get(format!(
            "{}/v2/token?account=alice&client_id=docker&offline_token=true&service=portcullis-registry",
            stack.url
        ))
        .basic_auth("alice", Some("alice password 1"))
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
    let db = fresh_db().await;
    let stack = Stack::start(&db).await;
    people(&stack).await;
    let image = oci_image(stack.dir.path(), "rotation", &[]);
    stack.push(&image, ALICE, "alice/app:1.0").await.expect_ok("push before rotation");
    let old = stack
        .token(Some(("alice", "alice password 1")), &["repository:alice/app:pull"])
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let old = old["token"].as_str().unwrap().to_string();

    let new_kid = stack.state.keys.rotate(&db).await.unwrap();
    let new = stack
        .token(Some(("alice", "alice password 1")), &["repository:alice/app:pull"])
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let new = new["token"].as_str().unwrap().to_string();
    assert_eq!(jwt_header(&new)["kid"], new_kid);
    assert_ne!(jwt_header(&old)["kid"], jwt_header(&new)["kid"]);
    assert_eq!(claims(&old)["sub"], "alice");

    for (which, token) in [("old", &old), ("new", &new)] {
        let r = stack.registry_get("/v2/alice/app/tags/list", token).await;
        assert_eq!(r.status(), 200, "the {which} key's token: {}", stack.registry_log());
    }
    stack.push(&image, ALICE, "alice/app:2.0").await.expect_ok("push after rotation");
    stack.inspect(Some(ALICE), "alice/app:2.0").await.expect_ok("pull after rotation");
}

//! REST API v1 through the real router and PostgreSQL. Every allowed case has its refused twin.

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use base64::Engine as _;
use common::*;
use serde_json::json;

#[tokio::test]
async fn bootstrap_creates_the_first_admin_once() {
    let db = fresh_db().await;
    let app = app(&db).await;
    let (_, admin) = bootstrap(&app).await;
    let r = api(&app, "GET", "/api/v1/users", Some(&admin), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()[0]["is_admin"], true);
    let again = api(
        &app,
        "POST",
        "/api/v1/users/bootstrap",
        None,
        Some(json!({"username": "evil", "password": "evil password"})),
    )
    .await;
    assert_eq!(again.status, StatusCode::FORBIDDEN, "{}", again.body);
    assert!(again.json()["message"].as_str().unwrap().contains("already"));
}

#[tokio::test]
async fn only_admins_manage_users() {
    let db = fresh_db().await;
    let app = app(&db).await;
    let (_, admin) = bootstrap(&app).await;
    let (alice_id, alice) = user_with_token(&app, &admin, "alice").await;
    let (bob_id, _) = user_with_token(&app, &admin, "bob").await;

    assert_eq!(api(&app, "GET", "/api/v1/users", Some(&alice), None).await.status, StatusCode::FORBIDDEN);
    let own = api(&app, "GET", &format!("/api/v1/users/{alice_id}"), Some(&alice), None).await;
    assert_eq!(own.status, StatusCode::OK);
    assert_eq!(own.json()["username"], "alice");
    assert_eq!(
        api(&app, "GET", &format!("/api/v1/users/{bob_id}"), Some(&alice), None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(api(&app, "GET", &format!("/api/v1/users/{bob_id}"), Some(&admin), None).await.status, StatusCode::OK);

    let carol = json!({"username": "carol", "password": "carol password"});
    assert_eq!(
        api(&app, "POST", "/api/v1/users", Some(&alice), Some(carol.clone())).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(api(&app, "POST", "/api/v1/users", Some(&admin), Some(carol.clone())).await.status, StatusCode::CREATED);
    let dup = api(&app, "POST", "/api/v1/users", Some(&admin), Some(carol)).await;
    assert_eq!(dup.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(dup.json()["field"], "username");

    // Promote: admin may, alice may not (not even herself).
    let promote = json!({"admin": true});
    let r = api(&app, "PUT", &format!("/api/v1/users/{alice_id}"), Some(&alice), Some(promote.clone())).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Alice may change her own profile.
    let r = api(
        &app,
        "PATCH",
        &format!("/api/v1/users/{alice_id}"),
        Some(&alice),
        Some(json!({"display_name": "Alice A."})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["display_name"], "Alice A.");
    let r = api(&app, "PUT", &format!("/api/v1/users/{alice_id}"), Some(&admin), Some(promote)).await;
    assert_eq!(r.json()["is_admin"], true);

    assert_eq!(
        api(&app, "DELETE", &format!("/api/v1/users/{bob_id}"), Some(&alice), None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api(&app, "GET", &format!("/api/v1/users/{bob_id}"), Some(&admin), None).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_last_admin_cannot_be_removed() {
    let db = fresh_db().await;
    let app = app(&db).await;
    let (root_id, admin) = bootstrap(&app).await;
    let (alice_id, _) = user_with_token(&app, &admin, "alice").await;
    // Root cannot demote or disable themself while they are the only admin.
    let r = api(&app, "PUT", &format!("/api/v1/users/{root_id}"), Some(&admin), Some(json!({"admin": false}))).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    api(&app, "PUT", &format!("/api/v1/users/{alice_id}"), Some(&admin), Some(json!({"admin": true}))).await;
    let r = api(&app, "PUT", &format!("/api/v1/users/{root_id}"), Some(&admin), Some(json!({"admin": false}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

#[tokio::test]
async fn bad_input_gets_clear_errors() {
    let db = fresh_db().await;
    let app = app(&db).await;
    let (_, admin) = bootstrap(&app).await;
    let bad_name = api(
        &app,
        "POST",
        "/api/v1/users",
        Some(&admin),
        Some(json!({"username": "Bad Name", "password": "long enough"})),
    )
    .await;
    assert_eq!(bad_name.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad_name.json()["field"], "username");

    let broken = Request::post("/api/v1/teams")
        .header(header::AUTHORIZATION, format!("Bearer {admin}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"name\": "))
        .unwrap();
    let r = send(&app, broken).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.json()["message"].is_string());

    let wrong_shape = api(&app, "POST", "/api/v1/teams", Some(&admin), Some(json!({"name": 5}))).await;
    assert_eq!(wrong_shape.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", wrong_shape.body);
    let unknown_field =
        api(&app, "POST", "/api/v1/teams", Some(&admin), Some(json!({"name": "t1", "owner": "x"}))).await;
    assert_eq!(unknown_field.status, StatusCode::UNPROCESSABLE_ENTITY);

    let not_json = Request::post("/api/v1/teams")
        .header(header::AUTHORIZATION, format!("Bearer {admin}"))
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("name=t1"))
        .unwrap();
    assert_eq!(send(&app, not_json).await.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    assert_eq!(api(&app, "GET", "/api/v1/users/abc", Some(&admin), None).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(api(&app, "GET", "/api/v1/users/999999", Some(&admin), None).await.status, StatusCode::NOT_FOUND);
    let unknown = api(&app, "GET", "/api/v1/nothing-here", Some(&admin), None).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.json()["message"].is_string());

    // Text PostgreSQL cannot store is a bad request, not a server error.
    let nul =
        api(&app, "POST", "/api/v1/teams", Some(&admin), Some(json!({"name": "t2", "description": "a\u{0}b"}))).await;
    assert_eq!(nul.status, StatusCode::BAD_REQUEST, "{}", nul.body);
    // A second account with the same email is refused on that field.
    let with_email = |name: &str| json!({"username": name, "password": "long enough", "email": "same@example.com"});
    assert_eq!(
        api(&app, "POST", "/api/v1/users", Some(&admin), Some(with_email("erin"))).await.status,
        StatusCode::CREATED
    );
    let twin = api(&app, "POST", "/api/v1/users", Some(&admin), Some(with_email("frank"))).await;
    assert_eq!(twin.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", twin.body);
    assert_eq!(twin.json()["field"], "email");

    let huge = json!({"name": "big", "description": "x".repeat(2 * 1024 * 1024)});
    assert_eq!(
        api(&app, "POST", "/api/v1/teams", Some(&admin), Some(huge)).await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );
}

#[tokio::test]
async fn credentials_are_checked() {
    let db = fresh_db().await;
    let app = app(&db).await;
    let (_, admin) = bootstrap(&app).await;
    let (_, alice) = user_with_token(&app, &admin, "alice").await;

    let none = api(&app, "GET", "/api/v1/users", None, None).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert!(none.headers.contains_key(header::WWW_AUTHENTICATE));
    let forged = format!("pcat_{}", "A".repeat(43));
    assert_eq!(api(&app, "GET", "/api/v1/teams", Some(&forged), None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(api(&app, "GET", "/api/v1/teams", Some("garbage"), None).await.status, StatusCode::UNAUTHORIZED);

    let basic = |user: &str, secret: &str| {
        Request::get("/api/v1/teams")
            .header(
                header::AUTHORIZATION,
                format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"))),
            )
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(send(&app, basic("alice", &alice)).await.status, StatusCode::OK);
    // Alice's token under bob's name, or alice's password instead of a token: refused.
    assert_eq!(send(&app, basic("bob", &alice)).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(send(&app, basic("alice", "alice password 1")).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn tokens_belong_to_their_user() {
    let db = fresh_db().await;
    let app = app(&db).await;
    let (_, admin) = bootstrap(&app).await;
    let (alice_id, alice) = user_with_token(&app, &admin, "alice").await;
    let (bob_id, bob) = user_with_token(&app, &admin, "bob").await;

    let mine = api(&app, "GET", &format!("/api/v1/users/{alice_id}/application_tokens"), Some(&alice), None).await;
    assert_eq!(mine.status, StatusCode::OK);
    assert_eq!(mine.json().as_array().unwrap().len(), 1);
    assert!(!mine.body.contains(&alice), "a listing never contains the secret");
    let theirs = api(&app, "GET", &format!("/api/v1/users/{bob_id}/application_tokens"), Some(&alice), None).await;
    assert_eq!(theirs.status, StatusCode::FORBIDDEN);
    let mint = api(
        &app,
        "POST",
        &format!("/api/v1/users/{bob_id}/application_tokens"),
        Some(&alice),
        Some(json!({"name": "x"})),
    )
    .await;
    assert_eq!(mint.status, StatusCode::FORBIDDEN);

    let bob_tokens = api(&app, "GET", &format!("/api/v1/users/{bob_id}/application_tokens"), Some(&bob), None).await;
    let bob_token_id = bob_tokens.json()[0]["id"].as_i64().unwrap();
    let r = api(&app, "DELETE", &format!("/api/v1/users/application_tokens/{bob_token_id}"), Some(&alice), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "alice may not revoke bob's token");
    assert_eq!(api(&app, "GET", "/api/v1/teams", Some(&bob), None).await.status, StatusCode::OK);
    let r = api(&app, "DELETE", &format!("/api/v1/users/application_tokens/{bob_token_id}"), Some(&bob), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.json()["revoked_at"].is_string());
    assert_eq!(
        api(&app, "GET", "/api/v1/teams", Some(&bob), None).await.status,
        StatusCode::UNAUTHORIZED,
        "a revoked token stops working"
    );
}

#[tokio::test]
async fn expired_tokens_and_disabled_users_are_refused() {
    let db = fresh_db().await;
    let app = app(&db).await;
    let (_, admin) = bootstrap(&app).await;
    let (alice_id, alice) = user_with_token(&app, &admin, "alice").await;
    let short = token_for(&app, &alice, alice_id, json!({"name": "short", "expires_at": "2999-01-01T00:00:00Z"})).await;
    assert_eq!(api(&app, "GET", "/api/v1/teams", Some(&short), None).await.status, StatusCode::OK);
    sqlx::query("update access_token set expires_at = now() - interval '1 second' where name = 'short'")
        .execute(&db)
        .await
        .unwrap();
    assert_eq!(api(&app, "GET", "/api/v1/teams", Some(&short), None).await.status, StatusCode::UNAUTHORIZED);
    let past = api(
        &app,
        "POST",
        &format!("/api/v1/users/{alice_id}/application_tokens"),
        Some(&alice),
        Some(json!({"name": "old", "expires_at": "2001-01-01T00:00:00Z"})),
    )
    .await;
    assert_eq!(past.status, StatusCode::UNPROCESSABLE_ENTITY);

    assert_eq!(api(&app, "GET", "/api/v1/teams", Some(&alice), None).await.status, StatusCode::OK);
    let r = api(&app, "PUT", &format!("/api/v1/users/{alice_id}"), Some(&admin), Some(json!({"enabled": false}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        api(&app, "GET", "/api/v1/teams", Some(&alice), None).await.status,
        StatusCode::UNAUTHORIZED,
        "a disabled user's token stops working"
    );
}

#[tokio::test]
async fn teams_are_managed_by_their_owners() {
    let db = fresh_db().await;
    let app = app(&db).await;
    let (_, admin) = bootstrap(&app).await;
    let (alice_id, alice) = user_with_token(&app, &admin, "alice").await;
    let (bob_id, bob) = user_with_token(&app, &admin, "bob").await;

    let r =
        api(&app, "POST", "/api/v1/teams", Some(&alice), Some(json!({"name": "devs", "description": "Developers"})))
            .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.json()["role"], "owner");
    let team = r.json()["id"].as_i64().unwrap();
    let members = format!("/api/v1/teams/{team}/members");

    // Bob may not see alice's team, nor add himself to it.
    assert_eq!(
        api(&app, "GET", &format!("/api/v1/teams/{team}"), Some(&bob), None).await.status,
        StatusCode::NOT_FOUND
    );
    let r = api(&app, "POST", &members, Some(&bob), Some(json!({"username": "bob", "role": "owner"}))).await;
    assert!(r.status == StatusCode::NOT_FOUND || r.status == StatusCode::FORBIDDEN, "{}", r.status);
    assert_eq!(api(&app, "GET", "/api/v1/teams", Some(&bob), None).await.json().as_array().unwrap().len(), 0);

    // Alice adds him as a viewer: he sees the team but may not manage it.
    let r = api(&app, "POST", &members, Some(&alice), Some(json!({"username": "bob", "role": "viewer"}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(api(&app, "GET", &format!("/api/v1/teams/{team}"), Some(&bob), None).await.json()["role"], "viewer");
    let r = api(&app, "PUT", &format!("{members}/{bob_id}"), Some(&bob), Some(json!({"role": "owner"}))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "a viewer may not promote himself");
    let r = api(&app, "POST", &members, Some(&bob), Some(json!({"username": "root", "role": "viewer"}))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let dup = api(&app, "POST", &members, Some(&alice), Some(json!({"username": "bob", "role": "viewer"}))).await;
    assert_eq!(dup.status, StatusCode::UNPROCESSABLE_ENTITY);
    let nobody = api(&app, "POST", &members, Some(&alice), Some(json!({"username": "nobody", "role": "viewer"}))).await;
    assert_eq!(nobody.status, StatusCode::UNPROCESSABLE_ENTITY);
    let bad_role = api(&app, "POST", &members, Some(&alice), Some(json!({"username": "root", "role": "king"}))).await;
    assert_eq!(bad_role.status, StatusCode::UNPROCESSABLE_ENTITY);

    // The owner changes roles; the last owner cannot leave.
    let r = api(&app, "PUT", &format!("{members}/{bob_id}"), Some(&alice), Some(json!({"role": "contributor"}))).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let r = api(&app, "DELETE", &format!("{members}/{alice_id}"), Some(&alice), None).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let listed = api(&app, "GET", &members, Some(&bob), None).await.json();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let r = api(&app, "DELETE", &format!("{members}/{bob_id}"), Some(&alice), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        api(&app, "GET", &format!("/api/v1/teams/{team}"), Some(&bob), None).await.status,
        StatusCode::NOT_FOUND
    );

    // An admin sees every team.
    assert_eq!(api(&app, "GET", &format!("/api/v1/teams/{team}"), Some(&admin), None).await.status, StatusCode::OK);
    let taken = api(&app, "POST", "/api/v1/teams", Some(&bob), Some(json!({"name": "devs"}))).await;
    assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn namespaces_follow_visibility_and_roles() {
    let db = fresh_db().await;
    let app = app(&db).await;
    let (_, admin) = bootstrap(&app).await;
    let (_, alice) = user_with_token(&app, &admin, "alice").await;
    let (_, bob) = user_with_token(&app, &admin, "bob").await;

    // Everyone has a private personal namespace.
    let list = api(&app, "GET", "/api/v1/namespaces", Some(&alice), None).await.json();
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["alice"], "alice sees only her own namespace, not bob's or root's");

    let team = api(&app, "POST", "/api/v1/teams", Some(&alice), Some(json!({"name": "acme"}))).await.json()["id"]
        .as_i64()
        .unwrap();
    let r =
        api(&app, "POST", "/api/v1/namespaces", Some(&bob), Some(json!({"name": "acme-apps", "team_id": team}))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "bob may not create namespaces for alice's team");
    let r =
        api(&app, "POST", "/api/v1/namespaces", Some(&alice), Some(json!({"name": "acme-apps", "team": "acme"}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let ns = r.json();
    assert_eq!(ns["visibility"], "private");
    assert_eq!(ns["abilities"]["change_visibility"], true);
    let path = format!("/api/v1/namespaces/{}", ns["id"]);
    let taken =
        api(&app, "POST", "/api/v1/namespaces", Some(&alice), Some(json!({"name": "bob", "team": "acme"}))).await;
    assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY, "bob's personal namespace name is taken");

    // Private: bob and anonymous see nothing.
    assert_eq!(api(&app, "GET", &path, Some(&bob), None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(api(&app, "GET", &path, None, None).await.status, StatusCode::NOT_FOUND);
    // Protected: bob sees it, anonymous does not.
    let r = api(&app, "PUT", &path, Some(&alice), Some(json!({"visibility": "protected"}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let seen = api(&app, "GET", &path, Some(&bob), None).await;
    assert_eq!(seen.status, StatusCode::OK);
    assert_eq!(seen.json()["abilities"]["push"], false);
    assert_eq!(api(&app, "GET", &path, None, None).await.status, StatusCode::NOT_FOUND);
    // Public: anyone.
    api(&app, "PUT", &path, Some(&alice), Some(json!({"visibility": "public"}))).await;
    assert_eq!(api(&app, "GET", &path, None, None).await.status, StatusCode::OK);
    let anon_list = api(&app, "GET", "/api/v1/namespaces", None, None).await.json();
    assert_eq!(anon_list.as_array().unwrap().len(), 1);

    // A viewer may not change visibility or the description; the owner may.
    api(
        &app,
        "POST",
        &format!("/api/v1/teams/{team}/members"),
        Some(&alice),
        Some(json!({"username": "bob", "role": "viewer"})),
    )
    .await;
    let r = api(&app, "PUT", &path, Some(&bob), Some(json!({"visibility": "private"}))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = api(&app, "PUT", &path, Some(&bob), Some(json!({"description": "mine now"}))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = api(&app, "PUT", &path, Some(&alice), Some(json!({"description": "Acme's apps"}))).await;
    assert_eq!(r.json()["description"], "Acme's apps");

    // The team owns a namespace: it cannot be deleted until the namespace goes.
    assert_eq!(
        api(&app, "DELETE", &format!("/api/v1/teams/{team}"), Some(&alice), None).await.status,
        StatusCode::CONFLICT
    );
    assert_eq!(api(&app, "DELETE", &path, Some(&bob), None).await.status, StatusCode::FORBIDDEN);
    assert_eq!(api(&app, "DELETE", &path, Some(&alice), None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(
        api(&app, "DELETE", &format!("/api/v1/teams/{team}"), Some(&alice), None).await.status,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn site_settings_govern_visibility_changes() {
    let db = fresh_db().await;
    let app = app_with(&db, |c| c.users_may_change_visibility = false).await;
    let (_, admin) = bootstrap(&app).await;
    let (_, alice) = user_with_token(&app, &admin, "alice").await;
    api(&app, "POST", "/api/v1/teams", Some(&alice), Some(json!({"name": "acme"}))).await;
    let ns = api(&app, "POST", "/api/v1/namespaces", Some(&alice), Some(json!({"name": "acme-apps", "team": "acme"})))
        .await
        .json();
    assert_eq!(ns["abilities"]["change_visibility"], false);
    let path = format!("/api/v1/namespaces/{}", ns["id"]);
    assert_eq!(
        api(&app, "PUT", &path, Some(&alice), Some(json!({"visibility": "public"}))).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        api(&app, "PUT", &path, Some(&admin), Some(json!({"visibility": "public"}))).await.status,
        StatusCode::OK
    );
    // The page's form, which then does not offer the choice, creates a private one.
    let cookie = log_in(&app, "alice", "alice password 1").await.session_cookie().unwrap();
    let r = call(&app, "/api/namespaces/create", &[("team", "acme"), ("name", "acme-form")], Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["visibility"], "private");
    // Nor may she create a namespace public from the start; private is fine.
    let public = json!({"name": "acme-open", "team": "acme", "visibility": "public"});
    assert_eq!(api(&app, "POST", "/api/v1/namespaces", Some(&alice), Some(public)).await.status, StatusCode::FORBIDDEN);
    let private = json!({"name": "acme-open", "team": "acme", "visibility": "private"});
    assert_eq!(api(&app, "POST", "/api/v1/namespaces", Some(&alice), Some(private)).await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn a_restricted_token_cannot_change_anything_nor_see_beyond_its_namespaces() {
    let db = fresh_db().await;
    let app = app(&db).await;
    let (admin_id, admin) = bootstrap(&app).await;
    let (alice_id, _) = user_with_token(&app, &admin, "alice").await;
    // An administrator's token limited to one namespace carries no administrator powers...
    let admin_ci = token_for(&app, &admin, admin_id, json!({"name": "ci", "namespaces": ["root"]})).await;
    assert_eq!(api(&app, "GET", "/api/v1/users", Some(&admin_ci), None).await.status, StatusCode::FORBIDDEN);
    assert_eq!(api(&app, "GET", "/api/v1/users", Some(&admin), None).await.status, StatusCode::OK);
    let tokens_of_alice = format!("/api/v1/users/{alice_id}/application_tokens");
    assert_ne!(api(&app, "GET", &tokens_of_alice, Some(&admin_ci), None).await.status, StatusCode::OK);
    assert_eq!(api(&app, "GET", &tokens_of_alice, Some(&admin), None).await.status, StatusCode::OK);
    // ...and sees only that namespace, where the unrestricted one sees them all.
    let names = |r: Reply| -> Vec<String> {
        r.json().as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(names(api(&app, "GET", "/api/v1/namespaces", Some(&admin_ci), None).await), ["root"]);
    assert_eq!(names(api(&app, "GET", "/api/v1/namespaces", Some(&admin), None).await), ["alice", "root"]);
    let other = api(&app, "GET", "/api/v1/namespaces", Some(&admin), None)
        .await
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] != "root")
        .unwrap()["id"]
        .clone();
    assert_eq!(
        api(&app, "GET", &format!("/api/v1/namespaces/{other}"), Some(&admin_ci), None).await.status,
        StatusCode::NOT_FOUND
    );

    let pull_only = token_for(&app, &admin, alice_id, json!({"name": "ci", "pull_only": true})).await;
    assert_eq!(api(&app, "GET", "/api/v1/namespaces", Some(&pull_only), None).await.status, StatusCode::OK);
    let r = api(&app, "POST", "/api/v1/teams", Some(&pull_only), Some(json!({"name": "sneaky"}))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let one_ns = token_for(&app, &admin, alice_id, json!({"name": "one", "namespaces": ["alice"]})).await;
    assert_eq!(
        api(&app, "POST", "/api/v1/teams", Some(&one_ns), Some(json!({"name": "sneaky"}))).await.status,
        StatusCode::FORBIDDEN
    );
    let bad = api(
        &app,
        "POST",
        &format!("/api/v1/users/{alice_id}/application_tokens"),
        Some(&admin),
        Some(json!({"name": "x", "namespaces": ["root"]})),
    )
    .await;
    assert_eq!(
        bad.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "alice may not restrict a token to a namespace she cannot use"
    );
}

#[tokio::test]
async fn changes_are_in_the_activity_log() {
    let db = fresh_db().await;
    let app = app(&db).await;
    let (_, admin) = bootstrap(&app).await;
    let (_, alice) = user_with_token(&app, &admin, "alice").await;
    api(&app, "POST", "/api/v1/teams", Some(&alice), Some(json!({"name": "acme"}))).await;
    api(
        &app,
        "POST",
        "/api/v1/namespaces",
        Some(&alice),
        Some(json!({"name": "acme-apps", "team": "acme", "visibility": "public"})),
    )
    .await;
    let actions: Vec<(String, String)> =
        sqlx::query_as("select actor_name, action from audit_event order by audit_event_id")
            .fetch_all(&db)
            .await
            .unwrap();
    let has = |actor: &str, action: &str| actions.iter().any(|(a, x)| a == actor && x == action);
    assert!(has("system", "user.create"), "{actions:?}");
    assert!(has("root", "user.create"), "{actions:?}");
    assert!(has("root", "token.create"), "{actions:?}");
    assert!(has("alice", "team.create"), "{actions:?}");
    assert!(has("alice", "namespace.create"), "{actions:?}");

    let csv = api(&app, "GET", "/admin/activity.csv?action=team", Some(&admin), None).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/csv"));
    assert!(csv.body.contains("team.create") && !csv.body.contains("namespace.create"), "{}", csv.body);
    assert_eq!(api(&app, "GET", "/admin/activity.csv", Some(&alice), None).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn openapi_describes_every_route_method_and_answer() {
    let db = fresh_db().await;
    let app = app(&db).await;
    let doc = get(&app, "/api/openapi.json", None).await.json();
    assert_eq!(doc["openapi"], "3.0.3");
    let paths = doc["paths"].as_object().unwrap();
    // Every route the API router registers (read from its source, so none is forgotten) is
    // documented, and nothing is documented that is not routed.
    let source = include_str!("../src/rest/mod.rs");
    let router = &source[source.find("pub fn router").unwrap()..];
    let router = &router[..router.find("\n}\n").unwrap()];
    let routes: Vec<&str> =
        router.split('"').skip(1).step_by(2).filter(|p| p.starts_with("/api/v1/") && !p.contains('*')).collect();
    assert!(routes.len() >= 18, "{routes:?}");
    for r in &routes {
        assert!(paths.contains_key(*r), "{r} is routed but not in the OpenAPI document");
    }
    for p in paths.keys() {
        assert!(routes.contains(&p.as_str()), "{p} is documented but not routed");
    }
    // Each path answers exactly the documented methods (405 for the others), and what it
    // answers an anonymous caller is among the documented answers.
    let (_, token) = bootstrap(&app).await;
    for (path, ops) in paths {
        let concrete = path.replace("{id}", "1").replace("{user_id}", "1");
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            let documented = ops.get(method.to_lowercase());
            for auth in [None, Some(token.as_str())] {
                let r = api(&app, method, &concrete, auth, None).await;
                match documented {
                    None => assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}"),
                    Some(op) => assert!(
                        op["responses"].get(r.status.as_str()).is_some(),
                        "{method} {path} answered {} ({}), which the document does not list",
                        r.status,
                        r.body
                    ),
                }
            }
        }
    }
    // Every $ref points at a defined schema.
    let text = doc.to_string();
    for r in text.split("#/components/schemas/").skip(1) {
        let name: String = r.chars().take_while(|c| c.is_alphanumeric()).collect();
        assert!(doc["components"]["schemas"].get(&name).is_some(), "schema {name} is not defined");
    }
    assert_eq!(get(&app, "/api/v1/health", None).await.json()["status"], "ok");
}

#[tokio::test]
async fn lists_are_paged_with_a_total_and_links() {
    let db = fresh_db().await;
    let app = app(&db).await;
    let (_, admin) = bootstrap(&app).await;
    for i in 0..7 {
        user_with_token(&app, &admin, &format!("user{i}")).await;
    }
    let r = api(&app, "GET", "/api/v1/users?per_page=3&page=2", Some(&admin), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.headers["x-total-count"], "8");
    let names: Vec<String> =
        r.json().as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap().to_string()).collect();
    assert_eq!(names, vec!["user2", "user3", "user4"], "sorted by name (root first), the second page of three");
    let link = r.headers[header::LINK].to_str().unwrap().to_string();
    for want in [
        "</api/v1/users?page=1&per_page=3>; rel=\"first\"",
        "</api/v1/users?page=1&per_page=3>; rel=\"prev\"",
        "</api/v1/users?page=3&per_page=3>; rel=\"next\"",
        "</api/v1/users?page=3&per_page=3>; rel=\"last\"",
    ] {
        assert!(link.contains(want), "{want} missing from {link}");
    }
    // A page size is capped; a filter narrows the list and the links keep it.
    let r = api(&app, "GET", "/api/v1/users?per_page=100000", Some(&admin), None).await;
    assert_eq!(r.json().as_array().unwrap().len(), 8);
    assert!(r.headers[header::LINK].to_str().unwrap().contains("per_page=100>"));
    let r = api(&app, "GET", "/api/v1/users?q=user4", Some(&admin), None).await;
    assert_eq!(r.headers["x-total-count"], "1");
    assert!(r.headers[header::LINK].to_str().unwrap().contains("q=user4&page=1"));
    // Bad numbers and over-long texts are a clear 400 and 422.
    let r = api(&app, "GET", "/api/v1/users?page=minus", Some(&admin), None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.json()["message"].as_str().unwrap().contains("page"));
    let long = "x".repeat(101);
    let r = api(&app, "GET", &format!("/api/v1/namespaces?q={long}"), Some(&admin), None).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    // The pages page too.
    let cookie = log_in(&app, "root", "root password 1").await.session_cookie().unwrap();
    let html = get(&app, "/admin/users?q=user4", Some(&cookie)).await;
    assert_eq!(html.status, StatusCode::OK);
    assert!(html.body.contains("user4") && !html.body.contains("user5"), "the users page filters");
}

#[tokio::test]
async fn the_cli_creates_users_and_tokens() {
    let db = fresh_db().await;
    let url = database_url(&db);
    let bin = env!("CARGO_BIN_EXE_portcullis");
    let run = |args: &[&str], stdin: &str| {
        use std::io::Write as _;
        let mut child = std::process::Command::new(bin)
            .args(args)
            .env("PORTCULLIS_DATABASE_URL", &url)
            .env("RUST_LOG", "warn")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let out = run(&["admin", "create-user", "carol", "--admin", "--password-stdin"], "carol password 1\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let user: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(user["is_admin"], true);
    let out = run(&["admin", "create-user", "robot", "--bot"], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run(&["admin", "create-user", "dave"], "");
    assert!(!out.status.success(), "a person needs a password");
    let out = run(&["admin", "create-token", "robot", "--name", "ci", "--pull-only"], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let secret = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(secret.starts_with("pcat_"));

    let app = app(&db).await;
    assert_eq!(api(&app, "GET", "/api/v1/namespaces", Some(&secret), None).await.status, StatusCode::OK);
    assert_eq!(
        api(&app, "POST", "/api/v1/teams", Some(&secret), Some(json!({"name": "x1"}))).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn signing_up_with_a_namespace_name_is_refused() {
    let db = fresh_db().await;
    let app = app(&db).await;
    let (_, admin) = bootstrap(&app).await;
    api(&app, "POST", "/api/v1/teams", Some(&admin), Some(json!({"name": "acme"}))).await;
    api(&app, "POST", "/api/v1/namespaces", Some(&admin), Some(json!({"name": "shared", "team": "acme"}))).await;
    let r = call(
        &app,
        "/api/signup",
        &[("username", "shared"), ("password", "a fine password"), ("password_confirm", "a fine password")],
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let users: i64 =
        sqlx::query_scalar(r#"select count(*) from "user" where username = 'shared'"#).fetch_one(&db).await.unwrap();
    assert_eq!(users, 0, "nothing half-created");
}

#[tokio::test]
async fn every_change_is_refused_to_outsiders_and_logged_when_allowed() {
    let db = fresh_db().await;
    let app = app(&db).await;
    let (_, admin) = bootstrap(&app).await;
    let (alice_id, alice) = user_with_token(&app, &admin, "alice").await;
    let (bob_id, bob) = user_with_token(&app, &admin, "bob").await;
    let team = api(&app, "POST", "/api/v1/teams", Some(&alice), Some(json!({"name": "acme"}))).await.json()["id"]
        .as_i64()
        .unwrap();
    let team_path = format!("/api/v1/teams/{team}");
    let members = format!("{team_path}/members");

    // Outsiders may not read the team's members or namespaces, rename or delete it.
    for path in [members.clone(), format!("{team_path}/namespaces")] {
        assert_eq!(api(&app, "GET", &path, Some(&bob), None).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    let rename = json!({"description": "Acme's images"});
    assert_eq!(api(&app, "PUT", &team_path, Some(&bob), Some(rename.clone())).await.status, StatusCode::NOT_FOUND);
    assert_eq!(api(&app, "DELETE", &team_path, Some(&bob), None).await.status, StatusCode::NOT_FOUND);

    // A viewer sees them but may not rename the team, delete it or create its namespaces.
    api(&app, "POST", &members, Some(&alice), Some(json!({"username": "bob", "role": "viewer"}))).await;
    assert_eq!(api(&app, "GET", &members, Some(&bob), None).await.status, StatusCode::OK);
    assert_eq!(api(&app, "PUT", &team_path, Some(&bob), Some(rename.clone())).await.status, StatusCode::FORBIDDEN);
    assert_eq!(api(&app, "DELETE", &team_path, Some(&bob), None).await.status, StatusCode::FORBIDDEN);
    let ns = json!({"name": "acme-apps", "team": "acme"});
    assert_eq!(
        api(&app, "POST", "/api/v1/namespaces", Some(&bob), Some(ns.clone())).await.status,
        StatusCode::FORBIDDEN
    );

    // The owner may do all of it.
    assert_eq!(api(&app, "PUT", &team_path, Some(&alice), Some(rename)).await.status, StatusCode::OK);
    let created = api(&app, "POST", "/api/v1/namespaces", Some(&alice), Some(ns)).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let listed = api(&app, "GET", &format!("{team_path}/namespaces"), Some(&bob), None).await.json();
    assert_eq!(listed[0]["name"], "acme-apps");
    let ns_path = format!("/api/v1/namespaces/{}", created.json()["id"]);
    let public = json!({"visibility": "public"});
    assert_eq!(api(&app, "PUT", &ns_path, Some(&bob), Some(public.clone())).await.status, StatusCode::FORBIDDEN);
    // A change is applied whole or not at all: a bad description leaves visibility alone.
    let half = json!({"visibility": "public", "description": "x".repeat(3000)});
    assert_eq!(api(&app, "PUT", &ns_path, Some(&alice), Some(half)).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(api(&app, "GET", &ns_path, Some(&alice), None).await.json()["visibility"], "private");
    assert_eq!(api(&app, "PUT", &ns_path, Some(&alice), Some(public)).await.status, StatusCode::OK);
    let r = api(&app, "PUT", &format!("{members}/{bob_id}"), Some(&alice), Some(json!({"role": "contributor"}))).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        api(&app, "DELETE", &format!("{members}/{bob_id}"), Some(&alice), None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(api(&app, "DELETE", &ns_path, Some(&alice), None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(api(&app, "DELETE", &team_path, Some(&alice), None).await.status, StatusCode::NO_CONTENT);

    // Settings: an administrator's change is logged; anyone else is refused.
    let settings = [("push_policy", "admin-only"), ("delete_enabled", "on")];
    let cookie = |name: &'static str, pw: &'static str| {
        let app = app.clone();
        async move { log_in(&app, name, pw).await.session_cookie().unwrap() }
    };
    let bob_session = cookie("bob", "bob password 1").await;
    let r = call(&app, "/api/admin/settings/update", &settings, Some(&bob_session)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let root = cookie("root", "root password 1").await;
    assert_eq!(call(&app, "/api/admin/settings/update", &settings, Some(&root)).await.status, StatusCode::OK);
    let _ = alice;

    // Users: only administrators disable, promote or delete them (to others, another user is
    // not even there).
    let user = |id: i64| format!("/api/v1/users/{id}");
    for change in [json!({"enabled": false}), json!({"admin": true})] {
        assert_eq!(
            api(&app, "PUT", &user(alice_id), Some(&bob), Some(change.clone())).await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(api(&app, "PUT", &user(alice_id), Some(&admin), Some(change)).await.status, StatusCode::OK);
    }
    assert_eq!(api(&app, "DELETE", &user(alice_id), Some(&bob), None).await.status, StatusCode::FORBIDDEN);
    assert_eq!(api(&app, "DELETE", &user(bob_id), Some(&admin), None).await.status, StatusCode::NO_CONTENT);

    let actions: Vec<String> = sqlx::query_scalar("select action from audit_event").fetch_all(&db).await.unwrap();
    for want in [
        "team.update",
        "team.member.add",
        "team.member.role",
        "team.member.remove",
        "namespace.visibility",
        "namespace.delete",
        "team.delete",
        "user.disable",
        "user.promote",
        "user.delete",
        "settings.update",
    ] {
        assert!(actions.iter().any(|a| a == want), "{want} missing from {actions:?}");
    }
    assert!(!actions.iter().any(|a| a == "namespace.update"), "the refused half-change left no trace");
}

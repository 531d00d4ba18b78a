//! REST API v1 through the real router and PostgreSQL. Every allowed case has its refused twin.

use crate::common;

use app::model::{AccessTokenView, NamespaceView, TeamMemberView, TeamRole, TeamView, UserView, Visibility};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::*;
use serde_json::json;

fn user(id: i64) -> String {
    format!("/api/v1/users/{id}")
}

fn tokens_of(id: i64) -> String {
    format!("/api/v1/users/{id}/application_tokens")
}

fn team(id: i64) -> String {
    format!("/api/v1/teams/{id}")
}

fn members(team: i64) -> String {
    format!("/api/v1/teams/{team}/members")
}

fn member(team: i64, user: i64) -> String {
    format!("/api/v1/teams/{team}/members/{user}")
}

fn namespace(id: i64) -> String {
    format!("/api/v1/namespaces/{id}")
}

fn names(list: Vec<NamespaceView>) -> Vec<String> {
    list.into_iter().map(|n| n.namespace.name).collect()
}

/// Every action in `wants` is in the activity log.
async fn assert_logged(world: &World, wants: &[&str]) {
    let actions = world.actions().await;
    for want in wants {
        assert!(actions.iter().any(|a| a == want), "{want} missing from {actions:?}");
    }
}

// --- users -----------------------------------------------------------------------------------

#[tokio::test]
async fn bootstrap_creates_the_first_admin_once() {
    let world = World::new().await;
    let root = world.root().await;
    let r = root.get("/api/v1/users").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.parse::<Vec<UserView>>()[0].is_admin);
    let evil = json!({"username": "evil", "password": "evil password"});
    let again = world.anonymous().post("/api/v1/users/bootstrap", evil).await;
    assert_eq!(again.status, StatusCode::FORBIDDEN, "{}", again.body);
    assert!(again.problem().message.contains("already"));
}

#[tokio::test]
async fn only_admins_list_users() {
    let world = World::new().await;
    let (root, alice) = (world.root().await, world.person("alice").await);
    assert_eq!(alice.get("/api/v1/users").await.status, StatusCode::FORBIDDEN);
    assert_eq!(root.get("/api/v1/users").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_user_sees_herself_and_only_admins_see_others() {
    let world = World::new().await;
    let (root, alice, bob) = (world.root().await, world.person("alice").await, world.person("bob").await);
    let own = alice.get(&user(alice.id)).await;
    assert_eq!(own.status, StatusCode::OK);
    assert_eq!(own.parse::<UserView>().username, "alice");
    assert_eq!(alice.get(&user(bob.id)).await.status, StatusCode::NOT_FOUND);
    assert_eq!(root.get(&user(bob.id)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn only_admins_create_users() {
    let world = World::new().await;
    let (root, alice) = (world.root().await, world.person("alice").await);
    let carol = json!({"username": "carol", "password": "carol password"});
    assert_eq!(alice.post("/api/v1/users", &carol).await.status, StatusCode::FORBIDDEN);
    assert_eq!(root.post("/api/v1/users", &carol).await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn a_username_is_taken_once() {
    let world = World::new().await;
    let root = world.root().await;
    let carol = json!({"username": "carol", "password": "carol password"});
    assert_eq!(root.post("/api/v1/users", &carol).await.status, StatusCode::CREATED);
    let dup = root.post("/api/v1/users", &carol).await;
    assert_eq!(dup.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(dup.problem().field.as_deref(), Some("username"));
}

#[tokio::test]
async fn only_admins_promote_users_not_even_themselves() {
    let world = World::new().await;
    let (root, alice) = (world.root().await, world.person("alice").await);
    let promote = json!({"admin": true});
    let r = alice.put(&user(alice.id), &promote).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = root.put(&user(alice.id), &promote).await;
    assert!(r.parse::<UserView>().is_admin);
}

#[tokio::test]
async fn users_edit_their_own_profile_only() {
    let world = World::new().await;
    let (alice, bob) = (world.person("alice").await, world.person("bob").await);
    let r = alice.patch(&user(alice.id), json!({"display_name": "Alice A."})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.parse::<UserView>().display_name, "Alice A.");
    let r = alice.patch(&user(bob.id), json!({"display_name": "Bob B."})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
}

#[tokio::test]
async fn only_admins_delete_users() {
    let world = World::new().await;
    let (root, alice, bob) = (world.root().await, world.person("alice").await, world.person("bob").await);
    assert_eq!(alice.delete(&user(bob.id)).await.status, StatusCode::FORBIDDEN);
    let r = root.put(&user(alice.id), json!({"admin": true})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(alice.delete(&user(bob.id)).await.status, StatusCode::NO_CONTENT);
    assert_eq!(root.get(&user(bob.id)).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_last_admin_cannot_be_removed() {
    let world = World::new().await;
    let (root, alice) = (world.root().await, world.person("alice").await);
    // Root cannot demote or disable themself while they are the only admin.
    let r = root.put(&user(root.id), json!({"admin": false})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    root.put(&user(alice.id), json!({"admin": true})).await;
    let r = root.put(&user(root.id), json!({"admin": false})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

// --- bad input -------------------------------------------------------------------------------

#[tokio::test]
async fn an_invalid_username_is_refused_on_its_field() {
    let world = World::new().await;
    let root = world.root().await;
    let bad_name = root.post("/api/v1/users", json!({"username": "Bad Name", "password": "long enough"})).await;
    assert_eq!(bad_name.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad_name.problem().field.as_deref(), Some("username"));
}

#[tokio::test]
async fn broken_json_is_a_bad_request() {
    let world = World::new().await;
    let root = world.root().await;
    let broken = Request::post("/api/v1/teams")
        .header(header::AUTHORIZATION, format!("Bearer {}", root.token))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"name\": "))
        .unwrap();
    let r = send(&world.app, broken).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.json()["message"].is_string());
}

#[tokio::test]
async fn a_body_of_the_wrong_shape_is_unprocessable() {
    let world = World::new().await;
    let root = world.root().await;
    let wrong_shape = root.post("/api/v1/teams", json!({"name": 5})).await;
    assert_eq!(wrong_shape.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", wrong_shape.body);
    let unknown_field = root.post("/api/v1/teams", json!({"name": "t1", "owner": "x"})).await;
    assert_eq!(unknown_field.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_body_that_is_not_json_is_an_unsupported_media_type() {
    let world = World::new().await;
    let root = world.root().await;
    let not_json = Request::post("/api/v1/teams")
        .header(header::AUTHORIZATION, format!("Bearer {}", root.token))
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("name=t1"))
        .unwrap();
    assert_eq!(send(&world.app, not_json).await.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn a_malformed_id_is_a_bad_request_and_an_unknown_one_or_path_not_found() {
    let world = World::new().await;
    let root = world.root().await;
    assert_eq!(root.get("/api/v1/users/abc").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(root.get("/api/v1/users/999999").await.status, StatusCode::NOT_FOUND);
    let unknown = root.get("/api/v1/nothing-here").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.json()["message"].is_string());
}

#[tokio::test]
async fn text_postgresql_cannot_store_is_a_bad_request() {
    let world = World::new().await;
    let root = world.root().await;
    let nul = root.post("/api/v1/teams", json!({"name": "t2", "description": "a\u{0}b"})).await;
    assert_eq!(nul.status, StatusCode::BAD_REQUEST, "{}", nul.body);
}

#[tokio::test]
async fn an_email_belongs_to_one_account_only() {
    let world = World::new().await;
    let root = world.root().await;
    let with_email = |name: &str| json!({"username": name, "password": "long enough", "email": "same@example.com"});
    assert_eq!(root.post("/api/v1/users", with_email("erin")).await.status, StatusCode::CREATED);
    let twin = root.post("/api/v1/users", with_email("frank")).await;
    assert_eq!(twin.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", twin.body);
    assert_eq!(twin.problem().field.as_deref(), Some("email"));
}

#[tokio::test]
async fn an_oversized_body_is_refused() {
    let world = World::new().await;
    let root = world.root().await;
    let huge = json!({"name": "big", "description": "x".repeat(2 * 1024 * 1024)});
    assert_eq!(root.post("/api/v1/teams", huge).await.status, StatusCode::PAYLOAD_TOO_LARGE);
}

// --- credentials and tokens ------------------------------------------------------------------

#[tokio::test]
async fn a_call_without_credentials_is_asked_for_them() {
    let world = World::new().await;
    let root = world.root().await;
    let none = world.anonymous().get("/api/v1/users").await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert!(none.headers.contains_key(header::WWW_AUTHENTICATE));
    assert_eq!(root.get("/api/v1/users").await.status, StatusCode::OK);
}

#[tokio::test]
async fn forged_and_garbage_tokens_are_refused() {
    let world = World::new().await;
    let alice = world.person("alice").await;
    let forged = format!("pcat_{}", "A".repeat(43));
    assert_eq!(world.bearer(&forged).get("/api/v1/teams").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(world.bearer("garbage").get("/api/v1/teams").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(alice.get("/api/v1/teams").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_token_is_a_basic_password_under_its_owners_name_only() {
    let world = World::new().await;
    let alice = world.person("alice").await;
    let teams = |authorization: String| {
        let app = world.app.clone();
        async move {
            let req = Request::get("/api/v1/teams").header(header::AUTHORIZATION, authorization);
            send(&app, req.body(Body::empty()).unwrap()).await.status
        }
    };
    assert_eq!(teams(alice.basic_with(&alice.token)).await, StatusCode::OK);
    // Alice's token under bob's name, or alice's password instead of a token: refused.
    assert_eq!(teams(basic("bob", &alice.token)).await, StatusCode::UNAUTHORIZED);
    assert_eq!(teams(alice.basic()).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_user_lists_her_own_tokens_only_and_never_their_secrets() {
    let world = World::new().await;
    let (alice, bob) = (world.person("alice").await, world.person("bob").await);
    let mine = alice.get(&tokens_of(alice.id)).await;
    assert_eq!(mine.status, StatusCode::OK);
    assert_eq!(mine.parse::<Vec<AccessTokenView>>().len(), 1);
    assert!(!mine.body.contains(&alice.token), "a listing never contains the secret");
    let theirs = alice.get(&tokens_of(bob.id)).await;
    assert_eq!(theirs.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_user_mints_tokens_for_herself_only() {
    let world = World::new().await;
    let (alice, bob) = (world.person("alice").await, world.person("bob").await);
    let mint = alice.post(&tokens_of(bob.id), json!({"name": "x"})).await;
    assert_eq!(mint.status, StatusCode::FORBIDDEN);
    let own = alice.post(&tokens_of(alice.id), json!({"name": "x"})).await;
    assert_eq!(own.status, StatusCode::CREATED, "{}", own.body);
}

#[tokio::test]
async fn a_user_revokes_her_own_tokens_only_and_a_revoked_token_stops_working() {
    let world = World::new().await;
    let (alice, bob) = (world.person("alice").await, world.person("bob").await);
    let bob_token_id = bob.get(&tokens_of(bob.id)).await.parse::<Vec<AccessTokenView>>()[0].id;
    let revoke = format!("/api/v1/users/application_tokens/{bob_token_id}");
    let r = alice.delete(&revoke).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "alice may not revoke bob's token");
    assert_eq!(bob.get("/api/v1/teams").await.status, StatusCode::OK);
    let r = bob.delete(&revoke).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.parse::<AccessTokenView>().revoked_at.is_some());
    assert_eq!(bob.get("/api/v1/teams").await.status, StatusCode::UNAUTHORIZED, "a revoked token stops working");
}

#[tokio::test]
async fn an_expired_token_stops_working() {
    let world = World::new().await;
    let alice = world.person("alice").await;
    let short = alice.using(&alice.mint(json!({"name": "short", "expires_at": "2999-01-01T00:00:00Z"})).await);
    assert_eq!(short.get("/api/v1/teams").await.status, StatusCode::OK);
    common::behind::expire_access_token(&world.db, "short").await;
    assert_eq!(short.get("/api/v1/teams").await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_token_cannot_expire_in_the_past() {
    let world = World::new().await;
    let alice = world.person("alice").await;
    alice.mint(json!({"name": "later", "expires_at": "2999-01-01T00:00:00Z"})).await;
    let past = alice.post(&tokens_of(alice.id), json!({"name": "old", "expires_at": "2001-01-01T00:00:00Z"})).await;
    assert_eq!(past.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_disabled_users_token_stops_working() {
    let world = World::new().await;
    let (root, alice) = (world.root().await, world.person("alice").await);
    assert_eq!(alice.get("/api/v1/teams").await.status, StatusCode::OK);
    let r = root.put(&user(alice.id), json!({"enabled": false})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        alice.get("/api/v1/teams").await.status,
        StatusCode::UNAUTHORIZED,
        "a disabled user's token stops working"
    );
}

// --- teams -----------------------------------------------------------------------------------

#[tokio::test]
async fn a_teams_creator_is_its_owner() {
    let world = World::new().await;
    let alice = world.person("alice").await;
    let r = alice.post("/api/v1/teams", json!({"name": "devs", "description": "Developers"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.parse::<TeamView>().role, Some(TeamRole::Owner));
}

#[tokio::test]
async fn a_team_name_is_taken_once() {
    let world = World::new().await;
    let (alice, bob) = (world.person("alice").await, world.person("bob").await);
    alice.create_team("devs").await;
    let taken = bob.post("/api/v1/teams", json!({"name": "devs"})).await;
    assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn outsiders_neither_see_nor_join_a_team_and_admins_see_every_team() {
    let world = World::new().await;
    let (root, alice, bob) = (world.root().await, world.person("alice").await, world.person("bob").await);
    let devs = alice.create_team("devs").await;
    // Bob may not see alice's team, nor add himself to it.
    assert_eq!(bob.get(&team(devs.id)).await.status, StatusCode::NOT_FOUND);
    let r = bob.post(&members(devs.id), json!({"username": "bob", "role": "owner"})).await;
    assert!(r.status == StatusCode::NOT_FOUND || r.status == StatusCode::FORBIDDEN, "{}", r.status);
    assert_eq!(bob.get("/api/v1/teams").await.parse::<Vec<TeamView>>().len(), 0);
    // An admin sees every team.
    assert_eq!(root.get(&team(devs.id)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_viewer_sees_the_team_but_only_its_owner_manages_it() {
    let world = World::new().await;
    let (alice, bob) = (world.person("alice").await, world.person("bob").await);
    let devs = alice.create_team("devs").await;
    // Alice adds him as a viewer: he sees the team but may not manage it.
    let r = alice.post(&members(devs.id), json!({"username": "bob", "role": "viewer"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(bob.get(&team(devs.id)).await.parse::<TeamView>().role, Some(TeamRole::Viewer));
    let r = bob.put(&member(devs.id, bob.id), json!({"role": "owner"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "a viewer may not promote himself");
    let r = bob.post(&members(devs.id), json!({"username": "root", "role": "viewer"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // The owner changes roles.
    let r = alice.put(&member(devs.id, bob.id), json!({"role": "contributor"})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
}

#[tokio::test]
async fn a_member_is_added_once_by_a_known_name_with_a_known_role() {
    let world = World::new().await;
    let alice = world.person("alice").await;
    world.person("bob").await;
    let devs = alice.create_team("devs").await;
    alice.add_member(devs.id, "bob", TeamRole::Viewer).await;
    let dup = alice.post(&members(devs.id), json!({"username": "bob", "role": "viewer"})).await;
    assert_eq!(dup.status, StatusCode::UNPROCESSABLE_ENTITY);
    let nobody = alice.post(&members(devs.id), json!({"username": "nobody", "role": "viewer"})).await;
    assert_eq!(nobody.status, StatusCode::UNPROCESSABLE_ENTITY);
    let bad_role = alice.post(&members(devs.id), json!({"username": "root", "role": "king"})).await;
    assert_eq!(bad_role.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn the_last_owner_cannot_leave_but_removes_others() {
    let world = World::new().await;
    let (alice, bob) = (world.person("alice").await, world.person("bob").await);
    let devs = alice.create_team("devs").await;
    alice.add_member(devs.id, "bob", TeamRole::Contributor).await;
    let r = alice.delete(&member(devs.id, alice.id)).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let listed = bob.get(&members(devs.id)).await.parse::<Vec<TeamMemberView>>();
    assert_eq!(listed.len(), 2);
    let r = alice.delete(&member(devs.id, bob.id)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(bob.get(&team(devs.id)).await.status, StatusCode::NOT_FOUND);
}

// --- namespaces ------------------------------------------------------------------------------

#[tokio::test]
async fn everyone_has_a_private_personal_namespace_of_their_own() {
    let world = World::new().await;
    let alice = world.person("alice").await;
    world.person("bob").await;
    let list = alice.namespaces().await;
    assert!(list.iter().all(|n| n.namespace.visibility == Visibility::Private && n.namespace.is_personal));
    assert_eq!(names(list), vec!["alice"], "alice sees only her own namespace, not bob's or root's");
}

#[tokio::test]
async fn only_a_teams_owner_creates_its_namespaces_private_by_default() {
    let world = World::new().await;
    let (alice, bob) = (world.person("alice").await, world.person("bob").await);
    let acme = alice.create_team("acme").await;
    let r = bob.post("/api/v1/namespaces", json!({"name": "acme-apps", "team_id": acme.id})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "bob may not create namespaces for alice's team");
    let r = alice.post("/api/v1/namespaces", json!({"name": "acme-apps", "team": "acme"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let ns: NamespaceView = r.parse();
    assert_eq!(ns.namespace.visibility, Visibility::Private);
    assert!(ns.abilities.change_visibility);
}

#[tokio::test]
async fn a_personal_namespaces_name_is_taken() {
    let world = World::new().await;
    let alice = world.person("alice").await;
    world.person("bob").await;
    alice.create_team("acme").await;
    alice.create_namespace("acme-apps", "acme").await;
    let taken = alice.post("/api/v1/namespaces", json!({"name": "bob", "team": "acme"})).await;
    assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY, "bob's personal namespace name is taken");
}

#[tokio::test]
async fn visibility_decides_who_sees_a_namespace() {
    let world = World::new().await;
    let (alice, bob, anonymous) = (world.person("alice").await, world.person("bob").await, world.anonymous());
    alice.create_team("acme").await;
    let path = namespace(alice.create_namespace("acme-apps", "acme").await.namespace.id);
    // Private: bob and anonymous see nothing.
    assert_eq!(bob.get(&path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(anonymous.get(&path).await.status, StatusCode::NOT_FOUND);
    // Protected: bob sees it, anonymous does not.
    let r = alice.put(&path, json!({"visibility": "protected"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let seen = bob.get(&path).await;
    assert_eq!(seen.status, StatusCode::OK);
    assert!(!seen.parse::<NamespaceView>().abilities.push);
    assert_eq!(anonymous.get(&path).await.status, StatusCode::NOT_FOUND);
    // Public: anyone.
    alice.put(&path, json!({"visibility": "public"})).await;
    assert_eq!(anonymous.get(&path).await.status, StatusCode::OK);
    assert_eq!(anonymous.get("/api/v1/namespaces").await.parse::<Vec<NamespaceView>>().len(), 1);
}

#[tokio::test]
async fn a_viewer_may_not_change_a_namespaces_visibility_or_description_and_the_owner_may() {
    let world = World::new().await;
    let (alice, bob) = (world.person("alice").await, world.person("bob").await);
    let acme = alice.create_team("acme").await;
    let path = namespace(alice.create_namespace("acme-apps", "acme").await.namespace.id);
    alice.set_visibility("acme-apps", Visibility::Public).await;
    alice.add_member(acme.id, "bob", TeamRole::Viewer).await;
    let r = bob.put(&path, json!({"visibility": "private"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = bob.put(&path, json!({"description": "mine now"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = alice.put(&path, json!({"description": "Acme's apps"})).await;
    assert_eq!(r.parse::<NamespaceView>().namespace.description, "Acme's apps");
}

#[tokio::test]
async fn a_viewer_may_not_delete_a_namespace_and_the_owner_may() {
    let world = World::new().await;
    let (alice, bob) = (world.person("alice").await, world.person("bob").await);
    let acme = alice.create_team("acme").await;
    let path = namespace(alice.create_namespace("acme-apps", "acme").await.namespace.id);
    alice.add_member(acme.id, "bob", TeamRole::Viewer).await;
    assert_eq!(bob.delete(&path).await.status, StatusCode::FORBIDDEN);
    assert_eq!(alice.delete(&path).await.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_team_is_deleted_only_once_its_namespaces_are_gone() {
    let world = World::new().await;
    let alice = world.person("alice").await;
    let acme = alice.create_team("acme").await;
    let path = namespace(alice.create_namespace("acme-apps", "acme").await.namespace.id);
    // The team owns a namespace: it cannot be deleted until the namespace goes.
    assert_eq!(alice.delete(&team(acme.id)).await.status, StatusCode::CONFLICT);
    assert_eq!(alice.delete(&path).await.status, StatusCode::NO_CONTENT);
    assert_eq!(alice.delete(&team(acme.id)).await.status, StatusCode::NO_CONTENT);
}

// --- site settings ---------------------------------------------------------------------------

#[tokio::test]
async fn when_users_may_not_change_visibility_only_admins_do() {
    let world = World::with(|c| c.users_may_change_visibility = false).await;
    let (root, alice) = (world.root().await, world.person("alice").await);
    alice.create_team("acme").await;
    let ns = alice.create_namespace("acme-apps", "acme").await;
    assert!(!ns.abilities.change_visibility);
    let path = namespace(ns.namespace.id);
    assert_eq!(alice.put(&path, json!({"visibility": "public"})).await.status, StatusCode::FORBIDDEN);
    assert_eq!(root.put(&path, json!({"visibility": "public"})).await.status, StatusCode::OK);
}

#[tokio::test]
async fn when_users_may_not_change_visibility_their_namespaces_start_private() {
    let world = World::with(|c| c.users_may_change_visibility = false).await;
    let alice = world.person("alice").await;
    alice.create_team("acme").await;
    // The page's form, which then does not offer the choice, creates a private one.
    let cookie = alice.session().await;
    let r = call(&world.app, "/api/namespaces/create", &[("team", "acme"), ("name", "acme-form")], Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.parse::<NamespaceView>().namespace.visibility, Visibility::Private);
    // Nor may she create a namespace public from the start; private is fine.
    let public = json!({"name": "acme-open", "team": "acme", "visibility": "public"});
    assert_eq!(alice.post("/api/v1/namespaces", public).await.status, StatusCode::FORBIDDEN);
    let private = json!({"name": "acme-open", "team": "acme", "visibility": "private"});
    assert_eq!(alice.post("/api/v1/namespaces", private).await.status, StatusCode::CREATED);
}

// --- restricted tokens -----------------------------------------------------------------------

#[tokio::test]
async fn an_administrators_namespace_token_carries_no_administrator_powers() {
    let world = World::new().await;
    let (root, alice) = (world.root().await, world.person("alice").await);
    let admin_ci = root.using(&root.mint(json!({"name": "ci", "namespaces": ["root"]})).await);
    assert_eq!(admin_ci.get("/api/v1/users").await.status, StatusCode::FORBIDDEN);
    assert_eq!(root.get("/api/v1/users").await.status, StatusCode::OK);
    assert_ne!(admin_ci.get(&tokens_of(alice.id)).await.status, StatusCode::OK);
    assert_eq!(root.get(&tokens_of(alice.id)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_namespace_token_sees_only_its_namespaces() {
    let world = World::new().await;
    let root = world.root().await;
    world.person("alice").await;
    let admin_ci = root.using(&root.mint(json!({"name": "ci", "namespaces": ["root"]})).await);
    // It sees only that namespace, where the unrestricted one sees them all.
    assert_eq!(names(admin_ci.namespaces().await), ["root"]);
    assert_eq!(names(root.namespaces().await), ["alice", "root"]);
    let other = root.namespace("alice").await.namespace.id;
    assert_eq!(admin_ci.get(&namespace(other)).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn pull_only_and_namespace_tokens_change_nothing() {
    let world = World::new().await;
    let (root, alice) = (world.root().await, world.person("alice").await);
    let pull_only = alice.using(&root.mint_for(alice.id, json!({"name": "ci", "pull_only": true})).await);
    assert_eq!(pull_only.get("/api/v1/namespaces").await.status, StatusCode::OK);
    let r = pull_only.post("/api/v1/teams", json!({"name": "sneaky"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let one_ns = alice.using(&root.mint_for(alice.id, json!({"name": "one", "namespaces": ["alice"]})).await);
    assert_eq!(one_ns.post("/api/v1/teams", json!({"name": "sneaky"})).await.status, StatusCode::FORBIDDEN);
    assert_eq!(alice.post("/api/v1/teams", json!({"name": "sneaky"})).await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn a_token_is_restricted_only_to_namespaces_its_user_may_use() {
    let world = World::new().await;
    let (root, alice) = (world.root().await, world.person("alice").await);
    root.mint_for(alice.id, json!({"name": "one", "namespaces": ["alice"]})).await;
    let bad = root.post(&tokens_of(alice.id), json!({"name": "x", "namespaces": ["root"]})).await;
    assert_eq!(
        bad.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "alice may not restrict a token to a namespace she cannot use"
    );
}

// --- the activity log ------------------------------------------------------------------------

/// Alice's team `acme` and its public namespace `acme-apps`.
async fn acme_with_a_public_namespace(alice: &Person) {
    alice.create_team("acme").await;
    let r =
        alice.post("/api/v1/namespaces", json!({"name": "acme-apps", "team": "acme", "visibility": "public"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

#[tokio::test]
async fn changes_are_in_the_activity_log() {
    let world = World::new().await;
    let alice = world.person("alice").await;
    acme_with_a_public_namespace(&alice).await;
    let actions: Vec<(String, String)> =
        sqlx::query_as("select actor_name, action from audit_event order by audit_event_id")
            .fetch_all(&world.db)
            .await
            .unwrap();
    let has = |actor: &str, action: &str| actions.iter().any(|(a, x)| a == actor && x == action);
    assert!(has("system", "user.create"), "{actions:?}");
    assert!(has("root", "user.create"), "{actions:?}");
    assert!(has("root", "token.create"), "{actions:?}");
    assert!(has("alice", "team.create"), "{actions:?}");
    assert!(has("alice", "namespace.create"), "{actions:?}");
}

#[tokio::test]
async fn only_admins_export_the_activity_log() {
    let world = World::new().await;
    let (root, alice) = (world.root().await, world.person("alice").await);
    acme_with_a_public_namespace(&alice).await;
    let csv = root.get("/admin/activity.csv?action=team").await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/csv"));
    assert!(csv.body.contains("team.create") && !csv.body.contains("namespace.create"), "{}", csv.body);
    assert_eq!(alice.get("/admin/activity.csv").await.status, StatusCode::FORBIDDEN);
    // By date (UTC days, both ends included): today has it, tomorrow and yesterday do not.
    let today = chrono::Utc::now().date_naive();
    let day = |d: chrono::NaiveDate| d.format("%Y-%m-%d").to_string();
    let (yesterday, tomorrow) = (day(today.pred_opt().unwrap()), day(today.succ_opt().unwrap()));
    let on = |from: String, to: String| {
        let root = root.clone();
        async move { root.get(&format!("/admin/activity.csv?action=team&from={from}&to={to}")).await.body }
    };
    assert!(on(day(today), day(today)).await.contains("team.create"));
    assert!(on(yesterday.clone(), String::new()).await.contains("team.create"));
    assert!(!on(tomorrow, String::new()).await.contains("team.create"));
    assert!(!on(String::new(), yesterday).await.contains("team.create"));
    let bad = root.get("/admin/activity.csv?from=7%2F12%2F2026").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert!(bad.body.contains("must be a date like"), "{}", bad.body);
}

/// A log of 12,000 entries is read a stretch at a time (`before=`), and exported whole, each
/// entry once, in the order written, across the export's chunks of 5,000.
#[tokio::test]
async fn a_long_activity_log_is_read_in_stretches_and_exported_whole() {
    let world = World::new().await;
    let root = world.root().await;
    sqlx::query(
        "insert into audit_event (actor_name, action, target_kind, target_name)
         select case when g % 2 = 0 then 'carol' else 'dave' end, 'team.create', 'team', 'team-' || g
         from generate_series(1, 12000) g",
    )
    .execute(&world.db)
    .await
    .unwrap();
    let ids: Vec<i64> = sqlx::query_scalar("select audit_event_id from audit_event order by audit_event_id desc")
        .fetch_all(&world.db)
        .await
        .unwrap();

    let cookie = root.session().await;
    let stretch = |pairs: Vec<(&'static str, String)>| {
        let (app, cookie) = (world.app.clone(), cookie.clone());
        async move {
            let mut all = vec![("actor", String::new()), ("action", String::new()), ("target", String::new())];
            all.retain(|(k, _)| !pairs.iter().any(|(p, _)| p == k));
            all.extend(pairs);
            let pairs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let r = call(&app, "/api/admin/activity", &pairs, Some(&cookie)).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            r.parse::<app::model::Feed<app::model::AuditEventView>>()
        }
    };
    let first = stretch(vec![]).await;
    let got: Vec<i64> = first.items.iter().map(|e| e.id).collect();
    assert_eq!(got, ids[..50], "the newest 50 first");
    assert_eq!(first.next_before, Some(ids[49]));
    let second = stretch(vec![("before", ids[49].to_string())]).await;
    let got: Vec<i64> = second.items.iter().map(|e| e.id).collect();
    assert_eq!(got, ids[50..100], "the next 50, none twice");
    let last = stretch(vec![("before", ids[ids.len() - 10].to_string())]).await;
    assert_eq!(last.items.len(), 9);
    assert_eq!(last.next_before, None, "the oldest stretch says so");
    let carol = stretch(vec![("actor", "carol".into()), ("before", ids[10].to_string())]).await;
    assert_eq!(carol.items.len(), 50);
    assert!(carol.items.iter().all(|e| e.actor == "carol" && e.id < ids[10]));

    let csv = root.get("/admin/activity.csv").await;
    assert_eq!(csv.status, StatusCode::OK);
    let rows: Vec<&str> = csv.body.lines().skip(1).collect();
    assert_eq!(rows.len(), ids.len(), "every entry once");
    assert!(csv.body.starts_with("time,actor,action"));
    assert_eq!(csv.body.matches("time,actor,action").count(), 1, "one header");
    let seeded: std::collections::HashSet<&str> =
        rows.iter().filter_map(|r| r.split(',').nth(4)).filter(|t| t.starts_with("\"team-")).collect();
    assert_eq!(seeded.len(), 12000, "none twice, none skipped");
    assert!(rows[0].contains("team-12000") && rows[11999].contains("team-1\""), "newest first");
}

// --- the OpenAPI document --------------------------------------------------------------------

/// The OpenAPI document (JSON with no type of its own in the model).
async fn openapi(world: &World) -> serde_json::Value {
    get(&world.app, "/api/openapi.json", None).await.json()
}

/// Every route the API router registers, read from its source so that none is forgotten.
fn routes() -> Vec<&'static str> {
    let source = include_str!("../../src/rest/mod.rs");
    let router = &source[source.find("pub fn router").unwrap()..];
    let router = &router[..router.find("\n}\n").unwrap()];
    router.split('"').skip(1).step_by(2).filter(|p| p.starts_with("/api/v1/") && !p.contains('*')).collect()
}

#[tokio::test]
async fn openapi_documents_every_route_and_nothing_that_is_not_routed() {
    let world = World::new().await;
    let doc = openapi(&world).await;
    assert_eq!(doc["openapi"], "3.0.3");
    let paths = doc["paths"].as_object().unwrap();
    let routes = routes();
    assert!(routes.len() >= 18, "{routes:?}");
    for r in &routes {
        assert!(paths.contains_key(*r), "{r} is routed but not in the OpenAPI document");
    }
    for p in paths.keys() {
        assert!(routes.contains(&p.as_str()), "{p} is documented but not routed");
    }
}

#[tokio::test]
async fn every_path_answers_the_documented_methods_with_documented_answers() {
    let world = World::new().await;
    let doc = openapi(&world).await;
    let paths = doc["paths"].as_object().unwrap();
    // Each path answers exactly the documented methods (405 for the others), and what it
    // answers an anonymous caller (and an administrator) is among the documented answers.
    let callers = [world.anonymous(), world.root().await.client()];
    for (path, ops) in paths {
        let concrete = path.replace("{id}", "1").replace("{user_id}", "1");
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            let documented = ops.get(method.to_lowercase());
            for caller in &callers {
                let r = caller.request(method, &concrete, None).await;
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
}

#[tokio::test]
async fn every_schema_the_document_refers_to_is_defined() {
    let world = World::new().await;
    let doc = openapi(&world).await;
    let text = doc.to_string();
    for r in text.split("#/components/schemas/").skip(1) {
        let name: String = r.chars().take_while(|c| c.is_alphanumeric()).collect();
        assert!(doc["components"]["schemas"].get(&name).is_some(), "schema {name} is not defined");
    }
}

#[tokio::test]
async fn the_api_answers_its_health() {
    let world = World::new().await;
    assert_eq!(get(&world.app, "/api/v1/health", None).await.json()["status"], "ok");
}

// --- paged lists -----------------------------------------------------------------------------

/// A world of root and seven users, `user0` to `user6`; returns root.
async fn seven_users(world: &World) -> Person {
    for i in 0..7 {
        world.person(&format!("user{i}")).await;
    }
    world.root().await
}

#[tokio::test]
async fn lists_are_paged_with_a_total_and_links() {
    let world = World::new().await;
    let root = seven_users(&world).await;
    let r = root.get("/api/v1/users?per_page=3&page=2").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.headers["x-total-count"], "8");
    let names: Vec<String> = r.parse::<Vec<UserView>>().into_iter().map(|u| u.username).collect();
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
}

#[tokio::test]
async fn a_page_size_is_capped() {
    let world = World::new().await;
    let root = seven_users(&world).await;
    let r = root.get("/api/v1/users?per_page=100000").await;
    assert_eq!(r.parse::<Vec<UserView>>().len(), 8);
    assert!(r.headers[header::LINK].to_str().unwrap().contains("per_page=100>"));
}

#[tokio::test]
async fn a_filter_narrows_a_list_and_its_links_keep_it() {
    let world = World::new().await;
    let root = seven_users(&world).await;
    let r = root.get("/api/v1/users?q=user4").await;
    assert_eq!(r.headers["x-total-count"], "1");
    assert!(r.headers[header::LINK].to_str().unwrap().contains("q=user4&page=1"));
}

#[tokio::test]
async fn bad_page_numbers_and_overlong_filters_are_refused() {
    let world = World::new().await;
    let root = world.root().await;
    // Bad numbers and over-long texts are a clear 400 and 422.
    let r = root.get("/api/v1/users?page=minus").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.problem().message.contains("page"));
    let long = "x".repeat(101);
    let r = root.get(&format!("/api/v1/namespaces?q={long}")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
}

#[tokio::test]
async fn the_users_page_filters_too() {
    let world = World::new().await;
    let root = seven_users(&world).await;
    let html = get(&world.app, "/admin/users?q=user4", Some(&root.session().await)).await;
    assert_eq!(html.status, StatusCode::OK);
    assert!(html.body.contains("user4") && !html.body.contains("user5"), "the users page filters");
}

// --- the command line ------------------------------------------------------------------------

/// Runs `portcullis` with `args` and `stdin` on the test's database.
fn cli(db: &sqlx::PgPool, args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write as _;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(args)
        .env("PORTCULLIS_DATABASE_URL", database_url(db))
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

// The command line runs on a database nothing has migrated yet: no World before it.

#[tokio::test]
async fn the_cli_creates_an_administrator() {
    let db = fresh_db().await;
    let out = cli(&db, &["admin", "create-user", "carol", "--admin", "--password-stdin"], "carol password 1\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let user: UserView = serde_json::from_slice(&out.stdout).unwrap();
    assert!(user.is_admin);
}

#[tokio::test]
async fn the_cli_creates_a_person_only_with_a_password() {
    let db = fresh_db().await;
    let out = cli(&db, &["admin", "create-user", "dave"], "");
    assert!(!out.status.success(), "a person needs a password");
    let out = cli(&db, &["admin", "create-user", "dave", "--password-stdin"], "dave password 1\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test]
async fn the_cli_creates_bots_and_their_pull_only_tokens() {
    let db = fresh_db().await;
    let out = cli(&db, &["admin", "create-user", "robot", "--bot"], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = cli(&db, &["admin", "create-token", "robot", "--name", "ci", "--pull-only"], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let secret = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(secret.starts_with("pcat_"));

    let world = World::on(db.clone(), app(&db).await);
    let robot = world.bearer(&secret);
    assert_eq!(robot.get("/api/v1/namespaces").await.status, StatusCode::OK);
    assert_eq!(robot.post("/api/v1/teams", json!({"name": "x1"})).await.status, StatusCode::FORBIDDEN);
}

// --- sign-up ---------------------------------------------------------------------------------

#[tokio::test]
async fn signing_up_with_a_namespace_name_is_refused() {
    let world = World::new().await;
    let root = world.root().await;
    root.create_team("acme").await;
    root.create_namespace("shared", "acme").await;
    let r = call(
        &world.app,
        "/api/signup",
        &[("username", "shared"), ("password", "a fine password"), ("password_confirm", "a fine password")],
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let users: i64 = sqlx::query_scalar(r#"select count(*) from "user" where username = 'shared'"#)
        .fetch_one(&world.db)
        .await
        .unwrap();
    assert_eq!(users, 0, "nothing half-created");
}

// --- every change: refused to outsiders, logged when allowed --------------------------------

/// Alice, bob and alice's team `acme`.
async fn alice_bob_and_acme(world: &World) -> (Person, Person, TeamView) {
    let (alice, bob) = (world.person("alice").await, world.person("bob").await);
    let acme = alice.create_team("acme").await;
    (alice, bob, acme)
}

#[tokio::test]
async fn outsiders_may_not_read_change_or_delete_a_team() {
    let world = World::new().await;
    let (alice, bob, acme) = alice_bob_and_acme(&world).await;
    // Outsiders may not read the team's members or namespaces, rename or delete it.
    for path in [members(acme.id), format!("{}/namespaces", team(acme.id))] {
        assert_eq!(bob.get(&path).await.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(alice.get(&path).await.status, StatusCode::OK, "{path}");
    }
    let rename = json!({"description": "Acme's images"});
    assert_eq!(bob.put(&team(acme.id), &rename).await.status, StatusCode::NOT_FOUND);
    assert_eq!(bob.delete(&team(acme.id)).await.status, StatusCode::NOT_FOUND);
    assert_eq!(alice.put(&team(acme.id), &rename).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_viewer_may_not_change_a_team_and_its_owner_may_with_a_trace() {
    let world = World::new().await;
    let (alice, bob, acme) = alice_bob_and_acme(&world).await;
    // A viewer sees them but may not rename the team, delete it or create its namespaces.
    alice.add_member(acme.id, "bob", TeamRole::Viewer).await;
    assert_eq!(bob.get(&members(acme.id)).await.status, StatusCode::OK);
    let rename = json!({"description": "Acme's images"});
    assert_eq!(bob.put(&team(acme.id), &rename).await.status, StatusCode::FORBIDDEN);
    assert_eq!(bob.delete(&team(acme.id)).await.status, StatusCode::FORBIDDEN);
    let ns = json!({"name": "acme-apps", "team": "acme"});
    assert_eq!(bob.post("/api/v1/namespaces", &ns).await.status, StatusCode::FORBIDDEN);

    // The owner may do all of it.
    assert_eq!(alice.put(&team(acme.id), &rename).await.status, StatusCode::OK);
    let created = alice.post("/api/v1/namespaces", &ns).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let listed = bob.get(&format!("{}/namespaces", team(acme.id))).await.parse::<Vec<NamespaceView>>();
    assert_eq!(listed[0].namespace.name, "acme-apps");
    assert_logged(&world, &["team.update", "team.member.add"]).await;
}

#[tokio::test]
async fn a_viewer_may_not_make_a_namespace_public_and_its_owner_may_with_a_trace() {
    let world = World::new().await;
    let (alice, bob, acme) = alice_bob_and_acme(&world).await;
    alice.add_member(acme.id, "bob", TeamRole::Viewer).await;
    let ns_path = namespace(alice.create_namespace("acme-apps", "acme").await.namespace.id);
    let public = json!({"visibility": "public"});
    assert_eq!(bob.put(&ns_path, &public).await.status, StatusCode::FORBIDDEN);
    assert_eq!(alice.put(&ns_path, &public).await.status, StatusCode::OK);
    assert_logged(&world, &["namespace.visibility"]).await;
}

#[tokio::test]
async fn a_change_is_applied_whole_or_not_at_all() {
    let world = World::new().await;
    let (alice, _, _) = alice_bob_and_acme(&world).await;
    let ns_path = namespace(alice.create_namespace("acme-apps", "acme").await.namespace.id);
    // A bad description leaves visibility alone.
    let half = json!({"visibility": "public", "description": "x".repeat(3000)});
    assert_eq!(alice.put(&ns_path, half).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(alice.get(&ns_path).await.parse::<NamespaceView>().namespace.visibility, Visibility::Private);
    assert_eq!(alice.put(&ns_path, json!({"visibility": "public"})).await.status, StatusCode::OK);
    let actions = world.actions().await;
    assert!(!actions.iter().any(|a| a == "namespace.update"), "the refused half-change left no trace");
}

#[tokio::test]
async fn an_owner_changes_roles_removes_members_and_deletes_with_a_trace_where_a_viewer_may_not() {
    let world = World::new().await;
    let (alice, bob, acme) = alice_bob_and_acme(&world).await;
    alice.add_member(acme.id, "bob", TeamRole::Viewer).await;
    let ns_path = namespace(alice.create_namespace("acme-apps", "acme").await.namespace.id);
    assert_eq!(bob.delete(&ns_path).await.status, StatusCode::FORBIDDEN);
    assert_eq!(bob.delete(&team(acme.id)).await.status, StatusCode::FORBIDDEN);
    let r = alice.put(&member(acme.id, bob.id), json!({"role": "contributor"})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(alice.delete(&member(acme.id, bob.id)).await.status, StatusCode::NO_CONTENT);
    assert_eq!(alice.delete(&ns_path).await.status, StatusCode::NO_CONTENT);
    assert_eq!(alice.delete(&team(acme.id)).await.status, StatusCode::NO_CONTENT);
    assert_logged(&world, &["team.member.role", "team.member.remove", "namespace.delete", "team.delete"]).await;
}

#[tokio::test]
async fn only_administrators_change_the_site_settings_with_a_trace() {
    let world = World::new().await;
    let (root, bob) = (world.root().await, world.person("bob").await);
    // Settings: an administrator's change is logged; anyone else is refused.
    let settings = [("push_policy", "admin-only"), ("delete_enabled", "on")];
    let r = call(&world.app, "/api/admin/settings/update", &settings, Some(&bob.session().await)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = call(&world.app, "/api/admin/settings/update", &settings, Some(&root.session().await)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_logged(&world, &["settings.update"]).await;
}

#[tokio::test]
async fn only_administrators_disable_promote_or_delete_users_with_a_trace() {
    let world = World::new().await;
    let (root, alice, bob) = (world.root().await, world.person("alice").await, world.person("bob").await);
    // Only administrators disable, promote or delete users (to others, another user is not
    // even there).
    for change in [json!({"enabled": false}), json!({"admin": true})] {
        assert_eq!(bob.put(&user(alice.id), &change).await.status, StatusCode::NOT_FOUND);
        assert_eq!(root.put(&user(alice.id), &change).await.status, StatusCode::OK);
    }
    assert_eq!(bob.delete(&user(alice.id)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(root.delete(&user(bob.id)).await.status, StatusCode::NO_CONTENT);
    assert_logged(&world, &["user.disable", "user.promote", "user.delete"]).await;
}

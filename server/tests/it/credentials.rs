//! Credentials under attack: throttles that count every concurrent guess and cannot be turned
//! against an account's owner, client addresses behind proxies, reserved names, refresh tokens
//! that age out, remembered passwords that a disable ends at once, last administrators and
//! owners that two simultaneous requests cannot both remove, and the scope cap.

use crate::common;

use std::net::SocketAddr;

use app::model::{TeamRole, UserView};
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Request, StatusCode};
use common::*;
use serde_json::json;

const PW: &str = "alice password 1";

/// A token request as it arrives from `peer`, with an optional `X-Forwarded-For`.
async fn token_from(app: &axum::Router, peer: &str, forwarded: Option<&str>, user: &str, password: &str) -> Reply {
    let mut req =
        Request::get("/v2/token?service=portcullis-registry").header(header::AUTHORIZATION, basic(user, password));
    if let Some(f) = forwarded {
        req = req.header("x-forwarded-for", f);
    }
    let mut req = req.body(Body::empty()).unwrap();
    let addr: SocketAddr = format!("{peer}:40000").parse().unwrap();
    req.extensions_mut().insert(ConnectInfo(addr));
    send(app, req).await
}

#[tokio::test]
async fn three_hundred_simultaneous_guesses_get_five_checks() {
    let world = World::new().await;
    world.person("alice").await;
    let guesses = (0..300).map(|i| {
        let app = world.app.clone();
        async move { token_from(&app, "203.0.113.7", None, "alice", &format!("guess {i}")).await.status }
    });
    let answers = futures_util::future::join_all(guesses).await;
    let checked = answers.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    let throttled = answers.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!((checked, throttled), (5, 295), "{answers:?}");
}

#[tokio::test]
async fn a_throttled_address_locks_no_one_out_elsewhere() {
    let world = World::new().await;
    world.person("alice").await;
    let app = &world.app;
    // 100 wrong guesses at alice from one address.
    for i in 0..100 {
        let r = token_from(app, "198.51.100.1", None, "alice", &format!("wrong {i}")).await;
        assert!(matches!(r.status, StatusCode::UNAUTHORIZED | StatusCode::TOO_MANY_REQUESTS), "{}", r.body);
    }
    // That address may not go on with alice...
    assert_eq!(token_from(app, "198.51.100.1", None, "alice", PW).await.status, StatusCode::TOO_MANY_REQUESTS);
    // ...but alice elsewhere, and everyone else there, sign in as usual.
    assert_eq!(token_from(app, "198.51.100.2", None, "alice", PW).await.status, StatusCode::OK);
    assert_eq!(token_from(app, "198.51.100.1", None, "root", "root password 1").await.status, StatusCode::OK);
}

#[tokio::test]
async fn guesses_from_many_addresses_slow_an_account_down_instead_of_locking_it() {
    let world = World::new().await;
    world.person("alice").await;
    let app = &world.app;
    // Past 20 failures, one attempt a second (then two, four...), the owner's included.
    for addr in ["198.51.100.1", "198.51.100.3", "198.51.100.4", "198.51.100.5"] {
        for i in 0..5 {
            assert_eq!(token_from(app, addr, None, "alice", &format!("x{i}")).await.status, StatusCode::UNAUTHORIZED);
        }
    }
    let r = token_from(app, "198.51.100.9", None, "alice", PW).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert!(r.body.contains("second"), "{}", r.body);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(token_from(app, "198.51.100.9", None, "alice", PW).await.status, StatusCode::OK);
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_address() {
    let world = World::with(|c| c.trusted_proxies = "127.0.0.1".parse().unwrap()).await;
    world.person("alice").await;
    let app = &world.app;
    for i in 0..5 {
        token_from(app, "127.0.0.1", Some("198.51.100.1"), "alice", &format!("wrong {i}")).await;
    }
    let r = token_from(app, "127.0.0.1", Some("198.51.100.1"), "alice", PW).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "the guesser's own address is throttled");
    assert_eq!(token_from(app, "127.0.0.1", Some("198.51.100.2"), "alice", PW).await.status, StatusCode::OK);
}

#[tokio::test]
async fn anyone_elses_x_forwarded_for_is_ignored() {
    let world = World::with(|c| c.trusted_proxies = "127.0.0.1".parse().unwrap()).await;
    world.person("alice").await;
    let app = &world.app;
    // It would let a guesser pick a new address for every guess.
    for i in 0..5 {
        token_from(app, "203.0.113.5", Some(&format!("10.0.0.{i}")), "alice", &format!("wrong {i}")).await;
    }
    let r = token_from(app, "203.0.113.5", Some("10.0.0.99"), "alice", PW).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
}

/// Signs up from `peer` through the server function, as a hydrated page does.
async fn sign_up_from(app: &axum::Router, peer: &str, username: &str) -> StatusCode {
    let body = form(&[("username", username), ("password", PW), ("password_confirm", PW)]);
    let mut req = Request::post("/api/signup")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .body(Body::from(body))
        .unwrap();
    req.extensions_mut().insert(ConnectInfo::<SocketAddr>(format!("{peer}:40000").parse().unwrap()));
    send(app, req).await.status
}

#[tokio::test]
async fn sign_ups_are_throttled_per_address() {
    let world = World::new().await;
    let app = &world.app;
    for i in 0..10 {
        assert_eq!(sign_up_from(app, "198.51.100.1", &format!("user{i}")).await, StatusCode::OK, "sign-up {i}");
    }
    assert_eq!(sign_up_from(app, "198.51.100.1", "user10").await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(sign_up_from(app, "198.51.100.2", "user10").await, StatusCode::OK, "another address");
}

#[tokio::test]
async fn reserved_names_are_refused_at_sign_up() {
    let world = World::new().await;
    for name in ["portcullis", "system", "anonymous"] {
        assert_eq!(sign_up_from(&world.app, "198.51.100.3", name).await, StatusCode::UNPROCESSABLE_ENTITY, "{name}");
    }
    assert_eq!(sign_up_from(&world.app, "198.51.100.3", "ordinary").await, StatusCode::OK);
}

#[tokio::test]
async fn a_disable_ends_a_remembered_password_at_once() {
    let world = World::new().await;
    world.person("alice").await;
    let get = || token_from(&world.app, "198.51.100.1", None, "alice", PW);
    assert_eq!(get().await.status, StatusCode::OK, "checked, then remembered");
    assert_eq!(get().await.status, StatusCode::OK, "from memory");
    // Disabled behind this replica's back (its change notification lost): the next request
    // sees the new auth epoch.
    common::behind::disable(&world.db, "alice").await;
    assert_eq!(get().await.status, StatusCode::UNAUTHORIZED);
}

/// Remembered passwords of a crowd are rechecked together (`token_service::recheck`), and each
/// request still gets its own answer: bob's disable ends bob's, in the same read as alice's.
#[tokio::test]
async fn a_crowd_of_remembered_passwords_each_get_their_own_answer() {
    let world = World::new().await;
    world.person("alice").await;
    world.person("bob").await;
    let get = |user: &'static str| {
        let app = world.app.clone();
        async move { token_from(&app, "198.51.100.1", None, user, &format!("{user} password 1")).await.status }
    };
    assert_eq!((get("alice").await, get("bob").await), (StatusCode::OK, StatusCode::OK), "checked, then remembered");
    common::behind::disable(&world.db, "bob").await;
    let crowd = (0..40).map(|i| get(if i % 2 == 0 { "alice" } else { "bob" }));
    let answers = futures_util::future::join_all(crowd).await;
    for (i, status) in answers.iter().enumerate() {
        // bob's refusals are 401, then 429 once they count as guesses from that address.
        let refused = matches!(*status, StatusCode::UNAUTHORIZED | StatusCode::TOO_MANY_REQUESTS);
        assert!(if i % 2 == 0 { *status == StatusCode::OK } else { refused }, "request {i}: {answers:?}");
    }
}

/// A change ends only the remembered credentials it touched: a CI client's token outlives
/// the rest of the site's activity, and not a change to its own user. (The token is revoked
/// behind the replica's back, so a request answers from memory until memory is told.)
#[tokio::test]
async fn a_change_ends_only_the_remembered_credentials_it_touched() {
    let world = World::new().await;
    let root = world.root().await;
    // Names no other test uses: the caches' record of changes is the process's.
    let ci = world.person("cache-ci").await;
    let other = world.person("cache-other").await;
    let get = || token_from(&world.app, "198.51.100.7", None, "cache-ci", &ci.token);
    assert_eq!(get().await.status, StatusCode::OK, "checked, then remembered");
    common::behind::revoke_tokens_of(&world.db, ci.id).await;
    assert_eq!(get().await.status, StatusCode::OK, "from memory: nobody was told");

    // The rest of the site's activity: another user, a team, another namespace, a reset link.
    let r = root.patch(&format!("/api/v1/users/{}", other.id), json!({"display_name": "Other"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(root.post("/api/v1/teams", json!({"name": "cache-team"})).await.status, StatusCode::CREATED);
    other.set_visibility("cache-other", app::model::Visibility::Public).await;
    assert_eq!(get().await.status, StatusCode::OK, "none of that touched this token's user");

    // A change to its own user ends it at once.
    let r = root.patch(&format!("/api/v1/users/{}", ci.id), json!({"display_name": "CI"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(get().await.status, StatusCode::UNAUTHORIZED, "looked up again, and revoked");
}

/// A refresh token for alice, as `docker login` gets one.
async fn docker_login(world: &World, alice: &Person) -> String {
    let req = Request::get("/v2/token?service=portcullis-registry&offline_token=true&client_id=docker")
        .header(header::AUTHORIZATION, alice.basic())
        .body(Body::empty())
        .unwrap();
    let r = send(&world.app, req).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json()["refresh_token"].as_str().unwrap().to_string()
}

/// What a refresh with `token` answers.
async fn refresh(world: &World, token: &str) -> StatusCode {
    let req = Request::post("/v2/token")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("service", "portcullis-registry"),
            ("scope", "repository:alice/x:pull"),
        ])))
        .unwrap();
    send(&world.app, req).await.status
}

#[tokio::test]
async fn a_client_keeps_its_newest_five_refresh_tokens() {
    let world = World::new().await;
    let alice = world.person("alice").await;
    let mut tokens = Vec::new();
    for _ in 0..12 {
        tokens.push(docker_login(&world, &alice).await);
    }
    let rows: i64 = sqlx::query_scalar("select count(*) from refresh_token").fetch_one(&world.db).await.unwrap();
    assert_eq!(rows, 5, "one client keeps its newest five");
    assert_eq!(refresh(&world, &tokens[0]).await, StatusCode::UNAUTHORIZED, "an old one ended");
    assert_eq!(refresh(&world, &tokens[11]).await, StatusCode::OK);
}

#[tokio::test]
async fn refresh_tokens_too_old_or_unused_too_long_end_and_are_deleted() {
    let world = World::new().await;
    let alice = world.person("alice").await;
    let (kept, old, idle) =
        (docker_login(&world, &alice).await, docker_login(&world, &alice).await, docker_login(&world, &alice).await);
    // Too old, or unused too long: refused, then deleted by the housekeeping.
    common::behind::age_refresh_token(&world.db, &old, 91, None).await;
    common::behind::age_refresh_token(&world.db, &idle, 60, Some(31)).await;
    assert_eq!(refresh(&world, &old).await, StatusCode::UNAUTHORIZED);
    assert_eq!(refresh(&world, &idle).await, StatusCode::UNAUTHORIZED);
    assert_eq!(refresh(&world, &kept).await, StatusCode::OK);
    let state = server::state(world.db.clone(), &server::Config::defaults()).await.unwrap();
    let report = app::backend::maintenance::run(&state).await.unwrap();
    assert_eq!(report.refresh_tokens, 2, "{report:?}");
}

#[tokio::test]
async fn two_simultaneous_demotions_leave_an_administrator() {
    let world = World::new().await;
    let (root, other) = (world.root().await, world.person("other").await);
    let (other_path, root_path) = (format!("/api/v1/users/{}", other.id), format!("/api/v1/users/{}", root.id));
    for round in 0..10 {
        let r = root.put(&other_path, json!({"admin": true})).await;
        assert_eq!(r.status, StatusCode::OK, "round {round}: {}", r.body);
        let (a, b) = tokio::join!(
            root.put(&other_path, json!({"admin": false})),
            other.put(&root_path, json!({"admin": false}))
        );
        let admins: i64 = sqlx::query_scalar(r#"select count(*) from "user" where is_admin and is_enabled"#)
            .fetch_one(&world.db)
            .await
            .unwrap();
        assert_eq!(admins, 1, "round {round}: {} {} / {} {}", a.status, a.body, b.status, b.body);
        let ok = [a.status, b.status].iter().filter(|s| **s == StatusCode::OK).count();
        assert_eq!(ok, 1, "round {round}: {} {} / {} {}", a.status, a.body, b.status, b.body);
        if b.status == StatusCode::OK {
            // root was demoted by other: other makes root an administrator again.
            let r = other.put(&root_path, json!({"admin": true})).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            assert!(r.parse::<UserView>().is_admin);
        }
    }
}

#[tokio::test]
async fn two_simultaneous_removals_leave_a_team_owner() {
    let world = World::new().await;
    // A team with two owners, each removing the other at the same moment.
    let (alice, bob) = (world.person("alice").await, world.person("bob").await);
    for round in 0..10 {
        let team = alice.create_team(&format!("duo{round}")).await.id;
        alice.add_member(team, "bob", TeamRole::Owner).await;
        let (bob_path, alice_path) =
            (format!("/api/v1/teams/{team}/members/{}", bob.id), format!("/api/v1/teams/{team}/members/{}", alice.id));
        let (a, b) = tokio::join!(alice.delete(&bob_path), bob.delete(&alice_path));
        let owners: i64 = sqlx::query_scalar("select count(*) from team_member where team_id = $1 and role = 'owner'")
            .bind(team)
            .fetch_one(&world.db)
            .await
            .unwrap();
        assert_eq!(owners, 1, "round {round}: {} {} / {} {}", a.status, a.body, b.status, b.body);
    }
}

#[tokio::test]
async fn a_token_request_names_at_most_64_scopes() {
    let world = World::new().await;
    let alice = world.person("alice").await;
    let query = |n: usize| (0..n).map(|i| format!("scope=repository:alice/r{i}:pull")).collect::<Vec<_>>().join("&");
    let ask = |n: usize| {
        let app = world.app.clone();
        let (q, auth) = (query(n), alice.basic());
        async move {
            let req = Request::get(format!("/v2/token?service=portcullis-registry&{q}"))
                .header(header::AUTHORIZATION, auth)
                .body(Body::empty())
                .unwrap();
            send(&app, req).await
        }
    };
    let ok = ask(64).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let refused = ask(65).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body.contains("at most 64 scopes"), "{}", refused.body);
}

/// A `docker login` is revoked by its owner (or an administrator); anyone else is told there is
/// no such login, and it keeps working.
#[tokio::test]
async fn only_its_owner_or_an_administrator_revokes_a_docker_login() {
    let world = World::new().await;
    let (alice, bob, root) = (world.person("alice").await, world.person("bob").await, world.root().await);
    let (first, second) = (docker_login(&world, &alice).await, docker_login(&world, &alice).await);
    let ids: Vec<i64> = sqlx::query_scalar("select refresh_token_id from refresh_token order by refresh_token_id")
        .fetch_all(&world.db)
        .await
        .unwrap();
    let revoke = |who: &Person, id: i64| {
        let (app, id) = (world.app.clone(), id.to_string());
        let who = who.clone();
        async move { call(&app, "/api/tokens/refresh/revoke", &[("id", &id)], Some(&who.session().await)).await }
    };
    let r = revoke(&bob, ids[0]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "bob may not revoke alice's login: {}", r.body);
    assert_eq!(refresh(&world, &first).await, StatusCode::OK, "and it still works");
    let r = revoke(&alice, ids[0]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(refresh(&world, &first).await, StatusCode::UNAUTHORIZED, "revoked by its owner");
    let r = revoke(&root, ids[1]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(refresh(&world, &second).await, StatusCode::UNAUTHORIZED, "revoked by an administrator");
    let r = revoke(&alice, 999_999).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
}

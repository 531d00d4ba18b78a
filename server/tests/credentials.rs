//! Credentials under attack: throttles that count every concurrent guess and cannot be turned
//! against an account's owner, client addresses behind proxies, reserved names, refresh tokens
//! that age out, remembered passwords that a disable ends at once, last administrators and
//! owners that two simultaneous requests cannot both remove, and the scope cap.

mod common;

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Request, StatusCode};
use base64::Engine as _;
use common::*;
use serde_json::json;

const PW: &str = "alice password 1";

fn basic(user: &str, secret: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}")))
}

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
    let db = fresh_db().await;
    let app = app(&db).await;
    let (_, admin) = bootstrap(&app).await;
    user_with_token(&app, &admin, "alice").await;
    let guesses = (0..300).map(|i| {
        let app = app.clone();
        async move { token_from(&app, "203.0.113.7", None, "alice", &format!("guess {i}")).await.status }
    });
    let answers = futures_util::future::join_all(guesses).await;
    let checked = answers.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    let throttled = answers.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!((checked, throttled), (5, 295), "{answers:?}");
}

#[tokio::test]
async fn a_throttle_is_not_a_lockout_tool() {
    let db = fresh_db().await;
    let app = app(&db).await;
    let (_, admin) = bootstrap(&app).await;
    user_with_token(&app, &admin, "alice").await;
    // 100 wrong guesses at alice from one address.
    for i in 0..100 {
        let r = token_from(&app, "198.51.100.1", None, "alice", &format!("wrong {i}")).await;
        assert!(matches!(r.status, StatusCode::UNAUTHORIZED | StatusCode::TOO_MANY_REQUESTS), "{}", r.body);
    }
    // That address may not go on with alice...
    assert_eq!(token_from(&app, "198.51.100.1", None, "alice", PW).await.status, StatusCode::TOO_MANY_REQUESTS);
    // ...but alice elsewhere, and everyone else there, sign in as usual.
    assert_eq!(token_from(&app, "198.51.100.2", None, "alice", PW).await.status, StatusCode::OK);
    assert_eq!(token_from(&app, "198.51.100.1", None, "root", "root password 1").await.status, StatusCode::OK);

    // Guesses from many addresses slow the account down instead of locking it: past 20
    // failures, one attempt a second (then two, four...), the owner's included.
    for addr in ["198.51.100.3", "198.51.100.4", "198.51.100.5"] {
        for i in 0..5 {
            assert_eq!(token_from(&app, addr, None, "alice", &format!("x{i}")).await.status, StatusCode::UNAUTHORIZED);
        }
    }
    let r = token_from(&app, "198.51.100.9", None, "alice", PW).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert!(r.body.contains("second"), "{}", r.body);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(token_from(&app, "198.51.100.9", None, "alice", PW).await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_client_address_comes_from_trusted_proxies_only() {
    let db = fresh_db().await;
    // Behind a trusted proxy, each client has its own address...
    let app = app_with(&db, |c| c.trusted_proxies = "127.0.0.1".parse().unwrap()).await;
    let (_, admin) = bootstrap(&app).await;
    user_with_token(&app, &admin, "alice").await;
    for i in 0..5 {
        token_from(&app, "127.0.0.1", Some("198.51.100.1"), "alice", &format!("wrong {i}")).await;
    }
    let r = token_from(&app, "127.0.0.1", Some("198.51.100.1"), "alice", PW).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "the guesser's own address is throttled");
    assert_eq!(token_from(&app, "127.0.0.1", Some("198.51.100.2"), "alice", PW).await.status, StatusCode::OK);
    // ...while anyone else's X-Forwarded-For is ignored: it would let a guesser pick a new
    // address for every guess.
    for i in 0..5 {
        token_from(&app, "203.0.113.5", Some(&format!("10.0.0.{i}")), "alice", &format!("wrong {i}")).await;
    }
    let r = token_from(&app, "203.0.113.5", Some("10.0.0.99"), "alice", PW).await;
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
async fn sign_ups_are_throttled_and_reserved_names_refused() {
    let db = fresh_db().await;
    let app = app(&db).await;
    for i in 0..10 {
        assert_eq!(sign_up_from(&app, "198.51.100.1", &format!("user{i}")).await, StatusCode::OK, "sign-up {i}");
    }
    assert_eq!(sign_up_from(&app, "198.51.100.1", "user10").await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(sign_up_from(&app, "198.51.100.2", "user10").await, StatusCode::OK, "another address");
    for name in ["portcullis", "system", "anonymous"] {
        assert_eq!(sign_up_from(&app, "198.51.100.3", name).await, StatusCode::UNPROCESSABLE_ENTITY, "{name}");
    }
}

#[tokio::test]
async fn a_disable_ends_a_remembered_password_at_once() {
    let db = fresh_db().await;
    let app = app(&db).await;
    let (_, admin) = bootstrap(&app).await;
    user_with_token(&app, &admin, "alice").await;
    let get = || token_from(&app, "198.51.100.1", None, "alice", PW);
    assert_eq!(get().await.status, StatusCode::OK, "checked, then remembered");
    assert_eq!(get().await.status, StatusCode::OK, "from memory");
    // Disabled behind this replica's back (its change notification lost): the next request
    // sees the new auth epoch.
    sqlx::query(r#"update "user" set is_enabled = false, auth_epoch = auth_epoch + 1 where username = 'alice'"#)
        .execute(&db)
        .await
        .unwrap();
    assert_eq!(get().await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn refresh_tokens_age_out_and_do_not_pile_up() {
    let db = fresh_db().await;
    let app = app(&db).await;
    let (_, admin) = bootstrap(&app).await;
    user_with_token(&app, &admin, "alice").await;
    let login = || async {
        let req = Request::get("/v2/token?service=portcullis-registry&offline_token=true&client_id=docker")
            .header(header::AUTHORIZATION, basic("alice", PW))
            .body(Body::empty())
            .unwrap();
        let r = send(&app, req).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.json()["refresh_token"].as_str().unwrap().to_string()
    };
    let mut tokens = Vec::new();
    for _ in 0..12 {
        tokens.push(login().await);
    }
    let rows: i64 = sqlx::query_scalar("select count(*) from refresh_token").fetch_one(&db).await.unwrap();
    assert_eq!(rows, 5, "one client keeps its newest five");
    let refresh = |t: String| {
        let app = app.clone();
        async move {
            let req = Request::post("/v2/token")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &t),
                    ("service", "portcullis-registry"),
                    ("scope", "repository:alice/x:pull"),
                ])))
                .unwrap();
            send(&app, req).await.status
        }
    };
    assert_eq!(refresh(tokens[0].clone()).await, StatusCode::UNAUTHORIZED, "an old one ended");
    assert_eq!(refresh(tokens[11].clone()).await, StatusCode::OK);
    // Too old, or unused too long: refused, then deleted by the housekeeping.
    let (old, idle) = (tokens[10].clone(), tokens[9].clone());
    let hash = |t: &str| <sha2::Sha256 as sha2::Digest>::digest(t.as_bytes()).to_vec();
    sqlx::query("update refresh_token set created_at = now() - interval '91 days' where token_hash = $1")
        .bind(hash(&old))
        .execute(&db)
        .await
        .unwrap();
    sqlx::query("update refresh_token set created_at = now() - interval '60 days', last_used_at = now() - interval '31 days' where token_hash = $1")
        .bind(hash(&idle))
        .execute(&db)
        .await
        .unwrap();
    assert_eq!(refresh(old).await, StatusCode::UNAUTHORIZED);
    assert_eq!(refresh(idle).await, StatusCode::UNAUTHORIZED);
    let state = server::state(db.clone(), &server::Config::defaults()).await.unwrap();
    let report = app::backend::maintenance::run(&state).await.unwrap();
    assert_eq!(report.refresh_tokens, 2, "{report:?}");
}

#[tokio::test]
async fn two_simultaneous_removals_leave_an_administrator_and_an_owner() {
    let db = fresh_db().await;
    let app = app(&db).await;
    let (root_id, root) = bootstrap(&app).await;
    let (other_id, other) = user_with_token(&app, &root, "other").await;
    for round in 0..10 {
        let r = api(&app, "PUT", &format!("/api/v1/users/{other_id}"), Some(&root), Some(json!({"admin": true}))).await;
        assert_eq!(r.status, StatusCode::OK, "round {round}: {}", r.body);
        let (other_path, root_path) = (format!("/api/v1/users/{other_id}"), format!("/api/v1/users/{root_id}"));
        let (a, b) = tokio::join!(
            api(&app, "PUT", &other_path, Some(&root), Some(json!({"admin": false}))),
            api(&app, "PUT", &root_path, Some(&other), Some(json!({"admin": false}))),
        );
        let admins: i64 = sqlx::query_scalar(r#"select count(*) from "user" where is_admin and is_enabled"#)
            .fetch_one(&db)
            .await
            .unwrap();
        assert_eq!(admins, 1, "round {round}: {} {} / {} {}", a.status, a.body, b.status, b.body);
        let ok = [a.status, b.status].iter().filter(|s| **s == StatusCode::OK).count();
        assert_eq!(ok, 1, "round {round}: {} {} / {} {}", a.status, a.body, b.status, b.body);
        if b.status == StatusCode::OK {
            // root was demoted by other: other makes root an administrator again.
            let r =
                api(&app, "PUT", &format!("/api/v1/users/{root_id}"), Some(&other), Some(json!({"admin": true}))).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        }
    }
    // A team with two owners, each removing the other at the same moment.
    let (_, alice) = user_with_token(&app, &root, "alice").await;
    let (bob_id, bob) = user_with_token(&app, &root, "bob").await;
    let alice_id = api(&app, "GET", "/api/v1/users", Some(&root), None)
        .await
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "alice")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    for round in 0..10 {
        let team = api(&app, "POST", "/api/v1/teams", Some(&alice), Some(json!({"name": format!("duo{round}")})))
            .await
            .json()["id"]
            .as_i64()
            .unwrap();
        api(
            &app,
            "POST",
            &format!("/api/v1/teams/{team}/members"),
            Some(&alice),
            Some(json!({"username": "bob", "role": "owner"})),
        )
        .await;
        let (bob_path, alice_path) =
            (format!("/api/v1/teams/{team}/members/{bob_id}"), format!("/api/v1/teams/{team}/members/{alice_id}"));
        let (a, b) = tokio::join!(
            api(&app, "DELETE", &bob_path, Some(&alice), None),
            api(&app, "DELETE", &alice_path, Some(&bob), None),
        );
        let owners: i64 = sqlx::query_scalar("select count(*) from team_member where team_id = $1 and role = 'owner'")
            .bind(team)
            .fetch_one(&db)
            .await
            .unwrap();
        assert_eq!(owners, 1, "round {round}: {} {} / {} {}", a.status, a.body, b.status, b.body);
    }
}

#[tokio::test]
async fn a_token_request_names_at_most_64_scopes() {
    let db = fresh_db().await;
    let app = app(&db).await;
    let (_, admin) = bootstrap(&app).await;
    user_with_token(&app, &admin, "alice").await;
    let query = |n: usize| (0..n).map(|i| format!("scope=repository:alice/r{i}:pull")).collect::<Vec<_>>().join("&");
    let ask = |n: usize| {
        let app = app.clone();
        let q = query(n);
        async move {
            let req = Request::get(format!("/v2/token?service=portcullis-registry&{q}"))
                .header(header::AUTHORIZATION, basic("alice", PW))
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

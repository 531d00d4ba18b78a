//! Accounts and sessions through the real router and a real PostgreSQL database.

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::*;

const PW: &str = "a fine password";

#[tokio::test]
async fn first_sign_up_is_admin_and_second_is_not() {
    let db = fresh_db().await;
    let app = app(&db).await;
    let alice = sign_up(&app, "alice", PW).await;
    let bob = sign_up(&app, "bob", PW).await;
    assert_eq!(me(&app, &alice).await["is_admin"], true);
    assert_eq!(me(&app, &bob).await["is_admin"], false);
    assert_eq!(me(&app, &bob).await["username"], "bob");
}

#[tokio::test]
async fn first_user_admin_can_be_turned_off() {
    let db = fresh_db().await;
    let app = app_with(&db, |c| c.first_user_admin = false).await;
    let alice = sign_up(&app, "alice", PW).await;
    assert_eq!(me(&app, &alice).await["is_admin"], false);
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_answer() {
    let db = fresh_db().await;
    let app = app(&db).await;
    sign_up(&app, "alice", PW).await;
    let wrong = log_in(&app, "alice", "not the password").await;
    let unknown = log_in(&app, "mallory", "not the password").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status, wrong.status);
    assert_eq!(unknown.body, wrong.body);
    assert!(wrong.body.contains("Invalid username or password."), "{}", wrong.body);
    assert!(wrong.session_cookie().is_none() && unknown.session_cookie().is_none());
    assert_eq!(log_in(&app, "alice", PW).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_plain_form_error_goes_back_to_the_form() {
    let db = fresh_db().await;
    let app = app(&db).await;
    let r =
        post_form(&app, "/api/login", "/login?next=%2Faccount", &[("username", "x1"), ("password", "nope-nope")]).await;
    assert_eq!(r.status, StatusCode::FOUND);
    let to = r.location().unwrap();
    assert!(to.contains("/login?next=%2Faccount") && to.contains("__err="), "{to}");
}

#[tokio::test]
async fn a_plain_form_login_redirects_to_next() {
    let db = fresh_db().await;
    let app = app(&db).await;
    sign_up(&app, "alice", PW).await;
    let r =
        post_form(&app, "/api/login", "/login", &[("username", "alice"), ("password", PW), ("next", "/account")]).await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert_eq!(r.location(), Some("/account"));
    assert!(r.session_cookie().is_some());
    // An off-site `next` is ignored.
    let r = post_form(
        &app,
        "/api/login",
        "/login",
        &[("username", "alice"), ("password", PW), ("next", "//evil.example/")],
    )
    .await;
    assert_eq!(r.location(), Some("/"));
}

#[tokio::test]
async fn a_session_survives_a_server_restart() {
    let db = fresh_db().await;
    let first = app(&db).await;
    let cookie = sign_up(&first, "alice", PW).await;
    drop(first);
    // A new router (as after a restart) with its own pool, on the same database.
    let options = db.connect_options();
    let pool = sqlx::postgres::PgPoolOptions::new().connect_with((*options).clone()).await.unwrap();
    let second = app(&pool).await;
    assert_eq!(me(&second, &cookie).await["username"], "alice");
}

#[tokio::test]
async fn logout_invalidates_the_session_on_the_server() {
    let db = fresh_db().await;
    let app = app(&db).await;
    let cookie = sign_up(&app, "alice", PW).await;
    let r = call(&app, "/api/logout", &[], Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Replaying the old cookie finds no session.
    assert!(me(&app, &cookie).await.is_null());
    let rows: i64 = sqlx::query_scalar("select count(*) from tower_sessions.session").fetch_one(&db).await.unwrap();
    assert_eq!(rows, 0);
}

#[tokio::test]
async fn login_cycles_the_session_id() {
    let db = fresh_db().await;
    let app = app(&db).await;
    let signed_up = sign_up(&app, "alice", PW).await;
    let r = call(&app, "/api/login", &[("username", "alice"), ("password", PW)], Some(&signed_up)).await;
    let after = r.session_cookie().expect("login sets a cookie");
    assert_ne!(after, signed_up);
}

#[tokio::test]
async fn the_session_cookie_is_httponly_and_lax() {
    let db = fresh_db().await;
    let app = app(&db).await;
    let r = call(&app, "/api/signup", &[("username", "alice"), ("password", PW), ("password_confirm", PW)], None).await;
    let set = r.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap().to_string();
    assert!(set.contains("HttpOnly"), "{set}");
    assert!(set.contains("SameSite=Lax"), "{set}");
    assert!(!set.contains("Secure"), "plain http must not set Secure: {set}");

    let https = app_with(&db, |c| c.public_url = "https://portcullis.example".into()).await;
    let r = log_in(&https, "alice", PW).await;
    let set = r.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap().to_string();
    assert!(set.contains("Secure"), "{set}");
}

#[tokio::test]
async fn sign_up_can_be_disabled() {
    let db = fresh_db().await;
    let app = app_with(&db, |c| c.signup_enabled = false).await;
    let r = call(&app, "/api/signup", &[("username", "alice"), ("password", PW), ("password_confirm", PW)], None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert!(r.session_cookie().is_none());
    let users: i64 = sqlx::query_scalar(r#"select count(*) from "user""#).fetch_one(&db).await.unwrap();
    assert_eq!(users, 0);
}

#[tokio::test]
async fn sign_up_validates_its_fields() {
    let db = fresh_db().await;
    let app = app(&db).await;
    let bad_name =
        call(&app, "/api/signup", &[("username", "Alice!"), ("password", PW), ("password_confirm", PW)], None).await;
    assert_eq!(bad_name.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad_name.json()["Invalid"]["field"], "username");
    let short =
        call(&app, "/api/signup", &[("username", "alice"), ("password", "short"), ("password_confirm", "short")], None)
            .await;
    assert_eq!(short.json()["Invalid"]["field"], "password");
    let mismatch =
        call(&app, "/api/signup", &[("username", "alice"), ("password", PW), ("password_confirm", "other one")], None)
            .await;
    assert_eq!(mismatch.json()["Invalid"]["field"], "password_confirm");
    sign_up(&app, "alice", PW).await;
    let taken =
        call(&app, "/api/signup", &[("username", "alice"), ("password", PW), ("password_confirm", PW)], None).await;
    assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(taken.json()["Invalid"]["message"], "is already taken");
}

#[tokio::test]
async fn repeated_failures_throttle_the_account_even_with_the_right_password() {
    let db = fresh_db().await;
    let app = app(&db).await;
    sign_up(&app, "alice", PW).await;
    for _ in 0..5 {
        assert_eq!(log_in(&app, "alice", "wrong password").await.status, StatusCode::UNAUTHORIZED);
    }
    let r = log_in(&app, "alice", PW).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    // Another account is unaffected.
    sign_up(&app, "bob", PW).await;
    assert_eq!(log_in(&app, "bob", PW).await.status, StatusCode::OK);
    // Unknown accounts are throttled the same way, so the throttle reveals nothing.
    for _ in 0..5 {
        log_in(&app, "ghost", "wrong password").await;
    }
    assert_eq!(log_in(&app, "ghost", "wrong password").await.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn changing_the_password_signs_out_other_sessions() {
    let db = fresh_db().await;
    let app = app(&db).await;
    let here = sign_up(&app, "alice", PW).await;
    let elsewhere = log_in(&app, "alice", PW).await.session_cookie().unwrap();
    let wrong = call(
        &app,
        "/api/account/password",
        &[("current_password", "nope"), ("new_password", "new password 2"), ("new_password_confirm", "new password 2")],
        Some(&here),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = call(
        &app,
        "/api/account/password",
        &[("current_password", PW), ("new_password", "new password 2"), ("new_password_confirm", "new password 2")],
        Some(&here),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let here = r.session_cookie().unwrap_or(here);
    assert_eq!(me(&app, &here).await["username"], "alice");
    assert!(me(&app, &elsewhere).await.is_null());
    assert_eq!(log_in(&app, "alice", PW).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(log_in(&app, "alice", "new password 2").await.status, StatusCode::OK);
}

#[tokio::test]
async fn cross_site_posts_are_refused() {
    let db = fresh_db().await;
    let app = app(&db).await;
    let req = Request::post("/api/signup")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ORIGIN, "http://evil.example")
        .header(header::HOST, "127.0.0.1:3000")
        .body(Body::from(form(&[("username", "alice"), ("password", PW), ("password_confirm", PW)])))
        .unwrap();
    assert_eq!(send(&app, req).await.status, StatusCode::FORBIDDEN);
    let users: i64 = sqlx::query_scalar(r#"select count(*) from "user""#).fetch_one(&db).await.unwrap();
    assert_eq!(users, 0);
}

#[tokio::test]
async fn health_endpoints_answer_json() {
    let db = fresh_db().await;
    let app = app(&db).await;
    let live = get(&app, "/healthz", None).await;
    assert_eq!(live.status, StatusCode::OK);
    assert_eq!(live.json()["status"], "ok");
    let ready = get(&app, "/readyz", None).await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.json()["database"], "ok");
    db.close().await;
    let down = get(&app, "/readyz", None).await;
    assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn pages_render_on_the_server() {
    let db = fresh_db().await;
    let app = app(&db).await;
    let login = get(&app, "/login", None).await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.body.contains("<form method=\"post\" action=\"/api/login\""), "{}", login.body);
    let missing = get(&app, "/definitely/not/here", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    // The 404 page still knows who is signed in.
    let cookie = sign_up(&app, "alice", PW).await;
    let missing = get(&app, "/definitely/not/here", Some(&cookie)).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.body.contains("Signed in as"), "{}", missing.body);
    // A visitor asking for the account page is sent to log in.
    let account = get(&app, "/account", Some(&cookie)).await;
    assert_eq!(account.status, StatusCode::OK);
    let account = get(&app, "/account", None).await;
    assert_eq!(account.status, StatusCode::FOUND, "{}", account.body);
    assert_eq!(account.location(), Some("/login?next=%2Faccount"));
}

//! Accounts and sessions through the real router and a real PostgreSQL database.

use crate::common;

use app::error::AppError;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::*;

const PW: &str = "a fine password";

/// The `(field, message)` of a server function's refusal of a form field.
#[track_caller]
fn invalid(r: &Reply) -> (String, String) {
    match r.parse::<AppError>() {
        AppError::Invalid { field, message } => (field, message),
        other => panic!("not a refused field: {other:?}"),
    }
}

/// A sign-up through the server function, whatever its outcome.
async fn try_sign_up(world: &World, username: &str, password: &str, confirm: &str) -> Reply {
    let pairs = [("username", username), ("password", password), ("password_confirm", confirm)];
    call(&world.app, "/api/signup", &pairs, None).await
}

async fn users(world: &World) -> i64 {
    sqlx::query_scalar(r#"select count(*) from "user""#).fetch_one(&world.db).await.unwrap()
}

#[tokio::test]
async fn first_sign_up_is_admin_and_second_is_not() {
    let world = World::new().await;
    let alice = sign_up(&world.app, "alice", PW).await;
    let bob = sign_up(&world.app, "bob", PW).await;
    assert!(me(&world.app, &alice).await.unwrap().is_admin);
    let bob = me(&world.app, &bob).await.unwrap();
    assert!(!bob.is_admin);
    assert_eq!(bob.username, "bob");
}

#[tokio::test]
async fn first_user_admin_can_be_turned_off() {
    let world = World::with(|c| c.first_user_admin = false).await;
    let alice = sign_up(&world.app, "alice", PW).await;
    assert!(!me(&world.app, &alice).await.unwrap().is_admin);
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_answer() {
    let world = World::new().await;
    sign_up(&world.app, "alice", PW).await;
    let wrong = log_in(&world.app, "alice", "not the password").await;
    let unknown = log_in(&world.app, "mallory", "not the password").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status, wrong.status);
    assert_eq!(unknown.body, wrong.body);
    assert!(wrong.body.contains("Invalid username or password."), "{}", wrong.body);
    assert!(wrong.session_cookie().is_none() && unknown.session_cookie().is_none());
    assert_eq!(log_in(&world.app, "alice", PW).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_plain_form_error_goes_back_to_the_form() {
    let world = World::new().await;
    let pairs = [("username", "x1"), ("password", "nope-nope"), ("next", "/account")];
    let r = post_form(&world.app, "/api/login", "/login?next=%2Faccount", &pairs).await;
    assert_eq!(r.status, StatusCode::FOUND);
    // The address is the form's own, without the error in it; the session carries it.
    assert_eq!(r.location(), Some("http://127.0.0.1:3000/login?next=%2Faccount"));
    let cookie = r.session_cookie().expect("a session carries the error");
    let page = |cookie: String| {
        let app = world.app.clone();
        async move {
            let req = Request::get("/login?next=%2Faccount")
                .header(header::ACCEPT, "text/html")
                .header(header::COOKIE, cookie)
                .body(Body::empty())
                .unwrap();
            send(&app, req).await
        }
    };
    let back = page(cookie.clone()).await;
    assert_eq!(back.status, StatusCode::OK);
    assert!(back.body.contains("Invalid username or password."), "{}", back.body);
    // The username is kept and the password field is next; the password is never sent back.
    assert!(back.body.contains(r#"name="username" type="text" value="x1""#), "{}", back.body);
    assert!(back.body.contains("autofocus"), "{}", back.body);
    assert!(!back.body.contains("nope-nope"));
    // Shown once: a reload is a fresh form.
    let again = page(cookie).await;
    assert!(!again.body.contains("Invalid username or password.") && !again.body.contains(r#"value="x1""#));
}

#[tokio::test]
async fn a_plain_form_login_redirects_to_next_on_this_site_only() {
    let world = World::new().await;
    sign_up(&world.app, "alice", PW).await;
    let login = |next: &'static str| {
        let app = world.app.clone();
        async move {
            post_form(&app, "/api/login", "/login", &[("username", "alice"), ("password", PW), ("next", next)]).await
        }
    };
    let r = login("/account").await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert_eq!(r.location(), Some("/account"));
    assert!(r.session_cookie().is_some());
    // An off-site `next` is ignored.
    assert_eq!(login("//evil.example/").await.location(), Some("/"));
}

#[tokio::test]
async fn a_session_survives_a_server_restart() {
    let world = World::new().await;
    let cookie = sign_up(&world.app, "alice", PW).await;
    let World { db, app: first, .. } = world;
    drop(first);
    // A new router (as after a restart) with its own pool, on the same database.
    let options = db.connect_options();
    let pool = sqlx::postgres::PgPoolOptions::new().connect_with((*options).clone()).await.unwrap();
    let second = app(&pool).await;
    assert_eq!(me(&second, &cookie).await.unwrap().username, "alice");
}

#[tokio::test]
async fn logout_invalidates_the_session_on_the_server() {
    let world = World::new().await;
    let cookie = sign_up(&world.app, "alice", PW).await;
    let r = call(&world.app, "/api/logout", &[], Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Replaying the old cookie finds no session.
    assert!(me(&world.app, &cookie).await.is_none());
    let rows: i64 =
        sqlx::query_scalar("select count(*) from tower_sessions.session").fetch_one(&world.db).await.unwrap();
    assert_eq!(rows, 0);
}

#[tokio::test]
async fn login_cycles_the_session_id() {
    let world = World::new().await;
    let signed_up = sign_up(&world.app, "alice", PW).await;
    let r = call(&world.app, "/api/login", &[("username", "alice"), ("password", PW)], Some(&signed_up)).await;
    let after = r.session_cookie().expect("login sets a cookie");
    assert_ne!(after, signed_up);
}

#[tokio::test]
async fn the_session_cookie_is_httponly_and_lax_and_secure_over_https_only() {
    let world = World::new().await;
    let r = try_sign_up(&world, "alice", PW, PW).await;
    let set = r.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap().to_string();
    assert!(set.contains("HttpOnly"), "{set}");
    assert!(set.contains("SameSite=Lax"), "{set}");
    assert!(!set.contains("Secure"), "plain http must not set Secure: {set}");

    let https = app_with(&world.db, |c| c.public_url = "https://portcullis.example".into()).await;
    let r = log_in(&https, "alice", PW).await;
    let set = r.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap().to_string();
    assert!(set.contains("Secure"), "{set}");
}

#[tokio::test]
async fn sign_up_can_be_disabled() {
    let world = World::with(|c| c.signup_enabled = false).await;
    let r = try_sign_up(&world, "alice", PW, PW).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert!(r.session_cookie().is_none());
    assert_eq!(users(&world).await, 0);
}

#[tokio::test]
async fn sign_up_refuses_an_invalid_username() {
    let world = World::new().await;
    let bad_name = try_sign_up(&world, "Alice!", PW, PW).await;
    assert_eq!(bad_name.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(invalid(&bad_name).0, "username");
}

#[tokio::test]
async fn sign_up_refuses_a_short_or_unconfirmed_password() {
    let world = World::new().await;
    let short = try_sign_up(&world, "alice", "short", "short").await;
    assert_eq!(invalid(&short).0, "password");
    let mismatch = try_sign_up(&world, "alice", PW, "other one").await;
    assert_eq!(invalid(&mismatch).0, "password_confirm");
}

#[tokio::test]
async fn sign_up_refuses_a_taken_username() {
    let world = World::new().await;
    sign_up(&world.app, "alice", PW).await;
    let taken = try_sign_up(&world, "alice", PW, PW).await;
    assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(invalid(&taken).1, "is already taken");
}

#[tokio::test]
async fn repeated_failures_throttle_the_account_even_with_the_right_password() {
    let world = World::new().await;
    sign_up(&world.app, "alice", PW).await;
    for _ in 0..5 {
        assert_eq!(log_in(&world.app, "alice", "wrong password").await.status, StatusCode::UNAUTHORIZED);
    }
    let r = log_in(&world.app, "alice", PW).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    // Another account is unaffected.
    sign_up(&world.app, "bob", PW).await;
    assert_eq!(log_in(&world.app, "bob", PW).await.status, StatusCode::OK);
}

#[tokio::test]
async fn unknown_accounts_are_throttled_the_same_way() {
    let world = World::new().await;
    // So the throttle reveals nothing.
    for _ in 0..5 {
        log_in(&world.app, "ghost", "wrong password").await;
    }
    assert_eq!(log_in(&world.app, "ghost", "wrong password").await.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn changing_the_password_needs_the_current_one_and_signs_out_other_sessions() {
    let world = World::new().await;
    let here = sign_up(&world.app, "alice", PW).await;
    let elsewhere = log_in(&world.app, "alice", PW).await.session_cookie().unwrap();
    let change = |current: &'static str, cookie: String| {
        let app = world.app.clone();
        async move {
            let pairs = [
                ("current_password", current),
                ("new_password", "new password 2"),
                ("new_password_confirm", "new password 2"),
            ];
            call(&app, "/api/account/password", &pairs, Some(&cookie)).await
        }
    };
    let wrong = change("nope", here.clone()).await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = change(PW, here.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let here = r.session_cookie().unwrap_or(here);
    assert_eq!(me(&world.app, &here).await.unwrap().username, "alice");
    assert!(me(&world.app, &elsewhere).await.is_none());
    assert_eq!(log_in(&world.app, "alice", PW).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(log_in(&world.app, "alice", "new password 2").await.status, StatusCode::OK);
}

#[tokio::test]
async fn cross_site_posts_are_refused() {
    let world = World::new().await;
    let req = Request::post("/api/signup")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ORIGIN, "http://evil.example")
        .header(header::HOST, "127.0.0.1:3000")
        .body(Body::from(form(&[("username", "alice"), ("password", PW), ("password_confirm", PW)])))
        .unwrap();
    assert_eq!(send(&world.app, req).await.status, StatusCode::FORBIDDEN);
    assert_eq!(users(&world).await, 0);
}

#[tokio::test]
async fn health_endpoints_answer_json() {
    let world = World::new().await;
    let live = get(&world.app, "/healthz", None).await;
    assert_eq!(live.status, StatusCode::OK);
    assert_eq!(live.json()["status"], "ok");
    let ready = get(&world.app, "/readyz", None).await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.json()["database"], "ok");
    world.db.close().await;
    let down = get(&world.app, "/readyz", None).await;
    assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn the_login_page_renders_on_the_server() {
    let world = World::new().await;
    let login = get(&world.app, "/login", None).await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.body.contains("<form method=\"post\" action=\"/api/login\""), "{}", login.body);
}

#[tokio::test]
async fn the_404_page_knows_who_is_signed_in() {
    let world = World::new().await;
    let missing = get(&world.app, "/definitely/not/here", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let cookie = sign_up(&world.app, "alice", PW).await;
    let missing = get(&world.app, "/definitely/not/here", Some(&cookie)).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.body.contains("Signed in as"), "{}", missing.body);
}

#[tokio::test]
async fn a_visitor_asking_for_the_account_page_is_sent_to_log_in() {
    let world = World::new().await;
    let cookie = sign_up(&world.app, "alice", PW).await;
    let account = get(&world.app, "/account", Some(&cookie)).await;
    assert_eq!(account.status, StatusCode::OK);
    let account = get(&world.app, "/account", None).await;
    assert_eq!(account.status, StatusCode::FOUND, "{}", account.body);
    assert_eq!(account.location(), Some("/login?next=%2Faccount"));
}

/// Control characters, backslashes and other sites in `next` (a tab the browser drops turns
/// `/\t/evil.example` into `//evil.example`; a newline used to panic the redirect).
const HOSTILE_NEXT: &[&str] = &[
    "/\t/evil.example",
    "/\n",
    "/\r\n/evil.example",
    "/\\evil.example",
    "/x\\y",
    "/\u{0}",
    "/\u{7f}x",
    "//evil.example",
    "https://evil.example/",
    "/%09/evil.example",
];

#[tokio::test]
async fn sign_in_never_leaves_the_site_nor_panics_whatever_next_says() {
    let world = World::new().await;
    sign_up(&world.app, "alice", PW).await;
    for next in HOSTILE_NEXT {
        // A plain form (the redirect is the answer) and a hydrated call (the header is).
        let pairs = [("username", "alice"), ("password", PW), ("next", next)];
        for r in [
            post_form(&world.app, "/api/login", "/login", &pairs).await,
            call(&world.app, "/api/login", &pairs, None).await,
        ] {
            assert!(r.status.is_success() || r.status.is_redirection(), "{next:?}: {} {}", r.status, r.body);
            let to = r.location().or_else(|| r.headers.get("serverfnredirect").and_then(|v| v.to_str().ok()));
            let to = to.unwrap_or("/");
            assert!(to.starts_with('/') && !to.starts_with("//") && !to.contains('\\'), "{next:?} -> {to:?}");
            assert!(!to.contains("evil.example") || to.starts_with("/%09/"), "{next:?} -> {to:?}");
        }
    }
}

#[tokio::test]
async fn no_redirecting_form_panics_on_control_characters() {
    let world = World::new().await;
    let alice = sign_up(&world.app, "alice", PW).await;
    let hostile = ["x\ny", "/\r\n", "a\tb", "\u{0}", "acme/app\n", "x\\y"];
    let forms: &[(&str, &[&str])] = &[
        ("/api/login", &["username", "password", "next"]),
        ("/api/teams/create", &["name", "description"]),
        ("/api/namespaces/create", &["team", "name", "description"]),
        ("/api/repositories/delete", &["name"]),
        ("/api/tags/restore", &["repository", "tag", "digest"]),
        ("/api/cleanup/save", &["namespace", "repository", "keep_last", "schedule"]),
        ("/api/webhooks/create", &["namespace", "name", "url", "secret"]),
        ("/api/login/choose", &["username"]),
        ("/api/password/forgot", &["login"]),
    ];
    for (path, fields) in forms {
        for value in hostile {
            let pairs: Vec<(&str, &str)> = fields.iter().map(|f| (*f, value)).collect();
            for r in
                [post_form(&world.app, path, "/", &pairs).await, call(&world.app, path, &pairs, Some(&alice)).await]
            {
                assert!(!r.status.is_server_error(), "{path} {value:?}: {} {}", r.status, r.body);
                // This site: a path, or (an error going back to the form) the page that posted.
                if let Some(to) = r.location() {
                    let here = to.strip_prefix("http://127.0.0.1:3000").unwrap_or(to);
                    assert!(here.starts_with('/') && !here.starts_with("//"), "{path} {value:?} -> {to}");
                }
            }
        }
    }
}

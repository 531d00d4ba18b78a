//! Password recovery against a real SMTP server: Python's aiosmtpd (from PyPI, installed by
//! `deploy/local/setup.sh`) on 127.0.0.1, speaking STARTTLS with a certificate of the test's
//! own CA, storing what it receives in a maildir the test reads. The links in the mail are
//! followed through the real router, as a browser without JavaScript would.

use crate::common;

use std::time::Duration;

use axum::http::StatusCode;
use common::smtp::*;
use common::*;

const OLD: &str = "the old password";
const NEW: &str = "a brand new password";

async fn app_sending_to(db: &sqlx::PgPool, smtp: &Smtp) -> axum::Router {
    let (port, ca) = (smtp.port, smtp.ca_file.clone());
    app_with(db, move |c| {
        c.smtp_host = "127.0.0.1".into();
        c.smtp_port = port;
        c.smtp_ca_file = ca.to_string_lossy().into_owned();
        c.smtp_from = "Portcullis <registry@example.com>".into();
    })
    .await
}

async fn set_email(app: &axum::Router, cookie: &str, email: &str) {
    let r = call(app, "/api/account/profile", &[("display_name", ""), ("email", email)], Some(cookie)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

async fn user_id(db: &sqlx::PgPool, name: &str) -> i64 {
    sqlx::query_scalar(r#"select user_id from "user" where username = $1"#).bind(name).fetch_one(db).await.unwrap()
}

/// Asks for a link as a browser without JavaScript does; the answer is the same for anyone.
async fn forgot(app: &axum::Router, login: &str) {
    let r = post_form(app, "/api/password/forgot", "/forgot-password", &[("login", login)]).await;
    assert!(r.status.is_redirection(), "{} {}", r.status, r.body);
    assert_eq!(r.location(), Some("/forgot-password?sent=1"), "the same answer for {login}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forgotten_password_is_reset_through_the_link_mailed() {
    let smtp = Smtp::start().await;
    let db = fresh_db().await;
    let app = app_sending_to(&db, &smtp).await;
    let _alice = sign_up(&app, "alice", OLD).await;
    let bob = sign_up(&app, "bob", OLD).await;
    set_email(&app, &bob, "bob@example.com").await;

    // `portcullis doctor` sees the mail server answer.
    let mut config = server::Config::defaults();
    (config.smtp_host, config.smtp_port, config.smtp_ca_file) =
        ("127.0.0.1".into(), smtp.port, smtp.ca_file.to_string_lossy().into_owned());
    let check = server::doctor::mail_check(&config.app_settings().mail.expect("configured")).await;
    assert_eq!(check.status, server::doctor::Status::Ok, "{check:?}");
    config.smtp_port = free_port();
    let check = server::doctor::mail_check(&config.app_settings().mail.unwrap()).await;
    assert_eq!(check.status, server::doctor::Status::Fail, "{check:?}");

    // The page offers the form; an unknown name and a known address get the same answer,
    // and only the real account gets mail.
    let page = get(&app, "/forgot-password", None).await;
    assert!(page.body.contains("Username or email address"), "{}", page.body);
    forgot(&app, "nobody-here").await;
    forgot(&app, "alice").await; // no email address: nothing to send to
    forgot(&app, "BOB@example.com").await;
    let mail = smtp.nth(1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(smtp.messages().len(), 1, "mail only for the account that has an address");
    assert!(mail.contains("To: bob@example.com") && mail.contains("Reset your Portcullis password"), "{mail}");
    assert!(mail.contains("From: Portcullis <registry@example.com>"), "{mail}");
    let token = token_in(&mail);
    assert!(token.starts_with("pcr_"), "{token}");
    // Anyone may ask: the activity log does not say bob did.
    let actor: String =
        sqlx::query_scalar("select actor_name from audit_event where action = 'user.password_reset_sent'")
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(actor, "system");
    let stored: Vec<u8> = sqlx::query_scalar("select token_hash from password_reset").fetch_one(&db).await.unwrap();
    assert_ne!(stored, token.as_bytes(), "only the token's hash is stored");

    // bob is signed in elsewhere, and has a docker login (a refresh token) with the old password.
    assert!(me(&app, &bob).await.is_some());
    let refresh = registry_refresh_token(&app, "bob", OLD).await;

    // The link opens a page for bob; a wrong confirmation is refused and the link still works.
    let page = get(&app, &format!("/reset-password?token={token}"), None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("For the account bob"), "{}", page.body);
    let reset = |password: &'static str, confirm: &'static str| {
        let (app, token) = (app.clone(), token.clone());
        async move {
            post_form(
                &app,
                "/api/password/reset",
                &format!("/reset-password?token={token}"),
                &[("token", token.as_str()), ("password", password), ("password_confirm", confirm)],
            )
            .await
        }
    };
    let mismatch = reset(NEW, "something else entirely").await;
    assert_ne!(mismatch.location(), Some("/login?reset=1"), "a mismatch does not reset");
    assert!(log_in(&app, "bob", OLD).await.status.is_success(), "the old password still works");
    let done = reset(NEW, NEW).await;
    assert_eq!(done.location(), Some("/login?reset=1"), "{} {}", done.status, done.body);

    // The new password works, the old one does not; every session and docker login ended.
    assert_eq!(log_in(&app, "bob", OLD).await.status, StatusCode::UNAUTHORIZED);
    assert!(log_in(&app, "bob", NEW).await.status.is_success());
    assert!(me(&app, &bob).await.is_none(), "the other session ended");
    assert_eq!(refresh_grant(&app, &refresh).await, StatusCode::UNAUTHORIZED, "the refresh token ended");

    // The link works once.
    let again = reset("yet another password", "yet another password").await;
    assert_ne!(again.location(), Some("/login?reset=1"));
    let page = get(&app, &format!("/reset-password?token={token}"), None).await;
    assert!(page.body.contains("This link does not work"), "{}", page.body);
    assert!(log_in(&app, "bob", NEW).await.status.is_success());

    // A link past its hour does not work either, nor a forged one.
    forgot(&app, "bob").await;
    let late = token_in(&smtp.nth(2).await);
    common::behind::expire_reset_links(&db).await;
    let page = get(&app, &format!("/reset-password?token={late}"), None).await;
    assert!(page.body.contains("This link does not work"), "{}", page.body);
    let forged = format!("pcr_{}", "A".repeat(43));
    let r = call(&app, "/api/password/reset/user", &[("token", forged.as_str())], None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Asking again and again is throttled, for the address and for the name asked about:
    // five an hour.
    for _ in 0..4 {
        forgot(&app, "bob").await;
    }
    let r = post_form(&app, "/api/password/forgot", "/forgot-password", &[("login", "bob")]).await;
    assert_ne!(r.location(), Some("/forgot-password?sent=1"), "the sixth request in an hour is refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_set_passwords_and_send_links_and_others_may_not() {
    let smtp = Smtp::start().await;
    let db = fresh_db().await;
    let app = app_sending_to(&db, &smtp).await;
    let alice = sign_up(&app, "alice", OLD).await; // the first account: an administrator
    let bob = sign_up(&app, "bob", OLD).await;
    let carol = sign_up(&app, "carol", OLD).await;
    set_email(&app, &carol, "carol@example.com").await;
    let (alice_id, bob_id, carol_id) =
        (user_id(&db, "alice").await, user_id(&db, "bob").await, user_id(&db, "carol").await);
    let set = |cookie: &str, id: i64, password: &str| {
        let (app, cookie, id, password) = (app.clone(), cookie.to_string(), id.to_string(), password.to_string());
        async move {
            call(
                &app,
                "/api/admin/users/password",
                &[("id", id.as_str()), ("password", password.as_str())],
                Some(&cookie),
            )
            .await
        }
    };

    // bob, no administrator, may set no one's password, nor send links.
    assert_eq!(set(&bob, alice_id, NEW).await.status, StatusCode::FORBIDDEN);
    let r = call(&app, "/api/admin/users/password-reset", &[("id", &carol_id.to_string())], Some(&bob)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(log_in(&app, "alice", OLD).await.status.is_success());

    // alice sets bob's: bob's session ends, the new password works.
    assert_eq!(set(&alice, bob_id, "short").await.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(set(&alice, alice_id, NEW).await.status, StatusCode::CONFLICT, "her own: on the account page");
    assert_eq!(set(&alice, bob_id, NEW).await.status, StatusCode::OK);
    assert!(me(&app, &bob).await.is_none());
    assert!(log_in(&app, "bob", NEW).await.status.is_success());

    // alice mails carol a link; bob has no address, so his cannot be sent.
    let r = call(&app, "/api/admin/users/password-reset", &[("id", &carol_id.to_string())], Some(&alice)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.parse::<String>(), "carol@example.com");
    let mail = smtp.nth(1).await;
    assert!(mail.contains("An administrator (alice)"), "{mail}");
    let r = call(&app, "/api/admin/users/password-reset", &[("id", &bob_id.to_string())], Some(&alice)).await;
    assert_eq!(r.status, StatusCode::CONFLICT);

    // A password set by an administrator voids the links sent before.
    let token = token_in(&mail);
    assert_eq!(set(&alice, carol_id, NEW).await.status, StatusCode::OK);
    let r = call(&app, "/api/password/reset/user", &[("token", token.as_str())], None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // The activity log says who did what.
    let actions: Vec<String> =
        sqlx::query_scalar("select action from audit_event where action like 'user.password%' order by audit_event_id")
            .fetch_all(&db)
            .await
            .unwrap();
    assert_eq!(actions, ["user.password_set", "user.password_reset_sent", "user.password_set"]);
}

#[tokio::test]
async fn without_smtp_the_page_says_to_ask_an_administrator() {
    let db = fresh_db().await;
    let app = app(&db).await;
    let alice = sign_up(&app, "alice", OLD).await;
    let page = get(&app, "/forgot-password", None).await;
    assert!(page.body.contains("Ask an administrator to set a new password"), "{}", page.body);
    assert!(!page.body.contains("Email me a link"));
    let r = call(&app, "/api/password/forgot", &[("login", "alice")], None).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let login = get(&app, "/login", None).await;
    assert!(login.body.contains("Forgot your password?"));
    // Administrators can still set passwords.
    let bob = sign_up(&app, "bob", OLD).await;
    let bob_id = user_id(&db, "bob").await.to_string();
    let r = call(&app, "/api/admin/users/password", &[("id", bob_id.as_str()), ("password", NEW)], Some(&alice)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(me(&app, &bob).await.is_none());
    let r = call(&app, "/api/admin/users/password-reset", &[("id", bob_id.as_str())], Some(&alice)).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
}

/// A refresh token (docker's identity token) got with a password.
async fn registry_refresh_token(app: &axum::Router, user: &str, password: &str) -> String {
    let req = axum::http::Request::get("/v2/token?service=portcullis-registry&offline_token=true&client_id=test")
        .header(axum::http::header::AUTHORIZATION, basic(user, password))
        .body(axum::body::Body::empty())
        .unwrap();
    let r = send(app, req).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json()["refresh_token"].as_str().expect("a refresh token").to_string()
}

async fn refresh_grant(app: &axum::Router, refresh: &str) -> StatusCode {
    let body = form(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh),
        ("client_id", "test"),
        ("service", "portcullis-registry"),
    ]);
    let req = axum::http::Request::post("/v2/token")
        .header(axum::http::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(axum::body::Body::from(body))
        .unwrap();
    send(app, req).await.status
}

/// An account another system vouches for (a provider, here; the directory alike) keeps no
/// password here: no link is sent or completed for it, by anyone, and none set; a link sent
/// while it was local stops working once it is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_another_system_vouches_for_get_no_links_nor_passwords() {
    let smtp = Smtp::start().await;
    let db = fresh_db().await;
    let app = app_sending_to(&db, &smtp).await;
    let alice = sign_up(&app, "alice", OLD).await; // an administrator
    let dave = sign_up(&app, "dave", OLD).await;
    set_email(&app, &dave, "dave@example.com").await;
    let dave_id = user_id(&db, "dave").await;
    let r = call(&app, "/api/admin/users/password-reset", &[("id", &dave_id.to_string())], Some(&alice)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let token = token_in(&smtp.nth(1).await);
    // dave's account is now a provider's (as when an identity provider takes it over).
    sqlx::query(r#"update "user" set source = 'oidc', password_hash = null where user_id = $1"#)
        .bind(dave_id)
        .execute(&db)
        .await
        .unwrap();
    let pairs = [("token", token.as_str()), ("password", NEW), ("password_confirm", NEW)];
    let r = call(&app, "/api/password/reset", &pairs, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "the link sent before no longer works: {}", r.body);
    let r = call(&app, "/api/admin/users/password-reset", &[("id", &dave_id.to_string())], Some(&alice)).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let r =
        call(&app, "/api/admin/users/password", &[("id", &dave_id.to_string()), ("password", NEW)], Some(&alice)).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    forgot(&app, "dave").await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(smtp.messages().len(), 1, "no link for dave, whatever is asked");
    assert_eq!(log_in(&app, "dave", NEW).await.status, StatusCode::UNAUTHORIZED);
    let hash: Option<String> = sqlx::query_scalar(r#"select password_hash from "user" where user_id = $1"#)
        .bind(dave_id)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(hash, None);
}

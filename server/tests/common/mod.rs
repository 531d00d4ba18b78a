//! Helpers for tests that drive the real router against a real PostgreSQL database.
#![allow(dead_code)]

pub mod stack;

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use http_body_util::BodyExt as _;
use server::Config;
use sqlx::PgPool;
use tower::ServiceExt as _;

/// A fresh, empty database of its own for one test, on the server in `DATABASE_URL`.
///
/// Not `#[sqlx::test]`: its pools borrow connections from one master pool shared by every
/// test of a process, and once in a while a test waited forever for one. These databases
/// are named `pct_…`; `make test` drops the previous run's before it starts.
pub async fn fresh_db() -> PgPool {
    use sqlx::{Connection as _, Executor as _};
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let url = std::env::var("DATABASE_URL").expect("the tests run with DATABASE_URL set");
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
    let name = format!("pct_{}_{stamp}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    let mut admin = sqlx::PgConnection::connect(&url).await.expect("the test PostgreSQL is reachable");
    admin.execute(format!("create database {name}").as_str()).await.expect("a test database is created");
    let _ = admin.close().await;
    let options: sqlx::postgres::PgConnectOptions = url.parse().expect("DATABASE_URL parses");
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(10)
        .acquire_timeout(std::time::Duration::from_secs(30))
        .connect_with(options.database(&name))
        .await
        .expect("the test database accepts connections")
}

/// Builds the router the way `serve` does, on a test's own database.
pub async fn app_with(db: &PgPool, tweak: impl FnOnce(&mut Config)) -> axum::Router {
    server::init_tracing(server::config::LogFormat::Text);
    server::migrate(db).await.expect("migrations apply");
    let mut config = Config::defaults();
    tweak(&mut config);
    server::app(db.clone(), &config).await.expect("the app starts")
}

pub async fn app(db: &PgPool) -> axum::Router {
    app_with(db, |_| {}).await
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
    /// The `name=value` pair of the session cookie this reply set, if any.
    pub fn session_cookie(&self) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(server::SESSION_COOKIE))
            .map(|v| v.split(';').next().unwrap().to_string())
    }
    pub fn location(&self) -> Option<&str> {
        self.headers.get(header::LOCATION).and_then(|v| v.to_str().ok())
    }
}

pub async fn send(app: &axum::Router, req: Request<Body>) -> Reply {
    let res = app.clone().oneshot(req).await.expect("router answers");
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    Reply { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
}

/// Percent-encodes form values.
pub fn form(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{k}={}", app::ui::urlencode(v))).collect::<Vec<_>>().join("&")
}

/// Calls a server function the way a hydrated page does (JSON answer).
pub async fn call(app: &axum::Router, path: &str, pairs: &[(&str, &str)], cookie: Option<&str>) -> Reply {
    let mut req = Request::post(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json");
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    send(app, req.body(Body::from(form(pairs))).unwrap()).await
}

/// Posts a plain HTML form the way a browser without JavaScript does.
pub async fn post_form(app: &axum::Router, path: &str, referer: &str, pairs: &[(&str, &str)]) -> Reply {
    let req = Request::post(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "text/html,application/xhtml+xml")
        .header(header::REFERER, format!("http://127.0.0.1:3000{referer}"))
        .header("sec-fetch-site", "same-origin")
        .body(Body::from(form(pairs)))
        .unwrap();
    send(app, req).await
}

/// A GET as a browser sends it (accepting HTML).
pub async fn get(app: &axum::Router, path: &str, cookie: Option<&str>) -> Reply {
    let mut req = Request::get(path).header(header::ACCEPT, "text/html,application/xhtml+xml");
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    send(app, req.body(Body::empty()).unwrap()).await
}

/// Signs up and returns the session cookie.
pub async fn sign_up(app: &axum::Router, username: &str, password: &str) -> String {
    let r = call(
        app,
        "/api/signup",
        &[("username", username), ("password", password), ("password_confirm", password)],
        None,
    )
    .await;
    assert!(r.status.is_success(), "sign-up of {username} failed: {} {}", r.status, r.body);
    r.session_cookie().expect("sign-up sets a session cookie")
}

pub async fn log_in(app: &axum::Router, username: &str, password: &str) -> Reply {
    call(app, "/api/login", &[("username", username), ("password", password)], None).await
}

/// The user the session belongs to, as `/api/me` reports it (JSON null for none).
pub async fn me(app: &axum::Router, cookie: &str) -> serde_json::Value {
    let r = call(app, "/api/me", &[], Some(cookie)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json()
}

/// A JSON API call with an optional bearer token.
pub async fn api(
    app: &axum::Router,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> Reply {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let req = match body {
        Some(b) => req.header(header::CONTENT_TYPE, "application/json").body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    };
    send(app, req.unwrap()).await
}

/// The first administrator (through the bootstrap endpoint) and their token.
pub async fn bootstrap(app: &axum::Router) -> (i64, String) {
    let r = api(
        app,
        "POST",
        "/api/v1/users/bootstrap",
        None,
        Some(serde_json::json!({"username": "root", "password": "root password 1"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let v = r.json();
    (v["user"]["id"].as_i64().unwrap(), v["token"]["secret"].as_str().unwrap().to_string())
}

/// A user created by the administrator, with an access token of their own.
pub async fn user_with_token(app: &axum::Router, admin: &str, name: &str) -> (i64, String) {
    let r = api(
        app,
        "POST",
        "/api/v1/users",
        Some(admin),
        Some(serde_json::json!({"username": name, "password": format!("{name} password 1")})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.json()["id"].as_i64().unwrap();
    (id, token_for(app, admin, id, serde_json::json!({"name": "test"})).await)
}

/// A token minted for user `id` by `by`.
pub async fn token_for(app: &axum::Router, by: &str, id: i64, body: serde_json::Value) -> String {
    let r = api(app, "POST", &format!("/api/v1/users/{id}/application_tokens"), Some(by), Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.json()["secret"].as_str().unwrap().to_string()
}

/// The URL of the test's own database, for processes the test starts: `DATABASE_URL` (with
/// whatever credentials and options it carries) with its database swapped for `db`'s.
pub fn database_url(db: &PgPool) -> String {
    let base = std::env::var("DATABASE_URL").expect("the tests run with DATABASE_URL set");
    let name = db.connect_options().get_database().expect("a test database has a name").to_string();
    let (head, query) = match base.split_once('?') {
        Some((h, q)) => (h.to_string(), format!("?{q}")),
        None => (base.clone(), String::new()),
    };
    let after_scheme = head.find("://").map(|i| i + 3).unwrap_or(0);
    let server = match head[after_scheme..].find('/') {
        Some(i) => &head[..after_scheme + i],
        None => head.as_str(),
    };
    format!("{server}/{name}{query}")
}

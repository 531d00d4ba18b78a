//! Helpers for tests that drive the real router against a real PostgreSQL database.
#![allow(dead_code)]

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use http_body_util::BodyExt as _;
use server::Config;
use sqlx::PgPool;
use tower::ServiceExt as _;

/// Builds the router the way `serve` does, on a database `#[sqlx::test]` created.
pub async fn app_with(db: &PgPool, tweak: impl FnOnce(&mut Config)) -> axum::Router {
    server::init_tracing(server::config::LogFormat::Text);
    server::migrate(db).await.expect("migrations apply");
    let mut config = Config::defaults();
    tweak(&mut config);
    server::app(db.clone(), &config)
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

//! Helpers for tests that drive the real router against a real PostgreSQL database.
//!
//! The fixture is a [`World`]: a fresh database, the router over it and its people, made on
//! demand by name. A [`Person`] has a password (`"<name> password 1"`) and an access token,
//! and calls the REST API as themself:
//!
//! ```ignore
//! let world = World::new().await;
//! let (root, alice) = (world.root().await, world.person("alice").await);
//! let team: TeamView = alice.post("/api/v1/teams", json!({"name": "acme"})).await.parse();
//! assert_eq!(root.get(&format!("/api/v1/teams/{}", team.id)).await.status, StatusCode::OK);
//! ```
#![allow(dead_code)]

pub mod behind;
pub mod cluster;
pub mod oidc_provider;
pub mod pki;
pub mod replica;
pub mod slapd;
pub mod smtp;
pub mod stack;

use std::collections::HashMap;

use app::model::{
    CreatedToken, NamespaceView, Page, RepositoryView, TagDetail, TagView, TeamMemberView, TeamRole, TeamView,
    UserView, Visibility,
};
use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use http_body_util::BodyExt as _;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;
use server::Config;
use sqlx::PgPool;
use tower::ServiceExt as _;

/// A fresh database of its own for one test, on the server in `DATABASE_URL`, already
/// migrated: a copy of a template this process migrates once (a copy costs a fraction of
/// running the migrations).
///
/// Not `#[sqlx::test]`: its pools borrow connections from one master pool shared by every
/// test of a process, and once in a while a test waited forever for one. These databases
/// are named `pct_…`; `make test` drops the previous run's before it starts.
pub async fn fresh_db() -> PgPool {
    use sqlx::{Connection as _, Executor as _};
    static TEMPLATE: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    let url = std::env::var("DATABASE_URL").expect("the tests run with DATABASE_URL set");
    let template = TEMPLATE
        .get_or_init(|| async {
            let name = database_name("tpl");
            let mut admin = sqlx::PgConnection::connect(&url).await.expect("the test PostgreSQL is reachable");
            admin.execute(format!("create database {name}").as_str()).await.expect("the template is created");
            let _ = admin.close().await;
            let db = pool(&url, &name).await;
            server::migrate(&db).await.expect("migrations apply");
            // A template may have no connections while it is copied.
            db.close().await;
            name
        })
        .await;
    let name = database_name("db");
    let mut admin = sqlx::PgConnection::connect(&url).await.expect("the test PostgreSQL is reachable");
    admin
        .execute(format!("create database {name} template {template}").as_str())
        .await
        .expect("a test database is created");
    let _ = admin.close().await;
    pool(&url, &name).await
}

fn database_name(kind: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
    format!("pct_{kind}_{}_{stamp}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

async fn pool(url: &str, database: &str) -> PgPool {
    let options: sqlx::postgres::PgConnectOptions = url.parse().expect("DATABASE_URL parses");
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(10)
        .acquire_timeout(std::time::Duration::from_secs(30))
        .connect_with(options.database(database))
        .await
        .expect("the test database accepts connections")
}

/// A TCP port on 127.0.0.1 that nothing listens on (at the moment of asking).
/// `node end2end/<script>`, stopped with the test: the scripts that drive Chromium through
/// Playwright, or run an npm server (deploy/local/setup.sh installs both under end2end/).
pub fn node_script(script: &str) -> tokio::process::Command {
    let mut command = tokio::process::Command::new("node");
    command.arg(format!("{}/../end2end/{script}", env!("CARGO_MANIFEST_DIR"))).kill_on_drop(true);
    command
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Whether the tests run as root (then servers that refuse root run as another user).
pub fn is_root() -> bool {
    std::process::Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"))
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
    /// The body as a `T` (a model type, mostly); panics with the status and body when it is not.
    #[track_caller]
    pub fn parse<T: DeserializeOwned>(&self) -> T {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not a {} ({e}): {} {}", std::any::type_name::<T>(), self.status, self.body))
    }
    /// The body as the API's error object.
    #[track_caller]
    pub fn problem(&self) -> Problem {
        self.parse()
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

/// The user the session belongs to, as `/api/me` reports it (`None` for none).
pub async fn me(app: &axum::Router, cookie: &str) -> Option<app::model::CurrentUser> {
    let r = call(app, "/api/me", &[], Some(cookie)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.parse()
}

/// A JSON API call with an optional bearer token (what [`Client`] sends).
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

/// An `Authorization: Basic` value for `user` and `secret` (a password or a token).
pub fn basic(user: &str, secret: &str) -> String {
    use base64::Engine as _;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}")))
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

/// The REST API's error object (`{"message", "field"?}`), which has no type in `app::model`.
#[derive(Debug, Deserialize)]
pub struct Problem {
    pub message: String,
    pub field: Option<String>,
}

/// What `POST /api/v1/users/bootstrap` answers (the server's type serializes only).
#[derive(Deserialize)]
pub struct Bootstrapped {
    pub user: UserView,
    pub token: CreatedToken,
}

/// The password the fixture gives `name`.
pub fn password_of(name: &str) -> String {
    format!("{name} password 1")
}

/// Calls the REST API with a bearer token, or anonymously.
#[derive(Clone)]
pub struct Client {
    app: axum::Router,
    token: Option<String>,
}

impl Client {
    pub fn new(app: &axum::Router, token: Option<&str>) -> Client {
        Client { app: app.clone(), token: token.map(str::to_string) }
    }

    /// Any method, with a JSON body or none.
    pub async fn request(&self, method: &str, path: &str, body: Option<serde_json::Value>) -> Reply {
        api(&self.app, method, path, self.token.as_deref(), body).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.request("GET", path, None).await
    }

    pub async fn post(&self, path: &str, body: impl Serialize) -> Reply {
        self.request("POST", path, Some(to_json(body))).await
    }

    pub async fn put(&self, path: &str, body: impl Serialize) -> Reply {
        self.request("PUT", path, Some(to_json(body))).await
    }

    pub async fn patch(&self, path: &str, body: impl Serialize) -> Reply {
        self.request("PATCH", path, Some(to_json(body))).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.request("DELETE", path, None).await
    }
}

fn to_json(body: impl Serialize) -> serde_json::Value {
    serde_json::to_value(body).expect("a request body serializes")
}

/// Someone with an account: their id, name, password and an access token of theirs (named
/// "test"), calling the REST API with it (`alice.put(path, body)`, through [`Client`]).
#[derive(Clone)]
pub struct Person {
    pub id: i64,
    pub name: String,
    pub password: String,
    pub token: String,
    client: Client,
}

impl std::ops::Deref for Person {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl Person {
    fn new(app: &axum::Router, id: i64, name: &str, token: String) -> Person {
        let client = Client::new(app, Some(&token));
        Person { id, name: name.to_string(), password: password_of(name), token, client }
    }

    /// The same person calling with another of their tokens.
    pub fn using(&self, secret: &str) -> Person {
        Person { token: secret.to_string(), client: Client::new(&self.client.app, Some(secret)), ..self.clone() }
    }

    /// Their client alone, for a list of callers of different kinds.
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// `name:password`, as skopeo's `--creds` takes them.
    pub fn creds(&self) -> String {
        format!("{}:{}", self.name, self.password)
    }

    /// `name:secret` (a token of theirs, mostly), as skopeo's `--creds` takes them.
    pub fn creds_with(&self, secret: &str) -> String {
        format!("{}:{secret}", self.name)
    }

    /// `Authorization: Basic` with their name and password.
    pub fn basic(&self) -> String {
        basic(&self.name, &self.password)
    }

    /// `Authorization: Basic` with their name and `secret` (a token, a refresh token...).
    pub fn basic_with(&self, secret: &str) -> String {
        basic(&self.name, secret)
    }

    /// A new token of their own, made by themself with `body` (`{"name", "pull_only", ...}`).
    pub async fn mint(&self, body: impl Serialize) -> String {
        self.mint_for(self.id, body).await
    }

    /// A new token for user `id`, made by this person (who must be allowed to).
    pub async fn mint_for(&self, id: i64, body: impl Serialize) -> String {
        let r = self.post(&format!("/api/v1/users/{id}/application_tokens"), body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.parse::<CreatedToken>().secret
    }

    /// Logs in with their password and returns the session cookie.
    pub async fn session(&self) -> String {
        let r = log_in(&self.client.app, &self.name, &self.password).await;
        assert_eq!(r.status, StatusCode::OK, "{} logs in: {}", self.name, r.body);
        r.session_cookie().expect("a login sets a session cookie")
    }

    /// Creates a team, of which they are then the owner.
    pub async fn create_team(&self, name: &str) -> TeamView {
        let r = self.post("/api/v1/teams", json!({ "name": name })).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.parse()
    }

    /// Creates namespace `name` of team `team` (by name), private unless said otherwise.
    pub async fn create_namespace(&self, name: &str, team: &str) -> NamespaceView {
        let r = self.post("/api/v1/namespaces", json!({ "name": name, "team": team })).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.parse()
    }

    /// Adds `username` to team `team` (by id) with `role`.
    pub async fn add_member(&self, team: i64, username: &str, role: TeamRole) -> TeamMemberView {
        let r =
            self.post(&format!("/api/v1/teams/{team}/members"), json!({ "username": username, "role": role })).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.parse()
    }

    /// The namespaces they see, as the API lists them.
    pub async fn namespaces(&self) -> Vec<NamespaceView> {
        let r = self.get("/api/v1/namespaces").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.parse()
    }

    /// The namespace `name`, as they see it in their list.
    pub async fn namespace(&self, name: &str) -> NamespaceView {
        let all = self.namespaces().await;
        all.into_iter()
            .find(|n| n.namespace.name == name)
            .unwrap_or_else(|| panic!("{} does not see namespace {name}", self.name))
    }

    /// The repositories they see.
    pub async fn repositories(&self) -> Vec<RepositoryView> {
        let r = self.get("/api/v1/repositories").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.parse()
    }

    /// The repository `name`, if they see it.
    pub async fn repository(&self, name: &str) -> Option<RepositoryView> {
        self.repositories().await.into_iter().find(|r| r.name == name)
    }

    /// A page of the tags of repository `repo` (which they must see) for `query` (`name=1.0`,
    /// `sort=name`, `label=k%3Dv`...).
    pub async fn tags(&self, repo: &str, query: &str) -> Page<TagView> {
        let id = self.repository(repo).await.unwrap_or_else(|| panic!("{repo} is not listed to {}", self.name)).id;
        let r = self.get(&format!("/api/v1/repositories/{id}/tags?{query}")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.parse()
    }

    /// The tag `repo:tag`, if it is there (and they see it).
    pub async fn find_tag(&self, repo: &str, tag: &str) -> Option<TagView> {
        self.repository(repo).await?;
        self.tags(repo, &format!("name={tag}")).await.items.into_iter().find(|t| t.name == tag)
    }

    /// The tag `repo:tag`, which must be there.
    pub async fn tag(&self, repo: &str, tag: &str) -> TagView {
        self.find_tag(repo, tag).await.unwrap_or_else(|| panic!("{repo}:{tag} is not there for {}", self.name))
    }

    /// Everything the tag page shows of tag `id`.
    pub async fn tag_detail(&self, id: i64) -> TagDetail {
        let r = self.get(&format!("/api/v1/tags/{id}")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.parse()
    }

    /// Sets the visibility of namespace `name`.
    pub async fn set_visibility(&self, name: &str, visibility: Visibility) -> NamespaceView {
        let id = self.namespace(name).await.namespace.id;
        let r = self.put(&format!("/api/v1/namespaces/{id}"), json!({ "visibility": visibility })).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.parse()
    }
}

/// A test's database, the router over it and the people in it, each made on first use: the
/// first administrator `root` through the bootstrap endpoint, anyone else by `root` through
/// the API (with a password and a token).
pub struct World {
    pub db: PgPool,
    pub app: axum::Router,
    people: tokio::sync::Mutex<HashMap<String, Person>>,
}

impl World {
    /// A fresh database and the router over it, configured as `serve` is by default.
    pub async fn new() -> World {
        Self::with(|_| {}).await
    }

    /// A fresh database and the router over it, configured with `tweak`.
    pub async fn with(tweak: impl FnOnce(&mut Config)) -> World {
        let db = fresh_db().await;
        let app = app_with(&db, tweak).await;
        World::on(db, app)
    }

    /// People for a router made otherwise (a stack's, one started after the CLI ran).
    pub fn on(db: PgPool, app: axum::Router) -> World {
        World { db, app, people: Default::default() }
    }

    /// The first administrator, `root`.
    pub async fn root(&self) -> Person {
        self.person("root").await
    }

    /// `name`: the same person every time (a user created by `root` on first use).
    pub async fn person(&self, name: &str) -> Person {
        let mut people = self.people.lock().await;
        if let Some(p) = people.get(name) {
            return p.clone();
        }
        let root = match people.get("root") {
            Some(root) => root.clone(),
            None => {
                let root = self.bootstrap().await;
                people.insert(root.name.clone(), root.clone());
                root
            }
        };
        if name == "root" {
            return root;
        }
        let r = root.post("/api/v1/users", json!({ "username": name, "password": password_of(name) })).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let id = r.parse::<UserView>().id;
        let token = root.mint_for(id, json!({ "name": "test" })).await;
        let person = Person::new(&self.app, id, name, token);
        people.insert(name.to_string(), person.clone());
        person
    }

    async fn bootstrap(&self) -> Person {
        let body = json!({ "username": "root", "password": password_of("root") });
        let r = self.anonymous().post("/api/v1/users/bootstrap", body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let b: Bootstrapped = r.parse();
        Person::new(&self.app, b.user.id, &b.user.username, b.token.secret)
    }

    /// Calls without credentials.
    pub fn anonymous(&self) -> Client {
        Client::new(&self.app, None)
    }

    /// Calls with `secret` as the bearer token.
    pub fn bearer(&self, secret: &str) -> Client {
        Client::new(&self.app, Some(secret))
    }

    /// The actions of the activity log, oldest first.
    pub async fn actions(&self) -> Vec<String> {
        sqlx::query_scalar("select action from audit_event order by audit_event_id").fetch_all(&self.db).await.unwrap()
    }
}

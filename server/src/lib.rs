//! The `portcullis` server: configuration, start-up and the HTTP router. Handlers are thin;
//! the logic lives in `app::backend`.

// A release build without erased component types (`cargo build --release`, as the benchmarks
// do) lays out the pages' nested view types here, deeper than rustc's default limit of 128.
#![recursion_limit = "256"]

pub mod cli;
pub mod config;
pub mod csrf;
pub mod doctor;
pub mod events;
pub mod flash;
pub mod gate;
pub mod health;
pub mod oidc;
pub mod prometheus;
pub mod registry_config;
pub mod rest;
pub mod token;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use app::backend::{self, AppState};
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use sqlx::postgres::{PgPool, PgPoolOptions};
use tower_sessions::{cookie::SameSite, Expiry, SessionManagerLayer};
use tower_sessions_sqlx_store::PostgresStore;

pub use config::Config;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "portcullis_session";

/// Opens the connection pool (plans made for each statement's values).
pub async fn connect(config: &Config) -> anyhow::Result<PgPool> {
    open_pool(config, Plans::Custom, config.database_max_connections).await
}

/// How PostgreSQL plans a pool's prepared statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plans {
    /// A plan for each statement's values (`plan_cache_mode = force_custom_plan`).
    Custom,
    /// PostgreSQL's default: a generic plan once it is no worse.
    Generic,
}

/// The two pools a serving replica opens: the pages' and lists' (custom plans) and, a quarter
/// of `database_max_connections` taken from it, the registry's hot path (generic plans: the
/// token endpoint's and the event inbox's statements have one shape and a primary key, so
/// planning each again is pure cost, 16 µs against 33 µs a lookup measured with pgbench).
pub async fn connect_pools(config: &Config) -> anyhow::Result<(PgPool, PgPool)> {
    let total = config.database_max_connections.max(2);
    let hot = (total / 4).max(1);
    Ok((open_pool(config, Plans::Custom, total - hot).await?, open_pool(config, Plans::Generic, hot).await?))
}

async fn open_pool(config: &Config, plans: Plans, max_connections: u32) -> anyhow::Result<PgPool> {
    let url = config.require_database_url()?;
    let mut options: sqlx::postgres::PgConnectOptions =
        url.parse().context("the database URL is not a PostgreSQL URL (postgres://user:password@host/database)")?;
    if !config.database_ca_file.is_empty() {
        options = options.ssl_root_cert(config.database_ca_file.as_str());
    }
    if config.database_statement_timeout_secs > 0 {
        let timeout = format!("{}s", config.database_statement_timeout_secs);
        options = options.options([("statement_timeout", timeout.as_str())]);
    }
    // Plans made for each statement's values: the lists' queries take optional filters
    // (`$2 = '' or name ilike …`) and lists of ids, and the generic plan PostgreSQL switches to
    // after five runs cannot prune the filters that are off nor hash the lists; measured on
    // the scale benchmark's data, it made a repository's label filter 4× and the explore
    // page's count 20× slower. Planning again costs tens of microseconds.
    if plans == Plans::Custom {
        options = options.options([("plan_cache_mode", "force_custom_plan")]);
    }
    // No parallel workers: a page's query is small, and many run at once, so a query that
    // takes more cores only takes them from the others (a search by label measured 130 ms
    // at p50 under 4 clients on 2 cores with a parallel hash join, 18 ms a query without).
    options = options.options([("max_parallel_workers_per_gather", "0")]);
    let (host, port, database) =
        (options.get_host().to_string(), options.get_port(), options.get_database().unwrap_or("").to_string());
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(config.database_acquire_timeout_secs))
        .connect_with(options)
        .await
        .with_context(|| {
            format!(
                "cannot connect to PostgreSQL at {host}:{port}/{database} (is it running, is the database URL \
                 right, and with sslmode=verify-ca or verify-full, does database_ca_file name the CA that \
                 signed its certificate?)"
            )
        })
}

/// Brings the schema up to date: our migrations, then the session store's table.
pub async fn migrate(db: &PgPool) -> anyhow::Result<()> {
    backend::migrate(db).await.context("applying database migrations")?;
    PostgresStore::new(db.clone()).migrate().await.context("creating the session table")?;
    Ok(())
}

/// The Leptos options for this build: where the compiled site lives and its bundle name.
pub fn leptos_options(config: &Config) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("portcullis")
        .site_root(config.site_root.as_str())
        .site_pkg_dir("pkg")
        .hash_files(hashed_site())
        .site_addr(config.listen)
        .build()
}

/// The shared state over a migrated database.
pub async fn state(db: PgPool, config: &Config) -> anyhow::Result<AppState> {
    let state = AppState::init(db, config.app_settings()).await.map_err(|e| anyhow::anyhow!("starting: {e}"))?;
    // Group mappings made before they named their source get the one source configured.
    match app::backend::access::groups::adopt_unsourced(&state).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(mappings = n, "group mappings without a source now name the only one configured"),
        Err(e) => return Err(anyhow::anyhow!("starting: group mappings: {e}")),
    }
    Ok(state)
}

/// The whole HTTP application over an existing pool (the schema must be migrated).
pub async fn app(db: PgPool, config: &Config) -> anyhow::Result<Router> {
    Ok(router(state(db, config).await?, config))
}

/// The HTTP application over a ready state.
pub fn router(state: AppState, config: &Config) -> Router {
    let db = state.hot.clone();
    prometheus::handle();
    let options = leptos_options(config);
    // A repository's pages are three routes on one path pattern (`/repositories/{*name}`, see
    // app::ui::RepositoryPath); the app's router tells them apart, so the server lists it once.
    let mut paths = std::collections::HashSet::new();
    let routes: Vec<_> =
        generate_route_list(app::ui::App).into_iter().filter(|r| paths.insert(r.path().to_string())).collect();

    let sessions = SessionManagerLayer::new(PostgresStore::new(db))
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(config.is_https())
        .with_expiry(Expiry::OnInactivity(tower_sessions::cookie::time::Duration::days(config.session_days)));

    // Server functions, pages and the 404 page all get the state as context.
    let context = {
        let state = state.clone();
        move || provide_context(state.clone())
    };
    let trusted = Arc::new(config.trusted_proxies.0.clone());
    // What the registry and its clients call (`/v2/token`, the event inbox) carries no cookie,
    // gets small JSON answers (no compression, never stored) and is never a
    // cross-site form: it skips the sessions, the same-origin check and the pages' layers,
    // which measured about a fifth of a token's cost (docs/performance.md).
    let gate = gate::Gate::new(state.clone(), config);
    let registry_facing = token::router(state.clone())
        .merge(events::router(state.clone()))
        .merge(gate::router(gate))
        .layer(axum::middleware::from_fn_with_state(trusted.clone(), client_ip))
        .layer(axum::extract::DefaultBodyLimit::max(1024 * 1024))
        .layer(tower_http::set_header::SetResponseHeaderLayer::if_not_present(
            axum::http::header::CACHE_CONTROL,
            axum::http::HeaderValue::from_static("no-store"),
        ));
    Router::new()
        .leptos_routes_with_context(&options, routes, context.clone(), {
            let options = options.clone();
            move || app::ui::shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context(context, app::ui::shell))
        .with_state(options)
        .merge(health::router(state.clone()))
        .merge(rest::router(state.clone()))
        .merge(oidc::router(state.clone()))
        .merge(prometheus::router(state, config.metrics_token.clone()))
        .layer(axum::middleware::from_fn(flash::carry))
        .layer(sessions)
        .layer(axum::middleware::from_fn_with_state(Arc::new(config.public_origin()), csrf::same_origin_only))
        .layer(axum::middleware::from_fn_with_state(trusted, client_ip))
        .layer(axum::extract::DefaultBodyLimit::max(1024 * 1024))
        .layer(axum::middleware::from_fn(cache_control))
        .layer(axum::middleware::from_fn(server_fn_status))
        .layer(compression())
        .merge(registry_facing)
        .layer(axum::middleware::from_fn(prometheus::track))
        .layer(axum::middleware::from_fn(request_id))
}

/// A server function that returns an error answers 500 unless it set a status itself (the
/// form functions do, through `form::respond`): this gives every other one the status of the
/// error it returned (403 for a refusal, 404, 422...), read from the error in the body.
async fn server_fn_status(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    use axum::http::StatusCode;
    let path = req.uri().path();
    let server_fn = path.starts_with("/api/") && !path.starts_with("/api/v1/") && path != "/api/openapi.json";
    let res = next.run(req).await;
    if !server_fn || res.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    // An error is a short JSON object; anything longer is not one.
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return axum::response::Response::from_parts(parts, axum::body::Body::empty());
    };
    if let Ok(err) = serde_json::from_slice::<app::error::AppError>(&bytes) {
        if let Ok(status) = StatusCode::from_u16(err.status()) {
            parts.status = status;
        }
    }
    axum::response::Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// Whether the site's files carry their hashes in their names: cargo-leptos (`hash-files`)
/// writes `hash.txt` beside the server it builds, and the container image copies it there.
pub fn hashed_site() -> bool {
    std::env::current_exe().ok().and_then(|exe| exe.parent().map(|d| d.join("hash.txt"))).is_some_and(|p| p.is_file())
}

/// Answers of 4 KiB and more are compressed (brotli or gzip, as the client accepts), at a
/// quick level: pages, lists, the site's js and css when they were not compressed at build
/// time (release builds ship `.br` and `.gz` beside them, served as they are). Registry tokens
/// (about 1 KiB) stay as they are, so the token endpoint spends nothing on it.
fn compression() -> tower_http::compression::CompressionLayer<impl tower_http::compression::Predicate> {
    use tower_http::compression::predicate::{NotForContentType, Predicate as _, SizeAbove};
    use tower_http::compression::{CompressionLayer, CompressionLevel, DefaultPredicate};
    // Not the wasm: a release build ships it compressed, and a debug build's (16 MB) would
    // cost every page load a second of compressing.
    CompressionLayer::new().quality(CompressionLevel::Fastest).compress_when(
        DefaultPredicate::new().and(SizeAbove::new(4096)).and(NotForContentType::const_new("application/wasm")),
    )
}

/// How long browsers keep what they get: the site's hashed files for a year (a new build has
/// new names), its other files for an hour, and pages and API answers not at all without asking
/// again (`no-cache`: they change with every push, and carry the viewer's own data).
async fn cache_control(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    use axum::http::{header, HeaderValue};
    let path = req.uri().path().to_string();
    let mut res = next.run(req).await;
    if res.headers().contains_key(header::CACHE_CONTROL) {
        return res;
    }
    let value = match path.strip_prefix("/pkg/") {
        Some(file) if res.status().is_success() && is_hashed_name(file) => "public, max-age=31536000, immutable",
        Some(_) => "no-cache",
        None if res.headers().get(header::CONTENT_TYPE).is_some_and(|t| t.as_bytes().starts_with(b"text/html")) => {
            "no-cache"
        }
        None if path.starts_with("/api/") || path.starts_with("/v2/") || path.starts_with("/admin/") => "no-store",
        None => "public, max-age=3600",
    };
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    res
}

/// Whether a site file's name carries a content hash, as cargo-leptos writes it:
/// `portcullis.<hash>.wasm` (the hash is 22 characters of unpadded base64url).
fn is_hashed_name(file: &str) -> bool {
    let parts: Vec<&str> = file.rsplit('/').next().unwrap_or(file).split('.').collect();
    parts.len() >= 3
        && parts[parts.len() - 2].len() >= 16
        && parts[parts.len() - 2].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The header that names a request, in the logs and in the response.
pub const REQUEST_ID: &str = "x-request-id";

/// Gives every request an id: the one a proxy in front sent (when it is short and plain), or a
/// new one. Every log line written while the request is handled carries it (a `request` span),
/// and the response names it, so that a user's report can be found in the logs.
pub(crate) async fn request_id(
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use rand::RngCore as _;
    use tracing::Instrument as _;
    let given = req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).filter(|v| {
        (1..=64).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
    });
    let id = match given {
        Some(v) => v.to_string(),
        None => {
            // Unique, not secret: the thread's generator, no system call per request.
            let mut bytes = [0u8; 16];
            rand::thread_rng().fill_bytes(&mut bytes);
            hex::encode(bytes)
        }
    };
    let value = axum::http::HeaderValue::from_str(&id).expect("a plain id is a header value");
    req.headers_mut().insert(REQUEST_ID, value.clone());
    let span = tracing::info_span!("request", id = %id, method = %req.method(), path = req.uri().path());
    let mut response = next.run(req).instrument(span).await;
    response.headers_mut().insert(REQUEST_ID, value);
    response
}

/// Works out who the client is (see [`backend::client_ip`]) once, for every handler.
pub(crate) async fn client_ip(
    axum::extract::State(trusted): axum::extract::State<Arc<Vec<backend::ProxyNet>>>,
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let peer = req.extensions().get::<axum::extract::ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let forwarded: Vec<&str> =
        req.headers().get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect();
    let forwarded = (!forwarded.is_empty()).then(|| forwarded.join(","));
    if let Some(ip) = backend::client_ip(peer, forwarded.as_deref(), &trusted) {
        req.extensions_mut().insert(backend::ClientIp(ip));
    }
    next.run(req).await
}

/// `serve`: connect, migrate, and serve until Ctrl-C or SIGTERM.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let (db, hot) = connect_pools(&config).await?;
    migrate(&db).await?;
    spawn_session_cleanup(db.clone());

    let state = state(db, &config).await?.with_hot_pool(hot);
    if config.keys_encryption_key.is_empty() {
        tracing::warn!(
            "no keys_encryption_key (PORTCULLIS_KEYS_ENCRYPTION_KEY) is set: the token signing keys are stored in \
             clear in PostgreSQL, and anyone who can read its tables or backups can sign registry tokens"
        );
    }
    app::backend::registry::cache::spawn_listener(state.db.clone());
    app::backend::images::events::spawn_worker(state.clone(), state.registry.clone());
    app::backend::images::reconcile::spawn_periodic(
        state.clone(),
        std::time::Duration::from_secs(config.sync_interval_secs),
    );
    app::backend::maintenance::spawn(state.clone());
    app::backend::access::groups::spawn_periodic(
        state.clone(),
        std::time::Duration::from_secs(config.ldap_sync_interval_secs),
    );
    app::backend::access::oidc::spawn_periodic(
        state.clone(),
        std::time::Duration::from_secs(config.oidc_check_interval_secs),
    );
    app::backend::webhooks::spawn_worker(state.clone());
    app::backend::images::cleanup::spawn(state.clone());
    prometheus::spawn_upkeep();
    if !config.gate_listen.is_empty() {
        // The gate forwards to registry_url: were that the gate itself, every request would
        // come back to it, without end.
        let upstream = config.registry_url.trim_start_matches("http://").trim_start_matches("https://");
        let upstream = upstream.split('/').next().unwrap_or_default();
        if upstream == config.gate_listen || upstream == config.listen.to_string() {
            anyhow::bail!(
                "registry_url ({}) is Portcullis's own address: it must be the registry's (registry_listen)",
                config.registry_url
            );
        }
        let gate =
            gate::listener_router(gate::Gate::new(state.clone(), &config), Arc::new(config.trusted_proxies.0.clone()));
        let gate_listener = tokio::net::TcpListener::bind(&config.gate_listen)
            .await
            .with_context(|| format!("cannot listen on {} (gate_listen)", config.gate_listen))?;
        tracing::info!(listen = %config.gate_listen, registry = %config.registry_url, "the registry's API is served here too");
        tokio::spawn(async move {
            let served = axum::serve(gate_listener, gate.into_make_service_with_connect_info::<SocketAddr>())
                .with_graceful_shutdown(shutdown_signal())
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "the gate's listener stopped");
            }
        });
    }
    let router = router(state, &config);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    tracing::info!(listen = %config.listen, public_url = %config.public_url, "Portcullis is serving");
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serving HTTP")
}

/// Deletes expired sessions every hour.
fn spawn_session_cleanup(db: PgPool) {
    use tower_sessions::ExpiredDeletion as _;
    tokio::spawn(async move {
        let store = PostgresStore::new(db);
        if let Err(e) = store.continuously_delete_expired(tokio::time::Duration::from_secs(3600)).await {
            tracing::warn!(error = %e, "session cleanup stopped");
        }
    });
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}

/// Sets up logging to standard output (the server's): `RUST_LOG` filters (default `info`),
/// text or JSON lines.
pub fn init_tracing(format: config::LogFormat) {
    init_tracing_to(format, false);
}

/// Sets up logging, to standard error when `to_stderr`: the command-line tools print their
/// results (JSON, a token, a report) on standard output, and log lines must not mix in.
pub fn init_tracing_to(format: config::LogFormat, to_stderr: bool) {
    use tracing_subscriber::fmt::writer::BoxMakeWriter;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_sessions=warn,tower_sessions_core=warn"));
    let writer = if to_stderr { BoxMakeWriter::new(std::io::stderr) } else { BoxMakeWriter::new(std::io::stdout) };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(true).with_writer(writer);
    let _ = match format {
        config::LogFormat::Json => builder.json().try_init(),
        config::LogFormat::Text => builder.try_init(),
    };
}

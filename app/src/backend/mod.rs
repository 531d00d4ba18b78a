//! Server-side domain code: everything that touches the database, secrets or the network.
//! Compiled only with the `ssr` feature; server functions and HTTP handlers call into it.

pub mod access;
pub mod admin;
pub mod audit;
pub mod auth;
pub mod browse;
pub mod cache;
pub mod events;
pub mod form;
pub mod images;
pub mod keys;
pub mod namespaces;
pub mod password;
pub mod registry;
pub mod session;
pub mod sync;
pub mod teams;
pub mod throttle;
pub mod token_service;
pub mod tokens;
pub mod users;

use std::sync::Arc;

use sqlx::PgPool;

/// Settings the domain code reads at run time. The server crate builds this from its
/// layered configuration (file, environment, flags).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Whether visitors may create accounts.
    pub signup_enabled: bool,
    /// Whether the first account created becomes an administrator.
    pub first_user_admin: bool,
    /// `host:port` of the registry, as users type it in `docker login`.
    pub registry_host: String,
    /// Access settings written to the database at the first start (administrators change
    /// them afterwards on the settings page).
    pub access_defaults: crate::policy::AccessSettings,
    /// The token service: service name, issuer, lifetime.
    pub token: token_service::TokenSettings,
    /// Algorithm of new signing keys.
    pub key_algorithm: keys::KeyAlgorithm,
    /// How long a successful password check is remembered by the token service.
    pub password_cache_secs: u64,
    /// The registry's HTTP API, as Portcullis reaches it.
    pub registry_url: String,
    /// The shared secret of the registry's notifications; generated and kept in the
    /// database when not configured.
    pub events_secret: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            signup_enabled: true,
            first_user_admin: true,
            registry_host: "127.0.0.1:5000".into(),
            access_defaults: Default::default(),
            token: Default::default(),
            key_algorithm: keys::KeyAlgorithm::ES256,
            password_cache_secs: 300,
            registry_url: "http://127.0.0.1:5000".into(),
            events_secret: None,
        }
    }
}

/// Everything a request handler needs, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: PgPool,
    pub settings: Arc<Settings>,
    pub hasher: password::Hasher,
    pub access: access::SettingsStore,
    pub token: Arc<token_service::TokenSettings>,
    pub keys: keys::KeyRing,
    pub auth_cache: Arc<token_service::AuthCache>,
    pub registry: registry::RegistryClient,
    /// Wakes the event worker when the inbox stores events.
    pub events: events::Wakeup,
    /// The secret the registry sends with its notifications.
    pub events_secret: Arc<str>,
}

impl AppState {
    /// Builds the state over a migrated database.
    pub async fn init(db: PgPool, settings: Settings) -> Result<Self, crate::error::AppError> {
        let access = access::SettingsStore::init(&db, settings.access_defaults).await?;
        let keys = keys::KeyRing::load(&db, settings.key_algorithm).await?;
        let cache = token_service::AuthCache::new(std::time::Duration::from_secs(settings.password_cache_secs));
        let events_secret = match settings.events_secret.clone().filter(|s| !s.is_empty()) {
            Some(s) => s,
            None => secret(&db, "registry_events").await?,
        };
        Ok(Self {
            registry: registry::RegistryClient::new(&settings.registry_url),
            events: Default::default(),
            events_secret: events_secret.into(),
            db,
            token: Arc::new(settings.token.clone()),
            settings: Arc::new(settings),
            hasher: password::Hasher::new(password::default_concurrency()),
            access,
            keys,
            auth_cache: Arc::new(cache),
        })
    }
}

/// Applies the schema migrations embedded in the binary.
pub async fn migrate(db: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    sqlx::migrate!("../migrations").run(db).await
}

/// A secret Portcullis generates for itself once and keeps in the database (shared by replicas).
pub async fn secret(db: &PgPool, name: &str) -> Result<String, crate::error::AppError> {
    use rand::RngCore as _;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let fresh = hex::encode(bytes);
    Ok(sqlx::query_scalar!(
        "with ins as (insert into app_secret (name, value) values ($1, $2) on conflict (name) do nothing returning value)
         select value as \"value!\" from ins union all select value from app_secret where name = $1 limit 1",
        name,
        fresh
    )
    .fetch_one(db)
    .await?)
}

/// Runs `work` while this process holds the PostgreSQL advisory lock `name`, unless another
/// session holds it (then `None`): how only one replica runs a singleton job (the event
/// worker, reconcile). The lock is released afterwards; if releasing fails, the session is
/// closed instead, which releases it for sure.
pub async fn exclusively<T>(
    db: &PgPool,
    name: &str,
    work: impl std::future::Future<Output = crate::error::AppResult<T>>,
) -> crate::error::AppResult<Option<T>> {
    let mut lock = db.acquire().await?;
    let got = sqlx::query_scalar!(r#"select pg_try_advisory_lock(hashtext($1)) as "got!""#, name)
        .fetch_one(&mut *lock)
        .await?;
    if !got {
        return Ok(None);
    }
    let result = work.await;
    let unlocked = sqlx::query_scalar!(r#"select pg_advisory_unlock(hashtext($1)) as "unlocked!""#, name)
        .fetch_one(&mut *lock)
        .await;
    if unlocked.is_err() {
        drop(lock.detach());
    }
    result.map(Some)
}

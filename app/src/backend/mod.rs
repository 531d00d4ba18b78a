//! Server-side domain code: everything that touches the database, secrets or the network.
//! Compiled only with the `ssr` feature; server functions and HTTP handlers call into it.

pub mod access;
pub mod admin;
pub mod audit;
pub mod auth;
pub mod form;
pub mod namespaces;
pub mod password;
pub mod session;
pub mod teams;
pub mod throttle;
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
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            signup_enabled: true,
            first_user_admin: true,
            registry_host: "127.0.0.1:5000".into(),
            access_defaults: Default::default(),
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
}

impl AppState {
    /// Builds the state over a migrated database.
    pub async fn init(db: PgPool, settings: Settings) -> Result<Self, crate::error::AppError> {
        let access = access::SettingsStore::init(&db, settings.access_defaults).await?;
        Ok(Self {
            db,
            settings: Arc::new(settings),
            hasher: password::Hasher::new(password::default_concurrency()),
            access,
        })
    }
}

/// Applies the schema migrations embedded in the binary.
pub async fn migrate(db: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    sqlx::migrate!("../migrations").run(db).await
}

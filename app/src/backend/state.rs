//! The application state every request handler and job is given.

use std::sync::Arc;

use sqlx::PgPool;

use super::{access, images, mail, org, registry, secret, Secret, Settings};
use crate::error::AppError;

/// Everything a request handler needs: one shared allocation, so that a clone (every
/// extractor and middleware takes one) is a single reference count.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What an [`AppState`] holds.
#[derive(Clone)]
pub struct Shared {
    pub db: PgPool,
    /// Connections left on PostgreSQL's generic plans, for the fixed-shape statements run on
    /// every registry request: the token endpoint's lookups, the event inbox, the sessions.
    /// The same pool as `db` unless the server opens a second one.
    pub hot: PgPool,
    pub settings: Arc<Settings>,
    pub hasher: access::password::Hasher,
    /// The site's access settings (push policy, deletes, what users may create), cached.
    pub access_settings: org::settings::AccessSettingsStore,
    pub keys: registry::keys::KeyRing,
    pub auth_cache: Arc<registry::token_service::AuthCache>,
    pub registry: registry::client::RegistryClient,
    /// Wakes the event worker when the inbox stores events.
    pub events: images::events::Wakeup,
    /// The event inbox's commits, made together.
    pub inbox: Arc<images::events::Inbox>,
    /// The secret the registry sends with its notifications.
    pub events_secret: Arc<str>,
    /// Sends mail, when SMTP is configured.
    pub mailer: Option<Arc<mail::Mailer>>,
    /// The directory (LDAP), when configured.
    pub directory: Option<Arc<access::ldap::Directory>>,
    /// The OpenID Connect providers, with their discovery documents once fetched.
    pub oidc: access::oidc::Providers,
    /// The namespaces' signature policies, as the gate read them lately.
    pub signing: Arc<super::gate::signing::Policies>,
}

impl AppState {
    /// Builds the state over a migrated database.
    pub async fn init(db: PgPool, settings: Settings) -> Result<Self, crate::error::AppError> {
        let access_settings = org::settings::AccessSettingsStore::init(&db, settings.access_defaults).await?;
        let policy = registry::keys::KeyPolicy {
            alg: settings.key_algorithm,
            rotation: settings.key_rotation,
            token_lifetime: std::time::Duration::from_secs(settings.token.expires_in.unsigned_abs()),
            crypt: registry::keys::KeyCrypt::new(settings.keys_encryption_key.as_ref().map(Secret::expose)),
        };
        let keys = registry::keys::KeyRing::load(&db, policy).await?;
        let cache =
            registry::token_service::AuthCache::new(std::time::Duration::from_secs(settings.password_cache_secs));
        let events_secret = match settings.events_secret.as_ref().filter(|s| !s.is_empty()) {
            Some(s) => s.expose().to_string(),
            None => secret(&db, "registry_events").await?,
        };
        let mailer = match &settings.mail {
            Some(m) => Some(Arc::new(mail::Mailer::new(m).map_err(|e| AppError::invalid("smtp", e))?)),
            None => None,
        };
        let directory = match &settings.ldap {
            Some(l) => {
                Some(Arc::new(access::ldap::Directory::new(l.clone()).map_err(|e| AppError::invalid("ldap", e))?))
            }
            None => None,
        };
        let oidc = access::oidc::Providers::new(&settings.oidc, &settings.public_url)
            .map_err(|e| AppError::invalid("oidc", e))?;
        Ok(Self(Arc::new(Shared {
            mailer,
            directory,
            oidc,
            registry: registry::client::RegistryClient::new(&settings.registry_url),
            events: Default::default(),
            inbox: Arc::new(images::events::Inbox::new(images::events::INBOX_TURNS)),
            events_secret: events_secret.into(),
            hot: db.clone(),
            db,
            settings: Arc::new(settings),
            hasher: access::password::Hasher::new(access::password::default_concurrency()),
            access_settings,
            keys,
            auth_cache: Arc::new(cache),
            signing: Arc::default(),
        })))
    }

    /// The same state with the registry's hot path on a pool of its own (see `hot`).
    pub fn with_hot_pool(mut self, hot: PgPool) -> Self {
        Arc::make_mut(&mut self.0).hot = hot;
        self
    }
}

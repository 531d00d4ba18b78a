//! Server-side domain code: everything that touches the database, secrets or the network.
//! Each room (a folder, or a file at this level) names in its module doc the tables it owns,
//! in backticks in a sentence that starts "Owns the": only that room writes them
//! (app/tests/table_owners.rs).
//! This module owns the `app_secret` table (the key sessions are signed with).
//! Compiled only with the `ssr` feature; server functions and HTTP handlers call into it.

pub mod access;
pub mod audit;
pub mod directory;
pub mod images;
pub mod jobs;
pub mod mail;
pub mod maintenance;
pub mod registry;
pub mod webhooks;

use std::sync::Arc;

use sqlx::PgPool;

use crate::error::{AppError, AppResult};

/// A configuration value that must never be printed: `Debug` and `Display` show `[redacted]`.
#[derive(Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The secret itself. Call it only where the value is used, never to log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "[redacted]" })
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_string()))
    }
}

/// Settings the domain code reads at run time. The server crate builds this from its
/// layered configuration (file, environment, flags). `Debug` shows no secret.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Whether visitors may create accounts.
    pub signup_enabled: bool,
    /// Whether local accounts other than administrators sign in with a password kept here.
    pub local_passwords: bool,
    /// Whether the first account created becomes an administrator.
    pub first_user_admin: bool,
    /// Days of inactivity after which a signed-in session ends.
    pub session_days: i64,
    /// `host:port` of the registry, as users type it in `docker login`.
    pub registry_host: String,
    /// Access settings written to the database at the first start (administrators change
    /// them afterwards on the settings page).
    pub access_defaults: crate::policy::AccessSettings,
    /// The token service: service name, issuer, lifetime.
    pub token: registry::jwt::TokenSettings,
    /// Algorithm of new signing keys.
    pub key_algorithm: registry::keys::KeyAlgorithm,
    /// How long a signing key signs before it is replaced (its certificate ends soon after).
    pub key_rotation: std::time::Duration,
    /// Encrypts private keys at rest; `None` keeps them in clear (with a warning at start).
    pub keys_encryption_key: Option<Secret>,
    /// How long a successful password check is remembered by the token service.
    pub password_cache_secs: u64,
    /// The registry's HTTP API, as Portcullis reaches it.
    pub registry_url: String,
    /// The shared secret of the registry's notifications; generated and kept in the
    /// database when not configured.
    pub events_secret: Option<Secret>,
    /// Days processed registry events are kept.
    pub events_retention_days: u32,
    /// Days each tag's moves are kept.
    pub tag_history_days: u32,
    /// Whether webhooks may be sent to loopback, private and link-local addresses.
    pub webhook_allow_private: bool,
    /// Where users reach Portcullis (links in what webhooks send).
    pub public_url: String,
    /// Refresh tokens (docker's identity tokens) end this many days after they were issued...
    pub refresh_token_max_days: u32,
    /// ...or after this many days without use, whichever comes first.
    pub refresh_token_idle_days: u32,
    /// Peers whose `X-Forwarded-For` names the client (reverse proxies, load balancers).
    pub trusted_proxies: Vec<ProxyNet>,
    /// Where mail goes (password reset links); `None`: no SMTP, nothing is sent.
    pub mail: Option<mail::MailSettings>,
    /// The directory people sign in with; `None`: local accounts only.
    pub ldap: Option<access::ldap::LdapSettings>,
    /// The OpenID Connect providers people may sign in through (each a button on the sign-in page).
    pub oidc: Vec<access::oidc::OidcSettings>,
}

/// An address or CIDR block of trusted reverse proxies (`10.0.0.0/8`, `::1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyNet(ipnet::IpNet);

impl ProxyNet {
    /// Whether `ip` is in the block; an IPv4 block holds the IPv4-mapped IPv6 addresses too
    /// (`::ffff:10.0.0.1`, as a dual-stack socket reports an IPv4 peer).
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr::{V4, V6};
        let ip = match (self.0, ip) {
            (ipnet::IpNet::V4(_), V6(v6)) => v6.to_ipv4_mapped().map(V4).unwrap_or(V6(v6)),
            _ => ip,
        };
        self.0.contains(&ip)
    }
}

impl std::str::FromStr for ProxyNet {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let addr = s.split_once('/').map_or(s, |(a, _)| a);
        let _: std::net::IpAddr = addr.parse().map_err(|_| format!("{s:?} is not an IP address or CIDR block"))?;
        match s.contains('/') {
            true => s.parse().map(Self).map_err(|_| format!("{s:?}: bad prefix length")),
            false => Ok(Self(s.parse::<std::net::IpAddr>().expect("parsed above").into())),
        }
    }
}

/// The client's address: the TCP peer, or, when the peer is a trusted proxy, the last
/// address in `X-Forwarded-For` that is not itself a trusted proxy. Proxies append the
/// address they received from, so only the entries trusted proxies wrote can be believed.
pub fn client_ip(
    peer: Option<std::net::IpAddr>,
    forwarded_for: Option<&str>,
    trusted: &[ProxyNet],
) -> Option<std::net::IpAddr> {
    let peer = peer?;
    let is_trusted = |ip: std::net::IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(peer) {
        return Some(peer);
    }
    let mut client = peer;
    for hop in forwarded_for.unwrap_or_default().rsplit(',') {
        let Ok(ip) = hop.trim().parse::<std::net::IpAddr>() else { break };
        client = ip;
        if !is_trusted(ip) {
            break;
        }
    }
    Some(client)
}

/// The client's address as the server computed it, kept in a request's extensions.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub std::net::IpAddr);

/// Everything a request handler needs, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: PgPool,
    /// Connections left on PostgreSQL's generic plans, for the fixed-shape statements run on
    /// every registry request: the token endpoint's lookups, the event inbox, the sessions.
    /// The same pool as `db` unless the server opens a second one.
    pub hot: PgPool,
    pub settings: Arc<Settings>,
    pub hasher: access::password::Hasher,
    pub access: directory::settings::SettingsStore,
    pub keys: registry::keys::KeyRing,
    pub auth_cache: Arc<registry::token_service::AuthCache>,
    pub registry: registry::client::RegistryClient,
    /// Wakes the event worker when the inbox stores events.
    pub events: images::events::Wakeup,
    /// The secret the registry sends with its notifications.
    pub events_secret: Arc<str>,
    /// Sends mail, when SMTP is configured.
    pub mailer: Option<Arc<mail::Mailer>>,
    /// The directory (LDAP), when configured.
    pub directory: Option<Arc<access::ldap::Directory>>,
    /// The OpenID Connect providers, with their discovery documents once fetched.
    pub oidc: access::oidc::Providers,
}

impl AppState {
    /// Builds the state over a migrated database.
    pub async fn init(db: PgPool, settings: Settings) -> Result<Self, crate::error::AppError> {
        let access = directory::settings::SettingsStore::init(&db, settings.access_defaults).await?;
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
        Ok(Self {
            mailer,
            directory,
            oidc,
            registry: registry::client::RegistryClient::new(&settings.registry_url),
            events: Default::default(),
            events_secret: events_secret.into(),
            hot: db.clone(),
            db,
            settings: Arc::new(settings),
            hasher: access::password::Hasher::new(access::password::default_concurrency()),
            access,
            keys,
            auth_cache: Arc::new(cache),
        })
    }
}

/// The schema migrations embedded in the binary.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Applies the schema migrations embedded in the binary.
pub async fn migrate(db: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(db).await
}

/// How the database's schema compares with this binary's migrations.
#[derive(Debug, Clone, Default)]
pub struct MigrationStatus {
    /// This binary's migrations the database has.
    pub applied: usize,
    /// This binary's migrations the database lacks ("0007 webhooks").
    pub missing: Vec<String>,
    /// Migrations the database has that this binary does not know (a newer version ran).
    pub unknown: usize,
}

/// Compares the database's applied migrations with this binary's, changing nothing.
pub async fn migration_status(db: &PgPool) -> Result<MigrationStatus, sqlx::Error> {
    let exists: bool = sqlx::query_scalar("select to_regclass('_sqlx_migrations') is not null").fetch_one(db).await?;
    let done: Vec<i64> = if exists {
        sqlx::query_scalar("select version from _sqlx_migrations where success").fetch_all(db).await?
    } else {
        Vec::new()
    };
    let ours: Vec<_> = MIGRATOR.iter().filter(|m| !m.migration_type.is_down_migration()).collect();
    let mut status = MigrationStatus::default();
    for m in &ours {
        if done.contains(&m.version) {
            status.applied += 1;
        } else {
            status.missing.push(format!("{:04} {}", m.version, m.description));
        }
    }
    status.unknown = done.iter().filter(|v| !ours.iter().any(|m| m.version == **v)).count();
    Ok(status)
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

/// A search text (the parameter `field`), trimmed and at most [`crate::model::MAX_QUERY_LEN`]
/// characters.
pub fn bounded_query(field: &str, q: &str) -> AppResult<String> {
    let q = q.trim();
    if q.chars().count() > crate::model::MAX_QUERY_LEN {
        return Err(AppError::invalid(field, format!("must be at most {} characters", crate::model::MAX_QUERY_LEN)));
    }
    Ok(q.to_string())
}

/// The longest description of a team, namespace or repository.
pub const MAX_DESCRIPTION_LEN: usize = 2000;

/// Checks a description of a team, namespace or repository.
pub fn validate_description(description: &str) -> AppResult<()> {
    if description.chars().count() > MAX_DESCRIPTION_LEN {
        return Err(AppError::invalid("description", format!("must be at most {MAX_DESCRIPTION_LEN} characters")));
    }
    Ok(())
}

/// The same JSON without NUL characters, which PostgreSQL's `jsonb` cannot hold (labels,
/// annotations and whatever a pusher wrote reach us in events and manifests).
pub fn without_nul(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::String(s) if s.contains('\0') => Value::String(s.replace('\0', "")),
        Value::Array(a) => Value::Array(a.into_iter().map(without_nul).collect()),
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (k.replace('\0', ""), without_nul(v))).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_the_peer_unless_a_trusted_proxy_forwarded_it() {
        let trusted: Vec<ProxyNet> = vec!["10.0.0.0/8".parse().unwrap(), "::1".parse().unwrap()];
        let ip = |s: &str| Some(s.parse::<std::net::IpAddr>().unwrap());
        // An untrusted peer's header is ignored: anyone can write one.
        assert_eq!(client_ip(ip("203.0.113.9"), Some("1.2.3.4"), &trusted), ip("203.0.113.9"));
        // A trusted proxy: the last address it did not write itself.
        assert_eq!(client_ip(ip("10.1.2.3"), Some("1.2.3.4, 198.51.100.7"), &trusted), ip("198.51.100.7"));
        assert_eq!(client_ip(ip("10.1.2.3"), Some("198.51.100.7, 10.9.9.9"), &trusted), ip("198.51.100.7"));
        assert_eq!(client_ip(ip("::1"), Some("198.51.100.7"), &trusted), ip("198.51.100.7"));
        // Garbage stops the walk at the last good address.
        assert_eq!(client_ip(ip("10.1.2.3"), Some("junk, 10.2.2.2"), &trusted), ip("10.2.2.2"));
        assert_eq!(client_ip(ip("10.1.2.3"), None, &trusted), ip("10.1.2.3"));
        assert!("10.0.0.0/33".parse::<ProxyNet>().is_err());
        assert!("nonsense".parse::<ProxyNet>().is_err());
        let v4_mapped: std::net::IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert!(trusted[0].contains(v4_mapped));
        assert!(!trusted[0].contains("11.0.0.1".parse().unwrap()));
    }

    #[test]
    fn nul_characters_are_removed_everywhere() {
        let v = serde_json::json!({"a\u{0}": ["b\u{0}c", 1, {"k": "\u{0}"}]});
        assert_eq!(without_nul(v), serde_json::json!({"a": ["bc", 1, {"k": ""}]}));
    }

    #[test]
    fn secrets_do_not_show_in_debug() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(format!("{:?}", Secret::default()), "\"\"");
    }
}

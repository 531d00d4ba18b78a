//! Configuration: built-in defaults, overridden by a TOML file (`portcullis.toml`, or the
//! file named by `--config` / `PORTCULLIS_CONFIG`), overridden by `PORTCULLIS_*` environment
//! variables, overridden by command-line flags.
//!
//! Every key is declared once, in the `config_keys!` table below: its type, default,
//! environment variable and documentation (which becomes its `--help` text). The TOML file
//! uses the same names in snake_case; the flags use them in kebab-case.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use app::backend::mail::SmtpSecurity;
use app::backend::registry::keys::KeyAlgorithm;
use app::model::PushPolicy;
use serde::Deserialize;

pub use app::backend::Secret;

/// Addresses and CIDR blocks of trusted reverse proxies: comma-separated in the environment
/// and on the command line, a string or a list in the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyList(pub Vec<app::backend::ProxyNet>);

impl FromStr for ProxyList {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.split(',').filter(|p| !p.trim().is_empty()).map(str::parse).collect::<Result<_, _>>().map(Self)
    }
}

impl<'de> Deserialize<'de> for ProxyList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            One(String),
            Many(Vec<String>),
        }
        let text = match Form::deserialize(d)? {
            Form::One(s) => s,
            Form::Many(v) => v.join(","),
        };
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// OpenID Connect providers: an array of tables in the file, a JSON array in the
/// environment or on the command line.
#[derive(Debug, Clone, Default)]
pub struct OidcProviders(pub Vec<app::backend::access::oidc::OidcSettings>);

impl FromStr for OidcProviders {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim().is_empty() {
            return Ok(Self::default());
        }
        serde_json::from_str(s).map(Self).map_err(|e| format!("oidc_providers (a JSON array of providers): {e}"))
    }
}

impl<'de> Deserialize<'de> for OidcProviders {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Through a JSON value, so that a wrong key is named in the error.
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) => s.parse().map_err(serde::de::Error::custom),
            list => serde_json::from_value(list).map(Self).map_err(serde::de::Error::custom),
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        <Self as clap::ValueEnum>::from_str(s, true)
    }
}

macro_rules! config_keys {
    ($( $(#[doc = $doc:literal])+ $name:ident : $ty:ty = $default:literal, $env:literal; )*) => {
        /// Configuration flags (each also read from its environment variable).
        #[derive(Debug, Clone, Default, clap::Args)]
        pub struct ConfigArgs {
            $(
                #[arg(long, global = true, env = $env, hide_env_values = true,
                      help = concat!($($doc, " ",)+ "[default: ", $default, "]"))]
                pub $name: Option<$ty>,
            )*
        }

        /// The same keys as read from the TOML file.
        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct FileConfig {
            $( #[serde(default)] $name: Option<$ty>, )*
        }

        /// The resolved configuration. `Debug` redacts every `Secret`.
        #[derive(Debug, Clone)]
        pub struct Config {
            $( $(#[doc = $doc])+ pub $name: $ty, )*
        }

        /// Every key, as the configuration reference documents it.
        pub const KEYS: &[KeyDoc] = &[
            $( KeyDoc {
                name: stringify!($name),
                env: $env,
                default: $default,
                doc: concat!($($doc, "\n",)+),
                ty: stringify!($ty),
            }, )*
        ];

        impl Config {
            fn layer(args: ConfigArgs, file: FileConfig) -> Result<Self, ConfigError> {
                Ok(Self {
                    $(
                        $name: match args.$name.or(file.$name) {
                            Some(v) => v,
                            None => $default.parse::<$ty>().map_err(|e| ConfigError::Default {
                                key: stringify!($name),
                                message: format!("{e:?}"),
                            })?,
                        },
                    )*
                })
            }
        }
    };
}

/// A key as the configuration reference documents it: what `config_keys!` declares.
#[derive(Debug, Clone, Copy)]
pub struct KeyDoc {
    pub name: &'static str,
    pub env: &'static str,
    pub default: &'static str,
    /// Its doc comment, a line per line.
    pub doc: &'static str,
    pub ty: &'static str,
}

/// The table of every key in `docs/configuration.md`, made from [`KEYS`] (a test keeps the
/// file current).
pub fn reference_table() -> String {
    let cell = |s: &str| s.replace('|', "\\|");
    let mut out = String::from("| key (TOML) | environment | default | meaning |\n|---|---|---|---|\n");
    for k in KEYS {
        let doc = k.doc.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ");
        let default = if k.default.is_empty() { "—".to_string() } else { format!("`{}`", cell(k.default)) };
        let secret = if k.ty == "Secret" { " (secret)" } else { "" };
        out += &format!("| `{}` | `{}` | {default} | {}{secret} |\n", k.name, k.env, cell(&doc));
    }
    out
}

config_keys! {
    /// Address and port the HTTP server listens on (the container image sets 0.0.0.0:3000).
    listen: SocketAddr = "127.0.0.1:3000", "PORTCULLIS_LISTEN";
    /// The URL users and the registry reach Portcullis at. With https, session cookies are
    /// marked Secure.
    public_url: String = "http://127.0.0.1:3000", "PORTCULLIS_PUBLIC_URL";
    /// The URL the registry reaches Portcullis at for its notifications, when that is not
    /// public_url (behind a TLS proxy, the address inside the network). When empty, public_url.
    internal_url: String = "", "PORTCULLIS_INTERNAL_URL";
    /// PostgreSQL connection URL. When empty, DATABASE_URL is used.
    database_url: Secret = "", "PORTCULLIS_DATABASE_URL";
    /// Maximum number of PostgreSQL connections in the pool.
    database_max_connections: u32 = "16", "PORTCULLIS_DATABASE_MAX_CONNECTIONS";
    /// Seconds a request waits for a free PostgreSQL connection before it fails.
    database_acquire_timeout_secs: u64 = "5", "PORTCULLIS_DATABASE_ACQUIRE_TIMEOUT_SECS";
    /// PostgreSQL's statement_timeout for Portcullis's sessions, in seconds (0: the server's).
    database_statement_timeout_secs: u64 = "0", "PORTCULLIS_DATABASE_STATEMENT_TIMEOUT_SECS";
    /// PEM file of the CA that signed PostgreSQL's certificate, for `sslmode=verify-ca` or
    /// `verify-full` in the database URL (managed databases publish theirs). TLS itself is
    /// chosen by the URL's `sslmode` (`require`, `verify-ca`, `verify-full`).
    database_ca_file: String = "", "PORTCULLIS_DATABASE_CA_FILE";
    /// Whether visitors may create their own accounts.
    signup_enabled: bool = "true", "PORTCULLIS_SIGNUP_ENABLED";
    /// Whether accounts made here sign in with passwords kept here. Off (with a directory):
    /// only administrators do, so that a directory outage locks nobody out of administering,
    /// and sign-up is closed.
    local_passwords: bool = "true", "PORTCULLIS_LOCAL_PASSWORDS";
    /// Whether the first account created becomes an administrator.
    first_user_admin: bool = "true", "PORTCULLIS_FIRST_USER_ADMIN";
    /// Days of inactivity after which a browser session expires.
    session_days: i64 = "14", "PORTCULLIS_SESSION_DAYS";
    /// host:port of the registry as users type it in `docker login` and `docker pull`.
    registry_host: String = "127.0.0.1:5000", "PORTCULLIS_REGISTRY_HOST";
    /// Directory with the compiled site (wasm, css, static files). When empty, LEPTOS_SITE_ROOT
    /// or target/site (the container image sets /site).
    site_root: String = "", "PORTCULLIS_SITE_ROOT";
    /// Log format: text or json.
    log_format: LogFormat = "text", "PORTCULLIS_LOG_FORMAT";
    /// Who may push: allow-teams (owners and contributors), allow-personal (users only to
    /// their personal namespace) or admin-only. Written to the database at the first start;
    /// administrators change it afterwards on the settings page, like the keys below.
    push_policy: PushPolicy = "allow-teams", "PORTCULLIS_PUSH_POLICY";
    /// Whether images may be deleted at all (first start only, see push_policy).
    delete_enabled: bool = "true", "PORTCULLIS_DELETE_ENABLED";
    /// Whether contributors (not only owners) may delete images (first start only).
    contributors_may_delete: bool = "false", "PORTCULLIS_CONTRIBUTORS_MAY_DELETE";
    /// Whether users (not only administrators) may create teams (first start only).
    users_may_create_teams: bool = "true", "PORTCULLIS_USERS_MAY_CREATE_TEAMS";
    /// Whether team owners and contributors may create namespaces (first start only).
    users_may_create_namespaces: bool = "true", "PORTCULLIS_USERS_MAY_CREATE_NAMESPACES";
    /// Whether team owners may change a namespace's visibility (first start only).
    users_may_change_visibility: bool = "true", "PORTCULLIS_USERS_MAY_CHANGE_VISIBILITY";
    /// The registry's service name: what it sends as `service` and expects as the token's `aud`.
    token_service: String = "portcullis-registry", "PORTCULLIS_TOKEN_SERVICE";
    /// The token issuer (`iss`); the registry's auth.token.issuer must be the same.
    token_issuer: String = "portcullis", "PORTCULLIS_TOKEN_ISSUER";
    /// Lifetime of registry tokens in seconds (at least 60).
    token_expires_in: i64 = "300", "PORTCULLIS_TOKEN_EXPIRES_IN";
    /// Algorithm of new signing keys: ES256 (fast) or RS256.
    token_algorithm: KeyAlgorithm = "ES256", "PORTCULLIS_TOKEN_ALGORITHM";
    /// Seconds a successful password check is remembered by the token service (0 to turn off).
    password_cache_secs: u64 = "300", "PORTCULLIS_PASSWORD_CACHE_SECS";
    /// Where `registry-config` makes the registry listen.
    registry_listen: String = "127.0.0.1:5000", "PORTCULLIS_REGISTRY_LISTEN";
    /// The registry's HTTP API as Portcullis reaches it (reconcile, manifests, deletes).
    registry_url: String = "http://127.0.0.1:5000", "PORTCULLIS_REGISTRY_URL";
    /// A second address on which Portcullis serves the registry's whole API in front of the
    /// registry (single-address mode: manifests checked by the gate, blobs streamed through),
    /// so that clients type one host. Empty: none (the main address serves it too, for a
    /// proxy that sends it the manifest paths). `make run` serves 127.0.0.1:5000 so.
    gate_listen: String = "", "PORTCULLIS_GATE_LISTEN";
    /// The storage quota of a namespace without one of its own, in bytes (0: none). Usage is
    /// the bytes of the distinct blobs its images refer to; the gate refuses a manifest that
    /// would take a namespace over its quota. Administrators set a namespace's own quota on its
    /// page or with `PUT /api/v1/namespaces/{id}/quota`, and may replace this default in Admin →
    /// Settings (or `PUT /api/v1/default_quota`); this key applies until they do.
    default_quota_bytes: u64 = "0", "PORTCULLIS_DEFAULT_QUOTA_BYTES";
    /// The percentage of a namespace's quota at which webhooks get QUOTA_WARNING (1 to 100).
    quota_warning_percent: u32 = "85", "PORTCULLIS_QUOTA_WARNING_PERCENT";
    /// Seconds during which whoever pushed an image may pull it unsigned from a namespace that
    /// requires signatures, so that CI can sign what it just pushed (0: never).
    signature_grace_secs: u64 = "300", "PORTCULLIS_SIGNATURE_GRACE_SECS";
    /// Shared secret of the registry's notifications. When empty, one is generated and kept
    /// in the database; `registry-config` writes it into the registry's configuration.
    registry_events_secret: Secret = "", "PORTCULLIS_REGISTRY_EVENTS_SECRET";
    /// Seconds between catalog reconciles (0: only at start and on demand).
    sync_interval_secs: u64 = "3600", "PORTCULLIS_SYNC_INTERVAL_SECS";
    /// Days processed registry events are kept (then pruned).
    events_retention_days: u32 = "14", "PORTCULLIS_EVENTS_RETENTION_DAYS";
    /// Days each tag's history (its pushes, moves, deletes and restores) is kept.
    tag_history_days: u32 = "365", "PORTCULLIS_TAG_HISTORY_DAYS";
    /// Whether webhooks may be sent to loopback, private and link-local addresses (checked
    /// when sent, on the resolved address). Off: a webhook cannot reach the inside network.
    webhook_allow_private: bool = "false", "PORTCULLIS_WEBHOOK_ALLOW_PRIVATE";
    /// Days after which a refresh token (docker's identity token) ends, however often used.
    refresh_token_max_days: u32 = "90", "PORTCULLIS_REFRESH_TOKEN_MAX_DAYS";
    /// Days without use after which a refresh token ends.
    refresh_token_idle_days: u32 = "30", "PORTCULLIS_REFRESH_TOKEN_IDLE_DAYS";
    /// Hours a signing key signs before a new one replaces it. Its certificate ends shortly
    /// after (plus the token lifetime), so a retired key is worthless soon after.
    key_rotation_hours: u64 = "24", "PORTCULLIS_KEY_ROTATION_HOURS";
    /// Encrypts the private keys kept in PostgreSQL (AES-256-GCM, keyed by this secret).
    /// Without it they are stored in clear, and Portcullis warns at start.
    keys_encryption_key: Secret = "", "PORTCULLIS_KEYS_ENCRYPTION_KEY";
    /// Reverse proxies and load balancers (addresses or CIDR blocks, comma-separated) whose
    /// X-Forwarded-For header names the client. Others' headers are ignored.
    trusted_proxies: ProxyList = "", "PORTCULLIS_TRUSTED_PROXIES";
    /// SMTP server that sends password reset links. When empty, no mail is sent: users who
    /// forgot their password ask an administrator.
    smtp_host: String = "", "PORTCULLIS_SMTP_HOST";
    /// Port of the SMTP server (587 for starttls, 465 for tls).
    smtp_port: u16 = "587", "PORTCULLIS_SMTP_PORT";
    /// How the SMTP connection is secured: starttls (required, not opportunistic), tls, or
    /// none (a relay on the same host or network only).
    smtp_security: SmtpSecurity = "starttls", "PORTCULLIS_SMTP_SECURITY";
    /// User name for the SMTP server; empty for none.
    smtp_username: String = "", "PORTCULLIS_SMTP_USERNAME";
    /// Password for the SMTP server.
    smtp_password: Secret = "", "PORTCULLIS_SMTP_PASSWORD";
    /// Sender of the mail Portcullis sends: an address, or `Name <address>`.
    smtp_from: String = "Portcullis <portcullis@localhost>", "PORTCULLIS_SMTP_FROM";
    /// PEM file of a CA to trust for the SMTP server besides the public ones.
    smtp_ca_file: String = "", "PORTCULLIS_SMTP_CA_FILE";
    /// The directory people sign in with: `ldap://host:389` (with ldap_starttls) or
    /// `ldaps://host:636`. When empty, only local accounts exist.
    ldap_url: String = "", "PORTCULLIS_LDAP_URL";
    /// Upgrade the ldap:// connection with StartTLS (required when on, never silently skipped).
    ldap_starttls: bool = "false", "PORTCULLIS_LDAP_STARTTLS";
    /// PEM file of the CA that signed the directory's certificate (else the system's CAs).
    ldap_ca_file: String = "", "PORTCULLIS_LDAP_CA_FILE";
    /// The service account that searches for people; empty to search anonymously.
    ldap_bind_dn: String = "", "PORTCULLIS_LDAP_BIND_DN";
    /// The service account's password.
    ldap_bind_password: Secret = "", "PORTCULLIS_LDAP_BIND_PASSWORD";
    /// Where people are searched (the whole subtree below).
    ldap_user_base: String = "", "PORTCULLIS_LDAP_USER_BASE";
    /// The search for a person, `{username}` standing for the (escaped) name signed in with.
    /// Leave out disabled people here, e.g. `(&(uid={username})(!(employeeType=disabled)))`.
    ldap_user_filter: String = "(&(objectClass=inetOrgPerson)(uid={username}))", "PORTCULLIS_LDAP_USER_FILTER";
    /// The attribute that holds the username (it must be a valid registry name).
    ldap_username_attribute: String = "uid", "PORTCULLIS_LDAP_USERNAME_ATTRIBUTE";
    /// The attribute that holds the display name.
    ldap_display_name_attribute: String = "cn", "PORTCULLIS_LDAP_DISPLAY_NAME_ATTRIBUTE";
    /// The attribute that holds the email address.
    ldap_email_attribute: String = "mail", "PORTCULLIS_LDAP_EMAIL_ATTRIBUTE";
    /// Where groups are searched (for group mappings); empty: the person's memberOf attribute.
    ldap_group_base: String = "", "PORTCULLIS_LDAP_GROUP_BASE";
    /// The search for a person's groups, `{dn}` standing for their DN and `{username}` for
    /// their name.
    ldap_group_filter: String = "(|(&(objectClass=groupOfNames)(member={dn}))(&(objectClass=groupOfUniqueNames)(uniqueMember={dn})))", "PORTCULLIS_LDAP_GROUP_FILTER";
    /// Seconds between passes over the directory's people (0: only at sign-in): their teams
    /// follow their groups, and an account the directory no longer has is disabled.
    ldap_sync_interval_secs: u64 = "3600", "PORTCULLIS_LDAP_SYNC_INTERVAL_SECS";
    /// Seconds to connect to the directory, and for each operation.
    ldap_timeout_secs: u64 = "5", "PORTCULLIS_LDAP_TIMEOUT_SECS";
    /// OpenID Connect providers people sign in through, each a button on the sign-in page:
    /// `[[oidc_providers]]` tables in the file (name, label, issuer, client_id, client_secret,
    /// scopes, username_claim, groups_claim, ca_file), a JSON array of the same in the
    /// environment. The provider's redirect URI is <public_url>/login/oidc/<name>/callback.
    oidc_providers: OidcProviders = "", "PORTCULLIS_OIDC_PROVIDERS";
    /// Seconds between asking the providers, with each person's refresh token, whether they
    /// still know them; those refused lose every token and session here (0: never ask).
    oidc_check_interval_secs: u64 = "3600", "PORTCULLIS_OIDC_CHECK_INTERVAL_SECS";
    /// Bearer token a Prometheus scraper sends for `/metrics`. When empty, `/metrics` answers
    /// only clients on this machine (loopback).
    metrics_token: Secret = "", "PORTCULLIS_METRICS_TOKEN";
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid config file {path}: {source}")]
    Parse { path: PathBuf, source: toml::de::Error },
    #[error("bad built-in default for {key}: {message}")]
    Default { key: &'static str, message: String },
    #[error("no database configured: set PORTCULLIS_DATABASE_URL, DATABASE_URL or database_url in the config file")]
    NoDatabase,
}

/// The default config file, read only if it exists.
pub const DEFAULT_CONFIG_FILE: &str = "portcullis.toml";

impl Config {
    /// Layers the file at `path` (or `portcullis.toml` if present) under `args`.
    pub fn load(path: Option<&Path>, args: ConfigArgs) -> Result<Self, ConfigError> {
        let file = match path {
            Some(p) => Some(p.to_path_buf()),
            None => Some(PathBuf::from(DEFAULT_CONFIG_FILE)).filter(|p| p.exists()),
        };
        let file = match file {
            Some(path) => {
                let text = std::fs::read_to_string(&path)
                    .map_err(|source| ConfigError::Read { path: path.clone(), source })?;
                Self::parse_file(&text).map_err(|source| ConfigError::Parse { path, source })?
            }
            None => FileConfig::default(),
        };
        let mut config = Self::layer(args, file)?;
        if config.database_url.is_empty() {
            if let Ok(url) = std::env::var("DATABASE_URL") {
                config.database_url = Secret::new(url);
            }
        }
        if config.site_root.is_empty() {
            config.site_root = std::env::var("LEPTOS_SITE_ROOT").unwrap_or_else(|_| "target/site".into());
        }
        Ok(config)
    }

    fn parse_file(text: &str) -> Result<FileConfig, toml::de::Error> {
        toml::from_str(text)
    }

    /// The database URL, or an error saying how to set one.
    pub fn require_database_url(&self) -> Result<&str, ConfigError> {
        Some(self.database_url.expose()).filter(|u| !u.is_empty()).ok_or(ConfigError::NoDatabase)
    }

    /// Whether cookies must be `Secure`.
    pub fn is_https(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// The origin (`scheme://host[:port]`) browsers send for pages of `public_url`.
    pub fn public_origin(&self) -> String {
        let url = self.public_url.trim_end_matches('/');
        match url.split_once("://") {
            Some((scheme, rest)) => format!("{scheme}://{}", rest.split('/').next().unwrap_or(rest)),
            None => url.to_string(),
        }
    }

    /// Where the registry posts its notifications.
    pub fn events_url(&self) -> String {
        let base = if self.internal_url.is_empty() { &self.public_url } else { &self.internal_url };
        format!("{}/v2/webhooks/events", base.trim_end_matches('/'))
    }

    /// The settings the application code reads.
    pub fn app_settings(&self) -> app::backend::Settings {
        app::backend::Settings {
            signup_enabled: self.signup_enabled && self.local_passwords,
            local_passwords: self.local_passwords,
            first_user_admin: self.first_user_admin,
            session_days: self.session_days.max(1),
            registry_host: self.registry_host.clone(),
            access_defaults: app::policy::AccessSettings {
                push_policy: self.push_policy,
                delete_enabled: self.delete_enabled,
                contributors_may_delete: self.contributors_may_delete,
                users_may_create_teams: self.users_may_create_teams,
                users_may_create_namespaces: self.users_may_create_namespaces,
                users_may_change_visibility: self.users_may_change_visibility,
                read_only: false,
            },
            token: app::backend::registry::jwt::TokenSettings {
                service: self.token_service.clone(),
                issuer: self.token_issuer.clone(),
                expires_in: self.token_expires_in.max(60),
            },
            key_algorithm: self.token_algorithm,
            key_rotation: std::time::Duration::from_secs(self.key_rotation_hours.max(1) * 3600),
            keys_encryption_key: Some(self.keys_encryption_key.clone()).filter(|s| !s.is_empty()),
            password_cache_secs: self.password_cache_secs,
            registry_url: self.registry_url.clone(),
            gate_listen: self.gate_listen.clone(),
            default_quota_bytes: (self.default_quota_bytes > 0)
                .then(|| self.default_quota_bytes.min(i64::MAX as u64) as i64),
            quota_warning_percent: self.quota_warning_percent.clamp(1, 100) as i64,
            signature_grace_secs: self.signature_grace_secs.min(86_400 * 30) as i64,
            events_secret: Some(self.registry_events_secret.clone()).filter(|s| !s.is_empty()),
            events_retention_days: self.events_retention_days.max(1),
            tag_history_days: self.tag_history_days.max(1),
            webhook_allow_private: self.webhook_allow_private,
            public_url: self.public_url.clone(),
            refresh_token_max_days: self.refresh_token_max_days.max(1),
            refresh_token_idle_days: self.refresh_token_idle_days.max(1),
            trusted_proxies: self.trusted_proxies.0.clone(),
            ldap: (!self.ldap_url.is_empty()).then(|| app::backend::access::ldap::LdapSettings {
                url: self.ldap_url.clone(),
                starttls: self.ldap_starttls,
                ca_file: self.ldap_ca_file.clone(),
                bind_dn: self.ldap_bind_dn.clone(),
                bind_password: self.ldap_bind_password.clone(),
                user_base: self.ldap_user_base.clone(),
                user_filter: self.ldap_user_filter.clone(),
                username_attribute: self.ldap_username_attribute.clone(),
                display_name_attribute: self.ldap_display_name_attribute.clone(),
                email_attribute: self.ldap_email_attribute.clone(),
                group_base: self.ldap_group_base.clone(),
                group_filter: self.ldap_group_filter.clone(),
                timeout: std::time::Duration::from_secs(self.ldap_timeout_secs.max(1)),
            }),
            oidc: self.oidc_providers.0.clone(),
            mail: (!self.smtp_host.is_empty()).then(|| app::backend::mail::MailSettings {
                host: self.smtp_host.clone(),
                port: self.smtp_port,
                security: self.smtp_security,
                username: self.smtp_username.clone(),
                password: self.smtp_password.clone(),
                from: self.smtp_from.clone(),
                ca_file: self.smtp_ca_file.clone(),
                timeout: std::time::Duration::from_secs(10),
            }),
        }
    }

    /// The defaults alone, as a test or tool starting point.
    pub fn defaults() -> Self {
        Self::layer(ConfigArgs::default(), FileConfig::default()).expect("built-in defaults parse")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct TestCli {
        #[command(flatten)]
        args: ConfigArgs,
    }

    #[test]
    fn the_configuration_reference_is_made_from_the_keys() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/configuration.md");
        let text = std::fs::read_to_string(&path).unwrap();
        let (begin, end) = ("<!-- the keys: made from server/src/config.rs -->\n", "<!-- end of the keys -->");
        let start = text.find(begin).expect("the table's opening marker") + begin.len();
        let stop = start + text[start..].find(end).expect("the table's closing marker");
        let want = reference_table();
        assert_eq!(want.lines().count(), KEYS.len() + 2);
        if text[start..stop] != want {
            if std::env::var_os("PORTCULLIS_BLESS_DOCS").is_some() {
                std::fs::write(&path, format!("{}{want}{}", &text[..start], &text[stop..])).unwrap();
            } else {
                panic!(
                    "docs/configuration.md's table of keys is not what server/src/config.rs declares; \
                     rewrite it with: PORTCULLIS_BLESS_DOCS=1 cargo test -p server --lib config::"
                );
            }
        }
    }

    #[test]
    fn defaults_are_sane() {
        let c = Config::defaults();
        assert_eq!(c.listen, "127.0.0.1:3000".parse().unwrap());
        assert!(c.signup_enabled);
        assert!(c.first_user_admin);
        assert_eq!(c.session_days, 14);
        assert_eq!(c.log_format, LogFormat::Text);
        assert!(!c.is_https());
    }

    #[test]
    fn file_overrides_defaults_and_flags_override_file() {
        let file = Config::parse_file("signup_enabled = false\nlisten = \"0.0.0.0:8080\"\nsession_days = 3\n").unwrap();
        let args = TestCli::try_parse_from(["t", "--session-days", "7"]).unwrap().args;
        let c = Config::layer(args, file).unwrap();
        assert!(!c.signup_enabled, "from the file");
        assert_eq!(c.listen, "0.0.0.0:8080".parse().unwrap(), "from the file");
        assert_eq!(c.session_days, 7, "the flag wins over the file");
        assert!(c.first_user_admin, "default kept");
    }

    #[test]
    fn environment_overrides_file_and_flags_override_environment() {
        // Only this test touches PORTCULLIS_REGISTRY_HOST, so parallel tests do not interfere.
        std::env::set_var("PORTCULLIS_REGISTRY_HOST", "env.example:5000");
        let file = || Config::parse_file("registry_host = \"file.example\"").unwrap();
        let from_env = TestCli::try_parse_from(["t"]).unwrap().args;
        assert_eq!(Config::layer(from_env, file()).unwrap().registry_host, "env.example:5000");
        let from_flag = TestCli::try_parse_from(["t", "--registry-host", "flag.example"]).unwrap().args;
        assert_eq!(Config::layer(from_flag, file()).unwrap().registry_host, "flag.example");
        std::env::remove_var("PORTCULLIS_REGISTRY_HOST");
    }

    #[test]
    fn trusted_proxies_read_from_a_string_or_a_list() {
        let c = Config::layer(
            ConfigArgs::default(),
            Config::parse_file("trusted_proxies = [\"10.0.0.0/8\", \"::1\"]").unwrap(),
        )
        .unwrap();
        assert_eq!(c.trusted_proxies.0.len(), 2);
        let args = TestCli::try_parse_from(["t", "--trusted-proxies", "10.0.0.0/8, 192.168.1.1"]).unwrap().args;
        assert_eq!(Config::layer(args, FileConfig::default()).unwrap().trusted_proxies.0.len(), 2);
        assert!(TestCli::try_parse_from(["t", "--trusted-proxies", "10.0.0.0/99"]).is_err());
        assert!(Config::defaults().trusted_proxies.0.is_empty());
    }

    #[test]
    fn settings_for_the_application_show_no_secret_in_debug() {
        let mut c = Config::defaults();
        c.registry_events_secret = Secret::new("event-secret-1");
        c.keys_encryption_key = Secret::new("keys-secret-2");
        let shown = format!("{:?}", c.app_settings());
        assert!(!shown.contains("event-secret-1") && !shown.contains("keys-secret-2"), "{shown}");
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        assert!(Config::parse_file("sign_up = true").is_err());
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let mut c = Config::defaults();
        c.database_url = Secret::new("postgres://u:hunter2@db/portcullis");
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("[redacted]"));
    }

    #[test]
    fn help_documents_every_key_with_its_default() {
        let mut cmd = <TestCli as clap::CommandFactory>::command();
        let help = cmd.render_long_help().to_string();
        for key in ["--listen", "--database-url", "--signup-enabled", "--session-days", "--log-format"] {
            assert!(help.contains(key), "{key} missing from --help");
        }
        assert!(help.contains("[default: 127.0.0.1:3000]"));
        assert!(help.contains("PORTCULLIS_LISTEN"));
    }
}

//! Settings the domain code reads at run time (the server crate builds them from its
//! configuration).

use super::{access, mail, registry, ProxyNet, Secret};

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
    /// The address on which Portcullis's gate serves the registry's API (plain HTTP), if any.
    pub gate_listen: String,
    /// The storage quota of a namespace without one of its own (bytes), if any.
    pub default_quota_bytes: Option<i64>,
    /// The percentage of a quota at which webhooks are warned.
    pub quota_warning_percent: i64,
    /// How long the pusher of an image may pull it unsigned where signatures are required.
    pub signature_grace_secs: i64,
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

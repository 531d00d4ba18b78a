//! The Docker registry token service: who is asking (password, access token, refresh token
//! or nobody), what they may have (the policy, per requested resource), and a signed JWT.
//!
//! The hot path does no argon2 for credentials seen before: access and refresh tokens are
//! SHA-256 lookups, and a successful password check is remembered for a few minutes under a
//! keyed hash (never the password itself), forgotten when the password changes or the user is
//! disabled (both bump the user's auth epoch, checked on every hit). A request costs about two
//! indexed queries and one signature.
//!
//! Its files: `credentials` (the three ways in), `auth_cache` (what the hot path remembers),
//! `refresh_tokens` (docker login's); here, the request, the answer and [`issue`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::backend::access::access_tokens as tokens;
use crate::backend::access::principal::User;
use crate::backend::org::namespaces::namespaces_by_name;
use crate::backend::registry::jwt::sign;
use crate::backend::AppState;
use crate::error::AppError;
use crate::grant::{self, Access, Known};
use crate::scope::{self, RepositoryName, Resource};

mod auth_cache;
mod credentials;
mod recheck;
mod refresh_tokens;

pub use auth_cache::AuthCache;
pub use credentials::REFRESH_PREFIX;
pub use refresh_tokens::{list_refresh_tokens, prune_refresh_tokens, revoke_refresh_token};

use crate::backend::registry::cache;
use auth_cache::*;
use credentials::*;
use refresh_tokens::*;

/// Why a token request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// Wrong, unknown, expired or revoked credentials; a disabled user. (401)
    Unauthorized(String),
    /// A malformed request. (400)
    BadRequest(String),
    /// Too many failed password attempts. (429)
    Throttled(String),
    /// The directory that checks the password does not answer. (503)
    Unavailable(String),
    Internal,
}

impl From<AppError> for TokenError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Unauthorized(m) => TokenError::Unauthorized(m),
            AppError::TooManyRequests(m) => TokenError::Throttled(m),
            AppError::Unavailable(m) => TokenError::Unavailable(m),
            AppError::BadRequest(m) | AppError::Invalid { message: m, .. } => TokenError::BadRequest(m),
            _ => TokenError::Internal,
        }
    }
}

const BAD_CREDENTIALS: &str = "invalid username, password or token";

/// The credentials of a token request.
#[derive(Clone)]
pub enum Credentials {
    Anonymous,
    /// HTTP Basic, or `grant_type=password`: the secret is a password, an access token or a
    /// refresh token.
    Basic {
        username: String,
        secret: String,
    },
    /// `grant_type=refresh_token`.
    Refresh {
        token: String,
    },
}

impl Credentials {
    /// What kind of credential this is, by its shape (for the metrics: nothing is checked).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Anonymous => "anonymous",
            Self::Refresh { .. } => "refresh_token",
            Self::Basic { secret, .. } if tokens::looks_like_token(secret) => "access_token",
            Self::Basic { secret, .. } if looks_like_refresh_token(secret) => "refresh_token",
            Self::Basic { .. } => "password",
        }
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Anonymous => f.write_str("Anonymous"),
            Self::Basic { username, .. } => write!(f, "Basic({username}, [redacted])"),
            Self::Refresh { .. } => f.write_str("Refresh([redacted])"),
        }
    }
}

/// What the client asked for.
#[derive(Debug, Clone, Default)]
pub struct TokenRequest {
    pub service: Option<String>,
    /// Raw `scope` values (each may hold several space-separated scopes).
    pub scopes: Vec<String>,
    pub account: Option<String>,
    /// `offline_token=true` or `access_type=offline`: also return a refresh token.
    pub offline: bool,
    pub client_id: Option<String>,
    pub client_addr: Option<IpAddr>,
}

/// An issued token.
#[derive(Debug, Clone, Serialize)]
pub struct Issued {
    pub token: String,
    pub expires_in: i64,
    pub issued_at: DateTime<Utc>,
    pub refresh_token: Option<String>,
    pub access: Vec<Access>,
}

impl Issued {
    /// The granted scopes in the request syntax (OAuth2 `scope` of a POST answer).
    pub fn scope(&self) -> String {
        self.access
            .iter()
            .map(|a| format!("{}:{}:{}", a.kind, a.name, a.actions.join(",")))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Namespaces named by the requested repositories, in one query.
pub(super) async fn lookup_namespaces(
    state: &AppState,
    user: Option<&User>,
    requested: &[Resource],
) -> Result<HashMap<String, Known>, TokenError> {
    let mut names: Vec<String> = requested
        .iter()
        .filter_map(|r| match r {
            Resource::Repository { name, .. } => RepositoryName::parse(name)?.namespace().map(String::from),
            Resource::Catalog => None,
        })
        .collect();
    names.sort();
    names.dedup();
    let viewer = user.map(|u| u.id).unwrap_or(0);
    let viewer_name = user.map(|u| u.username.as_str());
    let stamp = crate::backend::registry::cache::stamp();
    let mut known = HashMap::new();
    let mut missing = Vec::new();
    {
        let cached = state.auth_cache.facts.lock().expect("auth cache lock");
        let now = Instant::now();
        for name in names {
            match cached.get(&(viewer, name.clone())) {
                Some(f) if f.until > now && cache::fresh(f.stamp, viewer_name, Some(&name)) => {
                    count_lookup("namespace", true);
                    known.insert(name, f.known);
                }
                _ => {
                    count_lookup("namespace", false);
                    missing.push(name)
                }
            }
        }
    }
    if missing.is_empty() {
        return Ok(known);
    }
    let rows = namespaces_by_name(&state.hot, user.map(|u| u.id), &missing).await?;
    let mut cached = state.auth_cache.facts.lock().expect("auth cache lock");
    let now = Instant::now();
    let until = now + BACKSTOP;
    // Only namespaces that exist are remembered: names made up by a client (at most
    // MAX_SCOPES a request) cost a query each time, and can never crowd out real entries.
    for row in rows {
        let k = Known { id: row.id, facts: row.facts() };
        make_room(&mut cached, |f| f.until > now && cache::fresh(f.stamp, None, None));
        cached.insert((viewer, row.name.clone()), Facts { known: k, stamp, until });
        known.insert(row.name, k);
    }
    Ok(known)
}

/// Handles one token request end to end.
pub async fn issue(state: &AppState, creds: Credentials, req: TokenRequest) -> Result<Issued, TokenError> {
    let cfg = &state.settings.token;
    let service = match req.service.as_deref().filter(|s| !s.is_empty()) {
        None => cfg.service.as_str(),
        Some(s) if s == cfg.service => s,
        Some(s) => return Err(TokenError::BadRequest(format!("unknown service {s:?}"))),
    };
    // Checked before anything costs: a request may not ask for more than MAX_SCOPES.
    let requested = scope::parse_scopes(req.scopes.iter().map(String::as_str), scope::MAX_SCOPES)
        .map_err(|e| TokenError::BadRequest(e.to_string()))?;
    let principal = authenticate(state, creds, service, req.client_addr).await?;
    let user = principal.user.as_ref();
    if let Some(account) = req.account.as_deref().filter(|a| !a.is_empty()) {
        // The subject is who authenticated, never who the request claims to be.
        if user.is_none_or(|u| !u.username.eq_ignore_ascii_case(account)) {
            return Err(TokenError::Unauthorized("the account parameter does not match the credentials".into()));
        }
    }

    let known = lookup_namespaces(state, user, &requested).await?;
    let settings = state.access_settings.get(&state.db).await;
    let restriction = principal.restriction();
    let access = grant::grant(&principal.actor(), &requested, |ns| known.get(ns).copied(), &settings, restriction);

    tracing::debug!(
        target: "portcullis::token",
        sub = user.map(|u| u.username.as_str()).unwrap_or(""),
        requested = ?req.scopes,
        granted = ?access,
        "token issued"
    );
    let now = Utc::now();
    let expires_in = cfg.expires_in;
    let token = sign(state, user.map(|u| u.username.as_str()).unwrap_or(""), &access, now).await?;

    // A refresh token stands for the user's whole rights, so only a password earns one: an
    // access token would otherwise shed its restrictions, its expiry and its revocation.
    // Without a refresh token in the answer, clients keep using the access token itself.
    let refresh_token = match (user, req.offline) {
        (Some(u), true) if principal.token.is_none() => {
            Some(create_refresh_token(state, u, service, req.client_id.as_deref().unwrap_or("")).await?)
        }
        _ => None,
    };
    Ok(Issued { token, expires_in, issued_at: now, refresh_token, access })
}

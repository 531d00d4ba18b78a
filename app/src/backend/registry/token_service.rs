//! The Docker registry token service: who is asking (password, access token, refresh token
//! or nobody), what they may have (the policy, per requested resource), and a signed JWT.
//!
//! The hot path does no argon2 for credentials seen before: access and refresh tokens are
//! SHA-256 lookups, and a successful password check is remembered for a few minutes under a
//! keyed hash (never the password itself), forgotten when the password changes or the user is
//! disabled (both bump the user's auth epoch, checked on every hit). A request costs about two
//! indexed queries and one signature.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::RngCore as _;
use serde::Serialize;
use sha2::Sha256;

use crate::backend::access::principal::Principal;
use crate::backend::access::principal::User;
use crate::backend::access::{access_tokens as tokens, login as auth};
use crate::backend::directory::namespaces::namespaces_by_name;
use crate::backend::registry::jwt::sign;
use crate::backend::AppState;
use crate::error::AppError;
use crate::grant::{self, Access, Known};
use crate::model::RefreshTokenView;
use crate::scope::{self, RepositoryName, Resource};

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

/// What the token service remembers between requests, so that a repeated credential costs
/// no argon2 and few queries: principals by credential (a keyed HMAC of username and
/// password, or the SHA-256 of a token) and namespace facts by user. Entries are dropped when
/// their generation is old (any change to access anywhere, see `cache`), and after a time anyway.
pub struct AuthCache {
    key: [u8; 32],
    principals: Mutex<HashMap<[u8; 32], Remembered>>,
    facts: Mutex<HashMap<(i64, String), Facts>>,
    password_ttl: Duration,
}

/// A credential's principal, as of a cache generation.
#[derive(Clone)]
struct Remembered {
    principal: Principal,
    generation: u64,
    until: Instant,
    touched: Instant,
}

#[derive(Clone, Copy)]
struct Facts {
    known: Known,
    generation: u64,
    until: Instant,
}

/// Entries per map; past it, stale entries go first.
const CACHE_MAX: usize = 100_000;
/// How long any entry may live, however quiet the change channel.
const BACKSTOP: Duration = Duration::from_secs(60);

/// Makes room for one more entry: entries of an old generation or past their time go first,
/// and only if that is not enough (the map holds that many live entries) everything goes.
fn make_room<K: std::hash::Hash + Eq, V>(map: &mut HashMap<K, V>, live: impl Fn(&V) -> bool) {
    if map.len() >= CACHE_MAX {
        map.retain(|_, v| live(v));
    }
    if map.len() >= CACHE_MAX {
        map.clear();
    }
}

impl AuthCache {
    pub fn new(password_ttl: Duration) -> Self {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        Self { key, principals: Mutex::new(HashMap::new()), facts: Mutex::new(HashMap::new()), password_ttl }
    }

    /// The slot of a username and password: an HMAC under a key only this process knows.
    fn password_slot(&self, username: &str, password: &str) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("any key length");
        mac.update(username.as_bytes());
        mac.update(&[0]);
        mac.update(password.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn token_slot(kind: &str, secret: &str) -> [u8; 32] {
        let mut h = <Sha256 as sha2::Digest>::new();
        sha2::Digest::update(&mut h, kind.as_bytes());
        sha2::Digest::update(&mut h, [0]);
        sha2::Digest::update(&mut h, secret.as_bytes());
        sha2::Digest::finalize(h).into()
    }

    fn principal(&self, slot: &[u8; 32]) -> Option<Principal> {
        let now = Instant::now();
        let found = {
            let entries = self.principals.lock().expect("auth cache lock");
            entries
                .get(slot)
                .filter(|r| r.generation == crate::backend::registry::cache::generation() && r.until > now)
                .filter(|r| r.principal.token.as_ref().and_then(|t| t.expires_at).is_none_or(|e| e > Utc::now()))
                .map(|r| r.principal.clone())
        };
        count_lookup("principal", found.is_some());
        found
    }

    fn forget(&self, slot: &[u8; 32]) {
        self.principals.lock().expect("auth cache lock").remove(slot);
    }

    /// Remembers what a credential stood for, as of `generation` (read before the lookup).
    fn remember(&self, slot: [u8; 32], principal: Principal, ttl: Duration, generation: u64) {
        if ttl.is_zero() {
            return;
        }
        let mut entries = self.principals.lock().expect("auth cache lock");
        let now = Instant::now();
        let current = crate::backend::registry::cache::generation();
        make_room(&mut entries, |r| r.generation == current && r.until > now);
        entries.insert(slot, Remembered { principal, generation, until: now + ttl, touched: now });
    }

    /// Whether an access token's last use should be written again (at most once a minute).
    fn needs_touch(&self, slot: &[u8; 32]) -> bool {
        let mut entries = self.principals.lock().expect("auth cache lock");
        match entries.get_mut(slot) {
            Some(r) if r.touched.elapsed() > Duration::from_secs(60) => {
                r.touched = Instant::now();
                true
            }
            _ => false,
        }
    }
}

/// Counts a cache lookup on the metrics page.
fn count_lookup(cache: &'static str, hit: bool) {
    let result = if hit { "hit" } else { "miss" };
    metrics::counter!("portcullis_auth_cache_lookups_total", "cache" => cache, "result" => result).increment(1);
}

/// Refresh tokens start with this.
pub const REFRESH_PREFIX: &str = "pcrt_";

fn looks_like_refresh_token(s: &str) -> bool {
    s.starts_with(REFRESH_PREFIX) && s.len() == REFRESH_PREFIX.len() + 43
}

/// The user behind a password, through the cache when possible. A remembered password is
/// trusted only while the user's auth epoch and enabled flag are what they were (one indexed
/// read): a password change or a disable made through another replica ends it at once, even
/// if that replica's change notification was lost.
async fn by_password(
    state: &AppState,
    username: &str,
    password: String,
    addr: Option<IpAddr>,
) -> Result<User, TokenError> {
    let username = username.to_ascii_lowercase();
    let cache = &state.auth_cache;
    let slot = cache.password_slot(&username, &password);
    if let Some(hit) = cache.principal(&slot).and_then(|p| p.user) {
        // One read: the user as they are now, and the throttle's counts for this attempt (a
        // throttled client gets no answer from memory either).
        let keys = crate::backend::access::throttle::password_attempt(&username, addr);
        let names: Vec<String> = keys.iter().map(|k| k.0.clone()).collect();
        let rows = sqlx::query!(
            r#"select u.auth_epoch, u.is_enabled, now() as "now!: DateTime<Utc>",
                      f.key as "key?", f.failures as "failures?", f.window_start as "window_start?: DateTime<Utc>",
                      f.last_at as "last_at?: DateTime<Utc>"
               from "user" u left join login_failure f on f.key = any($2)
               where u.user_id = $1"#,
            hit.id,
            &names
        )
        .fetch_all(&state.hot)
        .await
        .map_err(AppError::from)?;
        if let Some(first) = rows.first() {
            let counts: Vec<crate::backend::access::throttle::Row> =
                rows.iter().filter_map(|r| Some((r.key.clone()?, r.failures?, r.window_start?, r.last_at?))).collect();
            crate::backend::access::throttle::check(&keys, &counts, first.now)?;
            if first.is_enabled && first.auth_epoch == hit.auth_epoch {
                return Ok(hit);
            }
        }
        cache.forget(&slot);
    }
    let generation = crate::backend::registry::cache::generation();
    let user = auth::login_with_password(state, &username, password, addr).await.map_err(|e| match e {
        AppError::Unauthorized(_) => TokenError::Unauthorized(BAD_CREDENTIALS.into()),
        other => other.into(),
    })?;
    cache.remember(slot, Principal::user(user.clone()), cache.password_ttl, generation);
    Ok(user)
}

/// The principal behind an access token (with its restriction), through the cache when possible.
async fn by_access_token(state: &AppState, secret: &str) -> Result<Principal, TokenError> {
    let cache = &state.auth_cache;
    let slot = AuthCache::token_slot("access", secret);
    if let Some(hit) = cache.principal(&slot) {
        if cache.needs_touch(&slot) {
            if let Some(id) = hit.token.as_ref().map(|t| t.token_id) {
                let db = state.hot.clone();
                tokio::spawn(async move {
                    let _ = tokens::touch(&db, id).await;
                });
            }
        }
        return Ok(hit);
    }
    let generation = crate::backend::registry::cache::generation();
    let (user, scope) = tokens::authenticate(&state.hot, secret)
        .await?
        .ok_or_else(|| TokenError::Unauthorized(BAD_CREDENTIALS.into()))?;
    let principal = Principal { user: Some(user), token: Some(scope) };
    cache.remember(slot, principal.clone(), BACKSTOP, generation);
    Ok(principal)
}

/// The user behind a refresh token issued for `service`, through the cache when possible.
async fn by_refresh_token(state: &AppState, token: &str, service: &str) -> Result<User, TokenError> {
    let slot = AuthCache::token_slot(service, token);
    if let Some(user) = state.auth_cache.principal(&slot).and_then(|p| p.user) {
        return Ok(user);
    }
    let generation = crate::backend::registry::cache::generation();
    let user = refresh_token_user(state, token, service).await?;
    state.auth_cache.remember(slot, Principal::user(user.clone()), BACKSTOP, generation);
    Ok(user)
}

async fn refresh_token_user(state: &AppState, token: &str, service: &str) -> Result<User, TokenError> {
    let invalid = || TokenError::Unauthorized("invalid or revoked refresh token".into());
    if !looks_like_refresh_token(token) {
        return Err(invalid());
    }
    let row = sqlx::query!(
        r#"select r.refresh_token_id, (r.last_used_at is null or r.last_used_at < now() - interval '1 minute') as "stale!",
                  u.user_id, u.username, u.display_name, u.email, u.password_hash, u.is_admin, u.is_enabled,
                  u.is_bot, u.auth_epoch
           from refresh_token r join "user" u on u.user_id = r.user_id
           where r.token_hash = $1 and r.revoked_at is null and r.service = $2
             and u.is_enabled and u.auth_epoch = r.auth_epoch
             and r.created_at > now() - make_interval(days => $3)
             and coalesce(r.last_used_at, r.created_at) > now() - make_interval(days => $4)"#,
        tokens::hash(token),
        service,
        state.settings.refresh_token_max_days as i32,
        state.settings.refresh_token_idle_days as i32
    )
    .fetch_optional(&state.hot)
    .await
    .map_err(AppError::from)?
    .ok_or_else(invalid)?;
    if row.stale {
        sqlx::query!("update refresh_token set last_used_at = now() where refresh_token_id = $1", row.refresh_token_id)
            .execute(&state.hot)
            .await
            .map_err(AppError::from)?;
    }
    Ok(crate::user_from_row!(row))
}

/// Who is asking: the principal behind the credentials (with the restriction of the access
/// token they used, if any).
async fn authenticate(
    state: &AppState,
    creds: Credentials,
    service: &str,
    addr: Option<IpAddr>,
) -> Result<Principal, TokenError> {
    let bad = || TokenError::Unauthorized(BAD_CREDENTIALS.into());
    match creds {
        Credentials::Anonymous => Ok(Principal::anonymous()),
        Credentials::Refresh { token } => Ok(Principal::user(by_refresh_token(state, &token, service).await?)),
        Credentials::Basic { username, secret } => {
            let username = username.trim().to_ascii_lowercase();
            let principal = if tokens::looks_like_token(&secret) {
                by_access_token(state, &secret).await?
            } else if looks_like_refresh_token(&secret) {
                Principal::user(by_refresh_token(state, &secret, service).await?)
            } else {
                return Ok(Principal::user(by_password(state, &username, secret, addr).await?));
            };
            // A token belongs to one user: the name given with it must be theirs.
            if principal.user.as_ref().is_none_or(|u| u.username != username) {
                return Err(bad());
            }
            Ok(principal)
        }
    }
}

/// Namespaces named by the requested repositories, in one query.
async fn lookup_namespaces(
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
    let generation = crate::backend::registry::cache::generation();
    let mut known = HashMap::new();
    let mut missing = Vec::new();
    {
        let cached = state.auth_cache.facts.lock().expect("auth cache lock");
        let now = Instant::now();
        for name in names {
            match cached.get(&(viewer, name.clone())) {
                Some(f) if f.generation == generation && f.until > now => {
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
        make_room(&mut cached, |f| f.generation == generation && f.until > now);
        cached.insert((viewer, row.name.clone()), Facts { known: k, generation, until });
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
    let settings = state.access.get(&state.db).await;
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

async fn create_refresh_token(
    state: &AppState,
    user: &User,
    service: &str,
    client_id: &str,
) -> Result<String, TokenError> {
    let secret = tokens::new_secret(REFRESH_PREFIX);
    sqlx::query!(
        "insert into refresh_token (user_id, service, client_id, token_hash, display_prefix, auth_epoch)
         values ($1, $2, $3, $4, $5, $6)",
        user.id,
        service,
        client_id.chars().take(100).collect::<String>(),
        tokens::hash(&secret),
        &secret[..REFRESH_PREFIX.len() + 6],
        user.auth_epoch
    )
    .execute(&state.db)
    .await
    .map_err(AppError::from)?;
    // Each `docker login` makes one: a client keeps its newest few, a user a bounded number.
    sqlx::query!(
        "delete from refresh_token where refresh_token_id in (
             select refresh_token_id from refresh_token where user_id = $1 and service = $2 and client_id = $3
             order by created_at desc, refresh_token_id desc offset $4)
           or refresh_token_id in (
             select refresh_token_id from refresh_token where user_id = $1
             order by created_at desc, refresh_token_id desc offset $5)",
        user.id,
        service,
        client_id.chars().take(100).collect::<String>(),
        REFRESH_TOKENS_PER_CLIENT,
        REFRESH_TOKENS_PER_USER
    )
    .execute(&state.db)
    .await
    .map_err(AppError::from)?;
    Ok(secret)
}

/// Refresh tokens kept per user, service and client (older ones end), and per user.
const REFRESH_TOKENS_PER_CLIENT: i64 = 5;
const REFRESH_TOKENS_PER_USER: i64 = 50;

/// Deletes refresh tokens that have ended (too old, unused too long, revoked or voided by a
/// password change a while ago). Returns how many.
pub async fn prune_refresh_tokens(state: &AppState) -> Result<u64, AppError> {
    Ok(sqlx::query!(
        r#"delete from refresh_token r using "user" u
           where u.user_id = r.user_id
             and (r.created_at < now() - make_interval(days => $1)
                  or coalesce(r.last_used_at, r.created_at) < now() - make_interval(days => $2)
                  or r.revoked_at < now() - interval '7 days'
                  or (r.auth_epoch <> u.auth_epoch and r.created_at < now() - interval '7 days'))"#,
        state.settings.refresh_token_max_days as i32,
        state.settings.refresh_token_idle_days as i32
    )
    .execute(&state.db)
    .await?
    .rows_affected())
}

pub async fn list_refresh_tokens(state: &AppState, user: &User) -> Result<Vec<RefreshTokenView>, AppError> {
    Ok(sqlx::query_as!(
        RefreshTokenView,
        r#"select r.refresh_token_id as id, r.client_id, r.display_prefix as prefix,
                  r.created_at as "created_at: _", r.last_used_at as "last_used_at: _",
                  (r.revoked_at is null and r.auth_epoch = u.auth_epoch
                   and r.created_at > now() - make_interval(days => $2)
                   and coalesce(r.last_used_at, r.created_at) > now() - make_interval(days => $3)) as "active!"
           from refresh_token r join "user" u on u.user_id = r.user_id
           where r.user_id = $1 order by r.created_at desc limit 100"#,
        user.id,
        state.settings.refresh_token_max_days as i32,
        state.settings.refresh_token_idle_days as i32
    )
    .fetch_all(&state.db)
    .await?)
}

/// Revokes a `docker login` (a refresh token): its owner's, or an administrator's decision
/// (`policy::can_manage_tokens_of`); anyone else's is "not found".
pub async fn revoke_refresh_token(state: &AppState, p: &Principal, id: i64) -> Result<(), AppError> {
    let missing = || AppError::not_found("No such refresh token.");
    p.require_writer()?;
    let owner = sqlx::query_scalar!("select user_id from refresh_token where refresh_token_id = $1", id)
        .fetch_optional(&state.db)
        .await?
        .ok_or_else(missing)?;
    let user = p.allowed(|a| crate::policy::can_manage_tokens_of(a, owner)).map_err(|_| missing())?.user();
    let mut tx = state.db.begin().await?;
    let done = sqlx::query!(
        "update refresh_token set revoked_at = now() where refresh_token_id = $1 and revoked_at is null",
        id
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if done == 0 {
        return Err(missing());
    }
    crate::backend::audit::record(
        &mut tx,
        Some(user),
        "token.revoke",
        crate::backend::audit::Target::token("refresh token"),
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_cache_drops_stale_entries_before_live_ones() {
        let mut map: HashMap<u32, bool> = (0..CACHE_MAX as u32).map(|i| (i, i % 2 == 0)).collect();
        make_room(&mut map, |live| *live);
        assert_eq!(map.len(), CACHE_MAX / 2, "only the stale half went");
        assert!(map.values().all(|live| *live));
        let mut full: HashMap<u32, bool> = (0..CACHE_MAX as u32).map(|i| (i, true)).collect();
        make_room(&mut full, |live| *live);
        assert!(full.is_empty(), "a cache full of live entries starts over");
    }
}

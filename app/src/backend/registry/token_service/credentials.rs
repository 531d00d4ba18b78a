//! Who is asking: a password (remembered once checked), an access token, or a refresh token
//! (docker login's), each to one principal.

use std::net::IpAddr;

use crate::backend::access::principal::Principal;
use crate::backend::access::principal::{Duty, User};
use crate::backend::access::{access_tokens as tokens, login as auth};
use crate::backend::AppState;
use crate::error::AppError;

use super::*;

use super::auth_cache::*;

/// Refresh tokens start with this.
pub const REFRESH_PREFIX: &str = "pcrt_";

pub(super) fn looks_like_refresh_token(s: &str) -> bool {
    s.starts_with(REFRESH_PREFIX) && s.len() == REFRESH_PREFIX.len() + 43
}

/// The user behind a password, through the cache when possible. A remembered password is
/// trusted only while the user's auth epoch and enabled flag are what they were (one indexed
/// read, made together with the requests beside it: see `recheck`): a password change or a
/// disable made through another replica ends it at once, even if that replica's change
/// notification was lost.
pub(super) async fn by_password(
    state: &AppState,
    username: &str,
    password: String,
    addr: Option<IpAddr>,
) -> Result<User, TokenError> {
    let username = username.to_ascii_lowercase();
    let cache = &state.auth_cache;
    let slot = cache.password_slot(&username, &password);
    if let Some(hit) = cache.principal(&slot).and_then(|p| p.user) {
        // One read (shared with the requests waiting beside it): the user as they are now,
        // and the throttle's counts for this attempt (a throttled client gets no answer from
        // memory either).
        let keys = crate::backend::access::throttle::password_attempt(&username, addr);
        let names: Vec<String> = keys.iter().map(|k| k.0.clone()).collect();
        let seen = cache.rechecks.read(&state.hot, hit.id, names).await?;
        crate::backend::access::throttle::check(&keys, &seen.failures, seen.now)?;
        if seen.user == Some((hit.auth_epoch, true)) {
            return Ok(hit);
        }
        cache.forget(&slot);
    }
    let stamp = crate::backend::registry::cache::stamp();
    let user = auth::login_with_password(state, &username, password, addr).await.map_err(|e| match e {
        AppError::Unauthorized(_) => TokenError::Unauthorized(BAD_CREDENTIALS.into()),
        other => other.into(),
    })?;
    cache.remember(slot, Principal::user(user.clone()), cache.password_ttl, stamp);
    Ok(user)
}

/// The principal behind an access token (with its restriction), through the cache when possible.
pub(super) async fn by_access_token(state: &AppState, secret: &str) -> Result<Principal, TokenError> {
    let cache = &state.auth_cache;
    let slot = AuthCache::token_slot("access", secret);
    if let Some(hit) = cache.principal(&slot) {
        if cache.needs_touch(&slot) {
            if let Some(id) = hit.token.as_ref().map(|t| t.token_id) {
                let db = state.hot.clone();
                tokio::spawn(async move {
                    if let Ok(mut c) = Duty::SignIn.on(&db).await {
                        let _ = tokens::touch(&mut c, id).await;
                    }
                });
            }
        }
        return Ok(hit);
    }
    let stamp = crate::backend::registry::cache::stamp();
    let (user, scope) = tokens::authenticate(&state.hot, secret)
        .await?
        .ok_or_else(|| TokenError::Unauthorized(BAD_CREDENTIALS.into()))?;
    let principal = Principal { user: Some(user), token: Some(scope) };
    cache.remember(slot, principal.clone(), BACKSTOP, stamp);
    Ok(principal)
}

/// The user behind a refresh token issued for `service`, through the cache when possible.
pub(super) async fn by_refresh_token(state: &AppState, token: &str, service: &str) -> Result<User, TokenError> {
    let slot = AuthCache::token_slot(service, token);
    if let Some(user) = state.auth_cache.principal(&slot).and_then(|p| p.user) {
        return Ok(user);
    }
    let stamp = crate::backend::registry::cache::stamp();
    let user = refresh_token_user(state, token, service).await?;
    state.auth_cache.remember(slot, Principal::user(user.clone()), BACKSTOP, stamp);
    Ok(user)
}

pub(super) async fn refresh_token_user(state: &AppState, token: &str, service: &str) -> Result<User, TokenError> {
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
            .execute(&mut *Duty::SignIn.on(&state.hot).await?)
            .await
            .map_err(AppError::from)?;
    }
    Ok(crate::user_from_row!(row))
}

/// Who is asking: the principal behind the credentials (with the restriction of the access
/// token they used, if any).
pub(super) async fn authenticate(
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

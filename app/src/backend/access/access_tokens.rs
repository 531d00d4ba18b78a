//! Access tokens for machines (CI, kubelets): named, shown once, stored as SHA-256, optionally
//! expiring, optionally restricted to some namespaces and to pulling; revocable.
//!
//! A token looks like `pcat_` followed by 43 characters of base64url (32 random bytes), so
//! secret scanners can recognise it. Checking one is a hash and an indexed lookup: no argon2.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use rand::RngCore as _;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use super::principal::{check, Principal, UsedToken};
use super::principal::{Change, Duty, User};
use super::users;
use crate::backend::audit::{self, Target};
use crate::backend::AppState;
use crate::error::{AppError, AppResult};
use crate::model::{AccessTokenView, CreatedToken, Page, PageRequest};
use crate::policy;

/// Every access token starts with this.
pub const PREFIX: &str = "pcat_";
/// Characters of the secret kept in clear to recognise the token in lists.
const DISPLAY_LEN: usize = PREFIX.len() + 6;

pub fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// A new credential: `prefix` and 43 characters of base64url (32 random bytes), so secret
/// scanners can recognise it. Access and refresh tokens are made this way.
pub fn new_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

fn generate() -> String {
    new_secret(PREFIX)
}

/// Whether a password-like string is shaped like one of our tokens (then it is never tried as a password).
pub fn looks_like_token(s: &str) -> bool {
    s.starts_with(PREFIX) && s.len() == PREFIX.len() + 43
}

/// What the user asks for when creating a token.
#[derive(Debug, Clone, Default)]
pub struct NewToken {
    pub name: String,
    /// Namespace names; empty for no restriction.
    pub namespaces: Vec<String>,
    pub pull_only: bool,
    pub expires_at: Option<DateTime<Utc>>,
}

async fn views(db: &PgPool, user_id: i64, token_id: Option<i64>, req: PageRequest) -> AppResult<Vec<AccessTokenView>> {
    Ok(sqlx::query_as!(
        AccessTokenView,
        r#"select t.access_token_id as id, t.user_id, t.name, t.display_prefix as prefix,
                  coalesce((select array_agg(n.name order by n.name) from namespace n
                            where n.namespace_id = any(t.namespace_ids)), '{}') as "namespaces!",
                  t.pull_only, t.expires_at as "expires_at: _", t.last_used_at as "last_used_at: _",
                  t.created_at as "created_at: _", t.revoked_at as "revoked_at: _"
           from access_token t
           where t.user_id = $1 and ($2::bigint is null or t.access_token_id = $2)
           order by t.revoked_at is not null, t.created_at desc, t.access_token_id desc limit $3 offset $4"#,
        user_id,
        token_id,
        req.limit(),
        req.offset()
    )
    .fetch_all(db)
    .await?)
}

async fn owner(state: &AppState, p: &Principal, user_id: i64) -> AppResult<User> {
    let actor = p.require_user()?;
    check(policy::can_manage_tokens_of(&p.actor(), user_id))?;
    if actor.id == user_id {
        return Ok(actor.clone());
    }
    users::find_by_id(&state.db, user_id).await?.ok_or_else(|| AppError::not_found("No such user."))
}

/// A page of the tokens of a user (theirs, or any user's for an administrator), active first.
pub async fn list(state: &AppState, p: &Principal, user_id: i64, req: PageRequest) -> AppResult<Page<AccessTokenView>> {
    let owner = owner(state, p, user_id).await?;
    let total = sqlx::query_scalar!(r#"select count(*) as "n!" from access_token where user_id = $1"#, owner.id)
        .fetch_one(&state.db)
        .await?;
    Ok(req.of(views(&state.db, owner.id, None, req).await?, total))
}

/// Creates a token and returns its secret, which is never stored or shown again.
pub async fn create(state: &AppState, p: &Principal, user_id: i64, new: NewToken) -> AppResult<CreatedToken> {
    let allowed = p.allowed(|a| policy::can_manage_tokens_of(a, user_id))?;
    let owner = owner(state, p, user_id).await?;
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::invalid("name", "must be between 1 and 100 characters"));
    }
    if new.expires_at.is_some_and(|e| e <= Utc::now()) {
        return Err(AppError::invalid("expires_at", "must be in the future"));
    }
    let namespace_ids = if new.namespaces.is_empty() {
        None
    } else {
        let owner_principal = Principal::user(owner.clone());
        let mut ids = Vec::new();
        for name in &new.namespaces {
            let ns = crate::backend::org::namespaces::get(
                state,
                &owner_principal,
                &crate::backend::org::namespaces::NamespaceRef::Name(name.clone()),
            )
            .await
            .map_err(|_| AppError::invalid("namespaces", format!("{name}: no such namespace")))?;
            ids.push(ns.namespace.id);
        }
        Some(ids)
    };
    insert(allowed.begin(&state.db).await?, &state.db, &owner, name, namespace_ids, &new).await
}

/// Stores a new token for `owner` in `tx` (checks done by whoever began it: a person the
/// policy allowed, or the command line) and returns its secret.
pub async fn insert(
    mut tx: Change<'_>,
    db: &PgPool,
    owner: &User,
    name: &str,
    namespace_ids: Option<Vec<i64>>,
    new: &NewToken,
) -> AppResult<CreatedToken> {
    let secret = generate();
    let id = sqlx::query_scalar!(
        "insert into access_token (user_id, name, token_hash, display_prefix, namespace_ids, pull_only, expires_at, created_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8) returning access_token_id",
        owner.id,
        name,
        hash(&secret),
        &secret[..DISPLAY_LEN],
        namespace_ids.as_deref(),
        new.pull_only,
        new.expires_at as _,
        tx.user().map(|a| a.id)
    )
    .fetch_one(&mut *tx)
    .await?;
    let details = serde_json::json!({
        "owner": owner.username, "pull_only": new.pull_only, "namespaces": new.namespaces,
        "expires_at": new.expires_at,
    });
    audit::record(&mut tx, "token.create", Target::token(name), details).await?;
    tx.commit().await?;
    let token = views(db, owner.id, Some(id), PageRequest::default()).await?.pop().ok_or(AppError::Internal)?;
    Ok(CreatedToken { token, secret, username: owner.username.clone() })
}

/// Revokes a token. Revoking twice is harmless.
pub async fn revoke(state: &AppState, p: &Principal, token_id: i64) -> AppResult<AccessTokenView> {
    p.require_writer()?;
    let row = sqlx::query!(
        r#"select t.user_id, t.name, u.username from access_token t join "user" u using (user_id)
           where t.access_token_id = $1"#,
        token_id
    )
    .fetch_optional(&state.db)
    .await?
    .ok_or_else(|| AppError::not_found("No such token."))?;
    // Someone else's token: "not found" unless an administrator.
    let allowed = p
        .allowed(|a| policy::can_manage_tokens_of(a, row.user_id))
        .map_err(|_| AppError::not_found("No such token."))?;
    let mut tx = allowed.begin(&state.db).await?;
    let changed = sqlx::query!(
        "update access_token set revoked_at = now() where access_token_id = $1 and revoked_at is null",
        token_id
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed > 0 {
        let details = serde_json::json!({ "owner": row.username });
        audit::record(&mut tx, "token.revoke", Target::token(&row.name), details).await?;
    }
    tx.commit().await?;
    views(&state.db, row.user_id, Some(token_id), PageRequest::default()).await?.pop().ok_or(AppError::Internal)
}

/// The user and restrictions behind a token secret, if it is valid: known, not revoked, not
/// expired, its user enabled. Records the time of use (at most once a minute per token).
pub async fn authenticate(db: &PgPool, secret: &str) -> AppResult<Option<(User, UsedToken)>> {
    if !looks_like_token(secret) {
        return Ok(None);
    }
    let row = sqlx::query!(
        r#"select t.access_token_id, t.namespace_ids, t.pull_only, t.expires_at as "expires_at: chrono::DateTime<chrono::Utc>",
                  (t.last_used_at is null or t.last_used_at < now() - interval '1 minute') as "stale!",
                  u.user_id, u.username, u.display_name, u.email, u.password_hash, u.is_admin, u.is_enabled,
                  u.is_bot, u.auth_epoch
           from access_token t join "user" u on u.user_id = t.user_id
           where t.token_hash = $1 and t.revoked_at is null and (t.expires_at is null or t.expires_at > now())
             and u.is_enabled"#,
        hash(secret)
    )
    .fetch_optional(db)
    .await?;
    let Some(row) = row else { return Ok(None) };
    if row.stale {
        touch(&mut Duty::SignIn.on(db).await?, row.access_token_id).await?;
    }
    let user = crate::user_from_row!(row);
    let used = UsedToken {
        token_id: row.access_token_id,
        expires_at: row.expires_at,
        restriction: crate::grant::Restriction { namespace_ids: row.namespace_ids, pull_only: row.pull_only },
    };
    Ok(Some((user, used)))
}

/// Records that token `id` was used just now.
pub async fn touch(c: &mut Change<'_>, id: i64) -> AppResult<()> {
    sqlx::query!("update access_token set last_used_at = now() where access_token_id = $1", id)
        .execute(&mut **c)
        .await?;
    Ok(())
}

/// Revokes every token of user `user_id` still in force; returns how many.
pub async fn revoke_all(c: &mut Change<'_>, user_id: i64) -> AppResult<u64> {
    Ok(sqlx::query!("update access_token set revoked_at = now() where user_id = $1 and revoked_at is null", user_id)
        .execute(&mut **c)
        .await?
        .rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_recognisable_and_unique() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert!(looks_like_token(&a), "{a}");
        assert_eq!(a.len(), 48);
        assert!(!looks_like_token("pcat_short"));
        assert!(!looks_like_token("a password of forty-eight characters, no prefix."));
        assert_eq!(hash(&a).len(), 32);
    }
}

//! Refresh tokens, `docker login`'s: made with an offline token request, a few per client and
//! per user, listed and revoked on the account page, pruned when they end.

use crate::backend::access::access_tokens as tokens;
use crate::backend::access::principal::Duty;
use crate::backend::access::principal::Principal;
use crate::backend::access::principal::User;
use crate::backend::AppState;
use crate::error::AppError;
use crate::model::RefreshTokenView;

use super::*;

pub(super) async fn create_refresh_token(
    state: &AppState,
    user: &User,
    service: &str,
    client_id: &str,
) -> Result<String, TokenError> {
    let secret = tokens::new_secret(REFRESH_PREFIX);
    let mut c = Duty::SignIn.on(&state.db).await?;
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
    .execute(&mut *c)
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
    .execute(&mut *c)
    .await
    .map_err(AppError::from)?;
    Ok(secret)
}

/// Refresh tokens kept per user, service and client (older ones end), and per user.
pub(super) const REFRESH_TOKENS_PER_CLIENT: i64 = 5;
pub(super) const REFRESH_TOKENS_PER_USER: i64 = 50;

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
    .execute(&mut *Duty::Prune.on(&state.db).await?)
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
    let owner = sqlx::query!(
        r#"select r.user_id, u.username from refresh_token r join "user" u using (user_id) where r.refresh_token_id = $1"#,
        id
    )
    .fetch_optional(&state.db)
    .await?
    .ok_or_else(missing)?;
    let allowed = p.allowed(|a| crate::policy::can_manage_tokens_of(a, owner.user_id)).map_err(|_| missing())?;
    let mut tx = allowed.begin(&state.db).await?;
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
        "token.revoke",
        crate::backend::audit::Target::token("refresh token"),
        serde_json::json!({ "owner": owner.username }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

//! What a test does behind the application's back: time passing, and changes that reach the
//! database without going through Portcullis (another replica whose notification is lost, an
//! operator's SQL). Each says what it stands for, so a test reads as the story it tells.

use sqlx::PgExecutor;

/// `username` is disabled and their sessions end, as another replica would do it, without
/// telling this one's caches.
pub async fn disable(db: impl PgExecutor<'_>, username: &str) {
    sqlx::query(r#"update "user" set is_enabled = false, auth_epoch = auth_epoch + 1 where username = $1"#)
        .bind(username)
        .execute(db)
        .await
        .unwrap();
}

/// Every access token of user `user_id` is revoked, without telling any cache.
pub async fn revoke_tokens_of(db: impl PgExecutor<'_>, user_id: i64) {
    sqlx::query("update access_token set revoked_at = now() where user_id = $1")
        .bind(user_id)
        .execute(db)
        .await
        .unwrap();
}

/// The access token named `name` has just expired.
pub async fn expire_access_token(db: impl PgExecutor<'_>, name: &str) {
    sqlx::query("update access_token set expires_at = now() - interval '1 second' where name = $1")
        .bind(name)
        .execute(db)
        .await
        .unwrap();
}

/// Every unused password reset link is past its hour.
pub async fn expire_reset_links(db: impl PgExecutor<'_>) {
    sqlx::query("update password_reset set expires_at = now() - interval '1 minute' where used_at is null")
        .execute(db)
        .await
        .unwrap();
}

/// The refresh token `secret` was made `created_days` ago and, if given, last used
/// `idle_days` ago.
pub async fn age_refresh_token(db: impl PgExecutor<'_>, secret: &str, created_days: i32, idle_days: Option<i32>) {
    let hash = <sha2::Sha256 as sha2::Digest>::digest(secret.as_bytes()).to_vec();
    sqlx::query(
        "update refresh_token set created_at = now() - make_interval(days => $2),
             last_used_at = coalesce(now() - make_interval(days => $3), last_used_at)
         where token_hash = $1",
    )
    .bind(hash)
    .bind(created_days)
    .bind(idle_days)
    .execute(db)
    .await
    .unwrap();
}

/// Every cleanup policy was saved two minutes ago and has not worked out its next run yet,
/// so a schedule for the past minute is due now.
pub async fn make_schedules_due(db: impl PgExecutor<'_>) {
    sqlx::query("update cleanup_policy set updated_at = now() - interval '2 minutes', next_run_at = null")
        .execute(db)
        .await
        .unwrap();
}

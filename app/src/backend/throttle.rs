//! Throttling of failed logins, per account and per client address, kept in PostgreSQL so
//! that every replica sees the same counts.
//!
//! Keys are counted whether or not the account exists, so the throttle itself never tells
//! an attacker which usernames are real.

use std::net::IpAddr;

use sqlx::PgPool;

use crate::error::{AppError, AppResult};

/// Failures allowed per account within the window.
pub const ACCOUNT_LIMIT: i32 = 5;
/// Failures allowed per client address within the window (several users behind one NAT).
pub const ADDRESS_LIMIT: i32 = 20;
/// Length of the window, in seconds.
pub const WINDOW_SECS: i64 = 15 * 60;

pub fn account_key(username: &str) -> String {
    format!("user:{}", username.to_ascii_lowercase())
}

pub fn address_key(addr: Option<IpAddr>) -> Option<String> {
    addr.map(|a| format!("addr:{a}"))
}

fn limit_for(key: &str) -> i32 {
    if key.starts_with("addr:") {
        ADDRESS_LIMIT
    } else {
        ACCOUNT_LIMIT
    }
}

/// Refuses with `TooManyRequests` when any key is over its limit.
pub async fn check(db: &PgPool, keys: &[String]) -> AppResult<()> {
    let rows = sqlx::query!(
        r#"select key, failures,
                  greatest(0, extract(epoch from (window_start + make_interval(secs => $2) - now())))::bigint
                      as "retry_after!"
           from login_failure
           where key = any($1) and window_start > now() - make_interval(secs => $2)"#,
        keys,
        WINDOW_SECS as f64
    )
    .fetch_all(db)
    .await?;
    let blocked = rows.iter().filter(|r| r.failures >= limit_for(&r.key)).map(|r| r.retry_after).max();
    match blocked {
        Some(secs) => Err(AppError::TooManyRequests(format!(
            "Too many failed sign-in attempts. Try again in {} minute(s).",
            (secs + 59) / 60
        ))),
        None => Ok(()),
    }
}

/// Counts one failure against every key.
pub async fn record_failure(db: &PgPool, keys: &[String]) -> AppResult<()> {
    sqlx::query!(
        r#"insert into login_failure (key, failures, window_start)
           select k, 1, now() from unnest($1::text[]) as k
           on conflict (key) do update set
               failures = case when login_failure.window_start <= now() - make_interval(secs => $2)
                               then 1 else login_failure.failures + 1 end,
               window_start = case when login_failure.window_start <= now() - make_interval(secs => $2)
                                   then now() else login_failure.window_start end"#,
        keys,
        WINDOW_SECS as f64
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Forgets the failures of an account after a successful login.
pub async fn clear(db: &PgPool, key: &str) -> AppResult<()> {
    sqlx::query!("delete from login_failure where key = $1", key).execute(db).await?;
    Ok(())
}

//! Throttling of password attempts and sign-ups, counted in PostgreSQL so that every replica
//! sees the same numbers.
//!
//! - **Per account and client address**: after [`PAIR`]'s 5 failures within 15 minutes, that
//!   address may not try that account again until the window has passed. Other addresses
//!   (the account's owner) and other accounts at that address are not affected.
//! - **Per account, from anywhere**: after [`ACCOUNT`]'s 20 failures within 15 minutes,
//!   attempts are spaced out (one second, doubling up to five minutes) instead of refused
//!   outright: many addresses guessing slowly get few guesses, and the owner is never locked
//!   out for good.
//! - **Sign-ups per client address**: [`SIGNUP`]'s 10 an hour.
//!
//! An attempt is counted before the password is checked, and the count is taken back when it
//! was right; the decision and the count are made under a lock of the rows concerned. So 300
//! simultaneous guesses at one account get 5 password checks, not 300. Keys are counted
//! whether or not the account exists, so the throttle never tells which usernames are real.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::backend::access::principal::Duty;
use crate::error::{AppError, AppResult};

/// One throttling rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Attempts counted within the window before the rule bites.
    pub limit: i32,
    pub window_secs: i64,
    /// Past the limit, space attempts out (doubling from one second) instead of refusing
    /// until the window has passed.
    pub backoff: bool,
    /// What a successful attempt does to the count.
    pub on_success: OnSuccess,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnSuccess {
    /// Forget the failures (the owner proved who they are from there).
    Clear,
    /// Take back this attempt's count only (others' failures stay).
    Uncount,
    /// Keep it (a sign-up counts whether or not it worked).
    Keep,
}

pub const PAIR: Rule = Rule { limit: 5, window_secs: 15 * 60, backoff: false, on_success: OnSuccess::Clear };
pub const ACCOUNT: Rule = Rule { limit: 20, window_secs: 15 * 60, backoff: true, on_success: OnSuccess::Uncount };
pub const SIGNUP: Rule = Rule { limit: 10, window_secs: 60 * 60, backoff: false, on_success: OnSuccess::Keep };

pub const PROVIDER: Rule = Rule { limit: 30, window_secs: 15 * 60, backoff: false, on_success: OnSuccess::Keep };

/// The keys and rules of a sign-in through an identity provider started from `addr` (each
/// start is a session in the store, however short-lived).
pub fn provider_attempt(addr: Option<IpAddr>) -> Vec<(String, Rule)> {
    addr.map(|a| vec![(format!("provider:{a}"), PROVIDER)]).unwrap_or_default()
}

/// The longest a spaced-out attempt waits.
const MAX_BACKOFF_SECS: i64 = 300;

/// The keys and rules of a password attempt at `username` from `addr`.
pub fn password_attempt(username: &str, addr: Option<IpAddr>) -> Vec<(String, Rule)> {
    let user = username.to_ascii_lowercase();
    let addr = addr.map(|a| a.to_string()).unwrap_or_else(|| "unknown".into());
    vec![(format!("pair:{user}@{addr}"), PAIR), (format!("user:{user}"), ACCOUNT)]
}

/// The keys and rules of a sign-up from `addr` (none when the address is unknown, which
/// happens only when the server runs without connection information).
pub fn signup_attempt(addr: Option<IpAddr>) -> Vec<(String, Rule)> {
    addr.map(|a| vec![(format!("signup:{a}"), SIGNUP)]).unwrap_or_default()
}

/// An attempt that was allowed and counted.
#[must_use = "report how the attempt ended"]
pub struct Attempt {
    keys: Vec<(String, Rule)>,
}

/// What a rule says about a key's row now.
fn verdict(
    rule: Rule,
    failures: i32,
    window_start: DateTime<Utc>,
    last_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Verdict {
    let window_end = window_start + chrono::Duration::seconds(rule.window_secs);
    let failures = if window_end <= now { 0 } else { failures };
    if failures < rule.limit {
        return Verdict::Allowed { failures };
    }
    if rule.backoff {
        let wait =
            1i64.checked_shl((failures - rule.limit).clamp(0, 30) as u32).unwrap_or(i64::MAX).min(MAX_BACKOFF_SECS);
        let next = last_at + chrono::Duration::seconds(wait);
        if next <= now {
            return Verdict::Allowed { failures };
        }
        return Verdict::Wait((next - now).num_seconds().max(1));
    }
    Verdict::Wait((window_end - now).num_seconds().max(1))
}

#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Allowed {
        failures: i32,
    },
    /// Seconds to wait.
    Wait(i64),
}

fn refusal(secs: i64) -> AppError {
    let when = if secs < 120 { format!("{secs} second(s)") } else { format!("{} minute(s)", (secs + 59) / 60) };
    AppError::TooManyRequests(format!("Too many attempts. Try again in {when}."))
}

/// Counts an attempt against every key, or refuses it (`TooManyRequests`, counting nothing)
/// when a rule says to wait. The rows are locked while the decision is made.
pub async fn begin(db: &PgPool, keys: Vec<(String, Rule)>) -> AppResult<Attempt> {
    let mut keys = keys;
    // One order for every transaction, so that two attempts never wait on each other's rows.
    keys.sort_by(|a, b| a.0.cmp(&b.0));
    let names: Vec<String> = keys.iter().map(|k| k.0.clone()).collect();
    let mut tx = Duty::SignIn.begin(db).await?;
    sqlx::query!(
        "insert into login_failure (key, failures, window_start, last_at)
         select k, 0, now(), now() from unnest($1::text[]) k order by k on conflict (key) do nothing",
        &names
    )
    .execute(&mut *tx)
    .await?;
    let rows = sqlx::query!(
        r#"select key, failures, window_start as "window_start: DateTime<Utc>", last_at as "last_at: DateTime<Utc>",
                  now() as "now!: DateTime<Utc>"
           from login_failure where key = any($1) order by key for update"#,
        &names
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut counted = Vec::with_capacity(rows.len());
    for row in &rows {
        let Some((_, rule)) = keys.iter().find(|k| k.0 == row.key) else { continue };
        match verdict(*rule, row.failures, row.window_start, row.last_at, row.now) {
            Verdict::Wait(secs) => return Err(refusal(secs)),
            Verdict::Allowed { failures } => {
                let expired = row.window_start + chrono::Duration::seconds(rule.window_secs) <= row.now;
                counted.push((row.key.clone(), failures + 1, expired));
            }
        }
    }
    for (key, failures, restart) in counted {
        sqlx::query!(
            "update login_failure set failures = $2, last_at = now(),
                 window_start = case when $3 then now() else window_start end
             where key = $1",
            key,
            failures,
            restart
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(Attempt { keys })
}

/// The counts of some keys as they stand, read (not counted) together with something else:
/// `(key, failures, window_start, last_at)`.
pub type Row = (String, i32, DateTime<Utc>, DateTime<Utc>);

/// Refuses (`TooManyRequests`) when a rule says the attempt must wait, without counting it:
/// for a password the token service remembers, which must not let a throttled guesser test
/// guesses against its memory for free.
pub fn check(keys: &[(String, Rule)], rows: &[Row], now: DateTime<Utc>) -> AppResult<()> {
    for (key, failures, window_start, last_at) in rows {
        let Some((_, rule)) = keys.iter().find(|k| &k.0 == key) else { continue };
        if let Verdict::Wait(secs) = verdict(*rule, *failures, *window_start, *last_at, now) {
            return Err(refusal(secs));
        }
    }
    Ok(())
}

impl Attempt {
    /// The attempt failed: it stays counted.
    pub fn failed(self) {}

    /// The attempt succeeded: each rule forgets, takes back or keeps its count.
    pub async fn succeeded(self, db: &PgPool) -> AppResult<()> {
        for (key, rule) in &self.keys {
            match rule.on_success {
                OnSuccess::Clear => {
                    sqlx::query!("delete from login_failure where key = $1", key)
                        .execute(&mut *Duty::SignIn.on(db).await?)
                        .await?;
                }
                OnSuccess::Uncount => {
                    sqlx::query!("update login_failure set failures = greatest(failures - 1, 0) where key = $1", key)
                        .execute(&mut *Duty::SignIn.on(db).await?)
                        .await?;
                }
                OnSuccess::Keep => {}
            }
        }
        Ok(())
    }
}

/// Forgets counts whose windows ended long ago. Returns how many.
pub async fn prune(db: &PgPool) -> AppResult<u64> {
    Ok(sqlx::query!(
        "delete from login_failure where window_start < now() - interval '2 hours' and last_at < now() - interval '2 hours'"
    )
    .execute(&mut *Duty::Prune.on(db).await?)
    .await?
    .rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn a_pair_waits_out_its_window_after_the_limit() {
        assert_eq!(verdict(PAIR, 4, at(0), at(10), at(20)), Verdict::Allowed { failures: 4 });
        assert_eq!(verdict(PAIR, 5, at(0), at(10), at(20)), Verdict::Wait(15 * 60 - 20));
        assert_eq!(verdict(PAIR, 50, at(0), at(10), at(15 * 60)), Verdict::Allowed { failures: 0 }, "a new window");
    }

    #[test]
    fn an_account_spaces_attempts_out_instead_of_locking() {
        assert_eq!(verdict(ACCOUNT, 19, at(0), at(100), at(100)), Verdict::Allowed { failures: 19 });
        assert_eq!(verdict(ACCOUNT, 20, at(0), at(100), at(100)), Verdict::Wait(1));
        assert_eq!(verdict(ACCOUNT, 20, at(0), at(100), at(101)), Verdict::Allowed { failures: 20 });
        assert_eq!(verdict(ACCOUNT, 23, at(0), at(100), at(104)), Verdict::Wait(4));
        assert_eq!(verdict(ACCOUNT, 500, at(0), at(100), at(101)), Verdict::Wait(MAX_BACKOFF_SECS - 1), "capped");
    }

    #[test]
    fn keys_name_the_account_and_the_address() {
        let keys = password_attempt("Alice", "10.0.0.1".parse().ok());
        assert_eq!(keys[0].0, "pair:alice@10.0.0.1");
        assert_eq!(keys[1].0, "user:alice");
        assert!(signup_attempt(None).is_empty());
    }
}

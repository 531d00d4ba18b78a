//! The one read a remembered password still costs (its user's auth epoch and enabled flag, and
//! the throttle's counts for the attempt), made for many requests at once when many arrive
//! together: a CI farm's clients signing in as one bot, or many users at the hour.
//!
//! The requests are read [`Together`], in one statement: no answer is older than its request,
//! so a disable or a throttled guesser is seen exactly as by a read of its own. One request
//! alone pays one read, as before; a crowd pays one read per round trip instead of one each.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::backend::together::{Together, Waiting};

use crate::backend::access::throttle;
use crate::error::{AppError, AppResult};

/// What a recheck saw for one request.
#[derive(Debug, Clone)]
pub(super) struct Seen {
    /// The user's auth epoch and enabled flag, if the user still exists.
    pub(super) user: Option<(i32, bool)>,
    /// The throttle's counts for the request's keys.
    pub(super) failures: Vec<throttle::Row>,
    pub(super) now: DateTime<Utc>,
}

/// What a request needs read: its user, and its throttle keys.
type Query = (i64, Vec<String>);

/// Rechecks of remembered passwords, read together (see the module's text).
#[derive(Default)]
pub(super) struct Rechecks(Together<Query, AppResult<Seen>>);

impl Rechecks {
    /// The user `user_id` as they are now, and the throttle's counts under `keys`.
    pub(super) async fn read(&self, db: &PgPool, user_id: i64, keys: Vec<String>) -> AppResult<Seen> {
        let db = db.clone();
        self.0
            .run((user_id, keys), |batch| async move { answer_all(&db, batch).await })
            .await
            .unwrap_or(Err(AppError::Internal))
    }
}

async fn answer_all(db: &PgPool, batch: Vec<Waiting<Query, AppResult<Seen>>>) {
    let ids: Vec<i64> = batch.iter().map(|(q, _)| q.0).collect();
    let keys: Vec<String> = batch.iter().flat_map(|(q, _)| q.1.iter().cloned()).collect();
    let rows = sqlx::query!(
        r#"select u.user_id as "user_id?", u.auth_epoch as "auth_epoch?", u.is_enabled as "is_enabled?",
                  null::text as "key?", null::int as "failures?", null::timestamptz as "window_start?: DateTime<Utc>",
                  null::timestamptz as "last_at?: DateTime<Utc>", now() as "now!: DateTime<Utc>"
           from "user" u where u.user_id = any($1)
           union all
           select null, null, null, f.key, f.failures, f.window_start, f.last_at, now()
           from login_failure f where f.key = any($2)"#,
        &ids,
        &keys
    )
    .fetch_all(db)
    .await;
    let rows = match rows {
        Ok(rows) => rows,
        Err(e) => {
            let e = AppError::from(e);
            for (_, answer) in batch {
                let _ = answer.send(Err(e.clone()));
            }
            return;
        }
    };
    let now = rows.first().map_or_else(Utc::now, |r| r.now);
    for ((user_id, keys), answer) in batch {
        let user = rows.iter().find(|r| r.user_id == Some(user_id)).and_then(|r| Some((r.auth_epoch?, r.is_enabled?)));
        let failures = rows
            .iter()
            .filter(|r| r.key.as_ref().is_some_and(|k| keys.contains(k)))
            .filter_map(|r| Some((r.key.clone()?, r.failures?, r.window_start?, r.last_at?)))
            .collect();
        let _ = answer.send(Ok(Seen { user, failures, now }));
    }
}

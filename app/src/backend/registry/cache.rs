//! Invalidation of the token service's in-memory caches, across replicas.
//!
//! Every change that can alter who may do what is written to the activity log, and the
//! activity log's writer also sends `NOTIFY portcullis_changes` in the same transaction.
//! Each replica listens; a notification (or a lost connection to the listener) bumps the
//! cache generation, and every cached entry of an older generation is ignored. The writing
//! process bumps it at once too, so its own next request never sees a stale entry.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::PgPool;

/// The channel changes are announced on.
pub const CHANNEL: &str = "portcullis_changes";

static GENERATION: AtomicU64 = AtomicU64::new(1);

/// The current cache generation.
pub fn generation() -> u64 {
    GENERATION.load(Ordering::Acquire)
}

/// Makes every cached entry stale.
pub fn invalidate() {
    GENERATION.fetch_add(1, Ordering::AcqRel);
}

/// How long the listener waits for a notification before it checks that its connection
/// still answers (a half-open connection would otherwise go unnoticed).
const PING_EVERY: Duration = Duration::from_secs(5);

/// How many times the listener has (re)connected: for tests and the logs.
static CONNECTS: AtomicU64 = AtomicU64::new(0);

pub fn listener_connects() -> u64 {
    CONNECTS.load(Ordering::Acquire)
}

/// Listens for changes made by any replica, for as long as the pool is open. Every way the
/// listener can miss a notification drops the caches: a lost connection (seen by `try_recv`,
/// which, unlike `recv`, reports it instead of reconnecting silently), and a connection that
/// stopped answering (a ping every few quiet seconds, with a timeout).
pub fn spawn_listener(db: PgPool) {
    tokio::spawn(async move {
        while !db.is_closed() {
            match sqlx::postgres::PgListener::connect_with(&db).await {
                Ok(mut listener) => {
                    if listener.listen(CHANNEL).await.is_ok() {
                        CONNECTS.fetch_add(1, Ordering::AcqRel);
                        // Whatever happened before this connection listened is unknown.
                        invalidate();
                        listen(&mut listener).await;
                    }
                }
                Err(e) => tracing::debug!(error = %e, "change listener cannot connect; retrying"),
            }
            // Connection lost: whatever happened meanwhile is unknown, so forget everything.
            invalidate();
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
}

/// Invalidates on every notification until the connection is lost or stops answering.
async fn listen(listener: &mut sqlx::postgres::PgListener) {
    loop {
        match tokio::time::timeout(PING_EVERY, listener.try_recv()).await {
            Ok(Ok(Some(_notification))) => invalidate(),
            // `None`: the connection was lost (it would reconnect on the next call, silently).
            Ok(Ok(None)) | Ok(Err(_)) => return,
            Err(_quiet) => {
                let ping = sqlx::query_scalar::<_, i32>("select 1").fetch_one(&mut *listener);
                if !matches!(tokio::time::timeout(PING_EVERY, ping).await, Ok(Ok(1))) {
                    tracing::warn!("change listener stopped answering; reconnecting");
                    return;
                }
            }
        }
    }
}

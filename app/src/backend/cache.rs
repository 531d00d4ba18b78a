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

/// Listens for changes made by any replica, for as long as the pool is open.
pub fn spawn_listener(db: PgPool) {
    tokio::spawn(async move {
        while !db.is_closed() {
            match sqlx::postgres::PgListener::connect_with(&db).await {
                Ok(mut listener) => {
                    if listener.listen(CHANNEL).await.is_ok() {
                        invalidate();
                        while let Ok(_notification) = listener.recv().await {
                            invalidate();
                        }
                    }
                }
                Err(e) => tracing::debug!(error = %e, "change listener cannot connect; retrying"),
            }
            // Connection lost: whatever happened meanwhile is unknown, so forget everything.
            invalidate();
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}

//! Background jobs: one replica at a time (a PostgreSQL advisory lock held on a connection of
//! the job's own), and kept running (restarted with back-off after a failure or a panic).

use sqlx::PgPool;

use crate::error::AppResult;

/// A connection of its own, outside the pool, named `application_name` in
/// `pg_stat_activity`: for a job that holds a session-level advisory lock. Such a connection
/// is never handed to anyone else while it holds the lock, and when the job ends or panics it
/// is dropped, which closes the session and releases whatever it held.
pub async fn dedicated_connection(db: &PgPool, application_name: &str) -> AppResult<sqlx::PgConnection> {
    use sqlx::Connection as _;
    let options = db.connect_options().as_ref().clone().application_name(application_name);
    Ok(sqlx::PgConnection::connect_with(&options).await?)
}

/// Runs `work` while `lock` (a [`dedicated_connection`]) holds the PostgreSQL advisory lock
/// `name`, unless another session holds it (then `None`): how only one replica runs a
/// singleton job (the event worker, reconcile). The lock is released afterwards; a release
/// that fails is an error, and the caller drops the connection, which releases it for sure.
pub async fn exclusively<T>(
    lock: &mut sqlx::PgConnection,
    name: &str,
    work: impl std::future::Future<Output = AppResult<T>>,
) -> AppResult<Option<T>> {
    let got = sqlx::query_scalar!(r#"select pg_try_advisory_lock(hashtext($1)) as "got!""#, name)
        .fetch_one(&mut *lock)
        .await?;
    if !got {
        return Ok(None);
    }
    // Seen on /metrics: across replicas, at most one holds each job at any time.
    let active = metrics::gauge!("portcullis_job_active", "job" => name.to_owned());
    metrics::counter!("portcullis_job_runs_total", "job" => name.to_owned()).increment(1);
    active.set(1.0);
    tracing::debug!(target: "portcullis::jobs", job = name, "job started");
    let result = work.await;
    tracing::debug!(target: "portcullis::jobs", job = name, "job finished");
    active.set(0.0);
    sqlx::query_scalar!(r#"select pg_advisory_unlock(hashtext($1)) as "unlocked!""#, name)
        .fetch_one(&mut *lock)
        .await?;
    result.map(Some)
}

/// Keeps a background job running: `job` is started again, after a back-off that grows from
/// one second to a minute, whenever it fails or panics (a lost database connection, a bug).
/// A job that returns `Ok` is finished (the pool was closed) and is not restarted.
pub fn supervise<F, Fut>(name: &'static str, db: PgPool, mut job: F)
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = AppResult<()>> + Send + 'static,
{
    use std::time::{Duration, Instant};
    tokio::spawn(async move {
        let mut backoff = Duration::from_secs(1);
        while !db.is_closed() {
            let started = Instant::now();
            match tokio::spawn(job()).await {
                Ok(Ok(())) => return,
                Ok(Err(e)) => tracing::warn!(job = name, error = %e, "background job failed; restarting it"),
                Err(e) if e.is_panic() => tracing::error!(job = name, "background job panicked; restarting it"),
                Err(_) => return,
            }
            if started.elapsed() > Duration::from_secs(300) {
                backoff = Duration::from_secs(1);
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(60));
        }
    });
}

/// Runs `work` every `every` (waiting first), on one replica at a time: it holds the advisory
/// lock `lock` on a connection of its own (named `portcullis <name>`), and is supervised. A
/// run that fails is logged and tried again next time.
pub fn periodically<F, Fut>(
    name: &'static str,
    lock: &'static str,
    state: super::AppState,
    every: std::time::Duration,
    work: F,
) where
    F: Fn(super::AppState) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = AppResult<()>> + Send + 'static,
{
    let db = state.db.clone();
    supervise(name, db, move || {
        let (state, work) = (state.clone(), work.clone());
        async move {
            let mut connection = dedicated_connection(&state.db, &format!("portcullis {name}")).await?;
            while !state.db.is_closed() {
                tokio::time::sleep(every).await;
                if let Err(e) = exclusively(&mut connection, lock, work(state.clone())).await {
                    tracing::warn!(job = name, error = %e, "a periodic job failed; trying again next time");
                }
            }
            Ok(())
        }
    });
}

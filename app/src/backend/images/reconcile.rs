//! Reconcile: walks the registry's catalog, tags and manifests and brings the database in
//! step: what is missing is added, what is gone is removed. Idempotent and resumable (a run
//! cut short leaves correct rows behind; the next finishes the work). One replica at a time.

use std::collections::HashSet;

use futures_util::{stream, StreamExt};

use crate::backend::access::principal::{Change, Duty};
use crate::backend::images::store;
use crate::backend::AppState;
use crate::error::AppResult;

/// How many repositories are reconciled at once.
const CONCURRENCY: usize = 8;

pub use crate::model::ReconcileReport;

#[derive(Default)]
struct RepoReport {
    added: i32,
    updated: i32,
    removed: i32,
}

/// Reconciles one repository with the registry. Events keep arriving while it runs, so what
/// it knows is read before what the registry lists, and a tag pushed since `started` (an
/// event applied meanwhile) is newer than anything reconcile saw: it is neither moved nor
/// removed.
async fn repository(state: &AppState, name: &str, started: chrono::DateTime<chrono::Utc>) -> AppResult<RepoReport> {
    let mut report = RepoReport::default();
    let known = store::known_tags(&state.db, name).await?;
    let tags = state.registry.tags(state, name).await?;
    let mut repo_id: Option<i64> = None;
    for tag in &tags {
        let Some((digest, _)) = state.registry.head_manifest(state, name, tag).await? else { continue };
        let was = known.get(tag);
        if was.is_some_and(|k| k.digest == digest && k.complete) {
            continue;
        }
        let mut conn = Duty::Reconcile.on(&state.db).await?;
        let Some((rid, _)) = store::find_or_create_repository(&mut conn, name, store::Recorder::Reconcile).await?
        else {
            return Ok(report);
        };
        repo_id = Some(rid);
        if !record_manifest(state, &mut conn, rid, name, tag, &digest).await? {
            continue;
        }
        if !store::upsert_tag(&mut conn, rid, tag, &digest, None, chrono::Utc::now(), Some(started), "reconcile")
            .await?
        {
            continue;
        }
        if was.is_some() {
            report.updated += 1;
        } else {
            report.added += 1;
        }
    }
    let listed: HashSet<&String> = tags.iter().collect();
    let gone: Vec<&String> = known.keys().filter(|t| !listed.contains(t)).collect();
    if !gone.is_empty() {
        let mut conn = Duty::Reconcile.on(&state.db).await?;
        let rid = match repo_id {
            Some(r) => Some(r),
            None => store::repository_by_name(&mut conn, name).await?.map(|(id, _)| id),
        };
        if let Some(rid) = rid {
            for t in gone {
                if store::remove_tag(
                    &mut conn,
                    rid,
                    t,
                    Some(started),
                    store::Removal { source: "reconcile", actor: None },
                )
                .await?
                {
                    report.removed += 1;
                }
            }
        }
    }
    if tags.is_empty() && known.is_empty() {
        // Listed in the catalog but empty (its last manifest was deleted): nothing to show.
        return Ok(report);
    }
    store::forget_orphan_manifests(&mut Duty::Reconcile.on(&state.db).await?, name).await?;
    Ok(report)
}

/// Records the manifest of `digest` unless it is recorded in full already. `false` when the
/// tag is to be left alone: the manifest is gone, or cannot be read or stored (that tag's
/// problem, not the repository's: the other tags are still reconciled).
async fn record_manifest(
    state: &AppState,
    conn: &mut Change<'_>,
    repository_id: i64,
    name: &str,
    tag: &str,
    digest: &str,
) -> AppResult<bool> {
    if store::has_manifest(conn, repository_id, digest).await? {
        return Ok(true);
    }
    let Some(fetched) = state.registry.manifest(state, name, digest).await? else { return Ok(false) };
    let stored = match store::describe(state, &state.registry, name, &fetched).await {
        Ok(meta) => store::upsert_manifest(conn, repository_id, &meta).await,
        Err(e) => Err(e),
    };
    match stored {
        Err(e @ crate::error::AppError::BadRequest(_)) => {
            tracing::warn!(repository = name, tag, error = %e, "a manifest reconcile cannot record");
            Ok(false)
        }
        other => other.map(|()| true),
    }
}

/// Runs a reconcile unless one is running elsewhere (then `None`). The run is a task of its
/// own: a caller that goes away (a browser closing the page) neither cuts it short nor leaves
/// the claim held.
pub async fn reconcile(state: &AppState, trigger: &str) -> AppResult<Option<ReconcileReport>> {
    let (state, trigger) = (state.clone(), trigger.to_string());
    tokio::spawn(async move { claimed(&state, &trigger).await }).await.map_err(|e| {
        tracing::error!(error = %e, "reconcile task failed");
        crate::error::AppError::Internal
    })?
}

async fn claimed(state: &AppState, trigger: &str) -> AppResult<Option<ReconcileReport>> {
    let mut lock = crate::backend::jobs::dedicated_connection(&state.db, "portcullis reconcile").await?;
    crate::backend::jobs::exclusively(&mut lock, "portcullis.sync", recorded(state, trigger)).await
}

/// One run, recorded in `sync_run`.
async fn recorded(state: &AppState, trigger: &str) -> AppResult<ReconcileReport> {
    let run = sqlx::query!(
        r#"insert into sync_run (trigger) values ($1)
           returning sync_run_id, started_at as "started_at: chrono::DateTime<chrono::Utc>""#,
        trigger
    )
    .fetch_one(&mut *Duty::Reconcile.on(&state.db).await?)
    .await?;
    let run_id = run.sync_run_id;
    let clock = std::time::Instant::now();
    let result = self::run(state, run.started_at).await;
    metrics::histogram!("portcullis_reconcile_run_duration_seconds").record(clock.elapsed().as_secs_f64());
    let outcome = if matches!(&result, Ok(r) if r.error.is_none()) { "ok" } else { "error" };
    metrics::counter!("portcullis_reconcile_runs_total", "outcome" => outcome).increment(1);
    let (report, error) = match &result {
        Ok(r) => (r.clone(), r.error.clone()),
        Err(e) => (ReconcileReport::default(), Some(e.to_string())),
    };
    sqlx::query!(
        "update sync_run set finished_at = now(), repositories = $2, tags_added = $3, tags_updated = $4,
             tags_removed = $5, repositories_removed = $6, error = $7 where sync_run_id = $1",
        run_id,
        report.repositories,
        report.tags_added,
        report.tags_updated,
        report.tags_removed,
        report.repositories_removed,
        error
    )
    .execute(&mut *Duty::Reconcile.on(&state.db).await?)
    .await?;
    result
}

async fn run(state: &AppState, started: chrono::DateTime<chrono::Utc>) -> AppResult<ReconcileReport> {
    let catalog = state.registry.catalog(state).await?;
    let jobs = catalog.clone().into_iter().map(|name| {
        let state = state.clone();
        async move {
            let result = repository(&state, &name, started).await;
            (name, result)
        }
    });
    let results: Vec<(String, AppResult<RepoReport>)> =
        stream::iter(jobs).buffer_unordered(CONCURRENCY).collect().await;
    let mut report = ReconcileReport { repositories: catalog.len() as i32, ..Default::default() };
    // One repository the registry cannot serve does not stop the others.
    let mut failed = Vec::new();
    for (name, r) in results {
        match r {
            Ok(r) => {
                report.tags_added += r.added;
                report.tags_updated += r.updated;
                report.tags_removed += r.removed;
            }
            Err(e) => {
                tracing::warn!(repository = %name, error = %e, "reconcile of a repository failed");
                failed.push(format!("{name}: {e}"));
            }
        }
    }
    if !failed.is_empty() {
        failed.sort();
        let shown: Vec<&str> = failed.iter().take(3).map(String::as_str).collect();
        report.error = Some(format!("{} repositories could not be read: {}", failed.len(), shown.join("; ")));
    }
    // A repository first pushed while this ran is not in the catalog it read, and stays.
    report.repositories_removed = sqlx::query!(
        "delete from repository r where r.name not in (select unnest($1::text[])) and r.created_at < $2
           and not exists(select 1 from tag t where t.repository_id = r.repository_id and t.updated_at >= $2)",
        &catalog,
        started as _
    )
    .execute(&mut *Duty::Reconcile.on(&state.db).await?)
    .await?
    .rows_affected() as i32;
    // The namespaces' storage, counted again from what is recorded now, while the event
    // worker waits (its pushes change the same counts).
    let mut tx = Duty::Reconcile.begin(&state.db).await?;
    store::exclude_worker(&mut tx).await?;
    crate::backend::gate::quota::recompute(&mut tx).await?;
    tx.commit().await?;
    Ok(report)
}

/// Runs reconcile at start and then every `every` (never, when zero), supervised: a run that
/// fails is tried again after a back-off.
pub fn spawn_periodic(state: AppState, every: std::time::Duration) {
    let db = state.db.clone();
    crate::backend::jobs::supervise("reconcile", db, move || {
        let state = state.clone();
        async move {
            loop {
                match reconcile(&state, "schedule").await? {
                    Some(r) => tracing::info!(?r, "reconcile finished"),
                    None => tracing::debug!("reconcile running elsewhere"),
                }
                if every.is_zero() || state.db.is_closed() {
                    return Ok(());
                }
                tokio::time::sleep(every).await;
            }
        }
    });
}

/// The latest runs, newest first.
pub async fn recent_runs(state: &AppState) -> AppResult<Vec<crate::model::ReconcileRunView>> {
    let rows = sqlx::query!(
        r#"select sync_run_id, started_at as "started_at: chrono::DateTime<chrono::Utc>",
                  finished_at as "finished_at: chrono::DateTime<chrono::Utc>", trigger,
                  repositories, tags_added, tags_updated, tags_removed, repositories_removed, error
           from sync_run order by sync_run_id desc limit 10"#
    )
    .fetch_all(&state.db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| crate::model::ReconcileRunView {
            id: r.sync_run_id,
            started_at: r.started_at,
            finished_at: r.finished_at,
            trigger: r.trigger,
            report: ReconcileReport {
                repositories: r.repositories,
                tags_added: r.tags_added,
                tags_updated: r.tags_updated,
                tags_removed: r.tags_removed,
                repositories_removed: r.repositories_removed,
                error: r.error,
            },
        })
        .collect())
}

/// Keeps the newest 1,000 reconcile runs (housekeeping); returns how many went.
pub async fn prune(state: &AppState) -> AppResult<u64> {
    Ok(sqlx::query!(
        "delete from sync_run where sync_run_id < (select min(sync_run_id) from
             (select sync_run_id from sync_run order by sync_run_id desc limit 1000) newest)"
    )
    .execute(&mut *Duty::Prune.on(&state.db).await?)
    .await?
    .rows_affected())
}

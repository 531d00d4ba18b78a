//! Reconcile: walks the registry's catalog, tags and manifests and brings the database in
//! step: what is missing is added, what is gone is removed. Idempotent and resumable (a run
//! cut short leaves correct rows behind; the next finishes the work). One replica at a time.

use std::collections::{HashMap, HashSet};

use futures_util::{stream, StreamExt};
use serde::{Deserialize, Serialize};

use crate::backend::images::store;
use crate::backend::AppState;
use crate::error::AppResult;

/// How many repositories are reconciled at once.
const CONCURRENCY: usize = 8;

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncReport {
    pub repositories: i32,
    pub tags_added: i32,
    pub tags_updated: i32,
    pub tags_removed: i32,
    pub repositories_removed: i32,
    /// Repositories that could not be read (the rest were reconciled).
    pub error: Option<String>,
}

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
    let client = &state.registry;
    let mut report = RepoReport::default();
    // Each known tag's digest, and whether its manifest is recorded in full (rows from before
    // the manifest itself was kept are not, and are filled in).
    let rows = sqlx::query!(
        r#"select t.name, t.digest,
                  coalesce(m.manifest_json is not null
                           and (m.config is not null or m.config_digest is null or m.incomplete_reason is not null), false)
                      as "complete!"
           from tag t join repository r using (repository_id)
           left join manifest m on m.repository_id = t.repository_id and m.digest = t.digest
           where r.name = $1"#,
        name
    )
    .fetch_all(&state.db)
    .await?;
    let complete: HashSet<String> = rows.iter().filter(|r| r.complete).map(|r| r.name.clone()).collect();
    let known: HashMap<String, String> = rows.into_iter().map(|r| (r.name, r.digest)).collect();
    let tags = client.tags(state, name).await?;
    let mut repo_id: Option<i64> = None;
    let mut seen = HashSet::new();
    for tag in &tags {
        seen.insert(tag.clone());
        let Some((digest, _)) = client.head_manifest(state, name, tag).await? else { continue };
        let unchanged = known.get(tag) == Some(&digest);
        if unchanged && complete.contains(tag) {
            continue;
        }
        let mut conn = state.db.acquire().await?;
        let Some((rid, _)) = store::find_or_create_repository(&mut conn, name, store::Recorder::Reconcile).await?
        else {
            return Ok(report);
        };
        repo_id = Some(rid);
        if !store::has_manifest(&mut conn, rid, &digest).await? {
            let Some(fetched) = client.manifest(state, name, &digest).await? else { continue };
            // A manifest that cannot be read or stored is that tag's problem, not the
            // repository's: the other tags are still reconciled.
            let stored = match store::describe(state, client, name, &fetched).await {
                Ok(meta) => store::upsert_manifest(&mut conn, rid, &meta).await,
                Err(e) => Err(e),
            };
            if let Err(e @ crate::error::AppError::BadRequest(_)) = stored {
                tracing::warn!(repository = name, tag, error = %e, "a manifest reconcile cannot record");
                continue;
            }
            stored?;
        }
        if !store::upsert_tag(&mut conn, rid, tag, &digest, None, chrono::Utc::now(), Some(started)).await? {
            continue;
        }
        if known.contains_key(tag) {
            report.updated += 1;
        } else {
            report.added += 1;
        }
    }
    let gone: Vec<&String> = known.keys().filter(|t| !seen.contains(*t)).collect();
    if !gone.is_empty() {
        let mut conn = state.db.acquire().await?;
        let rid = match repo_id {
            Some(r) => r,
            None => {
                sqlx::query_scalar!("select repository_id from repository where name = $1", name)
                    .fetch_one(&mut *conn)
                    .await?
            }
        };
        for t in gone {
            if store::remove_tag(&mut conn, rid, t, Some(started)).await? {
                report.removed += 1;
            }
        }
    }
    if tags.is_empty() && known.is_empty() {
        // Listed in the catalog but empty (its last manifest was deleted): nothing to show.
        return Ok(report);
    }
    // Manifests no tag points at any more (and no index refers to) are forgotten.
    sqlx::query!(
        "delete from manifest m using repository r
         where m.repository_id = r.repository_id and r.name = $1
           and not exists(select 1 from tag t where t.repository_id = m.repository_id and t.digest = m.digest)
           and not exists(select 1 from manifest i where i.repository_id = m.repository_id
                          and i.media_type in ('application/vnd.oci.image.index.v1+json',
                                               'application/vnd.docker.distribution.manifest.list.v2+json')
                          and i.platforms @> jsonb_build_array(jsonb_build_object('digest', m.digest)))",
        name
    )
    .execute(&state.db)
    .await?;
    Ok(report)
}

/// Runs a reconcile unless one is running elsewhere (then `None`). The run is a task of its
/// own: a caller that goes away (a browser closing the page) neither cuts it short nor leaves
/// the claim held.
pub async fn reconcile(state: &AppState, trigger: &str) -> AppResult<Option<SyncReport>> {
    let (state, trigger) = (state.clone(), trigger.to_string());
    tokio::spawn(async move { claimed(&state, &trigger).await }).await.map_err(|e| {
        tracing::error!(error = %e, "reconcile task failed");
        crate::error::AppError::Internal
    })?
}

async fn claimed(state: &AppState, trigger: &str) -> AppResult<Option<SyncReport>> {
    let mut lock = crate::backend::jobs::dedicated_connection(&state.db, "portcullis reconcile").await?;
    crate::backend::jobs::exclusively(&mut lock, "portcullis.sync", recorded(state, trigger)).await
}

/// One run, recorded in `sync_run`.
async fn recorded(state: &AppState, trigger: &str) -> AppResult<SyncReport> {
    let run = sqlx::query!(
        r#"insert into sync_run (trigger) values ($1)
           returning sync_run_id, started_at as "started_at: chrono::DateTime<chrono::Utc>""#,
        trigger
    )
    .fetch_one(&state.db)
    .await?;
    let run_id = run.sync_run_id;
    let result = self::run(state, run.started_at).await;
    let (report, error) = match &result {
        Ok(r) => (r.clone(), r.error.clone()),
        Err(e) => (SyncReport::default(), Some(e.to_string())),
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
    .execute(&state.db)
    .await?;
    result
}

async fn run(state: &AppState, started: chrono::DateTime<chrono::Utc>) -> AppResult<SyncReport> {
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
    let mut report = SyncReport { repositories: catalog.len() as i32, ..Default::default() };
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
        "delete from repository r where not (r.name = any($1)) and r.created_at < $2
           and not exists(select 1 from tag t where t.repository_id = r.repository_id and t.updated_at >= $2)",
        &catalog,
        started as _
    )
    .execute(&state.db)
    .await?
    .rows_affected() as i32;
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
pub async fn recent_runs(state: &AppState) -> AppResult<Vec<crate::model::SyncRunView>> {
    Ok(sqlx::query_as!(
        crate::model::SyncRunView,
        r#"select sync_run_id as id, started_at as "started_at: _", finished_at as "finished_at: _", trigger,
                  repositories, tags_added, tags_updated, tags_removed, repositories_removed, error
           from sync_run order by sync_run_id desc limit 10"#
    )
    .fetch_all(&state.db)
    .await?)
}

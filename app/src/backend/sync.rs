//! Reconcile: walks the registry's catalog, tags and manifests and brings the database in
//! step: what is missing is added, what is gone is removed. Idempotent and resumable (a run
//! cut short leaves correct rows behind; the next finishes the work). One replica at a time.

use std::collections::{HashMap, HashSet};

use futures_util::{stream, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use super::images;
use super::AppState;
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
}

#[derive(Default)]
struct RepoReport {
    added: i32,
    updated: i32,
    removed: i32,
}

/// Reconciles one repository with the registry.
async fn repository(state: &AppState, name: &str) -> AppResult<RepoReport> {
    let client = &state.registry;
    let mut report = RepoReport::default();
    let tags = client.tags(state, name).await?;
    let known: HashMap<String, String> = sqlx::query!(
        "select t.name, t.digest from tag t join repository r using (repository_id) where r.name = $1",
        name
    )
    .fetch_all(&state.db)
    .await?
    .into_iter()
    .map(|r| (r.name, r.digest))
    .collect();
    let mut repo_id: Option<i64> = None;
    let mut seen = HashSet::new();
    for tag in &tags {
        seen.insert(tag.clone());
        let Some((digest, _)) = client.head_manifest(state, name, tag).await? else { continue };
        if known.get(tag) == Some(&digest) {
            continue;
        }
        let mut conn = state.db.acquire().await?;
        let Some((rid, _)) = images::repository(&mut conn, name, None).await? else { return Ok(report) };
        repo_id = Some(rid);
        if !images::has_manifest(&mut conn, rid, &digest).await? {
            let Some(fetched) = client.manifest(state, name, &digest).await? else { continue };
            let meta = images::describe(state, client, name, &fetched).await?;
            images::upsert_manifest(&mut conn, rid, &meta).await?;
        }
        images::upsert_tag(&mut conn, rid, tag, &digest, None, chrono::Utc::now()).await?;
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
            images::remove_tag(&mut conn, rid, t).await?;
            report.removed += 1;
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
                          and i.platforms @> jsonb_build_array(jsonb_build_object('digest', m.digest)))",
        name
    )
    .execute(&state.db)
    .await?;
    Ok(report)
}

/// Runs a reconcile unless one is running elsewhere (then `None`).
pub async fn reconcile(state: &AppState, trigger: &str) -> AppResult<Option<SyncReport>> {
    let mut lock = state.db.acquire().await?;
    let got = sqlx::query_scalar!(r#"select pg_try_advisory_lock(hashtext('portcullis.sync')) as "got!""#)
        .fetch_one(&mut *lock)
        .await?;
    if !got {
        return Ok(None);
    }
    let run_id = sqlx::query_scalar!("insert into sync_run (trigger) values ($1) returning sync_run_id", trigger)
        .fetch_one(&state.db)
        .await?;
    let result = run(state).await;
    let (report, error) = match &result {
        Ok(r) => (r.clone(), None),
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
    sqlx::query_scalar!(r#"select pg_advisory_unlock(hashtext('portcullis.sync')) as "unlocked!""#)
        .fetch_one(&mut *lock)
        .await?;
    result.map(Some)
}

async fn run(state: &AppState) -> AppResult<SyncReport> {
    let catalog = state.registry.catalog(state).await?;
    let jobs = catalog.clone().into_iter().map(|name| {
        let state = state.clone();
        async move { repository(&state, &name).await }
    });
    let reports: Vec<RepoReport> = stream::iter(jobs).buffer_unordered(CONCURRENCY).try_collect().await?;
    let mut report = SyncReport { repositories: catalog.len() as i32, ..Default::default() };
    for r in reports {
        report.tags_added += r.added;
        report.tags_updated += r.updated;
        report.tags_removed += r.removed;
    }
    report.repositories_removed = sqlx::query!("delete from repository where not (name = any($1))", &catalog)
        .execute(&state.db)
        .await?
        .rows_affected() as i32;
    Ok(report)
}

/// Runs reconcile at start and then every `every` (never, when zero).
pub fn spawn_periodic(state: AppState, every: std::time::Duration) {
    tokio::spawn(async move {
        loop {
            match reconcile(&state, "schedule").await {
                Ok(Some(r)) => tracing::info!(?r, "reconcile finished"),
                Ok(None) => tracing::debug!("reconcile running elsewhere"),
                Err(e) => tracing::warn!(error = %e, "reconcile failed; will retry"),
            }
            if every.is_zero() || state.db.is_closed() {
                return;
            }
            tokio::time::sleep(every).await;
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

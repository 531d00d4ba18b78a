//! The registry's notifications: stored raw before they are acknowledged (de-duplicated on
//! the event id), then applied by a worker, in order, one replica at a time.
//!
//! The registry resends an event until it gets a 2xx, holding every later event behind it,
//! so the inbox acknowledges whatever it has stored, and an event it cannot use is recorded
//! as skipped with the reason instead of being refused.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use tokio::sync::Notify;

use super::images;
use super::registry::{is_manifest, RegistryClient};
use super::AppState;
use crate::error::{AppError, AppResult};

/// One event of an envelope, as much as the inbox needs to store it.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    pub id: String,
    pub action: String,
    pub repository: String,
    pub raw: Value,
}

#[derive(Deserialize)]
struct Envelope {
    events: Vec<Value>,
}

/// Splits an envelope into events. An event without an id cannot be de-duplicated: it is
/// given one from its content, so a resend still matches.
pub fn parse_envelope(body: &[u8]) -> Result<Vec<Incoming>, String> {
    let env: Envelope = serde_json::from_slice(body).map_err(|e| format!("not an event envelope: {e}"))?;
    Ok(env
        .events
        .into_iter()
        .map(|raw| {
            let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
            let id = match raw.get("id").and_then(Value::as_str) {
                Some(id) if !id.is_empty() => id.to_string(),
                _ => format!(
                    "sha256:{}",
                    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(raw.to_string().as_bytes()))
                ),
            };
            Incoming { id, action: text(&raw["action"]), repository: text(&raw["target"]["repository"]), raw }
        })
        .collect())
}

/// Records a body that is not an event envelope as a skipped event with the reason, so that
/// administrators see it. It is acknowledged all the same: the registry would resend it forever.
pub async fn record_unreadable(state: &AppState, body: &[u8], why: &str) -> AppResult<()> {
    let id = format!("unreadable:sha256:{}", hex::encode(<sha2::Sha256 as sha2::Digest>::digest(body)));
    let text = String::from_utf8_lossy(&body[..body.len().min(64 * 1024)]).replace('\0', "");
    sqlx::query!(
        "insert into registry_event (event_id, raw, processed_at, outcome, reason)
         values ($1, $2, now(), 'skipped', $3) on conflict (event_id) do nothing",
        id,
        serde_json::json!({ "unreadable_body": text }),
        why
    )
    .execute(&state.db)
    .await?;
    Ok(())
}

/// Stores events; returns how many were new.
pub async fn store(state: &AppState, events: &[Incoming]) -> AppResult<u64> {
    if events.is_empty() {
        return Ok(0);
    }
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    let repos: Vec<&str> = events.iter().map(|e| e.repository.as_str()).collect();
    let raws: Vec<Value> = events.iter().map(|e| e.raw.clone()).collect();
    let n = sqlx::query!(
        "insert into registry_event (event_id, action, repository, raw)
         select * from unnest($1::text[], $2::text[], $3::text[], $4::jsonb[])
         on conflict (event_id) do nothing",
        &ids as &[&str],
        &actions as &[&str],
        &repos as &[&str],
        &raws
    )
    .execute(&state.db)
    .await?
    .rows_affected();
    state.events.notify_one();
    Ok(n)
}

/// What applying one event came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    Skipped(String),
}

#[derive(Deserialize, Default)]
struct Event {
    #[serde(default)]
    action: String,
    #[serde(default)]
    timestamp: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default)]
    target: Target,
    #[serde(default)]
    actor: Actor,
}

#[derive(Deserialize, Default)]
struct Target {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    #[serde(default)]
    digest: String,
    #[serde(default)]
    repository: String,
    #[serde(default)]
    tag: Option<String>,
}

#[derive(Deserialize, Default)]
struct Actor {
    #[serde(default)]
    name: String,
}

/// Applies one event to the database.
pub async fn apply(state: &AppState, client: &RegistryClient, raw: &Value) -> AppResult<Outcome> {
    let ev: Event = match serde_json::from_value(raw.clone()) {
        Ok(e) => e,
        Err(e) => return Ok(Outcome::Skipped(format!("unreadable event: {e}"))),
    };
    let t = &ev.target;
    if t.repository.is_empty() {
        return Ok(Outcome::Skipped("no target repository".into()));
    }
    let at = ev.timestamp.unwrap_or_else(chrono::Utc::now);
    let actor = Some(ev.actor.name.as_str()).filter(|n| !n.is_empty() && *n != super::registry::SELF_SUBJECT);
    match ev.action.as_str() {
        "push" if is_manifest(&t.media_type) => {
            let Some(fetched) = client.manifest(state, &t.repository, &t.digest).await? else {
                return Ok(Outcome::Skipped("the manifest is no longer in the registry".into()));
            };
            let meta = images::describe(state, client, &t.repository, &fetched).await?;
            let mut tx = state.db.begin().await?;
            let Some((repo_id, namespace_id)) = images::repository(&mut tx, &t.repository, actor).await? else {
                return Ok(Outcome::Skipped(format!(
                    "repository name {:?} cannot be placed in a namespace",
                    t.repository
                )));
            };
            images::upsert_manifest(&mut tx, repo_id, &meta).await?;
            if let Some(tag) = &t.tag {
                if images::upsert_tag(&mut tx, repo_id, tag, &t.digest, actor, at, None).await? {
                    let details = serde_json::json!({ "tag": tag, "digest": t.digest });
                    let target = super::audit::Target { kind: "repository", name: &t.repository, namespace_id };
                    let who = match actor {
                        Some(name) => super::users::find_by_username(&state.db, name).await?,
                        None => None,
                    };
                    super::audit::record(&mut tx, who.as_ref(), "image.push", target, details).await?;
                }
            }
            tx.commit().await?;
            Ok(Outcome::Applied)
        }
        "push" => Ok(Outcome::Skipped(format!("a blob push ({}) changes no tag", t.media_type))),
        "delete" => {
            let mut tx = state.db.begin().await?;
            let Some(r) =
                sqlx::query!("select repository_id, namespace_id from repository where name = $1", t.repository)
                    .fetch_optional(&mut *tx)
                    .await?
            else {
                return Ok(Outcome::Skipped("unknown repository".into()));
            };
            let removed = match (&t.tag, t.digest.is_empty()) {
                (Some(tag), _) => {
                    if images::remove_tag(&mut tx, r.repository_id, tag, None).await? {
                        vec![tag.clone()]
                    } else {
                        vec![]
                    }
                }
                (None, false) => images::remove_digest(&mut tx, r.repository_id, &t.digest).await?,
                (None, true) => return Ok(Outcome::Skipped("a delete without tag or digest".into())),
            };
            if !removed.is_empty() && actor.is_some() {
                let who = super::users::find_by_username(&state.db, actor.unwrap_or_default()).await?;
                let target =
                    super::audit::Target { kind: "repository", name: &t.repository, namespace_id: r.namespace_id };
                let details = serde_json::json!({ "tags": removed, "digest": t.digest });
                super::audit::record(&mut tx, who.as_ref(), "image.delete", target, details).await?;
            }
            tx.commit().await?;
            Ok(Outcome::Applied)
        }
        // A client checks with HEAD whether a manifest exists (pushes do it too): only a GET
        // is a pull.
        "pull" if raw["request"]["method"].as_str().is_some_and(|m| m != "GET") => {
            Ok(Outcome::Skipped("a HEAD request is not a pull".into()))
        }
        "pull" if ev.actor.name == super::registry::SELF_SUBJECT => {
            Ok(Outcome::Skipped("Portcullis reading the manifest is not a pull".into()))
        }
        "pull" if is_manifest(&t.media_type) || t.tag.is_some() => {
            sqlx::query!(
                "update tag set last_pulled_at = greatest(last_pulled_at, $3)
                 where repository_id = (select repository_id from repository where name = $1)
                   and (digest = $2 or name = $4)",
                t.repository,
                t.digest,
                at as _,
                t.tag
            )
            .execute(&state.db)
            .await?;
            Ok(Outcome::Applied)
        }
        "pull" => Ok(Outcome::Skipped("a blob pull".into())),
        "mount" => Ok(Outcome::Skipped("a blob mount changes no tag".into())),
        other => Ok(Outcome::Skipped(format!("unknown action {other:?}"))),
    }
}

/// Makes the transaction wait until the event worker is between batches, and keeps it from
/// starting one until the transaction ends. Taken first (before any row is touched) by
/// deletes that remove rows the worker may be removing too (the registry's own delete events
/// for the same images): otherwise the two could deadlock on those rows.
pub async fn exclude_worker(tx: &mut sqlx::PgConnection) -> AppResult<()> {
    sqlx::query!("select pg_advisory_xact_lock(hashtext($1))", WORKER_LOCK).execute(tx).await?;
    Ok(())
}

/// Applies pending events in order until none is left. Only one replica works at a time
/// (an advisory lock), so events of a repository are applied in the order they arrived.
/// Returns how many were processed; `None` when another replica holds the lock.
pub async fn process_pending(state: &AppState, client: &RegistryClient) -> AppResult<Option<u64>> {
    super::exclusively(&state.db, WORKER_LOCK, drain(state, client)).await
}

/// The advisory lock the event worker holds while it applies events.
const WORKER_LOCK: &str = "portcullis.events";

/// An event that keeps failing for a reason that may pass (the registry unreachable) is
/// retried at least this many times and for at least `RETRY_FOR` before it is recorded as
/// failed; reconcile then brings its repository in step.
const MAX_ATTEMPTS: i32 = 10;
const RETRY_FOR: Duration = Duration::from_secs(15 * 60);

async fn drain(state: &AppState, client: &RegistryClient) -> AppResult<u64> {
    let mut done = 0;
    // Repositories whose oldest pending event must wait: their later events wait behind it
    // (order per repository), while other repositories go on.
    let mut held: Vec<String> = Vec::new();
    loop {
        let batch = sqlx::query!(
            r#"select registry_event_id, repository, raw, attempts,
                      now() - received_at > make_interval(secs => $2) as "retried_long_enough!"
               from registry_event where processed_at is null and not (repository = any($1))
               order by registry_event_id limit 100"#,
            &held,
            RETRY_FOR.as_secs_f64()
        )
        .fetch_all(&state.db)
        .await?;
        if batch.is_empty() {
            return Ok(done);
        }
        for ev in batch {
            if held.contains(&ev.repository) {
                continue;
            }
            let (outcome, reason) = match apply(state, client, &ev.raw).await {
                Ok(Outcome::Applied) => ("applied", None),
                Ok(Outcome::Skipped(why)) => ("skipped", Some(why)),
                Err(e @ (AppError::Transport(_) | AppError::Internal)) => {
                    let attempts = ev.attempts + 1;
                    if attempts < MAX_ATTEMPTS || !ev.retried_long_enough {
                        sqlx::query!(
                            "update registry_event set attempts = $2, last_error = $3 where registry_event_id = $1",
                            ev.registry_event_id,
                            attempts,
                            e.to_string()
                        )
                        .execute(&state.db)
                        .await?;
                        held.push(ev.repository);
                        continue;
                    }
                    ("failed", Some(format!("gave up after {attempts} attempts: {e}")))
                }
                Err(e) => ("failed", Some(e.to_string())),
            };
            sqlx::query!(
                "update registry_event set processed_at = now(), outcome = $2, reason = $3 where registry_event_id = $1",
                ev.registry_event_id,
                outcome,
                reason
            )
            .execute(&state.db)
            .await?;
            done += 1;
        }
    }
}

/// Wakes the worker when the inbox stores events.
pub type Wakeup = Arc<Notify>;

/// Runs the event worker: on every new event, and every two seconds for events another
/// replica stored.
pub fn spawn_worker(state: AppState, client: RegistryClient) {
    tokio::spawn(async move {
        while !state.db.is_closed() {
            match process_pending(&state, &client).await {
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "processing registry events failed; will retry"),
            }
            tokio::select! {
                _ = state.events.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            }
        }
    });
}

/// Counts of the inbox and its latest skipped events.
pub async fn stats(state: &AppState) -> AppResult<crate::model::InboxStats> {
    let counts = sqlx::query!(
        r#"select count(*) filter (where processed_at is null) as "pending!",
                  count(*) filter (where outcome = 'skipped') as "skipped!", count(*) as "total!" from registry_event"#
    )
    .fetch_one(&state.db)
    .await?;
    let skips = sqlx::query!(
        r#"select received_at as "at: chrono::DateTime<chrono::Utc>", action, repository,
                  coalesce(reason, 'waiting to be retried (' || attempts || ' attempts): ' || last_error, '') as "reason!"
           from registry_event
           where outcome in ('skipped', 'failed') or (processed_at is null and last_error is not null)
           order by registry_event_id desc limit 10"#
    )
    .fetch_all(&state.db)
    .await?;
    Ok(crate::model::InboxStats {
        pending: counts.pending,
        skipped: counts.skipped,
        total: counts.total,
        recent_skips: skips.into_iter().map(|s| (s.at, s.action, s.repository, s.reason)).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_split_into_events() {
        let body = br#"{"events":[{"id":"a","action":"push","target":{"repository":"alice/x"}},{"action":"pull","target":{}}]}"#;
        let evs = parse_envelope(body).unwrap();
        assert_eq!(evs.len(), 2);
        assert_eq!((evs[0].id.as_str(), evs[0].action.as_str(), evs[0].repository.as_str()), ("a", "push", "alice/x"));
        assert!(evs[1].id.starts_with("sha256:"), "an event without id gets one from its content");
        assert_eq!(parse_envelope(body).unwrap()[1].id, evs[1].id, "the same content, the same id");
        assert!(parse_envelope(b"not json").is_err());
        assert!(parse_envelope(b"{\"events\": 5}").is_err());
    }
}

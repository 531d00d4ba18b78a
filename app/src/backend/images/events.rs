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

use crate::backend::access::principal::{Change, Duty};
use crate::backend::audit;
use crate::backend::images::store;
use crate::backend::registry::client::{is_manifest, RegistryClient, SELF_SUBJECT};
use crate::backend::together::{Together, Waiting};
use crate::backend::webhooks;
use crate::backend::AppState;
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

/// The largest event stored as the registry sent it. A bigger one (a manifest whose
/// descriptors carry megabytes of annotations, listed in `target.references`) is stored
/// without what applying it does not read, and says so.
pub const STORED_EVENT_LIMIT: usize = 64 * 1024;

/// What of an event applying it reads (the manifest itself is fetched from the registry).
fn slimmed(raw: &Value) -> Value {
    let pick = |v: &Value, keys: &[&str]| -> Value {
        let mut out = serde_json::Map::new();
        for k in keys {
            if let Some(x) = v.get(*k).filter(|x| x.to_string().len() <= 1024) {
                out.insert((*k).to_string(), x.clone());
            }
        }
        Value::Object(out)
    };
    serde_json::json!({
        "id": raw.get("id").filter(|v| v.to_string().len() <= 1024),
        "timestamp": raw.get("timestamp").filter(|v| v.is_string()),
        "action": raw.get("action").filter(|v| v.to_string().len() <= 1024),
        "target": pick(&raw["target"], &["mediaType", "digest", "size", "length", "repository", "fromRepository", "url", "tag"]),
        "request": pick(&raw["request"], &["id", "addr", "host", "method", "useragent"]),
        "actor": pick(&raw["actor"], &["name"]),
        "source": pick(&raw["source"], &["addr", "instanceID"]),
        "portcullis": { "truncated": true, "original_bytes": raw.to_string().len() },
    })
}

/// An event as it can be stored: without NUL characters (which `jsonb` refuses) and within
/// [`STORED_EVENT_LIMIT`].
fn storable(raw: Value) -> Value {
    let raw = crate::backend::without_nul(raw);
    if raw.to_string().len() <= STORED_EVENT_LIMIT {
        raw
    } else {
        slimmed(&raw)
    }
}

fn content_id(raw: &Value) -> String {
    format!("sha256:{}", hex::encode(<sha2::Sha256 as sha2::Digest>::digest(raw.to_string().as_bytes())))
}

/// Splits an envelope into events, each made storable. An event without an id cannot be
/// de-duplicated: it is given one from its content, so a resend still matches.
pub fn parse_envelope(body: &[u8]) -> Result<Vec<Incoming>, String> {
    let env: Envelope = serde_json::from_slice(body).map_err(|e| format!("not an event envelope: {e}"))?;
    Ok(env
        .events
        .into_iter()
        .map(|raw| {
            let id = match raw.get("id").and_then(Value::as_str) {
                Some(id) if !id.is_empty() && id.len() <= 256 => id.replace('\0', ""),
                _ => content_id(&raw),
            };
            let raw = storable(raw);
            let text = |v: &Value| v.as_str().unwrap_or_default().chars().take(1024).collect::<String>();
            Incoming { id, action: text(&raw["action"]), repository: text(&raw["target"]["repository"]), raw }
        })
        .collect())
}

/// Records a body that is not an event envelope (or one that is too large to read) as a
/// skipped event with the reason, so that administrators see it. It is acknowledged all the
/// same: the registry would resend it forever.
pub async fn record_unreadable(state: &AppState, body: &[u8], why: &str) -> AppResult<()> {
    let id = format!("unreadable:sha256:{}", hex::encode(<sha2::Sha256 as sha2::Digest>::digest(body)));
    let text = String::from_utf8_lossy(&body[..body.len().min(STORED_EVENT_LIMIT)]).replace('\0', "");
    let skipped = Incoming {
        id,
        action: String::new(),
        repository: String::new(),
        raw: serde_json::json!({ "unreadable_body": text }),
    };
    record_skipped(state, &skipped, why).await.map(|_| ())
}

/// Records an event as skipped with the reason, durably; returns whether it was new.
async fn record_skipped(state: &AppState, e: &Incoming, why: &str) -> AppResult<u64> {
    let mut tx = durable(state).await?;
    let n = sqlx::query!(
        "insert into registry_event (event_id, action, repository, raw, processed_at, outcome, reason)
         values ($1, $2, $3, $4, now(), 'skipped', $5) on conflict (event_id) do nothing",
        e.id,
        e.action,
        e.repository,
        e.raw,
        why.replace('\0', "")
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(n)
}

/// A transaction whose commit is on disk before it returns, whatever the server's
/// `synchronous_commit`: what the inbox acknowledges must survive a crash of PostgreSQL.
async fn durable(state: &AppState) -> AppResult<Change<'static>> {
    Duty::Ingest.begin_durable(&state.hot).await
}

/// The inbox's commits, made [`Together`]: while one envelope's commit waits for the disk, the
/// envelopes that arrive meanwhile queue, and the next commit stores them all.
pub type Inbox = Together<Vec<Incoming>, AppResult<u64>>;

/// Turns of the inbox at once: two, so that one commit's wait for the disk overlaps the next.
pub const INBOX_TURNS: usize = 2;

/// Stores events durably; returns how many were new. An event PostgreSQL refuses for what it
/// holds (not for being unreachable) is recorded as skipped with the reason instead, so that
/// one odd event never makes the registry resend the envelope forever.
pub async fn store(state: &AppState, events: &[Incoming]) -> AppResult<u64> {
    if events.is_empty() {
        return Ok(0);
    }
    let turn = state.clone();
    let n = state
        .inbox
        .run(events.to_vec(), |envelopes| async move { commit_all(&turn, envelopes).await })
        .await
        .unwrap_or(Err(AppError::Internal))?;
    state.events.notify_one();
    Ok(n)
}

/// Stores a turn's envelopes in one durable commit and answers each with how many of its
/// events were new; when PostgreSQL refuses one, each envelope is stored on its own.
async fn commit_all(state: &AppState, envelopes: Vec<Waiting<Vec<Incoming>, AppResult<u64>>>) {
    let all: Vec<Incoming> = envelopes.iter().flat_map(|(events, _)| events.iter().cloned()).collect();
    match insert(state, &all).await {
        Ok(mut new) => {
            for (events, answer) in envelopes {
                let n = events.iter().filter(|e| new.remove(&e.id)).count();
                let _ = answer.send(Ok(n as u64));
            }
        }
        Err(AppError::BadRequest(_)) => {
            for (events, answer) in envelopes {
                let _ = answer.send(store_alone(state, &events).await);
            }
        }
        Err(e) => {
            for (_, answer) in envelopes {
                let _ = answer.send(Err(e.clone()));
            }
        }
    }
}

/// One envelope, and when PostgreSQL refuses it, one event at a time to find the one it
/// refuses, which is recorded as skipped.
async fn store_alone(state: &AppState, events: &[Incoming]) -> AppResult<u64> {
    match insert(state, events).await {
        Err(AppError::BadRequest(why)) => {
            let mut n = 0;
            for e in events {
                n += match insert(state, std::slice::from_ref(e)).await {
                    Err(AppError::BadRequest(_)) => {
                        let unstorable = Incoming { raw: serde_json::json!({ "unstorable": true }), ..e.clone() };
                        record_skipped(state, &unstorable, &format!("the event could not be stored: {why}")).await?
                    }
                    other => other?.len() as u64,
                };
            }
            Ok(n)
        }
        other => Ok(other?.len() as u64),
    }
}

/// Inserts events durably; returns the ids of those that were new. One statement, one round
/// trip: it is its own transaction, and it sets `synchronous_commit` for that transaction
/// itself (`set_config(…, true)`, read when the statement commits), so its commit is on disk
/// before the answer whatever the server's default (`events::inbox_commits_reach_the_disk`).
async fn insert(state: &AppState, events: &[Incoming]) -> AppResult<std::collections::HashSet<String>> {
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    let repos: Vec<&str> = events.iter().map(|e| e.repository.as_str()).collect();
    let raws: Vec<Value> = events.iter().map(|e| e.raw.clone()).collect();
    let mut c = Duty::Ingest.on(&state.hot).await?;
    let new = sqlx::query_scalar!(
        "insert into registry_event (event_id, action, repository, raw)
         select e.* from unnest($1::text[], $2::text[], $3::text[], $4::jsonb[]) as e
         where (select set_config('synchronous_commit', 'on', true)) = 'on'
         on conflict (event_id) do nothing
         returning event_id",
        &ids as &[&str],
        &actions as &[&str],
        &repos as &[&str],
        &raws
    )
    .fetch_all(&mut *c)
    .await?;
    Ok(new.into_iter().collect())
}

/// The newest event's id in the inbox (0 when empty): `portcullis doctor` waits for one after it.
pub async fn newest(db: &sqlx::PgPool) -> AppResult<i64> {
    Ok(sqlx::query_scalar!(r#"select coalesce(max(registry_event_id), 0) as "id!" from registry_event"#)
        .fetch_one(db)
        .await?)
}

/// Whether an event about `repository` arrived after the event `after`.
pub async fn arrived_since(db: &sqlx::PgPool, after: i64, repository: &str) -> AppResult<bool> {
    Ok(sqlx::query_scalar!(
        r#"select exists(select 1 from registry_event where registry_event_id > $1 and repository = $2) as "e!""#,
        after,
        repository
    )
    .fetch_one(db)
    .await?)
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
    // Portcullis's own reads and deletes are nobody's.
    let actor = Some(ev.actor.name.as_str()).filter(|n| !n.is_empty() && *n != SELF_SUBJECT);
    match ev.action.as_str() {
        "push" if is_manifest(&t.media_type) => apply_push(state, client, t, actor, at).await,
        "push" => Ok(Outcome::Skipped(format!("a blob push ({}) changes no tag", t.media_type))),
        "delete" => apply_delete(state, t, actor).await,
        // A client checks with HEAD whether a manifest exists (pushes do it too): only a GET
        // is a pull.
        "pull" if raw["request"]["method"].as_str().is_some_and(|m| m != "GET") => {
            Ok(Outcome::Skipped("a HEAD request is not a pull".into()))
        }
        "pull" if ev.actor.name == SELF_SUBJECT => {
            Ok(Outcome::Skipped("Portcullis reading the manifest is not a pull".into()))
        }
        "pull" if is_manifest(&t.media_type) || t.tag.is_some() => {
            let mut conn = Duty::Ingest.on(&state.db).await?;
            store::record_pull(&mut conn, &t.repository, &t.digest, t.tag.as_deref(), at).await?;
            if let Some((_, namespace_id)) = store::repository_by_name(&mut conn, &t.repository).await? {
                let told = webhooks::ImageEvent {
                    kind: "pull",
                    repository: &t.repository,
                    namespace_id,
                    tag: t.tag.as_deref(),
                    digest: &t.digest,
                    actor: Some(ev_actor(actor)),
                    at,
                };
                webhooks::enqueue(&mut conn, &state.settings.registry_host, &told).await?;
            }
            Ok(Outcome::Applied)
        }
        "pull" => Ok(Outcome::Skipped("a blob pull".into())),
        "mount" => Ok(Outcome::Skipped("a blob mount changes no tag".into())),
        other => Ok(Outcome::Skipped(format!("unknown action {other:?}"))),
    }
}

/// Who a webhook names for an event: the verified user, or `anonymous`.
fn ev_actor(actor: Option<&str>) -> &str {
    actor.unwrap_or("anonymous")
}

/// The user an event names, for the activity log.
async fn who(state: &AppState, actor: Option<&str>) -> AppResult<Option<crate::backend::access::principal::User>> {
    match actor {
        Some(name) => crate::backend::access::users::find_by_username(&state.db, name).await,
        None => Ok(None),
    }
}

/// A manifest pushed: its metadata recorded, its tag moved, the push logged.
async fn apply_push(
    state: &AppState,
    client: &RegistryClient,
    t: &Target,
    actor: Option<&str>,
    at: chrono::DateTime<chrono::Utc>,
) -> AppResult<Outcome> {
    let Some(fetched) = client.manifest(state, &t.repository, &t.digest).await? else {
        return Ok(Outcome::Skipped("the manifest is no longer in the registry".into()));
    };
    let meta = store::describe(state, client, &t.repository, &fetched).await?;
    let mut tx = Duty::Ingest.begin(&state.db).await?;
    let Some((repo_id, namespace_id)) =
        store::find_or_create_repository(&mut tx, &t.repository, store::Recorder::Push(actor)).await?
    else {
        return Ok(Outcome::Skipped(format!(
            "{:?} cannot be placed in a namespace: the name is malformed, or its namespace does not \
             exist and the pusher is not an administrator (was the namespace deleted?)",
            t.repository
        )));
    };
    store::upsert_manifest(&mut tx, repo_id, &meta).await?;
    if let Some(tag) = &t.tag {
        if store::upsert_tag(&mut tx, repo_id, tag, &t.digest, actor, at, None, "push").await? {
            let details = serde_json::json!({ "tag": tag, "digest": t.digest });
            let target = audit::Target { kind: "repository", name: &t.repository, namespace_id };
            audit::record_as(&mut tx, who(state, actor).await?.as_ref(), "image.push", target, details).await?;
        }
    }
    // Every push is told, a push of what was there already too (as the registry saw it).
    let told = webhooks::ImageEvent {
        kind: "push",
        repository: &t.repository,
        namespace_id,
        tag: t.tag.as_deref(),
        digest: &t.digest,
        actor: Some(ev_actor(actor)),
        at,
    };
    webhooks::enqueue(&mut tx, &state.settings.registry_host, &told).await?;
    tx.commit().await?;
    Ok(Outcome::Applied)
}

/// A tag or a digest deleted in the registry: removed here too, the delete logged.
async fn apply_delete(state: &AppState, t: &Target, actor: Option<&str>) -> AppResult<Outcome> {
    let mut tx = Duty::Ingest.begin(&state.db).await?;
    let Some((repo_id, namespace_id)) = store::repository_by_name(&mut tx, &t.repository).await? else {
        return Ok(Outcome::Skipped("unknown repository".into()));
    };
    let by = store::Removal { source: "delete", actor };
    let removed = match (&t.tag, t.digest.is_empty()) {
        (Some(tag), _) => {
            if store::remove_tag(&mut tx, repo_id, tag, None, by).await? {
                vec![tag.clone()]
            } else {
                vec![]
            }
        }
        (None, false) => store::remove_digest(&mut tx, repo_id, &t.digest, by).await?,
        (None, true) => return Ok(Outcome::Skipped("a delete without tag or digest".into())),
    };
    if !removed.is_empty() && actor.is_some() {
        let target = audit::Target { kind: "repository", name: &t.repository, namespace_id };
        let details = serde_json::json!({ "tags": removed, "digest": t.digest });
        audit::record_as(&mut tx, who(state, actor).await?.as_ref(), "image.delete", target, details).await?;
    }
    for tag in &removed {
        let told = webhooks::ImageEvent {
            kind: "delete",
            repository: &t.repository,
            namespace_id,
            tag: Some(tag),
            digest: &t.digest,
            actor: Some(ev_actor(actor)),
            at: chrono::Utc::now(),
        };
        webhooks::enqueue(&mut tx, &state.settings.registry_host, &told).await?;
    }
    tx.commit().await?;
    Ok(Outcome::Applied)
}

/// Applies pending events in order until none is left, holding the worker's advisory lock on
/// `lock` (a [`crate::backend::jobs::dedicated_connection`]). Only one replica works at a time, so events of
/// a repository are applied in the order they arrived. Returns how many were processed; `None`
/// when another replica holds the lock.
pub async fn process_pending(
    state: &AppState,
    client: &RegistryClient,
    lock: &mut sqlx::PgConnection,
) -> AppResult<Option<u64>> {
    crate::backend::jobs::exclusively(lock, store::WORKER_LOCK, drain(state, client)).await
}

/// How the worker's own connection is named in `pg_stat_activity`.
pub const WORKER_CONNECTION: &str = "portcullis events worker";

/// An event that keeps failing for a reason that may pass (the registry unreachable) is
/// retried at least this many times and for at least `RETRY_FOR` before it is recorded as
/// failed; reconcile then brings its repository in step.
const MAX_ATTEMPTS: i32 = 10;
const RETRY_FOR: Duration = Duration::from_secs(15 * 60);

static PANIC_NEXT_DRAIN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Fault injection for the tests of the worker's supervision: the next drain panics while
/// it holds the worker's lock.
#[doc(hidden)]
pub fn panic_next_drain() {
    PANIC_NEXT_DRAIN.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// Whether the injected fault still waits for a drain (a drain already under way when it
/// was set goes on without it).
#[doc(hidden)]
pub fn panic_pending() -> bool {
    PANIC_NEXT_DRAIN.load(std::sync::atomic::Ordering::SeqCst)
}

async fn drain(state: &AppState, client: &RegistryClient) -> AppResult<u64> {
    if PANIC_NEXT_DRAIN.swap(false, std::sync::atomic::Ordering::SeqCst) {
        panic!("fault injected into the event worker");
    }
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
        let mut counts: [(&str, i64); 3] = [("applied", 0), ("skipped", 0), ("failed", 0)];
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
                        .execute(&mut *Duty::Ingest.on(&state.db).await?)
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
            .execute(&mut *Duty::Ingest.on(&state.db).await?)
            .await?;
            if let Some(c) = counts.iter_mut().find(|c| c.0 == outcome) {
                c.1 += 1;
            }
            metrics::counter!("portcullis_events_processed_total", "outcome" => outcome).increment(1);
            done += 1;
        }
        // Only this worker writes the counts, so the inbox never waits on these rows.
        let (outcomes, ns): (Vec<&str>, Vec<i64>) = counts.iter().filter(|c| c.1 > 0).copied().unzip();
        sqlx::query!(
            "insert into registry_event_count (outcome, n) select * from unnest($1::text[], $2::bigint[])
             on conflict (outcome) do update set n = registry_event_count.n + excluded.n",
            &outcomes as &[&str],
            &ns
        )
        .execute(&mut *Duty::Ingest.on(&state.db).await?)
        .await?;
    }
}

/// Wakes the worker when the inbox stores events.
pub type Wakeup = Arc<Notify>;

/// Runs the event worker, supervised: on every new event, and every two seconds for events
/// another replica stored. A lost connection or a panic restarts it (with back-off), and its
/// lock goes with its connection.
pub fn spawn_worker(state: AppState, client: RegistryClient) {
    let db = state.db.clone();
    crate::backend::jobs::supervise("event worker", db, move || work(state.clone(), client.clone()));
}

async fn work(state: AppState, client: RegistryClient) -> AppResult<()> {
    let mut lock = crate::backend::jobs::dedicated_connection(&state.db, WORKER_CONNECTION).await?;
    while !state.db.is_closed() {
        process_pending(&state, &client, &mut lock).await?;
        tokio::select! {
            _ = state.events.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
    }
    Ok(())
}

/// Deletes processed events older than `days`, a bounded batch at a time. Returns how many.
pub async fn prune(state: &AppState, days: u32) -> AppResult<u64> {
    let mut total = 0;
    loop {
        let n = sqlx::query!(
            "delete from registry_event where registry_event_id in
                 (select registry_event_id from registry_event
                  where processed_at < now() - make_interval(days => $1) limit 5000)",
            days as i32
        )
        .execute(&mut *Duty::Prune.on(&state.db).await?)
        .await?
        .rows_affected();
        total += n;
        if n < 5000 {
            return Ok(total);
        }
    }
}

/// The inbox in numbers, for the metrics page and `doctor`: one query, read through the
/// pending events' partial index, the outcome counts and the primary key.
#[derive(Debug, Clone, Default)]
pub struct InboxGauges {
    pub pending: i64,
    pub applied: i64,
    pub skipped: i64,
    pub failed: i64,
    /// Seconds the oldest waiting event has waited (0 when none waits).
    pub lag_seconds: f64,
    /// When the newest event arrived, if any is kept.
    pub last_received_at: Option<chrono::DateTime<chrono::Utc>>,
}

pub async fn inbox_gauges(state: &AppState) -> AppResult<InboxGauges> {
    let row = sqlx::query!(
        r#"select (select count(*) from registry_event where processed_at is null) as "pending!",
                  coalesce(extract(epoch from now() - (select min(received_at) from registry_event
                                                       where processed_at is null)), 0)::float8 as "lag!",
                  (select received_at from registry_event order by registry_event_id desc limit 1)
                      as "last: chrono::DateTime<chrono::Utc>",
                  coalesce((select n from registry_event_count where outcome = 'applied'), 0) as "applied!",
                  coalesce((select n from registry_event_count where outcome = 'skipped'), 0) as "skipped!",
                  coalesce((select n from registry_event_count where outcome = 'failed'), 0) as "failed!""#
    )
    .fetch_one(&state.db)
    .await?;
    Ok(InboxGauges {
        pending: row.pending,
        applied: row.applied,
        skipped: row.skipped,
        failed: row.failed,
        lag_seconds: row.lag,
        last_received_at: row.last,
    })
}

/// Counts of the inbox and its latest skipped events. Nothing here scans the events table:
/// pending events are read through their partial index, the others are counted as they are
/// processed.
pub async fn stats(state: &AppState) -> AppResult<crate::model::InboxStats> {
    let gauges = inbox_gauges(state).await?;
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
        pending: gauges.pending,
        applied: gauges.applied,
        skipped: gauges.skipped,
        failed: gauges.failed,
        retention_days: state.settings.events_retention_days,
        recent_skips: skips.into_iter().map(|s| (s.at, s.action, s.repository, s.reason)).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portcullis_own_subject_is_a_name_nobody_can_take() {
        assert!(crate::model::RESERVED_NAMES.contains(&crate::backend::registry::client::SELF_SUBJECT));
    }

    #[test]
    fn events_are_stored_without_nul_and_within_the_limit() {
        let body = serde_json::json!({"events": [
            {"id": "a\u{0}b", "action": "push", "target": {"repository": "alice/x", "tag": "1\u{0}",
              "references": [{"annotations": {"k": "v\u{0}"}}]}},
            {"id": "big", "action": "push", "timestamp": "2026-11-27T20:30:12Z",
             "target": {"repository": "alice/y", "digest": "sha256:abc", "mediaType": "m", "tag": "t",
                        "references": [{"annotations": {"k": "x".repeat(1_500_000)}}]},
             "actor": {"name": "alice"}, "request": {"method": "PUT"}},
        ]});
        let evs = parse_envelope(body.to_string().as_bytes()).unwrap();
        assert_eq!(evs[0].id, "ab");
        assert!(!evs[0].raw.to_string().contains("\\u0000"), "{}", evs[0].raw);
        assert_eq!(evs[0].raw["target"]["tag"], "1");
        assert!(evs[1].raw.to_string().len() < STORED_EVENT_LIMIT);
        assert_eq!(evs[1].raw["portcullis"]["truncated"], true);
        for key in ["repository", "digest", "mediaType", "tag"] {
            assert_eq!(evs[1].raw["target"][key], body["events"][1]["target"][key], "{key} is kept");
        }
        assert_eq!(evs[1].raw["actor"]["name"], "alice");
        assert_eq!(evs[1].raw["request"]["method"], "PUT");
        assert_eq!(evs[1].raw["timestamp"], "2026-11-27T20:30:12Z");
    }

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

/// Property tests of the envelope parser: any bytes at all give events that can be stored,
/// or a reason, never a panic.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    fn storable_everywhere(v: &Value) -> bool {
        match v {
            Value::String(s) => !s.contains('\0'),
            Value::Array(a) => a.iter().all(storable_everywhere),
            Value::Object(m) => m.iter().all(|(k, v)| !k.contains('\0') && storable_everywhere(v)),
            _ => true,
        }
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            ".{0,40}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::btree_map(".{0,12}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

        #[test]
        fn any_bytes_are_events_or_a_reason(body in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = parse_envelope(&body);
        }

        #[test]
        fn any_events_are_stored_clean(events in proptest::collection::vec(json_value(), 0..5)) {
            let body = serde_json::json!({ "events": events }).to_string();
            let parsed = parse_envelope(body.as_bytes()).unwrap();
            prop_assert_eq!(parsed.len(), events.len());
            for e in parsed {
                prop_assert!(storable_everywhere(&e.raw));
                prop_assert!(!e.id.is_empty() && !e.id.contains('\0') && e.id.len() <= 256 + 64);
                prop_assert!(e.raw.to_string().len() <= STORED_EVENT_LIMIT);
                prop_assert!(!e.action.contains('\0') && !e.repository.contains('\0'));
            }
        }
    }
}

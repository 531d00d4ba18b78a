//! What happened, queued for the webhooks that asked for it, in the transaction that records it.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::backend::access::principal::Change;
use crate::error::AppResult;

/// Something that happened to an image, as webhooks report it.
#[derive(Debug, Clone)]
pub struct ImageEvent<'a> {
    /// `push`, `delete` or `pull`.
    pub kind: &'a str,
    pub repository: &'a str,
    pub namespace_id: Option<i64>,
    pub tag: Option<&'a str>,
    pub digest: &'a str,
    /// The verified user, when known.
    pub actor: Option<&'a str>,
    pub at: DateTime<Utc>,
}

/// Queues `event` for every enabled webhook that asked for it (its namespace's, and the
/// site-wide ones), in the caller's transaction. Returns how many deliveries were queued.
pub async fn enqueue(conn: &mut Change<'_>, registry_host: &str, event: &ImageEvent<'_>) -> AppResult<u64> {
    let kind = match event.kind {
        "push" => "PUSH_ARTIFACT",
        "delete" => "DELETE_ARTIFACT",
        _ => "PULL_ARTIFACT",
    };
    let (namespace, name) = match event.repository.rsplit_once('/') {
        Some((ns, name)) => (ns, name),
        None => ("", event.repository),
    };
    let resource_url = match event.tag {
        Some(t) => format!("{registry_host}/{}:{t}", event.repository),
        None => format!("{registry_host}/{}@{}", event.repository, event.digest),
    };
    let payload = json!({
        "type": kind,
        "occur_at": event.at.timestamp(),
        "operator": event.actor.unwrap_or(""),
        "event_data": {
            "resources": [{ "digest": event.digest, "tag": event.tag, "resource_url": resource_url }],
            "repository": { "name": name, "namespace": namespace, "repo_full_name": event.repository },
        },
    });
    queue(conn, event.kind, payload, event.namespace_id).await
}

/// Queues `payload` for every enabled webhook that asked for `event`: its namespace's, and the
/// site-wide ones.
async fn queue(
    conn: &mut Change<'_>,
    event: &str,
    payload: serde_json::Value,
    namespace_id: Option<i64>,
) -> AppResult<u64> {
    Ok(sqlx::query!(
        "insert into webhook_delivery (webhook_id, event, payload)
         select webhook_id, $1, $2 from webhook
         where enabled and $1 = any(events) and (namespace_id is null or namespace_id = $3)",
        event,
        payload,
        namespace_id
    )
    .execute(&mut **conn)
    .await?
    .rows_affected())
}

/// What a cleanup run did, as webhooks report it.
#[derive(Debug, Clone)]
pub struct CleanupEvent<'a> {
    pub namespace_id: i64,
    pub namespace: &'a str,
    /// The repository whose own policy ran, if it was one.
    pub repository: Option<&'a str>,
    pub trigger: &'a str,
    /// Who ran it (`None`: the schedule).
    pub actor: Option<&'a str>,
    pub deleted: i32,
    pub kept: i32,
    pub skipped: i32,
    pub bytes_freed: i64,
}

/// Queues a cleanup run's summary for the webhooks that asked for `cleanup`.
pub async fn enqueue_cleanup(conn: &mut Change<'_>, e: &CleanupEvent<'_>) -> AppResult<u64> {
    let payload = json!({
        "type": "CLEANUP_RUN",
        "occur_at": Utc::now().timestamp(),
        "operator": e.actor.unwrap_or("schedule"),
        "event_data": {
            "namespace": e.namespace, "repository": e.repository, "trigger": e.trigger,
            "deleted": e.deleted, "kept": e.kept, "skipped": e.skipped, "bytes_freed": e.bytes_freed,
        },
    });
    queue(conn, "cleanup", payload, Some(e.namespace_id)).await
}

/// A namespace's storage crossing its warning line, or a push refused over its quota, as
/// webhooks report it.
#[derive(Debug, Clone)]
pub struct QuotaEvent<'a> {
    /// `QUOTA_WARNING` or `QUOTA_EXCEEDED`.
    pub kind: &'static str,
    pub namespace_id: i64,
    pub namespace: &'a str,
    /// The push that crossed the line or was refused: repository and reference.
    pub repository: &'a str,
    pub reference: &'a str,
    pub actor: Option<&'a str>,
    /// What the namespace uses with the push (for a refusal: what it would).
    pub used_bytes: i64,
    pub limit_bytes: i64,
    pub message: &'a str,
}

/// Queues a quota event for the webhooks that asked for `quota`.
pub async fn enqueue_quota(conn: &mut Change<'_>, e: &QuotaEvent<'_>) -> AppResult<u64> {
    let percent = if e.limit_bytes > 0 { (e.used_bytes as i128 * 100 / e.limit_bytes as i128) as i64 } else { 100 };
    let payload = json!({
        "type": e.kind,
        "occur_at": Utc::now().timestamp(),
        "operator": e.actor.unwrap_or(""),
        "event_data": {
            "namespace": e.namespace,
            "repository": { "repo_full_name": e.repository },
            "reference": e.reference,
            "used_bytes": e.used_bytes, "limit_bytes": e.limit_bytes, "percent": percent,
            "message": e.message,
        },
    });
    queue(conn, "quota", payload, Some(e.namespace_id)).await
}

//! What people change in the registry through Portcullis: deleting a tag or a repository,
//! putting a tag back where it pointed before (its history), and a repository's
//! description. Each asks the policy first, changes the registry, then the store, and tells
//! the activity log and the webhooks.

use crate::backend::access::principal::{Change, Principal};
use crate::backend::audit::{self, Target};
use crate::backend::gate;
use crate::backend::images::browse::{repository_views, visible_repository, VisibleRepository};
use crate::backend::images::store;
use crate::backend::AppState;
use crate::error::{AppError, AppResult};
use crate::model::{short_digest, RepositoryView};
use crate::policy;
use crate::scope::{is_digest, is_tag};

/// Deletes a tag's manifest from the registry: every tag pointing at the same digest goes
/// with it (the registry deletes by digest). Returns the names of the removed tags.
pub async fn delete_tag(
    state: &AppState,
    p: &Principal,
    tag_id: i64,
    confirmed_digest: Option<&str>,
) -> AppResult<Vec<String>> {
    p.require_writer()?;
    let row = sqlx::query!(
        "select t.name, t.digest, t.repository_id, r.name as repository from tag t join repository r using (repository_id)
         where t.tag_id = $1",
        tag_id
    )
    .fetch_optional(&state.db)
    .await?
    .ok_or_else(|| AppError::not_found("No such tag."))?;
    let r = visible_repository(state, p, &row.repository).await?;
    let s = state.access_settings.get(&state.db).await;
    let allowed = p.allowed(|a| policy::can_delete(a, &r.facts, &s))?;
    let user = allowed.user();
    // What is deleted must be what was confirmed, and what the registry serves now: a push
    // may have moved the tag since the page was shown, or since its event was applied.
    let moved = || AppError::Conflict("This tag points at another image now. Look at it again before deleting.".into());
    if confirmed_digest.is_some_and(|d| !d.is_empty() && d != row.digest) {
        return Err(moved());
    }
    match state.registry.head_manifest(state, &r.name, &row.name).await? {
        Some((served, _)) if served == row.digest => {}
        // Moved, or gone from the registry already (its digest may live on under other tags).
        _ => return Err(moved()),
    }
    // The namespace's tag rules hold here as at the gate: the registry deletes the image with
    // every tag on it.
    gate_says(gate::may_delete(state, &user.username, &r.name, &row.digest).await?)?;
    let tags = sqlx::query_scalar!(
        "select name from tag where repository_id = $1 and digest = $2 order by name",
        r.id,
        row.digest
    )
    .fetch_all(&state.db)
    .await?;
    // The worker waits until this is recorded: the registry's delete event (whose actor is
    // Portcullis itself) then finds nothing left, and the tags' history names the user.
    let mut tx = allowed.begin(&state.db).await?;
    crate::backend::images::store::exclude_worker(&mut tx).await?;
    state.registry.delete_manifest(state, &r.name, &row.digest).await?;
    let by = store::Removal { source: "delete", actor: Some(&user.username) };
    let removed = store::remove_digest(&mut tx, r.id, &row.digest, by).await?;
    tell_deleted(state, &mut tx, &r, &row.digest, &removed, &user.username).await?;
    let details = serde_json::json!({ "tags": tags, "digest": row.digest });
    let target = Target { kind: "repository", name: &r.name, namespace_id: r.namespace_id };
    audit::record(&mut tx, "image.delete", target, details).await?;
    tx.commit().await?;
    Ok(tags)
}

/// The gate's answer as this page's: a refusal is a 403 that names the rule.
fn gate_says(answer: Result<(), gate::Refusal>) -> AppResult<()> {
    answer.map_err(|refusal| AppError::Forbidden(refusal.0))
}

/// Puts the image `digest` (still in the registry) back under `tag` of `repository`, for a
/// user who may push there: the registry is given the very manifest again, with a token in
/// the user's name, and the move is recorded (source `restore`) and logged. Returns what the
/// tag pointed at before.
pub async fn restore_tag(
    state: &AppState,
    p: &Principal,
    repository: &str,
    tag: &str,
    digest: &str,
) -> AppResult<Option<String>> {
    p.require_writer()?;
    let r = visible_repository(state, p, repository).await?;
    let settings = state.access_settings.get(&state.db).await;
    let allowed = p.allowed(|a| policy::can_push(a, &r.facts, &settings))?;
    let user = allowed.user();
    if !is_tag(tag) {
        return Err(AppError::BadRequest(format!("{tag:?} is not a tag name.")));
    }
    if !(is_digest(digest) && digest.starts_with("sha256:")) {
        return Err(AppError::BadRequest(format!("{digest:?} is not an image digest (sha256:…).")));
    }
    let Some(fetched) = state.registry.manifest(state, &r.name, digest).await? else {
        return Err(AppError::Conflict(format!(
            "The image {} is no longer in the registry (it was deleted, or its space reclaimed), so it cannot be \
             put back.",
            short_digest(digest)
        )));
    };
    // The namespace's tag rules hold here as at the gate (an immutable tag is not put back).
    gate_says(gate::may_put(state, &user.username, &r.name, tag, digest).await?)?;
    let mut tx = allowed.begin(&state.db).await?;
    // The worker waits, so the registry's push event finds the move recorded as a restore.
    store::exclude_worker(&mut tx).await?;
    let previous: Option<String> =
        sqlx::query_scalar!("select digest from tag where repository_id = $1 and name = $2", r.id, tag)
            .fetch_optional(&mut *tx)
            .await?;
    if previous.as_deref() == Some(digest) {
        return Err(AppError::Conflict(format!("{}:{tag} already points at {}.", r.name, short_digest(digest))));
    }
    state.registry.put_manifest(state, &user.username, &r.name, tag, &fetched).await?;
    let now = chrono::Utc::now();
    store::upsert_tag(&mut tx, r.id, tag, digest, Some(&user.username), now, None, "restore").await?;
    let details = serde_json::json!({ "tag": tag, "digest": digest, "previous": previous });
    let target = Target { kind: "repository", name: &r.name, namespace_id: r.namespace_id };
    audit::record(&mut tx, "tag.restore", target, details).await?;
    tx.commit().await?;
    Ok(previous)
}

/// Queues the webhooks' delete events for tags removed here (the registry's own delete
/// events then find nothing left to remove, and are not told twice).
async fn tell_deleted(
    state: &AppState,
    tx: &mut Change<'_>,
    r: &VisibleRepository,
    digest: &str,
    tags: &[String],
    actor: &str,
) -> AppResult<()> {
    for tag in tags {
        let told = crate::backend::webhooks::ImageEvent {
            kind: "delete",
            repository: &r.name,
            namespace_id: r.namespace_id,
            tag: Some(tag),
            digest,
            actor: Some(actor),
            at: chrono::Utc::now(),
        };
        crate::backend::webhooks::enqueue(tx, &state.settings.registry_host, &told).await?;
    }
    Ok(())
}

/// Deletes every manifest of a repository from the registry, and the repository here.
pub async fn delete_repository(state: &AppState, p: &Principal, name: &str) -> AppResult<()> {
    p.require_writer()?;
    let r = visible_repository(state, p, name).await?;
    let s = state.access_settings.get(&state.db).await;
    let allowed = p.allowed(|a| policy::can_delete(a, &r.facts, &s))?;
    let user = allowed.user();
    // Every manifest known here goes: tagged ones, untagged ones, and the per-platform images
    // of multi-platform ones, which would otherwise stay pullable by digest.
    let digests = sqlx::query_scalar!(
        r#"select digest as "digest!" from tag where repository_id = $1
           union select digest from manifest where repository_id = $1
           union select p ->> 'digest' from manifest m, jsonb_array_elements(m.platforms) p
                 where m.repository_id = $1 and p ? 'digest'"#,
        r.id
    )
    .fetch_all(&state.db)
    .await?;
    for d in &digests {
        gate_says(gate::may_delete(state, &user.username, &r.name, d).await?)?;
    }
    // The worker waits (see delete_tag), and every tag's history says who deleted it.
    let mut tx = allowed.begin(&state.db).await?;
    crate::backend::images::store::exclude_worker(&mut tx).await?;
    for d in &digests {
        state.registry.delete_manifest(state, &r.name, d).await?;
    }
    let by = store::Removal { source: "delete", actor: Some(&user.username) };
    for d in &digests {
        let removed = store::remove_digest(&mut tx, r.id, d, by).await?;
        tell_deleted(state, &mut tx, &r, d, &removed, &user.username).await?;
    }
    sqlx::query!("delete from repository where repository_id = $1", r.id).execute(&mut *tx).await?;
    let details = serde_json::json!({ "manifests": digests.len() });
    audit::record(
        &mut tx,
        "repository.delete",
        Target { kind: "repository", name: &r.name, namespace_id: r.namespace_id },
        details,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Changes a repository's description (those who may edit its namespace).
pub async fn update_repository(
    state: &AppState,
    p: &Principal,
    name: &str,
    description: &str,
) -> AppResult<RepositoryView> {
    p.require_writer()?;
    let r = visible_repository(state, p, name).await?;
    let s = state.access_settings.get(&state.db).await;
    let allowed = p.allowed(|a| policy::can_edit_namespace(a, &r.facts, &s))?;
    crate::backend::validate_description(description)?;
    let mut tx = allowed.begin(&state.db).await?;
    sqlx::query!("update repository set description = $2 where repository_id = $1", r.id, description.trim())
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        "repository.update",
        Target { kind: "repository", name: &r.name, namespace_id: r.namespace_id },
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    repository_views(state, &[r.id]).await?.pop().ok_or(AppError::Internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_digests_are_checked_before_the_registry_is_asked() {
        assert!(is_tag("latest") && is_tag("v1.2.3-rc_1") && is_tag("_x"));
        assert!(!is_tag("") && !is_tag(".x") && !is_tag("a/b") && !is_tag(&"a".repeat(129)));
        assert!(is_digest(&format!("sha256:{}", "a".repeat(64))));
        assert!(!is_digest("sha256:ABC") && !is_digest(&format!("sha512:{}", "a".repeat(64))));
    }
}

//! Storage quotas: how many bytes a namespace's images may take. Usage is the bytes of the
//! distinct blobs (layers and configs) its recorded manifests refer to, a shared layer counted
//! once; triggers on `manifest` keep it (`namespace_blob`, `namespace_usage`: migration 0024)
//! and reconcile rebuilds it. A namespace's own limit is set by administrators; without one the
//! site-wide default holds. The gate refuses a manifest that would take a namespace over its
//! limit; one that adds no new blob (a tag moved to an image the namespace holds already)
//! always passes.

use crate::backend::access::principal::{Change, Duty, Principal};
use crate::backend::audit::{self, Target};
use crate::backend::org::{
    self,
    namespaces::{self, NamespaceRef},
};
use crate::backend::webhooks;
use crate::backend::AppState;
use crate::error::{AppError, AppResult};
use crate::model::{human_size, QuotaView};
use crate::policy;

use super::check::Refusal;

/// What a manifest refers to: its layers and its config, each digest once.
pub fn blobs_of(manifest: &serde_json::Map<String, serde_json::Value>) -> Vec<(String, i64)> {
    let descriptor = |v: &serde_json::Value| {
        let digest = v.get("digest")?.as_str()?.to_string();
        Some((digest, v.get("size").and_then(serde_json::Value::as_i64).unwrap_or(0).max(0)))
    };
    let mut out: Vec<(String, i64)> = manifest
        .get("layers")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .chain(manifest.get("config"))
        .filter_map(descriptor)
        .collect();
    out.sort();
    out.dedup_by(|a, b| a.0 == b.0);
    out
}

/// A namespace's usage and limit, by its id (for a caller that already found the namespace
/// for the viewer).
pub async fn standing(state: &AppState, namespace_id: i64, name: &str) -> AppResult<QuotaView> {
    let row = sqlx::query!(
        r#"select (select bytes from namespace_usage where namespace_id = $1) as "used?",
                  (select limit_bytes from namespace_quota where namespace_id = $1) as "limit?""#,
        namespace_id
    )
    .fetch_one(&state.db)
    .await?;
    let site = org::settings::default_quota(state).await.limit_bytes;
    let (limit_bytes, limit_source) = match (row.limit, site) {
        (Some(l), _) => (Some(l), "namespace"),
        (None, Some(d)) => (Some(d), "site"),
        (None, None) => (None, "none"),
    };
    Ok(QuotaView {
        namespace: name.to_string(),
        used_bytes: row.used.unwrap_or(0),
        limit_bytes,
        limit_source: limit_source.into(),
    })
}

/// A namespace's storage (anyone who sees the namespace).
pub async fn get(state: &AppState, p: &Principal, ns: &NamespaceRef) -> AppResult<QuotaView> {
    let (n, _) = namespaces::find(state, p, ns).await?;
    standing(state, n.id, &n.name).await
}

/// Sets a namespace's own limit, or (`None`) leaves it to the site-wide default
/// (administrators).
pub async fn set(state: &AppState, p: &Principal, ns: &NamespaceRef, limit: Option<i64>) -> AppResult<QuotaView> {
    let (n, _) = namespaces::find(state, p, ns).await?;
    let allowed = p.allowed(policy::can_administer)?;
    if limit.is_some_and(|l| l < 0) {
        return Err(AppError::invalid("limit_bytes", "a number of bytes, 0 or more (or null for the site's default)"));
    }
    let mut tx = allowed.begin(&state.db).await?;
    let before = sqlx::query_scalar!("select limit_bytes from namespace_quota where namespace_id = $1", n.id)
        .fetch_optional(&mut *tx)
        .await?;
    match limit {
        Some(l) => {
            sqlx::query!(
                "insert into namespace_quota (namespace_id, limit_bytes, set_by) values ($1, $2, $3)
                 on conflict (namespace_id) do update set limit_bytes = excluded.limit_bytes,
                     set_by = excluded.set_by, set_at = now()",
                n.id,
                l,
                allowed.user().username
            )
            .execute(&mut *tx)
            .await?;
        }
        None => {
            sqlx::query!("delete from namespace_quota where namespace_id = $1", n.id).execute(&mut *tx).await?;
        }
    }
    // A new limit is a new start for the webhooks' warnings.
    sqlx::query!("update namespace_usage set told_percent = 0 where namespace_id = $1", n.id).execute(&mut *tx).await?;
    if before != limit {
        let details = serde_json::json!({ "from": before, "to": limit });
        audit::record(&mut tx, "quota.set", Target::namespace(&n.name, n.id), details).await?;
    }
    tx.commit().await?;
    standing(state, n.id, &n.name).await
}

/// Whether the manifest `manifest`, pushed to `repo` by `actor`, keeps its namespace within
/// its quota. Only the blobs the namespace does not hold yet count. Webhooks that asked for
/// `quota` are told a refusal (QUOTA_EXCEEDED), and a push that takes the namespace past the
/// warning line (QUOTA_WARNING, once per crossing).
pub async fn may_put(
    state: &AppState,
    actor: &str,
    repo: &str,
    reference: &str,
    manifest: &serde_json::Map<String, serde_json::Value>,
) -> AppResult<Result<(), Refusal>> {
    let Some((namespace, _)) = repo.split_once('/') else { return Ok(Ok(())) };
    let blobs = blobs_of(manifest);
    if blobs.is_empty() {
        return Ok(Ok(()));
    }
    let (digests, sizes): (Vec<String>, Vec<i64>) = blobs.into_iter().unzip();
    let Some(row) = sqlx::query!(
        r#"select n.namespace_id,
                  (select limit_bytes from namespace_quota q where q.namespace_id = n.namespace_id) as "limit?",
                  coalesce((select bytes from namespace_usage u where u.namespace_id = n.namespace_id), 0) as "used!",
                  coalesce((select told_percent from namespace_usage u where u.namespace_id = n.namespace_id), 0) as "told!",
                  (select coalesce(sum(b.size), 0) from unnest($2::text[], $3::bigint[]) as b(digest, size)
                   where not exists(select 1 from namespace_blob nb
                                    where nb.namespace_id = n.namespace_id and nb.digest = b.digest))::bigint as "adds!"
           from namespace n where n.name = $1"#,
        namespace,
        &digests,
        &sizes
    )
    .fetch_optional(&state.db)
    .await?
    else {
        return Ok(Ok(()));
    };
    let site = match row.limit {
        Some(_) => None,
        None => org::settings::default_quota(state).await.limit_bytes,
    };
    let Some(limit) = row.limit.or(site) else { return Ok(Ok(())) };
    if row.adds == 0 {
        return Ok(Ok(()));
    }
    let after = row.used.saturating_add(row.adds);
    let event = |kind: &'static str, message: &'static str| webhooks::QuotaEvent {
        kind,
        namespace_id: row.namespace_id,
        namespace,
        repository: repo,
        reference,
        actor: Some(actor),
        used_bytes: after,
        limit_bytes: limit,
        message,
    };
    if after <= limit {
        let warn_at = (limit as i128 * state.settings.quota_warning_percent as i128 / 100) as i64;
        if after >= warn_at && i64::from(row.told) < state.settings.quota_warning_percent {
            let message = format!(
                "namespace {namespace} uses {} of its {} quota ({}%) with this push",
                human_size(after),
                human_size(limit),
                after as i128 * 100 / limit.max(1) as i128
            );
            tell(state, &webhooks::QuotaEvent { message: &message, ..event("QUOTA_WARNING", "") }).await?;
        } else if after < warn_at && row.told > 0 {
            // Back under the line since the last warning (a delete, a cleanup, a larger
            // quota): the next crossing is told again.
            sqlx::query!("update namespace_usage set told_percent = 0 where namespace_id = $1", row.namespace_id)
                .execute(&mut *Duty::Gate.on(&state.db).await?)
                .await?;
        }
        return Ok(Ok(()));
    }
    let refusal = Refusal(format!(
        "quota exceeded: used {} of {} in namespace {namespace}, and this image adds {} of layers it does not \
         hold yet; delete images (or let a cleanup policy do it), or ask an administrator for a larger quota",
        human_size(row.used),
        human_size(limit),
        human_size(row.adds)
    ));
    tell(state, &webhooks::QuotaEvent { message: &refusal.0, ..event("QUOTA_EXCEEDED", "") }).await?;
    super::check::refused(state, actor, Some(row.namespace_id), repo, reference, refusal).await
}

/// Tells the webhooks that asked for `quota`; after a warning, remembers it was told.
async fn tell(state: &AppState, e: &webhooks::QuotaEvent<'_>) -> AppResult<()> {
    let mut tx = Duty::Gate.begin(&state.db).await?;
    webhooks::enqueue_quota(&mut tx, e).await?;
    if e.kind == "QUOTA_WARNING" {
        sqlx::query!(
            "update namespace_usage set told_percent = $2 where namespace_id = $1",
            e.namespace_id,
            state.settings.quota_warning_percent as i32
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Rebuilds every namespace's blobs and usage from the recorded manifests (reconcile, after
/// it brought them in step with the registry; the caller keeps the event worker out).
pub async fn recompute(tx: &mut Change<'_>) -> AppResult<()> {
    sqlx::query!("delete from namespace_blob").execute(&mut **tx).await?;
    sqlx::query!(
        "insert into namespace_blob (namespace_id, digest, size, refs)
         select r.namespace_id, b.digest, min(b.size), count(*)
         from manifest m join repository r using (repository_id),
              manifest_blobs(m.layers, m.config_digest, m.config_size) b
         where r.namespace_id is not null
         group by r.namespace_id, b.digest"
    )
    .execute(&mut **tx)
    .await?;
    sqlx::query!(
        "insert into namespace_usage (namespace_id, bytes)
         select n.namespace_id, coalesce(sum(b.size), 0)::bigint
         from namespace n left join namespace_blob b using (namespace_id) group by n.namespace_id
         on conflict (namespace_id) do update set bytes = excluded.bytes"
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

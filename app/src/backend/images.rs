//! What Portcullis records about images: repositories, manifests with their metadata, tags.
//! Written by the event worker and by reconcile; the registry is the source of truth.

use serde::Deserialize;
use serde_json::{json, Map, Value};
use sqlx::PgConnection;

use super::registry::{is_index, Fetched, RegistryClient};
use super::AppState;
use crate::error::AppResult;
use crate::scope::RepositoryName;

/// Metadata of one manifest.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImageMeta {
    pub digest: String,
    pub media_type: String,
    pub size: i64,
    pub created: Option<chrono::DateTime<chrono::Utc>>,
    pub os: Option<String>,
    pub architecture: Option<String>,
    pub platforms: Value,
    pub labels: Value,
    pub annotations: Value,
    pub config_digest: Option<String>,
    pub layers: Value,
}

#[derive(Deserialize, Default)]
struct Descriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    size: i64,
    platform: Option<PlatformDoc>,
}

#[derive(Deserialize, Default, Clone)]
struct PlatformDoc {
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
    variant: Option<String>,
}

#[derive(Deserialize)]
struct ManifestDoc {
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
    #[serde(default)]
    manifests: Vec<Descriptor>,
    #[serde(default)]
    annotations: Map<String, Value>,
}

#[derive(Deserialize, Default)]
struct ConfigDoc {
    created: Option<chrono::DateTime<chrono::Utc>>,
    architecture: Option<String>,
    os: Option<String>,
    variant: Option<String>,
    config: Option<ConfigInner>,
}

#[derive(Deserialize, Default)]
struct ConfigInner {
    #[serde(rename = "Labels")]
    labels: Option<Map<String, Value>>,
}

fn platform_json(os: &str, arch: &str, variant: Option<&str>) -> Value {
    match variant {
        Some(v) if !v.is_empty() => json!({ "os": os, "architecture": arch, "variant": v }),
        _ => json!({ "os": os, "architecture": arch }),
    }
}

/// Reads an image manifest and its config blob.
async fn describe_image(
    state: &AppState,
    client: &RegistryClient,
    repo: &str,
    digest: &str,
    media_type: &str,
    doc: ManifestDoc,
) -> AppResult<ImageMeta> {
    let size: i64 = doc.layers.iter().map(|l| l.size).sum();
    let layers = Value::Array(
        doc.layers.iter().map(|l| json!({ "mediaType": l.media_type, "digest": l.digest, "size": l.size })).collect(),
    );
    let config_digest = doc.config.as_ref().map(|c| c.digest.clone());
    let config: ConfigDoc = match &config_digest {
        Some(d) => match client.blob(state, repo, d).await? {
            Some(bytes) => serde_json::from_slice(&bytes).unwrap_or_default(),
            None => ConfigDoc::default(),
        },
        None => ConfigDoc::default(),
    };
    let labels = config.config.and_then(|c| c.labels).map(Value::Object).unwrap_or_else(|| json!({}));
    let platforms = match (&config.os, &config.architecture) {
        (Some(os), Some(arch)) => json!([platform_json(os, arch, config.variant.as_deref())]),
        _ => json!([]),
    };
    Ok(ImageMeta {
        digest: digest.to_string(),
        media_type: media_type.to_string(),
        size,
        created: config.created,
        os: config.os,
        architecture: config.architecture,
        platforms,
        labels,
        annotations: Value::Object(doc.annotations),
        config_digest,
        layers,
    })
}

/// Reads a manifest or index (fetched already) into its metadata. An index takes its
/// platforms from its entries, its size from theirs, and its labels and creation time from
/// its first platform.
pub async fn describe(
    state: &AppState,
    client: &RegistryClient,
    repo: &str,
    fetched: &Fetched,
) -> AppResult<ImageMeta> {
    let doc: ManifestDoc = serde_json::from_slice(&fetched.body)
        .map_err(|e| crate::error::AppError::Transport(format!("unreadable manifest: {e}")))?;
    if !is_index(&fetched.media_type) {
        return describe_image(state, client, repo, &fetched.digest, &fetched.media_type, doc).await;
    }
    let mut platforms = Vec::new();
    let mut size = 0;
    let mut first: Option<ImageMeta> = None;
    for entry in &doc.manifests {
        let p = entry.platform.clone().unwrap_or_default();
        // Attestation manifests (buildx) carry platform unknown/unknown: not a platform.
        if p.os == "unknown" || p.os.is_empty() {
            continue;
        }
        let mut platform = platform_json(&p.os, &p.architecture, p.variant.as_deref());
        if let Some(child) = client.manifest(state, repo, &entry.digest).await? {
            if let Ok(child_doc) = serde_json::from_slice::<ManifestDoc>(&child.body) {
                let meta = describe_image(state, client, repo, &entry.digest, &child.media_type, child_doc).await?;
                size += meta.size;
                platform["size"] = json!(meta.size);
                first.get_or_insert(meta);
            }
        }
        platform["digest"] = json!(entry.digest);
        platforms.push(platform);
    }
    let first = first.unwrap_or_default();
    Ok(ImageMeta {
        digest: fetched.digest.clone(),
        media_type: fetched.media_type.clone(),
        size,
        created: first.created,
        os: None,
        architecture: None,
        platforms: Value::Array(platforms),
        labels: first.labels,
        annotations: Value::Object(doc.annotations),
        config_digest: None,
        layers: json!([]),
    })
}

/// The namespace a repository belongs in, created if it does not exist yet (only an
/// administrator can have pushed there). An implicit namespace is private and belongs to the
/// pusher's personal team; without a known pusher (reconcile), to the first administrator's.
async fn namespace_for(conn: &mut PgConnection, ns: &str, pusher: Option<&str>) -> AppResult<Option<i64>> {
    if let Some(id) =
        sqlx::query_scalar!("select namespace_id from namespace where name = $1", ns).fetch_optional(&mut *conn).await?
    {
        return Ok(Some(id));
    }
    if crate::model::validate_username(ns).is_err() {
        return Ok(None);
    }
    let team = sqlx::query_scalar!(
        r#"select t.team_id from team t join "user" u on u.user_id = t.personal_user_id
           where u.username = $1 or ($1::text is null and u.is_admin)
           order by u.username = $1 desc nulls last, u.user_id limit 1"#,
        pusher
    )
    .fetch_optional(&mut *conn)
    .await?;
    let team = match team {
        Some(t) => t,
        None => match sqlx::query_scalar!(
            r#"select t.team_id from team t join "user" u on u.user_id = t.personal_user_id
               where u.is_admin order by u.user_id limit 1"#
        )
        .fetch_optional(&mut *conn)
        .await?
        {
            Some(t) => t,
            None => return Ok(None),
        },
    };
    let id = sqlx::query_scalar!(
        "insert into namespace (name, team_id, description) values ($1, $2, 'Created by a push to a namespace that did not exist.')
         on conflict (name) do update set name = excluded.name returning namespace_id",
        ns,
        team
    )
    .fetch_one(&mut *conn)
    .await?;
    super::audit::record(
        conn,
        None,
        "namespace.create",
        super::audit::Target::namespace(ns, id),
        json!({ "implicit": true, "pusher": pusher }),
    )
    .await?;
    Ok(Some(id))
}

/// The repository row for `name`, created (with its namespace) when missing.
/// `None` when the name cannot be placed (a malformed name, no namespace possible).
pub async fn repository(
    conn: &mut PgConnection,
    name: &str,
    pusher: Option<&str>,
) -> AppResult<Option<(i64, Option<i64>)>> {
    if let Some(r) = sqlx::query!("select repository_id, namespace_id from repository where name = $1", name)
        .fetch_optional(&mut *conn)
        .await?
    {
        return Ok(Some((r.repository_id, r.namespace_id)));
    }
    let Some(parsed) = RepositoryName::parse(name) else { return Ok(None) };
    if parsed.host.is_some() {
        return Ok(None);
    }
    let namespace_id = match parsed.namespace() {
        None => None,
        Some(ns) => match namespace_for(conn, ns, pusher).await? {
            Some(id) => Some(id),
            None => return Ok(None),
        },
    };
    let id = sqlx::query_scalar!(
        "insert into repository (name, namespace_id) values ($1, $2)
         on conflict (name) do update set name = excluded.name returning repository_id",
        name,
        namespace_id
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(Some((id, namespace_id)))
}

/// Records (or refreshes) a manifest's metadata.
pub async fn upsert_manifest(conn: &mut PgConnection, repository_id: i64, m: &ImageMeta) -> AppResult<()> {
    sqlx::query!(
        "insert into manifest (repository_id, digest, media_type, size, created, os, architecture, platforms, labels,
                               annotations, config_digest, layers, signed)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
                 exists(select 1 from tag where repository_id = $1 and name = replace($2, ':', '-') || '.sig'))
         on conflict (repository_id, digest) do update set
             media_type = excluded.media_type, size = excluded.size, created = excluded.created, os = excluded.os,
             architecture = excluded.architecture, platforms = excluded.platforms, labels = excluded.labels,
             annotations = excluded.annotations, config_digest = excluded.config_digest, layers = excluded.layers",
        repository_id,
        m.digest,
        m.media_type,
        m.size,
        m.created as _,
        m.os,
        m.architecture,
        m.platforms,
        m.labels,
        m.annotations,
        m.config_digest,
        m.layers
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether a tag is a cosign signature (`sha256-<hex>.sig`); returns the digest it signs.
pub fn signature_target(tag: &str) -> Option<String> {
    let hex = tag.strip_prefix("sha256-")?.strip_suffix(".sig")?;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| format!("sha256:{hex}"))
}

/// Points a tag at a digest. Returns whether anything changed.
pub async fn upsert_tag(
    conn: &mut PgConnection,
    repository_id: i64,
    tag: &str,
    digest: &str,
    pushed_by: Option<&str>,
    pushed_at: chrono::DateTime<chrono::Utc>,
) -> AppResult<bool> {
    let changed = sqlx::query!(
        "insert into tag (repository_id, name, digest, pushed_by, pushed_at) values ($1, $2, $3, $4, $5)
         on conflict (repository_id, name) do update set digest = excluded.digest,
             pushed_by = coalesce(excluded.pushed_by, tag.pushed_by), pushed_at = excluded.pushed_at
         where tag.digest <> excluded.digest or (excluded.pushed_by is not null and tag.pushed_by is distinct from excluded.pushed_by)",
        repository_id,
        tag,
        digest,
        pushed_by,
        pushed_at as _
    )
    .execute(&mut *conn)
    .await?
    .rows_affected()
        > 0;
    if let Some(signed) = signature_target(tag) {
        sqlx::query!(
            "update manifest set signed = true where repository_id = $1 and digest = $2",
            repository_id,
            signed
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(changed)
}

/// Removes a manifest and every tag pointing at it (what a registry DELETE by digest does).
/// Returns the names of the removed tags.
pub async fn remove_digest(conn: &mut PgConnection, repository_id: i64, digest: &str) -> AppResult<Vec<String>> {
    let tags = sqlx::query_scalar!(
        "delete from tag where repository_id = $1 and digest = $2 returning name",
        repository_id,
        digest
    )
    .fetch_all(&mut *conn)
    .await?;
    sqlx::query!("delete from manifest where repository_id = $1 and digest = $2", repository_id, digest)
        .execute(&mut *conn)
        .await?;
    unsign(conn, repository_id, &tags).await?;
    Ok(tags)
}

/// Removes one tag (its manifest stays while other tags point at it).
pub async fn remove_tag(conn: &mut PgConnection, repository_id: i64, tag: &str) -> AppResult<bool> {
    let gone = sqlx::query!("delete from tag where repository_id = $1 and name = $2", repository_id, tag)
        .execute(&mut *conn)
        .await?
        .rows_affected()
        > 0;
    unsign(conn, repository_id, &[tag.to_string()]).await?;
    Ok(gone)
}

async fn unsign(conn: &mut PgConnection, repository_id: i64, tags: &[String]) -> AppResult<()> {
    for t in tags {
        if let Some(d) = signature_target(t) {
            sqlx::query!(
                "update manifest set signed = false where repository_id = $1 and digest = $2",
                repository_id,
                d
            )
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

/// Whether the manifest of `digest` is already recorded for the repository.
pub async fn has_manifest(conn: &mut PgConnection, repository_id: i64, digest: &str) -> AppResult<bool> {
    Ok(sqlx::query_scalar!(
        r#"select exists(select 1 from manifest where repository_id = $1 and digest = $2) as "e!""#,
        repository_id,
        digest
    )
    .fetch_one(conn)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosign_signature_tags_name_their_digest() {
        let hex = "a".repeat(64);
        assert_eq!(signature_target(&format!("sha256-{hex}.sig")), Some(format!("sha256:{hex}")));
        assert_eq!(signature_target("sha256-abc.sig"), None);
        assert_eq!(signature_target("latest"), None);
    }
}

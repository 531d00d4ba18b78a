//! What Portcullis records about images: repositories, manifests with their metadata, tags.
//! Written by the event worker and by reconcile; the registry is the source of truth.

use serde::Deserialize;
use serde_json::{json, Map, Value};
use sqlx::PgConnection;

use crate::backend::access::principal::Change;
use crate::backend::org::shared;
use crate::backend::registry::client::{is_index, Blob, Fetched, RegistryClient, CONFIG_LIMIT};
use crate::backend::AppState;
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
    /// The config blob's size (what it adds to its namespace's storage).
    pub config_size: Option<i64>,
    pub layers: Value,
    /// The manifest as the registry served it.
    pub manifest_json: String,
    /// What the image runs: see [`config_summary`]. `Null` for an index.
    pub config: Value,
    /// Why part of the metadata is missing on purpose (a config blob over the size limit, an
    /// index with more entries than are read); `None` when nothing was left out.
    pub incomplete_reason: Option<String>,
}

/// The most entries of an index whose images are read (each one is a manifest and a config
/// fetched from the registry); the others are listed with their platform only.
pub const INDEX_ENTRIES_READ: usize = 64;

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

/// A manifest or index. Fields a client left out or wrote as `null` read as empty.
#[derive(Deserialize)]
struct ManifestDoc {
    config: Option<Descriptor>,
    layers: Option<Vec<Descriptor>>,
    manifests: Option<Vec<Descriptor>>,
    annotations: Option<Map<String, Value>>,
}

use crate::backend::without_nul as scrub;

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty()).map(String::from)
}

/// Labels as strings (a label that is not a string is written as JSON).
fn string_map(v: Option<&Value>) -> Value {
    let Some(Value::Object(m)) = v else { return json!({}) };
    Value::Object(
        m.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.as_str().map(String::from).unwrap_or_else(|| v.to_string()))))
            .collect(),
    )
}

/// What an image runs, from its config blob: `{entrypoint, cmd, env, user, working_dir,
/// exposed_ports, stop_signal, history: [{created, created_by, empty_layer, comment}]}`, each
/// present only when the image sets it. Read field by field, so one odd field loses nothing else.
pub fn config_summary(config: &Value) -> Value {
    // `config` is what the image runs; `container_config` (Docker's) is the build container's.
    let c = config.get("config").cloned().unwrap_or(Value::Null);
    let strings = |key: &str| match c.get(key) {
        Some(Value::Array(a)) => {
            let v: Vec<Value> = a.iter().filter_map(|s| s.as_str().map(|s| json!(s))).collect();
            (!v.is_empty()).then_some(Value::Array(v))
        }
        Some(Value::String(s)) if !s.is_empty() => Some(json!([s])),
        _ => None,
    };
    let mut out = Map::new();
    for (key, name) in [("Entrypoint", "entrypoint"), ("Cmd", "cmd"), ("Env", "env")] {
        if let Some(v) = strings(key) {
            out.insert(name.into(), v);
        }
    }
    for (key, name) in [("User", "user"), ("WorkingDir", "working_dir"), ("StopSignal", "stop_signal")] {
        if let Some(v) = text(&c, key) {
            out.insert(name.into(), json!(v));
        }
    }
    if let Some(Value::Object(ports)) = c.get("ExposedPorts") {
        out.insert("exposed_ports".into(), json!(ports.keys().collect::<Vec<_>>()));
    }
    if let Some(Value::Array(h)) = config.get("history") {
        let steps: Vec<Value> = h
            .iter()
            .map(|s| {
                json!({
                    "created": text(s, "created"),
                    "created_by": text(s, "created_by"),
                    "comment": text(s, "comment"),
                    "empty_layer": s.get("empty_layer").and_then(Value::as_bool).unwrap_or(false),
                })
            })
            .collect();
        if !steps.is_empty() {
            out.insert("history".into(), Value::Array(steps));
        }
    }
    Value::Object(out)
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
    let doc_layers = doc.layers.unwrap_or_default();
    let size: i64 = doc_layers.iter().map(|l| l.size).sum();
    let layers = Value::Array(
        doc_layers.iter().map(|l| json!({ "mediaType": l.media_type, "digest": l.digest, "size": l.size })).collect(),
    );
    let config_digest = doc.config.as_ref().map(|c| c.digest.clone());
    let config_size = doc.config.as_ref().map(|c| c.size);
    // A config blob that is missing or unreadable leaves the image without what it would say;
    // the manifest's own facts are still recorded. One over the limit is not read at all (a
    // pusher may point the config at a layer of gigabytes), and the image says why.
    let mut incomplete_reason = None;
    let config: Value = match &doc.config {
        Some(c) => match client.blob(state, repo, &c.digest, c.size, CONFIG_LIMIT).await? {
            Blob::Read(bytes) => serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            Blob::Missing => Value::Null,
            Blob::TooLarge => {
                incomplete_reason = Some(format!(
                    "The image config is larger than {} MiB, so it was not read: no labels, creation time or run settings.",
                    CONFIG_LIMIT >> 20
                ));
                Value::Null
            }
        },
        None => Value::Null,
    };
    let created = text(&config, "created").and_then(|c| chrono::DateTime::parse_from_rfc3339(&c).ok());
    let (os, architecture) = (text(&config, "os"), text(&config, "architecture"));
    let platforms = match (&os, &architecture) {
        (Some(os), Some(arch)) => json!([platform_json(os, arch, text(&config, "variant").as_deref())]),
        _ => json!([]),
    };
    let inner = config.get("config");
    Ok(ImageMeta {
        digest: digest.to_string(),
        media_type: media_type.to_string(),
        size,
        created: created.map(|c| c.with_timezone(&chrono::Utc)),
        os,
        architecture,
        platforms: scrub(platforms),
        labels: scrub(string_map(inner.and_then(|c| c.get("Labels")))),
        annotations: scrub(Value::Object(doc.annotations.unwrap_or_default())),
        config_digest,
        config_size,
        layers,
        manifest_json: String::new(),
        // Unread (missing or unreadable) stays unknown, and reconcile tries again.
        config: if config.is_null() { Value::Null } else { scrub(config_summary(&config)) },
        incomplete_reason,
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
    // A manifest that is not JSON will not become readable by asking again: a bad request.
    let doc: ManifestDoc = serde_json::from_slice(&fetched.body)
        .map_err(|e| crate::error::AppError::BadRequest(format!("unreadable manifest: {e}")))?;
    let manifest_json = String::from_utf8_lossy(&fetched.body).into_owned();
    if !is_index(&fetched.media_type) {
        let meta = describe_image(state, client, repo, &fetched.digest, &fetched.media_type, doc).await?;
        return Ok(ImageMeta { manifest_json, ..meta });
    }
    let mut platforms = Vec::new();
    let mut size = 0;
    let mut first: Option<ImageMeta> = None;
    let mut read = 0;
    let mut incomplete_reason = None;
    for entry in doc.manifests.iter().flatten() {
        let p = entry.platform.clone().unwrap_or_default();
        // Attestation manifests (buildx) carry platform unknown/unknown: not a platform.
        if p.os == "unknown" || p.os.is_empty() {
            continue;
        }
        let mut platform = platform_json(&p.os, &p.architecture, p.variant.as_deref());
        read += 1;
        if read > INDEX_ENTRIES_READ {
            incomplete_reason = Some(format!(
                "The index lists more than {INDEX_ENTRIES_READ} platforms; the sizes of the others were not read."
            ));
        } else if let Some(child) = client.manifest(state, repo, &entry.digest).await? {
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
        platforms: scrub(Value::Array(platforms)),
        labels: first.labels,
        annotations: scrub(Value::Object(doc.annotations.unwrap_or_default())),
        config_digest: None,
        config_size: None,
        layers: json!([]),
        manifest_json,
        config: Value::Null,
        incomplete_reason,
    })
}

/// Who is recording a repository whose namespace may not exist yet.
#[derive(Debug, Clone, Copy)]
pub enum Recorder<'a> {
    /// A push event, with the verified actor (the token's subject), if any.
    Push(Option<&'a str>),
    /// Reconcile found the repository in the registry.
    Reconcile,
}

/// The namespace a repository belongs in, created if it does not exist yet. Only an
/// administrator can push to a namespace that does not exist, so a push event creates one only
/// when its verified actor is an enabled administrator now (a push queued for a namespace
/// that was deleted meanwhile does not bring it back for a member of its old team); it
/// belongs to their personal team, private. Reconcile, which found images in the registry,
/// gives it to the first administrator's.
async fn namespace_for(conn: &mut Change<'_>, ns: &str, by: Recorder<'_>) -> AppResult<Option<i64>> {
    if let Some(id) = shared::namespace_id(conn, ns).await? {
        return Ok(Some(id));
    }
    if crate::model::validate_username(ns).is_err() {
        return Ok(None);
    }
    match by {
        Recorder::Push(None) => Ok(None),
        Recorder::Push(Some(pusher)) => shared::create_implicit_namespace(conn, ns, Some(pusher)).await,
        Recorder::Reconcile => shared::create_implicit_namespace(conn, ns, None).await,
    }
}

/// The repository row for `name`, created (with its namespace) when missing.
/// `None` when the name cannot be placed (a malformed name, no namespace possible).
pub async fn find_or_create_repository(
    conn: &mut Change<'_>,
    name: &str,
    by: Recorder<'_>,
) -> AppResult<Option<(i64, Option<i64>)>> {
    if let Some(found) = repository_by_name(conn, name).await? {
        return Ok(Some(found));
    }
    let Some(parsed) = RepositoryName::parse(name) else { return Ok(None) };
    if parsed.host.is_some() {
        return Ok(None);
    }
    let namespace_id = match parsed.namespace() {
        None => None,
        Some(ns) => match namespace_for(conn, ns, by).await? {
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
    .fetch_one(&mut **conn)
    .await?;
    Ok(Some((id, namespace_id)))
}

/// The repository named `name` (its id and namespace), if it is recorded.
pub async fn repository_by_name(conn: &mut PgConnection, name: &str) -> AppResult<Option<(i64, Option<i64>)>> {
    Ok(sqlx::query!("select repository_id, namespace_id from repository where name = $1", name)
        .fetch_optional(conn)
        .await?
        .map(|r| (r.repository_id, r.namespace_id)))
}

/// Records a pull of `repository` (by digest, or by tag) at `at`.
pub async fn record_pull(
    c: &mut Change<'_>,
    repository: &str,
    digest: &str,
    tag: Option<&str>,
    at: chrono::DateTime<chrono::Utc>,
) -> AppResult<()> {
    sqlx::query!(
        "update tag set last_pulled_at = greatest(last_pulled_at, $3)
         where repository_id = (select repository_id from repository where name = $1)
           and (digest = $2 or name = $4)",
        repository,
        digest,
        at as _,
        tag
    )
    .execute(&mut **c)
    .await?;
    Ok(())
}

/// Records (or refreshes) a manifest's metadata.
pub async fn upsert_manifest(conn: &mut Change<'_>, repository_id: i64, m: &ImageMeta) -> AppResult<()> {
    sqlx::query!(
        "insert into manifest (repository_id, digest, media_type, size, created, os, architecture, platforms, labels,
                               annotations, config_digest, layers, manifest_json, config, incomplete_reason, signed,
                               config_size)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
                 exists(select 1 from tag where repository_id = $1 and name = replace($2, ':', '-') || '.sig'), $16)
         on conflict (repository_id, digest) do update set
             media_type = excluded.media_type, size = excluded.size, created = excluded.created, os = excluded.os,
             architecture = excluded.architecture, platforms = excluded.platforms, labels = excluded.labels,
             annotations = excluded.annotations, config_digest = excluded.config_digest, layers = excluded.layers,
             manifest_json = excluded.manifest_json, config = excluded.config,
             incomplete_reason = excluded.incomplete_reason, config_size = excluded.config_size",
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
        m.layers,
        m.manifest_json,
        (!m.config.is_null()).then_some(&m.config),
        m.incomplete_reason,
        m.config_size
    )
    .execute(&mut **conn)
    .await?;
    Ok(())
}

/// Whether a tag is a cosign signature (`sha256-<hex>.sig`); returns the digest it signs.
pub fn signature_target(tag: &str) -> Option<String> {
    let hex = tag.strip_prefix("sha256-")?.strip_suffix(".sig")?;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| format!("sha256:{hex}"))
}

/// Points a tag at a digest. Returns whether anything changed. With `unless_since` (the
/// database's clock), a tag written at or after that time is left alone, and a repository
/// that saw a delete since then (or has one pending) is not written at all: the next run does (reconcile must not undo what an event applied
/// while it ran). When the digest changes, the pusher is the one given (unknown to reconcile):
/// whoever pushed the old digest did not push this one.
/// A move to another digest (or a new tag) is written to the tag's history with `source`.
#[allow(clippy::too_many_arguments)]
pub async fn upsert_tag(
    conn: &mut Change<'_>,
    repository_id: i64,
    tag: &str,
    digest: &str,
    pushed_by: Option<&str>,
    pushed_at: chrono::DateTime<chrono::Utc>,
    unless_since: Option<chrono::DateTime<chrono::Utc>>,
    source: &str,
) -> AppResult<bool> {
    let changed = sqlx::query_scalar!(
        r#"with before as (select digest from tag where repository_id = $1 and name = $2),
         written as (
         insert into tag (repository_id, name, digest, pushed_by, pushed_at)
         select $1, $2, $3, $4, $5
         -- A delete applied since reconcile started may have removed this very tag after
         -- reconcile saw it: adding it back is left to the next run, which will know.
         where $6::timestamptz is null
            or not exists(select 1 from registry_event e join repository r on r.name = e.repository
                          where r.repository_id = $1 and e.action = 'delete'
                            and (e.processed_at is null or e.processed_at >= $6))
         on conflict (repository_id, name) do update set digest = excluded.digest,
             pushed_by = case when tag.digest <> excluded.digest then excluded.pushed_by
                              else coalesce(excluded.pushed_by, tag.pushed_by) end,
             pushed_at = excluded.pushed_at, updated_at = now()
         where (tag.digest <> excluded.digest
                or (excluded.pushed_by is not null and tag.pushed_by is distinct from excluded.pushed_by))
           and ($6::timestamptz is null or tag.updated_at < $6)
         returning digest),
         moved as (
         insert into tag_event (repository, tag, digest, previous_digest, actor, source, at)
         select (select name from repository where repository_id = $1), $2, w.digest, (select digest from before),
                $4, $7, $5
         from written w where w.digest is distinct from (select digest from before))
         select count(*) as "n!" from written"#,
        repository_id,
        tag,
        digest,
        pushed_by,
        pushed_at as _,
        unless_since as _,
        source
    )
    .fetch_one(&mut **conn)
    .await?
        > 0;
    if let Some(signed) = signature_target(tag) {
        sqlx::query!(
            "update manifest set signed = true where repository_id = $1 and digest = $2
               and exists(select 1 from tag where repository_id = $1 and name = $3)",
            repository_id,
            signed,
            tag
        )
        .execute(&mut **conn)
        .await?;
    }
    Ok(changed)
}

/// Who removed a tag and how, for its history.
#[derive(Debug, Clone, Copy)]
pub struct Removal<'a> {
    /// `delete` (an event or a user here), `reconcile`.
    pub source: &'a str,
    pub actor: Option<&'a str>,
}

/// Removes a manifest and every tag pointing at it (what a registry DELETE by digest does),
/// each removal written to its tag's history. Returns the names of the removed tags.
pub async fn remove_digest(
    conn: &mut Change<'_>,
    repository_id: i64,
    digest: &str,
    by: Removal<'_>,
) -> AppResult<Vec<String>> {
    let tags = sqlx::query_scalar!(
        r#"with gone as (delete from tag where repository_id = $1 and digest = $2 returning name, digest),
           moved as (insert into tag_event (repository, tag, previous_digest, actor, source)
                     select (select name from repository where repository_id = $1), name, digest, $3, $4 from gone)
           select name as "name!" from gone"#,
        repository_id,
        digest,
        by.actor,
        by.source
    )
    .fetch_all(&mut **conn)
    .await?;
    sqlx::query!("delete from manifest where repository_id = $1 and digest = $2", repository_id, digest)
        .execute(&mut **conn)
        .await?;
    unsign(conn, repository_id, &tags).await?;
    Ok(tags)
}

/// Removes one tag (its manifest stays while other tags point at it). With `unless_since`,
/// a tag written at or after that time stays (see [`upsert_tag`]).
pub async fn remove_tag(
    conn: &mut Change<'_>,
    repository_id: i64,
    tag: &str,
    unless_since: Option<chrono::DateTime<chrono::Utc>>,
    by: Removal<'_>,
) -> AppResult<bool> {
    let gone = sqlx::query_scalar!(
        r#"with gone as (delete from tag where repository_id = $1 and name = $2
                           and ($3::timestamptz is null or updated_at < $3) returning name, digest),
           moved as (insert into tag_event (repository, tag, previous_digest, actor, source)
                     select (select name from repository where repository_id = $1), name, digest, $4, $5 from gone)
           select count(*) as "n!" from gone"#,
        repository_id,
        tag,
        unless_since as _,
        by.actor,
        by.source
    )
    .fetch_one(&mut **conn)
    .await?
        > 0;
    if !gone {
        return Ok(false);
    }
    unsign(conn, repository_id, &[tag.to_string()]).await?;
    Ok(gone)
}

async fn unsign(conn: &mut Change<'_>, repository_id: i64, tags: &[String]) -> AppResult<()> {
    for t in tags {
        if let Some(d) = signature_target(t) {
            sqlx::query!(
                "update manifest set signed = false where repository_id = $1 and digest = $2",
                repository_id,
                d
            )
            .execute(&mut **conn)
            .await?;
        }
    }
    Ok(())
}

/// What is recorded of a tag, for reconcile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownTag {
    pub digest: String,
    /// Whether its manifest is recorded in full (rows from before the manifest itself was
    /// kept are not, and are filled in; one left incomplete on purpose counts as full).
    pub complete: bool,
}

/// The tags recorded for the repository `name`, by tag name.
pub async fn known_tags(db: &sqlx::PgPool, name: &str) -> AppResult<std::collections::HashMap<String, KnownTag>> {
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
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.name, KnownTag { digest: r.digest, complete: r.complete })).collect())
}

/// Forgets the manifests of the repository `name` that no tag points at any more and no
/// index refers to.
pub async fn forget_orphan_manifests(c: &mut Change<'_>, name: &str) -> AppResult<()> {
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
    .execute(&mut **c)
    .await?;
    Ok(())
}

/// The advisory lock the event worker holds while it applies events to the store.
pub const WORKER_LOCK: &str = "portcullis.events";

/// Makes the transaction wait until the event worker is between batches, and keeps it from
/// starting one until the transaction ends. Taken first (before any row is touched) by
/// deletes that remove rows the worker may be removing too (the registry's own delete events
/// for the same images): otherwise the two could deadlock on those rows.
pub async fn exclude_worker(tx: &mut sqlx::PgConnection) -> AppResult<()> {
    sqlx::query!("select pg_advisory_xact_lock(hashtext($1))", WORKER_LOCK).execute(tx).await?;
    Ok(())
}

/// Whose repositories a removal takes with it.
#[derive(Debug, Clone, Copy)]
pub enum Holder {
    Namespace(i64),
    /// A user's personal namespace.
    PersonalOf(i64),
}

/// Prepares the removal of a namespace (or a user with theirs) in `tx`: waits until the event
/// worker is between batches and keeps it out until the transaction ends (its own deletes of
/// the same tags and manifests would deadlock with the cascade), then counts the repositories
/// that still hold images. Such a removal must be refused: the images stay in the registry. A
/// repository whose every image was deleted holds nothing; it goes with the namespace, and so
/// does the tag history of the namespace's repositories (kept by name, it would otherwise pass
/// to whoever makes a namespace of the same name next). A refused removal rolls the
/// transaction back, history included.
pub async fn before_removing(tx: &mut Change<'_>, holder: Holder) -> AppResult<i64> {
    exclude_worker(&mut *tx).await?;
    let (namespace_id, personal_of) = match holder {
        Holder::Namespace(id) => (Some(id), None),
        Holder::PersonalOf(user_id) => (None, Some(user_id)),
    };
    sqlx::query!(
        "delete from tag_event e using namespace n join team t using (team_id)
         where ($1::bigint is null or n.namespace_id = $1) and ($2::bigint is null or t.personal_user_id = $2)
           and left(e.repository, length(n.name) + 1) = n.name || '/'",
        namespace_id,
        personal_of
    )
    .execute(&mut **tx)
    .await?;
    Ok(sqlx::query_scalar!(
        r#"select count(*) as "n!" from repository r join namespace n using (namespace_id) join team t using (team_id)
           where ($1::bigint is null or r.namespace_id = $1) and ($2::bigint is null or t.personal_user_id = $2)
             and (exists(select 1 from tag g where g.repository_id = r.repository_id)
                  or exists(select 1 from manifest m where m.repository_id = r.repository_id))"#,
        namespace_id,
        personal_of
    )
    .fetch_one(&mut **tx)
    .await?)
}

/// Whether the manifest of `digest` is already recorded for the repository.
pub async fn has_manifest(conn: &mut PgConnection, repository_id: i64, digest: &str) -> AppResult<bool> {
    Ok(sqlx::query_scalar!(
        // Rows from before the manifest itself was kept count as missing, so reconcile fills
        // them in; one left incomplete on purpose (over a size limit) is as complete as it gets.
        r#"select exists(select 1 from manifest where repository_id = $1 and digest = $2
                         and manifest_json is not null
                         and (config is not null or config_digest is null or incomplete_reason is not null)) as "e!""#,
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
    fn the_config_summary_reads_each_field_on_its_own() {
        let config = json!({
            "created": "not a time",
            "config": {
                "Entrypoint": ["/bin/app"], "Cmd": "serve", "Env": ["PATH=/bin", 5], "User": "1000",
                "WorkingDir": "", "ExposedPorts": {"8080/tcp": {}}, "Labels": {"a": "b"}
            },
            "history": [{"created_by": "/bin/sh -c #(nop) ADD file", "empty_layer": false}, {"comment": "x", "empty_layer": true}]
        });
        assert_eq!(
            config_summary(&config),
            json!({
                "entrypoint": ["/bin/app"], "cmd": ["serve"], "env": ["PATH=/bin"], "user": "1000",
                "exposed_ports": ["8080/tcp"],
                "history": [
                    {"created": null, "created_by": "/bin/sh -c #(nop) ADD file", "comment": null, "empty_layer": false},
                    {"created": null, "created_by": null, "comment": "x", "empty_layer": true},
                ]
            })
        );
        assert_eq!(config_summary(&Value::Null), json!({}));
        assert_eq!(string_map(Some(&json!({"n": 5, "s": "t"}))), json!({"n": "5", "s": "t"}));
        assert_eq!(scrub(json!({"a\u{0}": ["b\u{0}c", 1]})), json!({"a": ["bc", 1]}));
    }

    #[test]
    fn cosign_signature_tags_name_their_digest() {
        let hex = "a".repeat(64);
        assert_eq!(signature_target(&format!("sha256-{hex}.sig")), Some(format!("sha256:{hex}")));
        assert_eq!(signature_target("sha256-abc.sig"), None);
        assert_eq!(signature_target("latest"), None);
    }
}

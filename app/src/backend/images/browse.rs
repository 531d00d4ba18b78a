//! Browsing images: repositories of a namespace, a repository's tags (filtered, sorted,
//! paged in the database), a tag's details, recent pushes, public images, search. Every
//! answer holds only what the principal may pull. What people change is in `manage`.

use serde_json::Value;

use crate::backend::access::principal::{check, Principal};
use crate::backend::org::namespaces::{self, NamespaceRef};
use crate::backend::org::namespaces::{namespaces_by_name, pullable_ids};
use crate::backend::AppState;
use crate::error::{AppError, AppResult};
use crate::model::{
    ImageConfig, NamespaceView, Page, PageRequest, RepositoryHead, RepositoryHistoryView, RepositoryTagsView,
    RepositoryView, TagDetail, TagView,
};
use crate::policy::{self, NamespaceFacts, GLOBAL};

fn platform_names(platforms: &Value) -> Vec<String> {
    platforms
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| {
                    let s = |k: &str| p[k].as_str().unwrap_or_default().to_string();
                    match p["variant"].as_str() {
                        Some(v) => format!("{}/{}/{v}", s("os"), s("architecture")),
                        None => format!("{}/{}", s("os"), s("architecture")),
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

fn pairs(v: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = v
        .as_object()
        .map(|m| {
            m.iter().map(|(k, v)| (k.clone(), v.as_str().map(String::from).unwrap_or_else(|| v.to_string()))).collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// What a repository is to the principal: its facts, for the policy.
pub(super) struct VisibleRepository {
    pub(super) id: i64,
    pub(super) name: String,
    pub(super) namespace_id: Option<i64>,
    pub(super) facts: NamespaceFacts,
}

pub(super) async fn visible_repository(state: &AppState, p: &Principal, name: &str) -> AppResult<VisibleRepository> {
    let not_found = || AppError::not_found("No such repository.");
    let row = sqlx::query!(
        "select r.repository_id, r.name, r.namespace_id, n.name as \"namespace?\" from repository r
         left join namespace n on n.namespace_id = r.namespace_id where r.name = $1",
        name
    )
    .fetch_optional(&state.db)
    .await?
    .ok_or_else(not_found)?;
    let facts = match &row.namespace {
        None => GLOBAL,
        Some(ns) => namespaces_by_name(&state.db, p.user.as_ref().map(|u| u.id), std::slice::from_ref(ns))
            .await?
            .pop()
            .map(|r| r.facts())
            .ok_or_else(not_found)?,
    };
    let s = state.access_settings.get(&state.db).await;
    if !p.may_see(row.namespace_id, &facts, &s) {
        return Err(not_found());
    }
    Ok(VisibleRepository { id: row.repository_id, name: row.name, namespace_id: row.namespace_id, facts })
}

/// The repositories `ids` as lists show them, in the order of `ids`.
pub(super) async fn repository_views(state: &AppState, ids: &[i64]) -> AppResult<Vec<RepositoryView>> {
    let mut views = sqlx::query_as!(
        RepositoryView,
        r#"select r.repository_id as id, r.name, n.name as "namespace?", r.description,
                  (select count(*) from tag t where t.repository_id = r.repository_id) as "tag_count!",
                  l.pushed_at as "last_push_at?: _", l.pushed_by as "last_pushed_by?",
                  (select m.size from manifest m where m.repository_id = r.repository_id and m.digest = l.digest) as "size?",
                  r.created_at as "created_at: _"
           from repository r
           left join namespace n on n.namespace_id = r.namespace_id
           left join lateral (select t.pushed_at, t.pushed_by, t.digest from tag t where t.repository_id = r.repository_id
                              order by t.pushed_at desc, t.tag_id desc limit 1) l on true
           where r.repository_id = any($1)"#,
        ids
    )
    .fetch_all(&state.db)
    .await?;
    views.sort_by_key(|r| ids.iter().position(|id| *id == r.id));
    Ok(views)
}

/// A page of the repositories of a namespace the principal may see, by name.
/// How many tags a namespace's repositories hold together (for its page's summary; one
/// index-only count per repository).
pub async fn namespace_tag_count(state: &AppState, namespace_id: i64) -> AppResult<i64> {
    Ok(sqlx::query_scalar!(
        r#"select count(*) as "n!" from tag t join repository r using (repository_id) where r.namespace_id = $1"#,
        namespace_id
    )
    .fetch_one(&state.db)
    .await?)
}

pub async fn repositories(
    state: &AppState,
    p: &Principal,
    ns: &NamespaceRef,
    req: PageRequest,
) -> AppResult<(NamespaceView, Page<RepositoryView>)> {
    let n = namespaces::get(state, p, ns).await?;
    let id = n.namespace.id;
    let total = sqlx::query_scalar!(r#"select count(*) as "n!" from repository where namespace_id = $1"#, id)
        .fetch_one(&state.db)
        .await?;
    let ids = sqlx::query_scalar!(
        "select repository_id from repository where namespace_id = $1 order by name limit $2 offset $3",
        id,
        req.limit(),
        req.offset()
    )
    .fetch_all(&state.db)
    .await?;
    let repos = repository_views(state, &ids).await?;
    Ok((n, req.of(repos, total)))
}

/// Filters and order of a repository's tag list.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TagQuery {
    /// Part of the tag name.
    pub name: String,
    /// `key=value` (or just `key`) of a label.
    pub label: String,
    /// `pushed` (newest first, the default) or `name`.
    pub sort: String,
    pub page: u32,
    pub per_page: u32,
}

/// The tags `ids` as lists show them, in the order of `ids`.
async fn tag_views(state: &AppState, ids: &[i64]) -> AppResult<Vec<TagView>> {
    let rows = sqlx::query!(
        r#"select t.tag_id, t.name, t.digest, t.pushed_by, t.pushed_at as "pushed_at: chrono::DateTime<chrono::Utc>",
                  t.last_pulled_at as "last_pulled_at: chrono::DateTime<chrono::Utc>",
                  m.media_type as "media_type?", m.size as "size?", m.platforms as "platforms?",
                  m.created as "created?: chrono::DateTime<chrono::Utc>", m.labels as "labels?", m.signed as "signed?",
                  array(select o.name from tag o where o.repository_id = t.repository_id and o.digest = t.digest
                        and o.tag_id <> t.tag_id order by o.name limit 20) as "shared!",
                  (select count(*) from tag o where o.repository_id = t.repository_id and o.digest = t.digest
                        and o.tag_id <> t.tag_id) as "shared_total!",
                  array(select o.name from manifest i join tag o on o.repository_id = i.repository_id and o.digest = i.digest
                        where i.repository_id = t.repository_id
                          and i.media_type in ('application/vnd.oci.image.index.v1+json',
                                               'application/vnd.docker.distribution.manifest.list.v2+json')
                          and i.platforms @> jsonb_build_array(jsonb_build_object('digest', t.digest))
                        order by o.name limit 20) as "in_indexes!"
           from tag t left join manifest m on m.repository_id = t.repository_id and m.digest = t.digest
           where t.tag_id = any($1)"#,
        ids
    )
    .fetch_all(&state.db)
    .await?;
    let mut items: Vec<TagView> = rows
        .into_iter()
        .map(|t| TagView {
            id: t.tag_id,
            name: t.name,
            digest: t.digest,
            media_type: t.media_type,
            size: t.size,
            platforms: t.platforms.as_ref().map(platform_names).unwrap_or_default(),
            created: t.created,
            pushed_by: t.pushed_by,
            pushed_at: t.pushed_at,
            last_pulled_at: t.last_pulled_at,
            labels: t.labels.as_ref().map(pairs).unwrap_or_default(),
            shared_with: t.shared,
            shared_total: t.shared_total,
            in_indexes: t.in_indexes,
            signed: t.signed.unwrap_or(false),
        })
        .collect();
    items.sort_by_key(|t| ids.iter().position(|id| *id == t.id));
    Ok(items)
}

fn label_filter(label: &str) -> Option<Value> {
    let label = label.trim();
    if label.is_empty() {
        return None;
    }
    Some(match label.split_once('=') {
        Some((k, v)) => serde_json::json!({ k.trim(): v.trim() }),
        None => serde_json::json!({ label: null }),
    })
}

pub async fn repository_page(
    state: &AppState,
    p: &Principal,
    name: &str,
    q: &TagQuery,
) -> AppResult<RepositoryTagsView> {
    crate::backend::bounded_query("name", &q.name)?;
    crate::backend::bounded_query("label", &q.label)?;
    let (r, head) = visible_head(state, p, name).await?;
    let per_page = q.per_page.clamp(1, 200);
    let mut page = q.page.max(1);
    let label = label_filter(&q.label);
    // A label given as a bare key matches any value: `labels ? key`.
    let (label_json, label_key) = match &label {
        Some(Value::Object(m)) if m.values().all(Value::is_null) => (None, m.keys().next().cloned()),
        other => (other.clone(), None),
    };
    let filtered = !q.name.trim().is_empty() || label.is_some();
    let total = if filtered {
        sqlx::query_scalar!(
            r#"select count(*) as "n!" from tag t
               where t.repository_id = $1 and ($2 = '' or t.name ilike '%' || $2 || '%')
                 and ($3::jsonb is null and $4::text is null
                      or t.digest in (select m.digest from manifest m where m.repository_id = $1
                                      and ($3::jsonb is null or m.labels @> $3) and ($4::text is null or m.labels ? $4)))"#,
            r.id,
            q.name.trim(),
            label_json,
            label_key
        )
        .fetch_one(&state.db)
        .await?
    } else {
        head.tag_count
    };
    // A page past the end (the tags went meanwhile) shows the last one.
    let last = u32::try_from((total.max(1) + i64::from(per_page) - 1) / i64::from(per_page)).unwrap_or(u32::MAX);
    page = page.min(last);
    // First the page's tag ids (an index walk in either order), then their details: the
    // per-tag work is done for one page, never for every tag of a large repository.
    let offset = i64::from(page - 1) * i64::from(per_page);
    let ids: Vec<i64> = if q.sort == "name" {
        sqlx::query_scalar!(
            r#"select t.tag_id from tag t
               where t.repository_id = $1 and ($2 = '' or t.name ilike '%' || $2 || '%')
                 and ($3::jsonb is null and $4::text is null
                      or t.digest in (select m.digest from manifest m where m.repository_id = $1
                                      and ($3::jsonb is null or m.labels @> $3) and ($4::text is null or m.labels ? $4)))
               order by t.name limit $5 offset $6"#,
            r.id,
            q.name.trim(),
            label_json,
            label_key,
            i64::from(per_page),
            offset
        )
        .fetch_all(&state.db)
        .await?
    } else {
        sqlx::query_scalar!(
            r#"select t.tag_id from tag t
               where t.repository_id = $1 and ($2 = '' or t.name ilike '%' || $2 || '%')
                 and ($3::jsonb is null and $4::text is null
                      or t.digest in (select m.digest from manifest m where m.repository_id = $1
                                      and ($3::jsonb is null or m.labels @> $3) and ($4::text is null or m.labels ? $4)))
               order by t.pushed_at desc, t.tag_id desc limit $5 offset $6"#,
            r.id,
            q.name.trim(),
            label_json,
            label_key,
            i64::from(per_page),
            offset
        )
        .fetch_all(&state.db)
        .await?
    };
    let items = tag_views(state, &ids).await?;
    let registry_host = state.settings.registry_host.clone();
    Ok(RepositoryTagsView { head, tags: Page { items, page, per_page, total: total as u64 }, registry_host })
}

/// A repository visible to `p`, as lists show it.
pub async fn repository(state: &AppState, p: &Principal, name: &str) -> AppResult<RepositoryView> {
    let r = visible_repository(state, p, name).await?;
    repository_views(state, &[r.id]).await?.pop().ok_or(AppError::Internal)
}

/// A repository visible to `p`, as its pages head it.
pub async fn repository_head(state: &AppState, p: &Principal, name: &str) -> AppResult<RepositoryHead> {
    Ok(visible_head(state, p, name).await?.1)
}

/// A repository for its settings page: refused to those who may change nothing there.
pub async fn repository_settings(state: &AppState, p: &Principal, name: &str) -> AppResult<RepositoryHead> {
    let (r, head) = visible_head(state, p, name).await?;
    let s = state.access_settings.get(&state.db).await;
    check(policy::can_change_repository(&p.actor(), &r.facts, &s, r.namespace_id.is_some()))?;
    Ok(head)
}

/// What the actor may do in a repository: its namespace's abilities, without a cleanup
/// policy of its own in the global namespace.
fn repository_abilities(
    actor: &policy::Actor,
    r: &VisibleRepository,
    s: &policy::AccessSettings,
) -> crate::model::RepositoryAbilities {
    let mut abilities: crate::model::RepositoryAbilities = policy::namespace_abilities(actor, &r.facts, s).into();
    abilities.cleanup &= r.namespace_id.is_some();
    abilities
}

async fn visible_head(state: &AppState, p: &Principal, name: &str) -> AppResult<(VisibleRepository, RepositoryHead)> {
    let r = visible_repository(state, p, name).await?;
    let v = repository_views(state, &[r.id]).await?.pop().ok_or(AppError::Internal)?;
    let s = state.access_settings.get(&state.db).await;
    let actor = p.actor();
    let head = RepositoryHead {
        name: v.name,
        namespace: v.namespace,
        description: v.description,
        tag_count: v.tag_count,
        abilities: repository_abilities(&actor, &r, &s),
    };
    Ok((r, head))
}

/// The repository's history page.
pub async fn repository_history(state: &AppState, p: &Principal, name: &str) -> AppResult<RepositoryHistoryView> {
    let (r, head) = visible_head(state, p, name).await?;
    let moves = super::history::of_repository(state, &r.name).await?;
    Ok(RepositoryHistoryView { head, moves })
}

/// One tag with its manifest's details.
pub async fn tag_detail(state: &AppState, p: &Principal, tag_id: i64) -> AppResult<TagDetail> {
    let not_found = || AppError::not_found("No such tag.");
    let repo = sqlx::query_scalar!(
        "select r.name from tag t join repository r using (repository_id) where t.tag_id = $1",
        tag_id
    )
    .fetch_optional(&state.db)
    .await?
    .ok_or_else(not_found)?;
    let r = visible_repository(state, p, &repo).await.map_err(|_| not_found())?;
    let row = sqlx::query!(
        r#"select t.name, t.digest, m.annotations as "annotations?", m.layers as "layers?", m.config_digest,
                  m.manifest_json, m.config, m.incomplete_reason,
                  m.platforms as "platforms?", m.media_type as "media_type?"
           from tag t left join manifest m on m.repository_id = t.repository_id and m.digest = t.digest
           where t.tag_id = $1"#,
        tag_id
    )
    .fetch_one(&state.db)
    .await?;
    let tag = tag_views(state, &[tag_id]).await?.pop().ok_or_else(not_found)?;
    let layers: Vec<(String, String, i64)> = row
        .layers
        .as_ref()
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|l| {
                    (
                        l["mediaType"].as_str().unwrap_or_default().to_string(),
                        l["digest"].as_str().unwrap_or_default().to_string(),
                        l["size"].as_i64().unwrap_or(0),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let is_index = row.media_type.as_deref().is_some_and(crate::backend::registry::client::is_index);
    let index_entries = if is_index {
        row.platforms
            .as_ref()
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .zip(platform_names(row.platforms.as_ref().unwrap_or(&Value::Null)))
                    .map(|(p, name)| (name, p["digest"].as_str().unwrap_or_default().to_string(), p["size"].as_i64()))
                    .collect()
            })
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let config = row.config.and_then(|c| serde_json::from_value::<ImageConfig>(c).ok()).map(|mut c| {
        // The steps that made a layer, in order, are the layers in order.
        let mut sizes = layers.iter().map(|l| l.2);
        for step in c.history.iter_mut().filter(|s| !s.empty_layer) {
            step.layer_size = sizes.next();
        }
        c
    });
    let manifest_json = row.manifest_json.map(|raw| match serde_json::from_str::<Value>(&raw) {
        Ok(v) => serde_json::to_string_pretty(&v).unwrap_or(raw),
        Err(_) => raw,
    });
    let s = state.access_settings.get(&state.db).await;
    let tag_name = tag.name.clone();
    Ok(TagDetail {
        repository: r.name.clone(),
        manifest_json,
        config,
        annotations: row.annotations.as_ref().map(pairs).unwrap_or_default(),
        layers,
        config_digest: row.config_digest,
        index_entries,
        incomplete_reason: row.incomplete_reason,
        can_delete: policy::can_delete(&p.actor(), &r.facts, &s).is_ok(),
        can_push: policy::can_push(&p.actor(), &r.facts, &s).is_ok(),
        registry_host: state.settings.registry_host.clone(),
        history: super::history::of_tag(state, &r.name, &tag_name).await?,
        tag,
        // Filled by `life::tag_detail`.
        life: Default::default(),
    })
}

/// Tags by id, in that order, each with its repository's name.
async fn tags_with_repository(state: &AppState, rows: Vec<(i64, String)>) -> AppResult<Vec<(String, TagView)>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    // A tag deleted between the two queries is simply left out.
    let views = tag_views(state, &ids).await?;
    Ok(views.into_iter().filter_map(|t| rows.iter().find(|r| r.0 == t.id).map(|r| (r.1.clone(), t))).collect())
}

/// The most recent pushes the principal may see.
pub async fn recent_pushes(state: &AppState, p: &Principal, limit: i64) -> AppResult<Vec<(String, TagView)>> {
    let (namespaces, global) = pullable_ids(state, p).await?;
    let rows = sqlx::query!(
        r#"select t.tag_id, r.name as repository from tag t join repository r using (repository_id)
           where (r.namespace_id is not null and ($1::bigint[] is null or r.namespace_id in (select unnest($1::bigint[])))) or (r.namespace_id is null and $2)
           order by t.pushed_at desc, t.tag_id desc limit $3"#,
        namespaces.as_deref(),
        global,
        limit
    )
    .fetch_all(&state.db)
    .await?;
    tags_with_repository(state, rows.into_iter().map(|r| (r.tag_id, r.repository)).collect()).await
}

/// A page of the repositories anyone may pull: public namespaces and the global one.
pub async fn explore(state: &AppState, req: PageRequest) -> AppResult<Page<RepositoryView>> {
    list_all(state, &Principal::anonymous(), req).await
}

/// What a search found.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SearchResults {
    pub namespaces: Vec<NamespaceView>,
    pub repositories: Vec<RepositoryView>,
    /// (repository, tag)
    pub tags: Vec<(String, TagView)>,
    /// This page (1-based), and whether a next one may find more.
    pub page: u32,
    pub more: bool,
    /// The tag the search named as a pull reference (`repository:tag`): the page goes there.
    #[serde(default)]
    pub named: Option<i64>,
}

/// Results of each kind a search page shows.
const SEARCH_PER_PAGE: i64 = 20;
/// The last page a search goes to (500 results of each kind).
const SEARCH_MAX_PAGE: u32 = 25;

/// Searches namespaces, repositories (name and description), tags by name and images by
/// their labels (a word of them, or `key=value`) through the trigram and label indexes,
/// keeping only what the principal may see; 20 of each kind a page.
pub async fn search(state: &AppState, p: &Principal, q: &str, page: u32) -> AppResult<SearchResults> {
    let q = crate::backend::bounded_query("q", q)?;
    let q = q.as_str();
    let page = page.clamp(1, SEARCH_MAX_PAGE);
    if q.is_empty() {
        return Ok(SearchResults { page, ..Default::default() });
    }
    let (per, offset) = (SEARCH_PER_PAGE, i64::from(page - 1) * SEARCH_PER_PAGE);
    let namespaces = namespaces::matching(state, p, q, PageRequest::new(Some(page), Some(per as u32))).await?;
    let (visible_ns, global) = pullable_ids(state, p).await?;
    // Names and descriptions containing the text; only when none does, names like it (a typo:
    // similarity recomputed for every name sharing a trigram, 180 ms on 100,000 names).
    // One or two characters are in most names: those are listed by name, walking the name
    // index until a page is found (ordering every match by similarity took 120 ms; with a
    // plan for the values, the constant first key drops out of the order).
    let short = q.chars().count() < 3;
    let mut ids = sqlx::query_scalar!(
        r#"select r.repository_id from repository r
           where ((r.namespace_id is not null and ($2::bigint[] is null or r.namespace_id in (select unnest($2::bigint[])))) or (r.namespace_id is null and $3))
             and (r.name ilike '%' || $1 || '%' or r.description ilike '%' || $1 || '%')
           order by case when $6 then 0 else similarity(r.name, $1) end desc, r.name limit $4 offset $5"#,
        q,
        visible_ns.as_deref(),
        global,
        per,
        offset,
        short
    )
    .fetch_all(&state.db)
    .await?;
    if ids.is_empty() && page == 1 && !short {
        ids = sqlx::query_scalar!(
            r#"select r.repository_id from repository r
               where ((r.namespace_id is not null and ($2::bigint[] is null or r.namespace_id in (select unnest($2::bigint[])))) or (r.namespace_id is null and $3)) and r.name % $1
               order by similarity(r.name, $1) desc, r.name limit 20"#,
            q,
            visible_ns.as_deref(),
            global
        )
        .fetch_all(&state.db)
        .await?;
    }
    let repositories = repository_views(state, &ids).await?;
    // `key=value` finds the images with that label (the labels' index); anything else, tags
    // by name and labels by text (the trigram indexes).
    let mut tags: Vec<(i64, String)> = match q.split_once('=') {
        // One or two characters say too little to look through every tag for a part of its
        // name (the trigram index needs three): tags of exactly that name (the same index
        // answers equality).
        _ if short => sqlx::query!(
            r#"select t.tag_id, r.name as repository from tag t join repository r using (repository_id)
               where ((r.namespace_id is not null and ($2::bigint[] is null or r.namespace_id in (select unnest($2::bigint[])))) or (r.namespace_id is null and $3)) and t.name = $1
               order by t.pushed_at desc, t.tag_id desc limit $4 offset $5"#,
            q,
            visible_ns.as_deref(),
            global,
            per,
            offset
        )
        .fetch_all(&state.db)
        .await?
        .into_iter()
        .map(|t| (t.tag_id, t.repository))
        .collect(),
        Some((key, value)) if !key.trim().is_empty() => {
            let label = serde_json::json!({ key.trim(): value.trim() });
            sqlx::query!(
                r#"select t.tag_id, r.name as repository from manifest m
                   join tag t on t.repository_id = m.repository_id and t.digest = m.digest
                   join repository r on r.repository_id = t.repository_id
                   where ((r.namespace_id is not null and ($2::bigint[] is null or r.namespace_id in (select unnest($2::bigint[])))) or (r.namespace_id is null and $3)) and m.labels @> $1
                   order by t.pushed_at desc, t.tag_id desc limit $4 offset $5"#,
                label,
                visible_ns.as_deref(),
                global,
                per,
                offset
            )
            .fetch_all(&state.db)
            .await?
            .into_iter()
            .map(|t| (t.tag_id, t.repository))
            .collect()
        }
        // A word: tags by name, and the images whose labels contain it (the first 500 such
        // images, newest tags first).
        _ => sqlx::query!(
            r#"select tag_id as "tag_id!", repository as "repository!" from (
                 (select t.tag_id, r.name as repository, t.pushed_at from tag t join repository r using (repository_id)
                  where ((r.namespace_id is not null and ($2::bigint[] is null or r.namespace_id in (select unnest($2::bigint[])))) or (r.namespace_id is null and $3)) and t.name ilike '%' || $1 || '%'
                  order by t.pushed_at desc, t.tag_id desc limit $4)
                 union
                 (select t.tag_id, r.name, t.pushed_at
                  from (select m.repository_id, m.digest from manifest m
                        where m.labels::text ilike '%' || $1 || '%' limit 500) m
                  join tag t on t.repository_id = m.repository_id and t.digest = m.digest
                  join repository r on r.repository_id = t.repository_id
                  where (r.namespace_id is not null and ($2::bigint[] is null or r.namespace_id in (select unnest($2::bigint[])))) or (r.namespace_id is null and $3)
                  order by t.pushed_at desc, t.tag_id desc limit $4)
               ) found order by pushed_at desc, tag_id desc limit $5 offset $6"#,
            q,
            visible_ns.as_deref(),
            global,
            offset + per,
            per,
            offset
        )
        .fetch_all(&state.db)
        .await?
        .into_iter()
        .map(|t| (t.tag_id, t.repository))
        .collect(),
    };
    let full = |n: usize| n as i64 == per;
    let more = page < SEARCH_MAX_PAGE && (full(namespaces.len()) || full(repositories.len()) || full(tags.len()));
    // `repository:tag` (a pull line's reference, with or without the registry's host) names
    // one tag: it comes first.
    let mut named_id = None;
    if page == 1 {
        if let Some(named) = named_tag(state, q, visible_ns.as_deref(), global).await? {
            named_id = Some(named.0);
            if !tags.contains(&named) {
                tags.insert(0, named);
            }
        }
    }
    let found = tags_with_repository(state, tags).await?;
    Ok(SearchResults { namespaces, repositories, tags: found, page, more, named: named_id })
}

/// The tag `q` names as `repository:tag`, optionally after a registry host (a first part
/// with a dot or a port, or `localhost`, as Docker reads it), if the principal may see it.
async fn named_tag(
    state: &AppState,
    q: &str,
    visible: Option<&[i64]>,
    global: bool,
) -> AppResult<Option<(i64, String)>> {
    let Some((repository, tag)) = q.rsplit_once(':') else { return Ok(None) };
    let repository = match repository.split_once('/') {
        Some((host, rest)) if host.contains(['.', ':']) || host == "localhost" => rest,
        _ => repository,
    };
    if repository.is_empty() || tag.is_empty() || tag.contains('/') {
        return Ok(None);
    }
    Ok(sqlx::query!(
        r#"select t.tag_id, r.name as repository from tag t join repository r using (repository_id)
           where r.name = $1 and t.name = $2
             and ((r.namespace_id is not null and ($3::bigint[] is null or r.namespace_id in (select unnest($3::bigint[])))) or (r.namespace_id is null and $4))"#,
        repository,
        tag,
        visible,
        global
    )
    .fetch_optional(&state.db)
    .await?
    .map(|t| (t.tag_id, t.repository)))
}

/// The name of repository `id` (whoever asks; callers then check visibility by name).
pub async fn name_of(state: &AppState, id: i64) -> AppResult<String> {
    sqlx::query_scalar!("select name from repository where repository_id = $1", id)
        .fetch_optional(&state.db)
        .await?
        .ok_or_else(|| AppError::not_found("No such repository."))
}

/// A page of every repository the principal may pull from, by name.
pub async fn list_all(state: &AppState, p: &Principal, req: PageRequest) -> AppResult<Page<RepositoryView>> {
    let (namespaces, global) = pullable_ids(state, p).await?;
    // Counted as two index ranges: the listed namespaces' (probed by id) and the global one's;
    // a scan of every repository testing each against the set took three times as long.
    let total = sqlx::query_scalar!(
        r#"select case when $1::bigint[] is null and $2 then (select count(*) from repository)
                       when $1::bigint[] is null then (select count(*) from repository where namespace_id is not null)
                       else (select count(*) from repository where namespace_id = any($1::bigint[]))
                            + (select count(*) from repository where namespace_id is null and $2) end as "n!""#,
        namespaces.as_deref(),
        global
    )
    .fetch_one(&state.db)
    .await?;
    let ids = sqlx::query_scalar!(
        "select repository_id from repository where (namespace_id is not null and ($1::bigint[] is null or namespace_id in (select unnest($1::bigint[])))) or (namespace_id is null and $2)
         order by name limit $3 offset $4",
        namespaces.as_deref(),
        global,
        req.limit(),
        req.offset()
    )
    .fetch_all(&state.db)
    .await?;
    Ok(req.of(repository_views(state, &ids).await?, total))
}

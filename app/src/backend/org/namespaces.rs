//! Namespaces: listing what the principal may see, creating, editing, changing visibility,
//! deleting. Every operation asks the policy and records the change in the activity log.

use super::teams::{self, TeamRef};
use crate::backend::access::principal::Principal;
use crate::backend::audit::{self, Target};
use crate::backend::images::store::Holder;
use crate::backend::AppState;
use crate::error::{AppError, AppResult, OnConstraint as _};
use sqlx::PgPool;

use crate::model::{validate_username, Namespace, NamespaceView, Page, PageRequest, TeamRole, Visibility};
use crate::policy::{self, AccessSettings, Actor};

/// Which namespace rows a query returns. Every field narrows; the default (every visibility
/// admitted) narrows nothing.
struct RowFilter<'a> {
    id: Option<i64>,
    names: Option<&'a [String]>,
    /// Visibilities admitted for anyone, and for members of the owning team only (the
    /// policy's pull filter).
    anyone: Vec<Visibility>,
    members: Vec<Visibility>,
    /// A credential's namespaces.
    only: Option<Vec<i64>>,
    team_id: Option<i64>,
    text: &'a str,
    member_only: bool,
}

impl Default for RowFilter<'_> {
    fn default() -> Self {
        Self {
            id: None,
            names: None,
            anyone: Visibility::ALL.to_vec(),
            members: Vec::new(),
            only: None,
            team_id: None,
            text: "",
            member_only: false,
        }
    }
}

/// Namespace rows with `user_id`'s role in each, by name: one query for every reader of the
/// `namespace` table's rows (lookups by id or name are then judged by the policy; lists are
/// filtered by it here).
async fn namespace_rows(
    db: &PgPool,
    user_id: Option<i64>,
    f: &RowFilter<'_>,
    limit: Option<i64>,
    offset: i64,
) -> AppResult<Vec<Namespace>> {
    Ok(sqlx::query_as!(
        Namespace,
        r#"with listed as (
             select n.namespace_id, n.name from namespace n
             where ($2::bigint is null or n.namespace_id = $2) and ($3::text[] is null or n.name = any($3))
               and (n.visibility = any($4::visibility[])
                    or (n.visibility = any($5::visibility[]) and n.team_id in (select team_id from team_member where user_id = $1)))
               and ($6::bigint[] is null or n.namespace_id = any($6)) and ($7::bigint is null or n.team_id = $7)
               and ($8 = '' or n.name ilike '%' || $8 || '%' or n.description ilike '%' || $8 || '%')
               and (not $9 or n.team_id in (select team_id from team_member where user_id = $1))
             order by n.name limit $10 offset $11)
           select n.namespace_id as id, n.name, n.description, n.visibility as "visibility: Visibility",
                  n.team_id, t.name as team_name, (t.personal_user_id is not null) as "is_personal!",
                  n.created_at as "created_at: _", m.role as "role?: TeamRole"
           from listed l
           join namespace n on n.namespace_id = l.namespace_id
           join team t on t.team_id = n.team_id
           left join team_member m on m.team_id = n.team_id and m.user_id = $1
           order by l.name"#,
        user_id,
        f.id,
        f.names,
        &f.anyone as &[Visibility],
        &f.members as &[Visibility],
        f.only.as_deref(),
        f.team_id,
        f.text,
        f.member_only,
        limit,
        offset
    )
    .fetch_all(db)
    .await?)
}

/// Namespaces by name, with `user_id`'s role in each.
pub async fn namespaces_by_name(db: &PgPool, user_id: Option<i64>, names: &[String]) -> AppResult<Vec<Namespace>> {
    namespace_rows(db, user_id, &RowFilter { names: Some(names), ..Default::default() }, None, 0).await
}

/// One namespace by id, with `user_id`'s role in it.
pub async fn namespace_by_id(db: &PgPool, user_id: Option<i64>, id: i64) -> AppResult<Option<Namespace>> {
    Ok(namespace_rows(db, user_id, &RowFilter { id: Some(id), ..Default::default() }, None, 0).await?.pop())
}

/// Which namespaces a list shows: those the principal may pull from (the policy's
/// [`crate::policy::pull_filter`], applied in the query), of one team or matching a text.
#[derive(Debug, Clone, Default)]
pub struct NamespaceQuery {
    pub team_id: Option<i64>,
    /// Part of the name or description; empty for all.
    pub text: String,
    /// Only namespaces whose team the principal belongs to.
    pub member_only: bool,
}

/// The ids of every namespace the principal may pull from (`None`: every one), and whether
/// the global namespace is one of them: for queries of repositories and tags, which filter
/// before they limit.
/// Those filter with `namespace_id in (select unnest($n::bigint[]))`, not `= any($n)`: a
/// generic plan tests `= any` against every element of the array for every row (170 ms to
/// count 30,000 repositories against 3,000 public namespaces), while the subquery is hashed
/// once (7 ms).
pub async fn pullable_ids(state: &AppState, p: &Principal) -> AppResult<(Option<Vec<i64>>, bool)> {
    let s = state.access_settings.get(&state.db).await;
    let f = crate::policy::pull_filter(&p.actor(), &s);
    let global = f.global && p.reaches(None);
    let only = p.restriction().and_then(|r| r.namespace_ids.as_deref());
    // Every visibility for anyone (an administrator): every namespace, without reading them.
    if only.is_none() && Visibility::ALL.iter().all(|v| f.anyone.contains(v)) {
        return Ok((None, global));
    }
    let row = sqlx::query!(
        r#"select coalesce(array_agg(n.namespace_id) filter (where v.visible), '{}') as "ids!",
                  count(*) filter (where not v.visible) as "hidden!"
           from namespace n
           left join team_member m on m.team_id = n.team_id and m.user_id = $1
           cross join lateral (select (n.visibility = any($2::visibility[])
                                       or (n.visibility = any($3::visibility[]) and m.role is not null))
                                      and ($4::bigint[] is null or n.namespace_id = any($4)) as visible) v"#,
        p.user.as_ref().map(|u| u.id),
        &f.anyone as &[Visibility],
        &f.members as &[Visibility],
        only
    )
    .fetch_one(&state.db)
    .await?;
    // Every namespace: no list to filter by.
    let ids = (row.hidden > 0).then_some(row.ids);
    Ok((ids, global))
}

/// The viewer and the rows a list of `q` shows them.
async fn row_filter<'a>(state: &AppState, p: &Principal, q: &'a NamespaceQuery) -> (Option<i64>, RowFilter<'a>) {
    let s = state.access_settings.get(&state.db).await;
    let f = crate::policy::pull_filter(&p.actor(), &s);
    let filter = RowFilter {
        anyone: f.anyone,
        members: f.members,
        only: p.restriction().and_then(|r| r.namespace_ids.clone()),
        team_id: q.team_id,
        text: &q.text,
        member_only: q.member_only,
        ..Default::default()
    };
    (p.user.as_ref().map(|u| u.id), filter)
}

/// A page of the namespaces the principal may pull from, by name.
pub async fn visible_namespaces(
    state: &AppState,
    p: &Principal,
    q: &NamespaceQuery,
    req: crate::model::PageRequest,
) -> AppResult<crate::model::Page<Namespace>> {
    let (viewer, filter) = row_filter(state, p, q).await;
    let total = sqlx::query_scalar!(
        r#"select count(*) as "n!" from namespace n
           where (n.visibility = any($2::visibility[])
                  or (n.visibility = any($3::visibility[]) and n.team_id in (select team_id from team_member where user_id = $1)))
             and ($4::bigint[] is null or n.namespace_id = any($4)) and ($5::bigint is null or n.team_id = $5)
             and ($6 = '' or n.name ilike '%' || $6 || '%' or n.description ilike '%' || $6 || '%')
             and (not $7 or n.team_id in (select team_id from team_member where user_id = $1))"#,
        viewer,
        &filter.anyone as &[Visibility],
        &filter.members as &[Visibility],
        filter.only.as_deref(),
        filter.team_id,
        filter.text,
        filter.member_only
    )
    .fetch_one(&state.db)
    .await?;
    let items = namespace_rows(&state.db, viewer, &filter, Some(req.limit()), req.offset()).await?;
    Ok(req.of(items, total))
}

/// A namespace named by id (REST API) or by name (pages).
#[derive(Debug, Clone)]
pub enum NamespaceRef {
    Id(i64),
    Name(String),
}

fn view(namespace: Namespace, actor: &Actor, s: &AccessSettings) -> NamespaceView {
    NamespaceView { abilities: policy::namespace_abilities(actor, &namespace.facts(), s), namespace }
}

/// A page of the namespaces the principal may pull from (and so see), by name; `text` keeps
/// those whose name or description contains it.
pub async fn list(state: &AppState, p: &Principal, text: &str, req: PageRequest) -> AppResult<Page<NamespaceView>> {
    let q = NamespaceQuery { text: crate::backend::bounded_query("q", text)?, ..Default::default() };
    views(state, p, &q, req).await
}

/// Like [`list`], without counting every match: search shows a page of each kind and asks
/// only whether a next one may find more.
pub async fn matching(state: &AppState, p: &Principal, text: &str, req: PageRequest) -> AppResult<Vec<NamespaceView>> {
    let q = NamespaceQuery { text: crate::backend::bounded_query("q", text)?, ..Default::default() };
    let (viewer, filter) = row_filter(state, p, &q).await;
    let rows = namespace_rows(&state.db, viewer, &filter, Some(req.limit()), req.offset()).await?;
    let (actor, s) = (p.actor(), state.access_settings.get(&state.db).await);
    Ok(rows.into_iter().map(|r| view(r, &actor, &s)).collect())
}

/// A page of the namespaces the principal belongs to (through their teams), by name.
pub async fn mine(state: &AppState, p: &Principal, req: PageRequest) -> AppResult<Page<NamespaceView>> {
    views(state, p, &NamespaceQuery { member_only: true, ..Default::default() }, req).await
}

/// A page of the namespaces of one team the principal may see.
pub async fn list_for_team(
    state: &AppState,
    p: &Principal,
    team: &TeamRef,
    req: PageRequest,
) -> AppResult<Page<NamespaceView>> {
    let t = teams::get(state, p, team).await?;
    views(state, p, &NamespaceQuery { team_id: Some(t.id), ..Default::default() }, req).await
}

async fn views(
    state: &AppState,
    p: &Principal,
    q: &NamespaceQuery,
    req: PageRequest,
) -> AppResult<Page<NamespaceView>> {
    let page = visible_namespaces(state, p, q, req).await?;
    let (actor, s) = (p.actor(), state.access_settings.get(&state.db).await);
    Ok(Page {
        items: page.items.into_iter().map(|r| view(r, &actor, &s)).collect(),
        page: page.page,
        per_page: page.per_page,
        total: page.total,
    })
}

/// One namespace with the settings it was judged under. One the principal may not see is
/// "not found", revealing nothing.
/// A namespace the principal may see (else "not found"), and the access settings.
pub async fn find(state: &AppState, p: &Principal, ns: &NamespaceRef) -> AppResult<(Namespace, AccessSettings)> {
    let s = state.access_settings.get(&state.db).await;
    let viewer = p.user.as_ref().map(|u| u.id);
    let row = match ns {
        NamespaceRef::Name(name) => namespaces_by_name(&state.db, viewer, std::slice::from_ref(name)).await?.pop(),
        NamespaceRef::Id(id) => namespace_by_id(&state.db, viewer, *id).await?,
    };
    match row {
        Some(r) if p.may_see(Some(r.id), &r.facts(), &s) => Ok((r, s)),
        _ => Err(AppError::not_found("No such namespace.")),
    }
}

pub async fn get(state: &AppState, p: &Principal, ns: &NamespaceRef) -> AppResult<NamespaceView> {
    let (row, s) = find(state, p, ns).await?;
    Ok(view(row, &p.actor(), &s))
}

/// Creates a namespace owned by `team`.
pub async fn create(
    state: &AppState,
    p: &Principal,
    team: &TeamRef,
    name: &str,
    visibility: Visibility,
    description: &str,
) -> AppResult<NamespaceView> {
    p.require_writer()?;
    let name = name.trim().to_string();
    validate_username(&name).map_err(|e| AppError::invalid("name", e))?;
    crate::backend::validate_description(description)?;
    let t = teams::get(state, p, team).await.map_err(|_| AppError::invalid("team", "no such team"))?;
    let s = state.access_settings.get(&state.db).await;
    let allowed = p.allowed(|a| policy::can_create_namespace(a, t.role, &s))?;
    if visibility != Visibility::Private {
        p.allowed(|a| policy::can_choose_visibility(a, t.role, &s))?;
    }
    let mut tx = allowed.begin(&state.db).await?;
    let id = sqlx::query_scalar!(
        "insert into namespace (name, team_id, visibility, description) values ($1, $2, $3, $4)
         returning namespace_id",
        name,
        t.id,
        visibility as Visibility,
        description.trim()
    )
    .fetch_one(&mut *tx)
    .await
    .on_constraint(&[("namespace_name_key", AppError::invalid("name", "is already taken"))])?;
    let details = serde_json::json!({ "team": t.name, "visibility": visibility.as_str() });
    audit::record(&mut tx, "namespace.create", Target::namespace(&name, id), details).await?;
    tx.commit().await?;
    get(state, p, &NamespaceRef::Id(id)).await
}

/// Changes visibility and description together (the REST API's update): everything is
/// checked before anything changes, so a request is applied whole or refused whole.
pub async fn change(
    state: &AppState,
    p: &Principal,
    ns: &NamespaceRef,
    visibility: Option<Visibility>,
    description: Option<&str>,
) -> AppResult<NamespaceView> {
    let (n, s) = find(state, p, ns).await?;
    if visibility.is_some() {
        p.allowed(|a| policy::can_change_visibility(a, &n.facts(), &s))?;
    }
    if let Some(d) = description {
        p.allowed(|a| policy::can_edit_namespace(a, &n.facts(), &s))?;
        crate::backend::validate_description(d)?;
    }
    let ns = NamespaceRef::Id(n.id);
    if let Some(v) = visibility {
        set_visibility(state, p, &ns, v).await?;
    }
    if let Some(d) = description {
        update(state, p, &ns, d).await?;
    }
    get(state, p, &ns).await
}

/// Changes who may pull from a namespace.
pub async fn set_visibility(
    state: &AppState,
    p: &Principal,
    ns: &NamespaceRef,
    visibility: Visibility,
) -> AppResult<NamespaceView> {
    let (n, s) = find(state, p, ns).await?;
    let allowed = p.allowed(|a| policy::can_change_visibility(a, &n.facts(), &s))?;
    if n.visibility != visibility {
        let mut tx = allowed.begin(&state.db).await?;
        sqlx::query!("update namespace set visibility = $2 where namespace_id = $1", n.id, visibility as Visibility)
            .execute(&mut *tx)
            .await?;
        let details = serde_json::json!({ "from": n.visibility.as_str(), "to": visibility.as_str() });
        audit::record(&mut tx, "namespace.visibility", Target::namespace(&n.name, n.id), details).await?;
        tx.commit().await?;
    }
    get(state, p, &NamespaceRef::Id(n.id)).await
}

/// Changes a namespace's description.
pub async fn update(state: &AppState, p: &Principal, ns: &NamespaceRef, description: &str) -> AppResult<NamespaceView> {
    let (n, s) = find(state, p, ns).await?;
    let allowed = p.allowed(|a| policy::can_edit_namespace(a, &n.facts(), &s))?;
    crate::backend::validate_description(description)?;
    let mut tx = allowed.begin(&state.db).await?;
    sqlx::query!("update namespace set description = $2 where namespace_id = $1", n.id, description.trim())
        .execute(&mut *tx)
        .await?;
    audit::record(&mut tx, "namespace.update", Target::namespace(&n.name, n.id), serde_json::json!({})).await?;
    tx.commit().await?;
    get(state, p, &NamespaceRef::Id(n.id)).await
}

/// Deletes a namespace (not a personal one).
pub async fn delete(state: &AppState, p: &Principal, ns: &NamespaceRef) -> AppResult<()> {
    let (n, _) = find(state, p, ns).await?;
    let allowed = p.allowed(|a| policy::can_delete_namespace(a, &n.facts()))?;
    let mut tx = allowed.begin(&state.db).await?;
    // Its images would stay in the registry, and a later namespace of the same name would
    // inherit them.
    let held = crate::backend::images::store::before_removing(&mut tx, Holder::Namespace(n.id)).await?;
    if held > 0 {
        return Err(AppError::Conflict(format!("This namespace still holds {held} repositories. Delete them first.")));
    }
    sqlx::query!("delete from namespace where namespace_id = $1", n.id).execute(&mut *tx).await?;
    let details = serde_json::json!({ "team": n.team_name });
    audit::record(
        &mut tx,
        "namespace.delete",
        Target { kind: "namespace", name: &n.name, namespace_id: None },
        details,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

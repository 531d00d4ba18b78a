//! Namespaces: listing what the principal may see, creating, editing, changing visibility,
//! deleting. Every operation asks the policy and records the change in the activity log.

use super::access::{
    check, namespace_by_id, namespaces_by_name, visible_namespaces, NamespaceQuery, NamespaceRow, Principal,
};
use super::audit::{self, Target};
use super::teams::{self, TeamRef};
use super::AppState;
use crate::error::{AppError, AppResult};
use crate::model::{validate_username, NamespaceView, Page, PageRequest, Visibility};
use crate::policy::{self, AccessSettings, Actor};

/// A namespace named by id (REST API) or by name (pages).
#[derive(Debug, Clone)]
pub enum NamespaceRef {
    Id(i64),
    Name(String),
}

fn view(row: NamespaceRow, actor: &Actor, s: &AccessSettings) -> NamespaceView {
    let abilities = policy::namespace_abilities(actor, &row.facts(), s);
    NamespaceView {
        id: row.id,
        name: row.name,
        description: row.description,
        visibility: row.visibility,
        team_id: row.team_id,
        team_name: row.team_name,
        is_personal: row.is_personal,
        created_at: row.created_at,
        role: row.role,
        abilities,
    }
}

/// A page of the namespaces the principal may pull from (and so see), by name; `text` keeps
/// those whose name or description contains it.
pub async fn list(state: &AppState, p: &Principal, text: &str, req: PageRequest) -> AppResult<Page<NamespaceView>> {
    let q = NamespaceQuery { text: super::admin::bounded_query("q", text)?, ..Default::default() };
    views(state, p, &q, req).await
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
    let (actor, s) = (p.actor(), state.access.get(&state.db).await);
    Ok(Page {
        items: page.items.into_iter().map(|r| view(r, &actor, &s)).collect(),
        page: page.page,
        per_page: page.per_page,
        total: page.total,
    })
}

/// One namespace with the settings it was judged under. One the principal may not see is
/// "not found", revealing nothing.
async fn find(state: &AppState, p: &Principal, ns: &NamespaceRef) -> AppResult<(NamespaceRow, AccessSettings)> {
    let s = state.access.get(&state.db).await;
    let viewer = p.user.as_ref().map(|u| u.id);
    let row = match ns {
        NamespaceRef::Name(name) => namespaces_by_name(&state.db, viewer, std::slice::from_ref(name)).await?.pop(),
        NamespaceRef::Id(id) => namespace_by_id(&state.db, viewer, *id).await?,
    };
    match row {
        Some(r) if p.reaches(Some(r.id)) && policy::can_pull(&p.actor(), &r.facts(), &s).is_ok() => Ok((r, s)),
        _ => Err(AppError::not_found("No such namespace.")),
    }
}

pub async fn get(state: &AppState, p: &Principal, ns: &NamespaceRef) -> AppResult<NamespaceView> {
    let (row, s) = find(state, p, ns).await?;
    Ok(view(row, &p.actor(), &s))
}

fn validate_description(description: &str) -> AppResult<()> {
    if description.chars().count() > 2000 {
        return Err(AppError::invalid("description", "must be at most 2000 characters"));
    }
    Ok(())
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
    let user = p.require_writer()?;
    let name = name.trim().to_string();
    validate_username(&name).map_err(|e| AppError::invalid("name", e))?;
    validate_description(description)?;
    let t = teams::get(state, p, team).await.map_err(|_| AppError::invalid("team", "no such team"))?;
    let s = state.access.get(&state.db).await;
    check(policy::can_create_namespace(&p.actor(), t.role, &s))?;
    if visibility != Visibility::Private {
        check(policy::can_choose_visibility(&p.actor(), t.role, &s))?;
    }
    let mut tx = state.db.begin().await?;
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
    .map_err(|e| match &e {
        sqlx::Error::Database(d) if d.constraint() == Some("namespace_name_key") => {
            AppError::invalid("name", "is already taken")
        }
        _ => e.into(),
    })?;
    let details = serde_json::json!({ "team": t.name, "visibility": visibility.as_str() });
    audit::record(&mut tx, Some(user), "namespace.create", Target::namespace(&name, id), details).await?;
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
    if visibility.is_some() || description.is_some() {
        p.require_writer()?;
    }
    if visibility.is_some() {
        check(policy::can_change_visibility(&p.actor(), &n.facts(), &s))?;
    }
    if let Some(d) = description {
        check(policy::can_edit_namespace(&p.actor(), &n.facts(), &s))?;
        validate_description(d)?;
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
    let user = p.require_writer()?;
    let (n, s) = find(state, p, ns).await?;
    check(policy::can_change_visibility(&p.actor(), &n.facts(), &s))?;
    if n.visibility != visibility {
        let mut tx = state.db.begin().await?;
        sqlx::query!("update namespace set visibility = $2 where namespace_id = $1", n.id, visibility as Visibility)
            .execute(&mut *tx)
            .await?;
        let details = serde_json::json!({ "from": n.visibility.as_str(), "to": visibility.as_str() });
        audit::record(&mut tx, Some(user), "namespace.visibility", Target::namespace(&n.name, n.id), details).await?;
        tx.commit().await?;
    }
    get(state, p, &NamespaceRef::Id(n.id)).await
}

/// Changes a namespace's description.
pub async fn update(state: &AppState, p: &Principal, ns: &NamespaceRef, description: &str) -> AppResult<NamespaceView> {
    let user = p.require_writer()?;
    let (n, s) = find(state, p, ns).await?;
    check(policy::can_edit_namespace(&p.actor(), &n.facts(), &s))?;
    validate_description(description)?;
    let mut tx = state.db.begin().await?;
    sqlx::query!("update namespace set description = $2 where namespace_id = $1", n.id, description.trim())
        .execute(&mut *tx)
        .await?;
    audit::record(&mut tx, Some(user), "namespace.update", Target::namespace(&n.name, n.id), serde_json::json!({}))
        .await?;
    tx.commit().await?;
    get(state, p, &NamespaceRef::Id(n.id)).await
}

/// Deletes a namespace (not a personal one).
pub async fn delete(state: &AppState, p: &Principal, ns: &NamespaceRef) -> AppResult<()> {
    let user = p.require_writer()?;
    let (n, _) = find(state, p, ns).await?;
    check(policy::can_delete_namespace(&p.actor(), &n.facts()))?;
    let mut tx = state.db.begin().await?;
    super::events::exclude_worker(&mut tx).await?;
    // Its images would stay in the registry, and a later namespace of the same name would
    // inherit them.
    // (A repository whose every image was deleted holds nothing; it goes with the namespace.)
    let held = sqlx::query_scalar!(
        r#"select count(*) as "n!" from repository r where r.namespace_id = $1
           and (exists(select 1 from tag t where t.repository_id = r.repository_id)
                or exists(select 1 from manifest m where m.repository_id = r.repository_id))"#,
        n.id
    )
    .fetch_one(&mut *tx)
    .await?;
    if held > 0 {
        return Err(AppError::Conflict(format!("This namespace still holds {held} repositories. Delete them first.")));
    }
    sqlx::query!("delete from namespace where namespace_id = $1", n.id).execute(&mut *tx).await?;
    let details = serde_json::json!({ "team": n.team_name });
    audit::record(
        &mut tx,
        Some(user),
        "namespace.delete",
        Target { kind: "namespace", name: &n.name, namespace_id: None },
        details,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

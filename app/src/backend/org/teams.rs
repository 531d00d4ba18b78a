//! Teams and their members. Every operation checks the policy for the principal, changes the
//! database and records the change in the activity log, in one transaction.
//!
//! Personal teams (one per user, owning their personal namespace) are hidden: they are not
//! listed, cannot be opened, and their membership cannot change.

use sqlx::PgPool;

use crate::backend::access::principal::Principal;
use crate::backend::audit::{self, Target};
use crate::backend::AppState;
use crate::error::{AppError, AppResult, OnConstraint as _};
use crate::model::{validate_username, Page, PageRequest, TeamMemberView, TeamRole, TeamView};
use crate::policy;

/// A team named by id (REST API) or by name (pages).
#[derive(Debug, Clone)]
pub enum TeamRef {
    Id(i64),
    Name(String),
}

/// Teams (never personal ones) as `viewer` sees them, by name: one of them (`team`), or those
/// the policy's team filter admits (`every`, or `as_member` of), a page at a time.
async fn team_rows(
    db: &PgPool,
    viewer: i64,
    team: Option<&TeamRef>,
    every: bool,
    as_member: bool,
    limit: Option<i64>,
    offset: i64,
) -> AppResult<Vec<TeamView>> {
    let (id, name) = match team {
        Some(TeamRef::Id(id)) => (Some(*id), None),
        Some(TeamRef::Name(n)) => (None, Some(n.as_str())),
        None => (None, None),
    };
    Ok(sqlx::query_as!(
        TeamView,
        r#"select t.team_id as id, t.name, t.description, t.created_at as "created_at: _",
                  (select count(*) from team_member m where m.team_id = t.team_id) as "member_count!",
                  (select count(*) from namespace n where n.team_id = t.team_id) as "namespace_count!",
                  (select role from team_member m where m.team_id = t.team_id and m.user_id = $1) as "role?: TeamRole"
           from team t
           where t.personal_user_id is null
             and ($2::bigint is null or t.team_id = $2) and ($3::text is null or t.name = $3)
             and ($4 or ($5 and exists(select 1 from team_member m where m.team_id = t.team_id and m.user_id = $1)))
           order by t.name limit $6 offset $7"#,
        viewer,
        id,
        name,
        every,
        as_member,
        limit,
        offset
    )
    .fetch_all(db)
    .await?)
}

/// The team, if the principal may see it. A team they may not see is "not found", so that
/// team names are not revealed to outsiders.
pub async fn get(state: &AppState, p: &Principal, team: &TeamRef) -> AppResult<TeamView> {
    let viewer = p.require_user()?;
    let found = team_rows(&state.db, viewer.id, Some(team), true, true, None, 0).await?.pop();
    match found {
        Some(t) if policy::can_view_team(&p.actor(), t.role).is_ok() => Ok(t),
        _ => Err(AppError::not_found("No such team.")),
    }
}

/// A page of the teams the principal may see (an administrator sees all), by name. Which
/// teams those are is the policy's answer (`sees_every_team`), applied in the query.
pub async fn list(state: &AppState, p: &Principal, req: PageRequest) -> AppResult<Page<TeamView>> {
    let viewer = p.require_user()?;
    let actor = p.actor();
    let every = policy::sees_every_team(&actor);
    let as_member = policy::can_view_team(&actor, Some(TeamRole::Viewer)).is_ok();
    let total = sqlx::query_scalar!(
        r#"select count(*) as "n!" from team t
           where t.personal_user_id is null
             and ($2 or ($3 and exists(select 1 from team_member m where m.team_id = t.team_id and m.user_id = $1)))"#,
        viewer.id,
        every,
        as_member
    )
    .fetch_one(&state.db)
    .await?;
    let items = team_rows(&state.db, viewer.id, None, every, as_member, Some(req.limit()), req.offset()).await?;
    Ok(req.of(items, total))
}

/// Creates a team owned by the principal.
pub async fn create(state: &AppState, p: &Principal, name: &str, description: &str) -> AppResult<TeamView> {
    let settings = state.access_settings.get(&state.db).await;
    let allowed = p.allowed(|a| policy::can_create_team(a, &settings))?;
    let user = allowed.user();
    let name = name.trim();
    validate_username(name).map_err(|e| AppError::invalid("name", e))?;
    crate::backend::validate_description(description)?;
    let mut tx = allowed.begin(&state.db).await?;
    let id = sqlx::query_scalar!(
        "insert into team (name, description) values ($1, $2) returning team_id",
        name,
        description.trim()
    )
    .fetch_one(&mut *tx)
    .await
    .on_constraint(&[("team_name_key", AppError::invalid("name", "is already taken by another team"))])?;
    sqlx::query!("insert into team_member (team_id, user_id, role) values ($1, $2, 'owner')", id, user.id)
        .execute(&mut *tx)
        .await?;
    audit::record(&mut tx, "team.create", Target::team(name), serde_json::json!({})).await?;
    tx.commit().await?;
    get(state, p, &TeamRef::Id(id)).await
}

/// Changes a team's description.
pub async fn update(state: &AppState, p: &Principal, team: &TeamRef, description: &str) -> AppResult<TeamView> {
    let t = get(state, p, team).await?;
    let allowed = p.allowed(|a| policy::can_manage_team(a, t.role))?;
    crate::backend::validate_description(description)?;
    let mut tx = allowed.begin(&state.db).await?;
    sqlx::query!("update team set description = $2 where team_id = $1", t.id, description.trim())
        .execute(&mut *tx)
        .await?;
    audit::record(&mut tx, "team.update", Target::team(&t.name), serde_json::json!({})).await?;
    tx.commit().await?;
    get(state, p, &TeamRef::Id(t.id)).await
}

/// Deletes a team that owns no namespaces.
pub async fn delete(state: &AppState, p: &Principal, team: &TeamRef) -> AppResult<()> {
    let t = get(state, p, team).await?;
    let allowed = p.allowed(|a| policy::can_manage_team(a, t.role))?;
    if t.namespace_count > 0 {
        return Err(AppError::Conflict(format!(
            "Team {} still owns {} namespace(s). Move or delete them first.",
            t.name, t.namespace_count
        )));
    }
    let mut tx = allowed.begin(&state.db).await?;
    sqlx::query!("delete from team where team_id = $1", t.id).execute(&mut *tx).await?;
    audit::record(&mut tx, "team.delete", Target::team(&t.name), serde_json::json!({})).await?;
    tx.commit().await?;
    Ok(())
}

/// A page of the members of a team, owners first.
pub async fn members(
    state: &AppState,
    p: &Principal,
    team: &TeamRef,
    req: PageRequest,
) -> AppResult<Page<TeamMemberView>> {
    let t = get(state, p, team).await?;
    let items = sqlx::query_as!(
        TeamMemberView,
        r#"select u.user_id, u.username, u.display_name, u.is_bot, m.role as "role: TeamRole", m.created_at as "since: _",
                  m.synced
           from team_member m join "user" u on u.user_id = m.user_id
           where m.team_id = $1 order by m.role desc, u.username limit $2 offset $3"#,
        t.id,
        req.limit(),
        req.offset()
    )
    .fetch_all(&state.db)
    .await?;
    Ok(req.of(items, t.member_count))
}

async fn member(db: &PgPool, team_id: i64, user_id: i64) -> AppResult<TeamMemberView> {
    sqlx::query_as!(
        TeamMemberView,
        r#"select u.user_id, u.username, u.display_name, u.is_bot, m.role as "role: TeamRole", m.created_at as "since: _",
                  m.synced
           from team_member m join "user" u on u.user_id = m.user_id
           where m.team_id = $1 and m.user_id = $2"#,
        team_id,
        user_id
    )
    .fetch_optional(db)
    .await?
    .ok_or_else(|| AppError::not_found("This user is not a member of the team."))
}

/// Adds a user to a team with a role.
pub async fn add_member(
    state: &AppState,
    p: &Principal,
    team: &TeamRef,
    username: &str,
    role: TeamRole,
) -> AppResult<TeamMemberView> {
    let t = get(state, p, team).await?;
    let allowed = p.allowed(|a| policy::can_manage_team(a, t.role))?;
    let username = username.trim().to_ascii_lowercase();
    let member = crate::backend::access::users::find_by_username(&state.db, &username)
        .await?
        .ok_or_else(|| AppError::invalid("username", "no user has this name"))?;
    let mut tx = allowed.begin(&state.db).await?;
    sqlx::query!(
        "insert into team_member (team_id, user_id, role) values ($1, $2, $3)",
        t.id,
        member.id,
        role as TeamRole
    )
    .execute(&mut *tx)
    .await
    .on_constraint(&[("team_member_pkey", AppError::invalid("username", "is already a member of this team"))])?;
    let details = serde_json::json!({ "member": member.username, "role": role.as_str() });
    audit::record(&mut tx, "team.member.add", Target::team(&t.name), details).await?;
    tx.commit().await?;
    self::member(&state.db, t.id, member.id).await
}

/// Fails when the change would leave the team without an owner. The team's row is locked
/// until the transaction ends, so two requests that each remove one of the last two owners
/// are decided one after the other.
pub(crate) async fn keep_an_owner(tx: &mut sqlx::PgConnection, team_id: i64, user_id: i64) -> AppResult<()> {
    sqlx::query!("select team_id from team where team_id = $1 for update", team_id).fetch_optional(&mut *tx).await?;
    let other_owners = sqlx::query_scalar!(
        r#"select count(*) as "n!" from team_member where team_id = $1 and role = 'owner' and user_id <> $2"#,
        team_id,
        user_id
    )
    .fetch_one(tx)
    .await?;
    if other_owners == 0 {
        return Err(AppError::Conflict("A team needs at least one owner: make someone else owner first.".into()));
    }
    Ok(())
}

async fn current_role(db: &PgPool, team_id: i64, user_id: i64) -> AppResult<(String, TeamRole)> {
    let row = sqlx::query!(
        r#"select u.username, m.role as "role: TeamRole" from team_member m join "user" u using (user_id)
           where m.team_id = $1 and m.user_id = $2"#,
        team_id,
        user_id
    )
    .fetch_optional(db)
    .await?
    .ok_or_else(|| AppError::not_found("This user is not a member of the team."))?;
    Ok((row.username, row.role))
}

/// Changes a member's role.
pub async fn set_role(state: &AppState, p: &Principal, team: &TeamRef, user_id: i64, role: TeamRole) -> AppResult<()> {
    let t = get(state, p, team).await?;
    let allowed = p.allowed(|a| policy::can_manage_team(a, t.role))?;
    let (username, before) = current_role(&state.db, t.id, user_id).await?;
    let mut tx = allowed.begin(&state.db).await?;
    if before == TeamRole::Owner && role != TeamRole::Owner {
        keep_an_owner(&mut tx, t.id, user_id).await?;
    }
    sqlx::query!(
        // Changed by hand, the membership is the team's own from now on: no sync undoes it.
        "update team_member set role = $3, synced = false where team_id = $1 and user_id = $2",
        t.id,
        user_id,
        role as TeamRole
    )
    .execute(&mut *tx)
    .await?;
    let details = serde_json::json!({ "member": username, "from": before.as_str(), "to": role.as_str() });
    audit::record(&mut tx, "team.member.role", Target::team(&t.name), details).await?;
    tx.commit().await?;
    Ok(())
}

/// Removes a member from a team.
pub async fn remove_member(state: &AppState, p: &Principal, team: &TeamRef, user_id: i64) -> AppResult<()> {
    let t = get(state, p, team).await?;
    let allowed = p.allowed(|a| policy::can_manage_team(a, t.role))?;
    let (username, before) = current_role(&state.db, t.id, user_id).await?;
    let mut tx = allowed.begin(&state.db).await?;
    if before == TeamRole::Owner {
        keep_an_owner(&mut tx, t.id, user_id).await?;
    }
    sqlx::query!("delete from team_member where team_id = $1 and user_id = $2", t.id, user_id)
        .execute(&mut *tx)
        .await?;
    let details = serde_json::json!({ "member": username, "role": before.as_str() });
    audit::record(&mut tx, "team.member.remove", Target::team(&t.name), details).await?;
    tx.commit().await?;
    Ok(())
}

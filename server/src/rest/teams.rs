//! The REST API v1: teams and their members: `/api/v1/teams…`.

use app::backend::org::{
    namespaces,
    teams::{self, TeamRef},
};
use app::backend::AppState;
use app::model::{NamespaceView, TeamMemberView, TeamRole, TeamView};
use axum::{
    extract::State,
    http::{StatusCode, Uri},
    Json,
};
use serde::Deserialize;

use super::{ApiAuth, ApiJson, ApiPath, ApiQuery, ApiResult, PageQuery, Paged};

use super::{created, Created};

pub async fn list_teams(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiQuery(page): ApiQuery<PageQuery>,
    uri: Uri,
) -> ApiResult<Paged<TeamView>> {
    Ok(Paged { page: teams::list(&state, &p, page.request()?).await?, uri })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTeamBody {
    name: String,
    #[serde(default)]
    description: String,
}

pub async fn create_team(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(b): ApiJson<NewTeamBody>,
) -> ApiResult<Created<TeamView>> {
    Ok(created(teams::create(&state, &p, &b.name, &b.description).await?))
}

pub async fn get_team(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<TeamView>> {
    Ok(Json(teams::get(&state, &p, &TeamRef::Id(id)).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamChangeBody {
    description: String,
}

pub async fn update_team(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<TeamChangeBody>,
) -> ApiResult<Json<TeamView>> {
    Ok(Json(teams::update(&state, &p, &TeamRef::Id(id), &b.description).await?))
}

pub async fn delete_team(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    teams::delete(&state, &p, &TeamRef::Id(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list_members(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(page): ApiQuery<PageQuery>,
    uri: Uri,
) -> ApiResult<Paged<TeamMemberView>> {
    Ok(Paged { page: teams::members(&state, &p, &TeamRef::Id(id), page.request()?).await?, uri })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMemberBody {
    username: String,
    role: TeamRole,
}

pub async fn add_member(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<NewMemberBody>,
) -> ApiResult<Created<TeamMemberView>> {
    Ok(created(teams::add_member(&state, &p, &TeamRef::Id(id), &b.username, b.role).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    role: TeamRole,
}

pub async fn set_member_role(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiPath((id, user_id)): ApiPath<(i64, i64)>,
    ApiJson(b): ApiJson<RoleBody>,
) -> ApiResult<StatusCode> {
    teams::set_role(&state, &p, &TeamRef::Id(id), user_id, b.role).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn remove_member(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiPath((id, user_id)): ApiPath<(i64, i64)>,
) -> ApiResult<StatusCode> {
    teams::remove_member(&state, &p, &TeamRef::Id(id), user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn team_namespaces(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(page): ApiQuery<PageQuery>,
    uri: Uri,
) -> ApiResult<Paged<NamespaceView>> {
    Ok(Paged { page: namespaces::list_for_team(&state, &p, &TeamRef::Id(id), page.request()?).await?, uri })
}

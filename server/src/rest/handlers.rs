//! The REST API v1 handlers, one per operation, each a thin call into `app::backend`.

use app::backend::access::{
    access_tokens::{self as tokens, NewToken},
    accounts::{self as admin, AccountRequest, UserChange},
    groups, recovery,
};
use app::backend::directory::{
    namespaces::{self, NamespaceRef},
    teams::{self, TeamRef},
};
use app::backend::images::browse::{self, TagQuery};
use app::backend::images::manage;
use app::backend::AppState;
use app::error::AppError;
use app::model::{
    AccessTokenView, CreatedToken, GroupMappingView, NamespaceView, Page, RepositoryView, TagDetail, TagView,
    TeamMemberView, TeamRole, TeamView, UserView, Visibility,
};
use axum::{
    extract::State,
    http::{StatusCode, Uri},
    Json,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{ApiAuth, ApiJson, ApiPath, ApiQuery, ApiResult, PageQuery, Paged};

type Created<T> = (StatusCode, Json<T>);

fn created<T>(value: T) -> Created<T> {
    (StatusCode::CREATED, Json(value))
}

// --- users -----------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUserBody {
    username: String,
    password: Option<String>,
    email: Option<String>,
    display_name: Option<String>,
    #[serde(default)]
    admin: bool,
    #[serde(default)]
    bot: bool,
}

impl From<NewUserBody> for AccountRequest {
    fn from(b: NewUserBody) -> Self {
        AccountRequest {
            username: b.username,
            password: b.password,
            email: b.email,
            display_name: b.display_name,
            is_admin: b.admin,
            is_bot: b.bot,
        }
    }
}

#[derive(Serialize)]
pub struct Bootstrapped {
    user: UserView,
    token: CreatedToken,
}

/// Creates the first administrator and an access token for them; refused once anyone exists.
pub async fn bootstrap(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NewUserBody>,
) -> ApiResult<Created<Bootstrapped>> {
    let user = admin::bootstrap(&state, body.into()).await?;
    let new = NewToken { name: "bootstrap".into(), ..Default::default() };
    let token = tokens::insert(&state.db, &user, Some(&user), "bootstrap", None, &new).await?;
    let view = app::backend::access::users::view(&state.db, user.id).await?.ok_or(AppError::Internal)?;
    Ok(created(Bootstrapped { user: view, token }))
}

#[derive(Deserialize, Default)]
pub struct TextQuery {
    #[serde(default)]
    q: String,
}

pub async fn list_users(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiQuery(page): ApiQuery<PageQuery>,
    ApiQuery(text): ApiQuery<TextQuery>,
    uri: Uri,
) -> ApiResult<Paged<UserView>> {
    Ok(Paged { page: admin::list_users(&state, &p, &text.q, page.request()?).await?, uri })
}

pub async fn create_user(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(body): ApiJson<NewUserBody>,
) -> ApiResult<Created<UserView>> {
    Ok(created(admin::create_user(&state, &p, body.into()).await?))
}

pub async fn get_user(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<UserView>> {
    Ok(Json(admin::get_user(&state, &p, id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserChangeBody {
    display_name: Option<String>,
    email: Option<String>,
    admin: Option<bool>,
    enabled: Option<bool>,
}

pub async fn update_user(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<UserChangeBody>,
) -> ApiResult<Json<UserView>> {
    let change = UserChange { display_name: b.display_name, email: b.email, is_admin: b.admin, is_enabled: b.enabled };
    Ok(Json(admin::update_user(&state, &p, id, change).await?))
}

pub async fn delete_user(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    admin::delete_user(&state, &p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPasswordBody {
    password: String,
}

/// An administrator sets a user's password; the user's sessions and refresh tokens end.
pub async fn set_user_password(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<NewPasswordBody>,
) -> ApiResult<StatusCode> {
    recovery::set_by_admin(&state, &p, id, b.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An administrator mails a user a password reset link.
pub async fn send_password_reset(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<serde_json::Value>> {
    let to = recovery::send_for_admin(&state, &p, id, &state.settings.public_url).await?;
    Ok(Json(serde_json::json!({ "sent_to": to })))
}

// --- directory group mappings ----------------------------------------------------------------

/// The group mappings, a page at a time (there are few: they are read whole and paged here).
pub async fn list_group_mappings(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiQuery(page): ApiQuery<PageQuery>,
    uri: Uri,
) -> ApiResult<Paged<GroupMappingView>> {
    let req = page.request()?;
    let all = groups::list(&state, &p).await?;
    let total = all.len() as i64;
    let items = all.into_iter().skip(req.offset().max(0) as usize).take(req.limit().max(0) as usize).collect();
    Ok(Paged { page: req.of(items, total), uri })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewGroupMappingBody {
    group: String,
    team: Option<String>,
    role: Option<TeamRole>,
    admin: Option<bool>,
    source: Option<String>,
    match_by: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupMappingSourceBody {
    source: String,
    match_by: Option<String>,
}

pub async fn create_group_mapping(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(b): ApiJson<NewGroupMappingBody>,
) -> ApiResult<(StatusCode, Json<GroupMappingView>)> {
    let new = groups::NewMapping {
        group: b.group,
        team: b.team.unwrap_or_default(),
        role: b.role.unwrap_or(TeamRole::Contributor),
        grants_admin: b.admin.unwrap_or(false),
        source: b.source,
        match_by: b.match_by,
    };
    Ok((StatusCode::CREATED, Json(groups::add(&state, &p, new).await?)))
}

/// Says where a mapping's group comes from (and, for the directory, how it is named).
pub async fn set_group_mapping_source(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<GroupMappingSourceBody>,
) -> ApiResult<Json<GroupMappingView>> {
    Ok(Json(groups::set_source(&state, &p, id, &b.source, b.match_by.as_deref()).await?))
}

pub async fn delete_group_mapping(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    groups::delete(&state, &p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// --- application tokens ----------------------------------------------------------------------

pub async fn list_tokens(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiPath(user_id): ApiPath<i64>,
    ApiQuery(page): ApiQuery<PageQuery>,
    uri: Uri,
) -> ApiResult<Paged<AccessTokenView>> {
    Ok(Paged { page: tokens::list(&state, &p, user_id, page.request()?).await?, uri })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTokenBody {
    name: String,
    #[serde(default)]
    namespaces: Vec<String>,
    #[serde(default)]
    pull_only: bool,
    expires_at: Option<DateTime<Utc>>,
}

pub async fn create_token(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiPath(user_id): ApiPath<i64>,
    ApiJson(b): ApiJson<NewTokenBody>,
) -> ApiResult<Created<CreatedToken>> {
    let new = NewToken { name: b.name, namespaces: b.namespaces, pull_only: b.pull_only, expires_at: b.expires_at };
    Ok(created(tokens::create(&state, &p, user_id, new).await?))
}

pub async fn revoke_token(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<AccessTokenView>> {
    Ok(Json(tokens::revoke(&state, &p, id).await?))
}

// --- teams -----------------------------------------------------------------------------------

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

// --- namespaces ------------------------------------------------------------------------------

pub async fn list_namespaces(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiQuery(page): ApiQuery<PageQuery>,
    ApiQuery(text): ApiQuery<TextQuery>,
    uri: Uri,
) -> ApiResult<Paged<NamespaceView>> {
    Ok(Paged { page: namespaces::list(&state, &p, &text.q, page.request()?).await?, uri })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewNamespaceBody {
    name: String,
    /// The owning team, by id or by name.
    team_id: Option<i64>,
    team: Option<String>,
    #[serde(default = "private")]
    visibility: Visibility,
    #[serde(default)]
    description: String,
}

fn private() -> Visibility {
    Visibility::Private
}

pub async fn create_namespace(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(b): ApiJson<NewNamespaceBody>,
) -> ApiResult<Created<NamespaceView>> {
    let team = match (b.team_id, b.team) {
        (Some(id), _) => TeamRef::Id(id),
        (None, Some(name)) => TeamRef::Name(name),
        (None, None) => return Err(AppError::invalid("team", "give the owning team as team_id or team").into()),
    };
    Ok(created(namespaces::create(&state, &p, &team, &b.name, b.visibility, &b.description).await?))
}

pub async fn get_namespace(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<NamespaceView>> {
    Ok(Json(namespaces::get(&state, &p, &NamespaceRef::Id(id)).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamespaceChangeBody {
    description: Option<String>,
    visibility: Option<Visibility>,
}

pub async fn update_namespace(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<NamespaceChangeBody>,
) -> ApiResult<Json<NamespaceView>> {
    let ns = NamespaceRef::Id(id);
    Ok(Json(namespaces::change(&state, &p, &ns, b.visibility, b.description.as_deref()).await?))
}

pub async fn delete_namespace(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    namespaces::delete(&state, &p, &NamespaceRef::Id(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

// --- activity ---------------------------------------------------------------------------------

#[derive(Deserialize)]
pub struct ActivityQuery {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    target: String,
}

/// The activity log as CSV (administrators), with the filters of the activity page.
pub async fn activity_csv(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiQuery(q): ApiQuery<ActivityQuery>,
) -> ApiResult<impl axum::response::IntoResponse> {
    use app::backend::audit;
    p.require_user()?;
    p.require_admin()?;
    let filter = audit::Filter { actor: q.actor, action: q.action, target: q.target, namespace_id: None };
    let headers = [
        (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8"),
        (axum::http::header::CONTENT_DISPOSITION, "attachment; filename=\"portcullis-activity.csv\""),
    ];
    Ok((headers, axum::body::Body::from_stream(audit::csv_stream(state.db.clone(), filter))))
}

// --- repositories and tags -------------------------------------------------------------------

pub async fn namespace_repositories(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(page): ApiQuery<PageQuery>,
    uri: Uri,
) -> ApiResult<Paged<RepositoryView>> {
    Ok(Paged { page: browse::repositories(&state, &p, &NamespaceRef::Id(id), page.request()?).await?.1, uri })
}

pub async fn list_repositories(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiQuery(page): ApiQuery<PageQuery>,
    uri: Uri,
) -> ApiResult<Paged<RepositoryView>> {
    Ok(Paged { page: browse::list_all(&state, &p, page.request()?).await?, uri })
}

pub async fn get_repository(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<RepositoryView>> {
    let name = browse::name_of(&state, id).await?;
    Ok(Json(browse::repository(&state, &p, &name).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepositoryChangeBody {
    description: String,
}

pub async fn update_repository(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<RepositoryChangeBody>,
) -> ApiResult<Json<RepositoryView>> {
    let name = browse::name_of(&state, id).await?;
    Ok(Json(manage::update_repository(&state, &p, &name, &b.description).await?))
}

pub async fn delete_repository(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    let name = browse::name_of(&state, id).await?;
    manage::delete_repository(&state, &p, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Default)]
pub struct TagListQuery {
    #[serde(default)]
    name: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    sort: String,
    page: Option<u32>,
    per_page: Option<u32>,
}

pub async fn list_tags(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<TagListQuery>,
) -> ApiResult<Json<Page<TagView>>> {
    PageQuery { page: q.page, per_page: q.per_page }.request()?;
    if !["", "pushed", "name"].contains(&q.sort.as_str()) {
        return Err(AppError::BadRequest("sort must be pushed or name".into()).into());
    }
    let name = browse::name_of(&state, id).await?;
    let q = TagQuery {
        name: q.name,
        label: q.label,
        sort: q.sort,
        page: q.page.unwrap_or(1),
        per_page: q.per_page.unwrap_or(50),
    };
    Ok(Json(browse::repository_page(&state, &p, &name, &q).await?.tags))
}

/// The latest moves of a repository's tags.
pub async fn repository_history(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<app::model::TagMove>>> {
    let name = browse::name_of(&state, id).await?;
    Ok(Json(browse::repository_history(&state, &p, &name).await?.moves))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestoreBody {
    tag: String,
    digest: String,
}

/// Puts an earlier image back under a tag.
pub async fn restore_tag(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<RestoreBody>,
) -> ApiResult<Json<Value>> {
    let name = browse::name_of(&state, id).await?;
    let previous = app::backend::images::manage::restore_tag(&state, &p, &name, &b.tag, &b.digest).await?;
    Ok(Json(json!({ "previous": previous })))
}

pub async fn get_tag(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<TagDetail>> {
    Ok(Json(browse::tag_detail(&state, &p, id).await?))
}

#[derive(Deserialize, Default)]
pub struct DeleteTagQuery {
    /// The digest the caller means to delete: refused (409) when the tag points elsewhere.
    digest: Option<String>,
}

/// Deletes the tag's manifest: every tag sharing its digest goes too (listed in the answer).
pub async fn delete_tag(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<DeleteTagQuery>,
) -> ApiResult<Json<Value>> {
    let removed = manage::delete_tag(&state, &p, id, q.digest.as_deref()).await?;
    Ok(Json(json!({ "deleted_tags": removed })))
}

//! The REST API v1: users, their passwords, the directory's and providers' group mappings, and application
//! tokens: `/api/v1/users…`, `/api/v1/group_mappings…`.

use app::backend::access::{
    access_tokens::{self as tokens, NewToken},
    accounts::{self as admin, AccountRequest, UserChange},
    groups, recovery,
};
use app::backend::AppState;
use app::error::AppError;
use app::model::{AccessTokenView, CreatedToken, GroupMappingView, TeamRole, UserView};
use axum::{
    extract::State,
    http::{StatusCode, Uri},
    Json,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ApiAuth, ApiJson, ApiPath, ApiQuery, ApiResult, PageQuery, Paged};

use super::{created, Created, TextQuery};

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
    // The new administrator makes their own first token.
    let me = app::backend::access::principal::Principal::user(user.clone());
    let allowed = me.allowed(|a| app::policy::can_manage_tokens_of(a, user.id))?;
    let token = tokens::insert(allowed.begin(&state.db).await?, &state.db, &user, "bootstrap", None, &new).await?;
    let view = app::backend::access::users::view(&state.db, user.id).await?.ok_or(AppError::Internal)?;
    Ok(created(Bootstrapped { user: view, token }))
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

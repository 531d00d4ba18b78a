//! The REST API v1: namespaces: `/api/v1/namespaces…`.

use app::backend::org::{
    namespaces::{self, NamespaceRef},
    teams::TeamRef,
};
use app::backend::AppState;
use app::error::AppError;
use app::model::{NamespaceView, Visibility};
use axum::{
    extract::State,
    http::{StatusCode, Uri},
    Json,
};
use serde::Deserialize;

use super::{ApiAuth, ApiJson, ApiPath, ApiQuery, ApiResult, PageQuery, Paged};

use super::TextQuery;
use super::{created, Created};

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

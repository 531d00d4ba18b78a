//! The REST API v1: repositories and tags: `/api/v1/repositories…`, `/api/v1/tags…`.

use app::backend::images::browse::{self, TagQuery};
use app::backend::images::manage;
use app::backend::org::namespaces::NamespaceRef;
use app::backend::AppState;
use app::error::AppError;
use app::model::{Page, RepositoryView, TagDetail, TagView};
use axum::{
    extract::State,
    http::{StatusCode, Uri},
    Json,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{ApiAuth, ApiJson, ApiPath, ApiQuery, ApiResult, PageQuery, Paged};

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
    Ok(Json(app::backend::images::life::tag_detail(&state, &p, id).await?))
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

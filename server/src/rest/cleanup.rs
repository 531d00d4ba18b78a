//! `/api/v1/namespaces/{id}/cleanup` and `/api/v1/repositories/{id}/cleanup`: a cleanup
//! policy (owners), its dry run and a run now.

use app::backend::images::browse;
use app::backend::images::cleanup::{self, SetOn};
use app::backend::org::namespaces::NamespaceRef;
use app::backend::AppState;
use app::error::AppError;
use app::model::{CleanupPolicyView, CleanupReport, CleanupRules};
use axum::{extract::State, http::StatusCode, Json};
use serde::Deserialize;

use super::{ApiAuth, ApiJson, ApiPath, ApiResult};

/// A policy as the API takes it: unknown fields are refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesBody {
    keep_last: Option<i32>,
    keep_days: Option<i32>,
    include_pattern: Option<String>,
    keep_pattern: Option<String>,
    schedule: Option<String>,
    delete_untagged: Option<bool>,
    enabled: Option<bool>,
}

impl From<RulesBody> for CleanupRules {
    fn from(b: RulesBody) -> Self {
        CleanupRules {
            keep_last: b.keep_last,
            keep_days: b.keep_days,
            include_pattern: b.include_pattern.unwrap_or_else(|| ".*".into()),
            keep_pattern: b.keep_pattern.unwrap_or_default(),
            schedule: b.schedule.unwrap_or_default(),
            delete_untagged: b.delete_untagged.unwrap_or(false),
            enabled: b.enabled.unwrap_or(true),
        }
    }
}

async fn namespace(_state: &AppState, id: i64) -> ApiResult<SetOn> {
    Ok(SetOn::Namespace(NamespaceRef::Id(id)))
}

async fn repository(state: &AppState, id: i64) -> ApiResult<SetOn> {
    Ok(SetOn::Repository(browse::name_of(state, id).await?))
}

async fn get(
    state: &AppState,
    p: &app::backend::access::principal::Principal,
    on: SetOn,
) -> ApiResult<Json<CleanupPolicyView>> {
    match cleanup::get(state, p, &on).await? {
        Some(v) => Ok(Json(v)),
        None => Err(AppError::not_found("No cleanup policy is set here.").into()),
    }
}

macro_rules! cleanup_handlers {
    ($set_on:ident, $get:ident, $put:ident, $delete:ident, $preview:ident, $run:ident) => {
        pub async fn $get(
            State(state): State<AppState>,
            ApiAuth(p): ApiAuth,
            ApiPath(id): ApiPath<i64>,
        ) -> ApiResult<Json<CleanupPolicyView>> {
            get(&state, &p, $set_on(&state, id).await?).await
        }

        pub async fn $put(
            State(state): State<AppState>,
            ApiAuth(p): ApiAuth,
            ApiPath(id): ApiPath<i64>,
            ApiJson(b): ApiJson<RulesBody>,
        ) -> ApiResult<Json<CleanupPolicyView>> {
            Ok(Json(cleanup::set(&state, &p, &$set_on(&state, id).await?, b.into()).await?))
        }

        pub async fn $delete(
            State(state): State<AppState>,
            ApiAuth(p): ApiAuth,
            ApiPath(id): ApiPath<i64>,
        ) -> ApiResult<StatusCode> {
            cleanup::remove(&state, &p, &$set_on(&state, id).await?).await?;
            Ok(StatusCode::NO_CONTENT)
        }

        pub async fn $preview(
            State(state): State<AppState>,
            ApiAuth(p): ApiAuth,
            ApiPath(id): ApiPath<i64>,
        ) -> ApiResult<Json<CleanupReport>> {
            Ok(Json(cleanup::run(&state, &p, &$set_on(&state, id).await?, true).await?))
        }

        pub async fn $run(
            State(state): State<AppState>,
            ApiAuth(p): ApiAuth,
            ApiPath(id): ApiPath<i64>,
        ) -> ApiResult<Json<CleanupReport>> {
            Ok(Json(cleanup::run(&state, &p, &$set_on(&state, id).await?, false).await?))
        }
    };
}

cleanup_handlers!(namespace, namespace_get, namespace_put, namespace_delete, namespace_preview, namespace_run);
cleanup_handlers!(repository, repository_get, repository_put, repository_delete, repository_preview, repository_run);

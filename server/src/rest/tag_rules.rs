//! `/api/v1/namespaces/{id}/tag_rules`: the tag rules the manifest gate holds a namespace's
//! tags to (immutable and protected tags). Listed by whoever sees the namespace, changed by its owners.

use app::backend::gate::rules;
use app::backend::org::namespaces::NamespaceRef;
use app::backend::AppState;
use app::model::{TagRuleInput, TagRuleView};
use axum::{extract::State, http::StatusCode, Json};
use serde::Deserialize;

use super::{created, ApiAuth, ApiJson, ApiPath, ApiResult, Created};

/// A new rule as the API takes it: unknown fields are refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTagRule {
    repositories: Option<String>,
    tags: String,
    kind: Option<String>,
    push_role: Option<String>,
    delete_role: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<TagRuleView>>> {
    Ok(Json(rules::list(&state, &p, &NamespaceRef::Id(id)).await?))
}

pub async fn add(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<NewTagRule>,
) -> ApiResult<Created<TagRuleView>> {
    let input = TagRuleInput {
        repositories: b.repositories.unwrap_or_default(),
        tags: b.tags,
        kind: b.kind.unwrap_or_default(),
        push_role: b.push_role.unwrap_or_default(),
        delete_role: b.delete_role.unwrap_or_default(),
    };
    Ok(created(rules::add(&state, &p, &NamespaceRef::Id(id), input).await?))
}

pub async fn remove(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiPath((id, rule_id)): ApiPath<(i64, i64)>,
) -> ApiResult<StatusCode> {
    rules::remove(&state, &p, &NamespaceRef::Id(id), rule_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

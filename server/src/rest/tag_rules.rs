//! What the manifest gate holds images to: `/api/v1/namespaces/{id}/tag_rules`, a namespace's
//! tag rules (immutable and protected tags), listed by whoever sees the namespace and changed by
//! its owners; `/api/v1/namespaces/{id}/quota`, its storage quota and usage, read by whoever
//! sees it and set by administrators; `/api/v1/namespaces/{id}/signature_policy` and
//! `.../trusted_keys`, whether pulls need a signature and the keys that sign (owners); and
//! `/api/v1/read_only`, the site's read-only mode.

use app::backend::gate::{rules, signing};
use app::backend::org::namespaces::NamespaceRef;
use app::backend::org::settings;
use app::backend::AppState;
use app::model::{
    DefaultQuota, QuotaView, ReadOnlyMode, SignaturePolicyView, TagRuleInput, TagRuleView, TrustedKeyView,
};
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

/// `/api/v1/read_only`: read-only mode, for the script that runs the registry's garbage
/// collection (switch on, collect, switch off). Read by anyone signed in; switched by
/// administrators.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadOnlyChange {
    enabled: bool,
    message: Option<String>,
}

pub async fn read_only(State(state): State<AppState>, ApiAuth(p): ApiAuth) -> ApiResult<Json<ReadOnlyMode>> {
    p.require_user()?;
    Ok(Json(settings::read_only(&state).await))
}

pub async fn set_read_only(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(b): ApiJson<ReadOnlyChange>,
) -> ApiResult<Json<ReadOnlyMode>> {
    let mode = ReadOnlyMode { enabled: b.enabled, message: b.message.unwrap_or_default() };
    Ok(Json(settings::set_read_only(&state, &p, mode).await?))
}

/// A namespace's quota as the API sets it: bytes, or null for the site's default.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaChange {
    /// Required, though it may be null (a body of `{}` is refused, not read as "the default").
    #[serde(deserialize_with = "present")]
    limit_bytes: Option<i64>,
}

/// A field that must be given, as a value or as null.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Option::deserialize(d)
}

pub async fn quota(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<QuotaView>> {
    Ok(Json(app::backend::gate::quota::get(&state, &p, &NamespaceRef::Id(id)).await?))
}

pub async fn set_quota(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<QuotaChange>,
) -> ApiResult<Json<QuotaView>> {
    Ok(Json(app::backend::gate::quota::set(&state, &p, &NamespaceRef::Id(id), b.limit_bytes).await?))
}

/// A namespace's signature requirement as the API sets it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureRequirement {
    required: bool,
}

/// A public key to trust, as the API takes it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTrustedKey {
    name: String,
    public_key: String,
}

pub async fn signature_policy(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<SignaturePolicyView>> {
    Ok(Json(signing::get(&state, &p, &NamespaceRef::Id(id)).await?))
}

pub async fn set_signature_policy(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<SignatureRequirement>,
) -> ApiResult<Json<SignaturePolicyView>> {
    Ok(Json(signing::set_required(&state, &p, &NamespaceRef::Id(id), b.required).await?))
}

pub async fn add_trusted_key(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<NewTrustedKey>,
) -> ApiResult<Created<TrustedKeyView>> {
    Ok(created(signing::add_key(&state, &p, &NamespaceRef::Id(id), &b.name, &b.public_key).await?))
}

pub async fn remove_trusted_key(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiPath((id, key_id)): ApiPath<(i64, i64)>,
) -> ApiResult<StatusCode> {
    signing::remove_key(&state, &p, &NamespaceRef::Id(id), key_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `/api/v1/default_quota`: the storage quota of a namespace without one of its own. Read by
/// anyone signed in; set by administrators (`limit_bytes`: bytes, 0 for none, null for the
/// configuration's `default_quota_bytes`).
pub async fn default_quota(State(state): State<AppState>, ApiAuth(p): ApiAuth) -> ApiResult<Json<DefaultQuota>> {
    p.require_user()?;
    Ok(Json(settings::default_quota(&state).await))
}

pub async fn set_default_quota(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(b): ApiJson<QuotaChange>,
) -> ApiResult<Json<DefaultQuota>> {
    Ok(Json(settings::set_default_quota(&state, &p, b.limit_bytes).await?))
}

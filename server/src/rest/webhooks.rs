//! `/api/v1/…/webhooks`: a namespace's webhooks (its owners), the site-wide ones
//! (administrators), their deliveries, a test event and a redelivery.

use std::collections::BTreeMap;

use app::backend::org::namespaces::NamespaceRef;
use app::backend::webhooks::{self, NewWebhook};
use app::backend::AppState;
use app::model::{CreatedWebhook, WebhookDelivery, WebhookView};
use axum::{extract::State, http::StatusCode, Json};
use serde::Deserialize;

use super::{ApiAuth, ApiJson, ApiPath, ApiResult};

/// A new webhook: `headers` is an object of header names and values.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWebhookBody {
    name: String,
    url: String,
    events: Vec<String>,
    format: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    secret: Option<String>,
}

impl From<NewWebhookBody> for NewWebhook {
    fn from(b: NewWebhookBody) -> Self {
        NewWebhook {
            name: b.name,
            url: b.url,
            events: b.events,
            format: b.format,
            headers: b.headers.into_iter().collect(),
            secret: b.secret,
        }
    }
}

/// A change to a webhook: turn it on or off, and/or edit it (the fields not given stay; its
/// secret and headers only change when new ones are given).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookChangeBody {
    enabled: Option<bool>,
    name: Option<String>,
    url: Option<String>,
    events: Option<Vec<String>>,
    format: Option<String>,
    headers: Option<BTreeMap<String, String>>,
    secret: Option<String>,
}

pub async fn list_for_namespace(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<WebhookView>>> {
    Ok(Json(webhooks::list(&state, &p, Some(&NamespaceRef::Id(id))).await?))
}

pub async fn create_for_namespace(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<NewWebhookBody>,
) -> ApiResult<(StatusCode, Json<CreatedWebhook>)> {
    Ok((StatusCode::CREATED, Json(webhooks::create(&state, &p, Some(&NamespaceRef::Id(id)), b.into()).await?)))
}

pub async fn list_site_wide(State(state): State<AppState>, ApiAuth(p): ApiAuth) -> ApiResult<Json<Vec<WebhookView>>> {
    Ok(Json(webhooks::list(&state, &p, None).await?))
}

pub async fn create_site_wide(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiJson(b): ApiJson<NewWebhookBody>,
) -> ApiResult<(StatusCode, Json<CreatedWebhook>)> {
    Ok((StatusCode::CREATED, Json(webhooks::create(&state, &p, None, b.into()).await?)))
}

pub async fn get(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<WebhookView>> {
    Ok(Json(webhooks::get(&state, &p, id).await?))
}

pub async fn change(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<WebhookChangeBody>,
) -> ApiResult<Json<WebhookView>> {
    let edits = b.name.is_some()
        || b.url.is_some()
        || b.events.is_some()
        || b.format.is_some()
        || b.headers.is_some()
        || b.secret.is_some();
    if !edits && b.enabled.is_none() {
        return Err(app::error::AppError::invalid(
            "enabled",
            "say what changes: enabled, name, url, events, format, headers or secret",
        )
        .into());
    }
    let mut hook = webhooks::get(&state, &p, id).await?;
    if edits {
        let change = NewWebhook {
            name: b.name.unwrap_or(hook.name),
            url: b.url.unwrap_or(hook.url),
            events: b.events.unwrap_or(hook.events),
            format: b.format.or(Some(hook.format)),
            headers: b.headers.map(|h| h.into_iter().collect()).unwrap_or_default(),
            secret: b.secret,
        };
        hook = webhooks::update(&state, &p, id, change).await?;
    }
    if let Some(enabled) = b.enabled {
        hook = webhooks::set_enabled(&state, &p, id, enabled).await?;
    }
    Ok(Json(hook))
}

pub async fn delete(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    webhooks::delete(&state, &p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn deliveries(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<WebhookDelivery>>> {
    Ok(Json(webhooks::deliveries(&state, &p, id).await?))
}

pub async fn test(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<(StatusCode, Json<WebhookDelivery>)> {
    Ok((StatusCode::ACCEPTED, Json(webhooks::send_test(&state, &p, id).await?)))
}

pub async fn redeliver(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<(StatusCode, Json<WebhookDelivery>)> {
    Ok((StatusCode::ACCEPTED, Json(webhooks::redeliver(&state, &p, id).await?)))
}

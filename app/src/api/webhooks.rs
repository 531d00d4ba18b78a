//! Webhooks, for the pages: a namespace's (its owners) or the site-wide ones (administrators),
//! a webhook's delivery log, a test event and a redelivery.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::model::{WebhookDelivery, WebhookView};

#[cfg(feature = "ssr")]
use crate::api::form;
#[cfg(feature = "ssr")]
use crate::backend::{org::namespaces::NamespaceRef, webhooks};

/// Where a webhook's page leads back to.
#[cfg(feature = "ssr")]
fn home_of(namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) => format!("/namespaces/{ns}?tab=webhooks"),
        None => "/admin/webhooks".to_string(),
    }
}

#[server(endpoint = "webhooks/list", output = crate::api::Json)]
pub async fn list_webhooks(namespace: Option<String>) -> Result<Vec<WebhookView>, AppError> {
    let (state, p) = form::principal().await?;
    let ns = namespace.filter(|n| !n.is_empty()).map(NamespaceRef::Name);
    webhooks::list(&state, &p, ns.as_ref()).await
}

/// Every namespace's webhooks, failing ones first (administrators).
#[server(endpoint = "webhooks/all", output = crate::api::Json)]
pub async fn list_namespace_webhooks() -> Result<Vec<WebhookView>, AppError> {
    let (state, p) = form::principal().await?;
    webhooks::list_all_namespaces(&state, &p).await
}

/// A new webhook from the form: one checkbox per event, at most one custom header.
#[server(endpoint = "webhooks/create", output = crate::api::Json)]
#[allow(clippy::too_many_arguments)]
pub async fn create_webhook(
    namespace: Option<String>,
    name: String,
    url: String,
    push: Option<String>,
    delete: Option<String>,
    pull: Option<String>,
    cleanup: Option<String>,
    quota: Option<String>,
    format: Option<String>,
    secret: String,
    header_name: Option<String>,
    header_value: Option<String>,
) -> Result<WebhookView, AppError> {
    let namespace = namespace.filter(|n| !n.is_empty());
    let back = home_of(namespace.as_deref());
    form::answer(Some(&back), |state, p| async move {
        let events =
            ticked([("push", &push), ("delete", &delete), ("pull", &pull), ("cleanup", &cleanup), ("quota", &quota)]);
        if secret.trim().is_empty() {
            return Err(AppError::invalid("secret", "the receiver checks signatures with it: 16 characters or more"));
        }
        let headers = match header_name.map(|h| h.trim().to_string()).filter(|h| !h.is_empty()) {
            Some(h) => vec![(h, header_value.unwrap_or_default())],
            None => Vec::new(),
        };
        let new = webhooks::NewWebhook { name, url, events, format, headers, secret: Some(secret) };
        let ns = namespace.map(NamespaceRef::Name);
        Ok(webhooks::create(&state, &p, ns.as_ref(), new).await?.webhook)
    })
    .await
}

/// The events whose checkboxes were ticked.
#[cfg(feature = "ssr")]
fn ticked(boxes: [(&str, &Option<String>); 5]) -> Vec<String> {
    boxes.into_iter().filter(|(_, v)| v.as_deref().is_some_and(|v| !v.is_empty())).map(|(e, _)| e.to_string()).collect()
}

/// An edited webhook from its page's form: the secret changes only when a new one is typed.
#[server(endpoint = "webhooks/update", output = crate::api::Json)]
#[allow(clippy::too_many_arguments)]
pub async fn update_webhook(
    id: i64,
    name: String,
    url: String,
    push: Option<String>,
    delete: Option<String>,
    pull: Option<String>,
    cleanup: Option<String>,
    quota: Option<String>,
    format: Option<String>,
    secret: Option<String>,
) -> Result<WebhookView, AppError> {
    form::answer(Some(&format!("/webhooks/{id}")), |state, p| async move {
        let events =
            ticked([("push", &push), ("delete", &delete), ("pull", &pull), ("cleanup", &cleanup), ("quota", &quota)]);
        let secret = secret.filter(|s| !s.trim().is_empty());
        let change = webhooks::NewWebhook { name, url, events, format, headers: Vec::new(), secret };
        webhooks::update(&state, &p, id, change).await
    })
    .await
}

#[server(endpoint = "webhooks/delete", output = crate::api::Json)]
pub async fn delete_webhook(id: i64, namespace: Option<String>) -> Result<(), AppError> {
    let back = home_of(namespace.as_deref().filter(|n| !n.is_empty()));
    form::answer(Some(&back), |state, p| async move { webhooks::delete(&state, &p, id).await }).await
}

#[server(endpoint = "webhooks/enable", output = crate::api::Json)]
pub async fn set_webhook_enabled(id: i64, enabled: bool) -> Result<WebhookView, AppError> {
    form::answer(Some(&format!("/webhooks/{id}")), |state, p| async move {
        webhooks::set_enabled(&state, &p, id, enabled).await
    })
    .await
}

#[server(endpoint = "webhooks/test", output = crate::api::Json)]
pub async fn test_webhook(id: i64) -> Result<WebhookDelivery, AppError> {
    form::answer(Some(&format!("/webhooks/{id}")), |state, p| async move { webhooks::send_test(&state, &p, id).await })
        .await
}

#[server(endpoint = "webhooks/redeliver", output = crate::api::Json)]
pub async fn redeliver(id: i64, webhook: i64) -> Result<WebhookDelivery, AppError> {
    form::answer(
        Some(&format!("/webhooks/{webhook}")),
        |state, p| async move { webhooks::redeliver(&state, &p, id).await },
    )
    .await
}

/// A webhook's page: the webhook and its newest deliveries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookPageData {
    pub webhook: WebhookView,
    pub deliveries: Vec<WebhookDelivery>,
}

#[server(endpoint = "webhooks/get", output = crate::api::Json)]
pub async fn get_webhook(id: i64) -> Result<WebhookPageData, AppError> {
    let (state, p) = form::principal().await?;
    Ok(WebhookPageData {
        webhook: webhooks::get(&state, &p, id).await?,
        deliveries: webhooks::deliveries(&state, &p, id).await?,
    })
}

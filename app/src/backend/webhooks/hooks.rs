//! A webhook's life, for its namespace's owners (or administrators, for a site-wide one):
//! creating, listing, turning on and off, deleting, its deliveries, a test event and a redelivery.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::backend::access::principal::{Allowed, Principal};
use crate::backend::audit::{self, Target};
use crate::backend::org::namespaces::{self, NamespaceRef};
use crate::backend::AppState;
use crate::error::{AppError, AppResult};
use crate::model::{CreatedWebhook, WebhookDelivery, WebhookView};
use crate::policy;

use super::*;

use super::targets::{check_new, logged_url};

/// Where a webhook belongs: a namespace, or the whole site (`None`); and the principal's
/// permission to manage the webhooks there.
async fn belonging<'a>(
    state: &AppState,
    p: &'a Principal,
    namespace: Option<&NamespaceRef>,
) -> AppResult<(Option<(i64, String)>, Allowed<'a>)> {
    match namespace {
        None => Ok((None, p.allowed(policy::can_administer)?)),
        Some(ns) => {
            let (n, _) = namespaces::find(state, p, ns).await?;
            let allowed = p.allowed(|a| policy::can_manage_webhooks(a, &n.facts()))?;
            Ok((Some((n.id, n.name)), allowed))
        }
    }
}

/// Creates a webhook (namespace owners, or administrators for a site-wide one). Its secret
/// is in the answer, this once.
pub async fn create(
    state: &AppState,
    p: &Principal,
    namespace: Option<&NamespaceRef>,
    new: NewWebhook,
) -> AppResult<CreatedWebhook> {
    let (belongs, allowed) = belonging(state, p, namespace).await?;
    let format = check_new(&new, state.settings.webhook_allow_private)?;
    let secret = match new.secret.clone().filter(|s| !s.is_empty()) {
        Some(s) => s,
        None => {
            use rand::RngCore as _;
            let mut bytes = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            hex::encode(bytes)
        }
    };
    let crypt = state.keys.crypt();
    let headers: serde_json::Map<String, Value> = new.headers.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    let names: Vec<String> = new.headers.iter().map(|(k, _)| k.clone()).collect();
    let mut tx = allowed.begin(&state.db).await?;
    let id = sqlx::query_scalar!(
        "insert into webhook (namespace_id, name, url, events, format, secret, headers, header_names, created_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning webhook_id",
        belongs.as_ref().map(|s| s.0),
        new.name.trim(),
        new.url.trim(),
        &new.events,
        format,
        crypt.seal(&secret)?,
        crypt.seal(&Value::Object(headers).to_string())?,
        &names,
        allowed.user().username
    )
    .fetch_one(&mut *tx)
    .await?;
    let target = Target { kind: "webhook", name: new.name.trim(), namespace_id: belongs.as_ref().map(|s| s.0) };
    audit::record(
        &mut tx,
        "webhook.create",
        target,
        json!({ "url": logged_url(new.url.trim()), "events": new.events }),
    )
    .await?;
    tx.commit().await?;
    Ok(CreatedWebhook { webhook: view(state, id).await?, secret })
}

/// Changes a webhook (whoever may manage it): its name, address, events and format; its
/// secret and custom headers only when new ones are given (they are never shown again).
pub async fn update(state: &AppState, p: &Principal, id: i64, change: NewWebhook) -> AppResult<WebhookView> {
    let (namespace_id, before, allowed) = managed(state, p, id).await?;
    let format = check_new(&change, state.settings.webhook_allow_private)?;
    let crypt = state.keys.crypt();
    let secret = change.secret.as_deref().filter(|s| !s.is_empty()).map(|s| crypt.seal(s)).transpose()?;
    let (headers, names) = if change.headers.is_empty() {
        (None, None)
    } else {
        let map: serde_json::Map<String, Value> = change.headers.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        let names: Vec<String> = change.headers.iter().map(|(k, _)| k.clone()).collect();
        (Some(crypt.seal(&Value::Object(map).to_string())?), Some(names))
    };
    let mut tx = allowed.begin(&state.db).await?;
    sqlx::query!(
        "update webhook set name = $2, url = $3, events = $4, format = $5, secret = coalesce($6, secret),
             headers = coalesce($7, headers), header_names = coalesce($8, header_names)
         where webhook_id = $1",
        id,
        change.name.trim(),
        change.url.trim(),
        &change.events,
        format,
        secret,
        headers,
        names.as_deref()
    )
    .execute(&mut *tx)
    .await?;
    let target = Target { kind: "webhook", name: change.name.trim(), namespace_id };
    let details = json!({ "name_before": before, "url": logged_url(change.url.trim()), "events": change.events,
                          "format": format, "secret_changed": secret.is_some(), "headers_changed": names.is_some() });
    audit::record(&mut tx, "webhook.update", target, details).await?;
    tx.commit().await?;
    view(state, id).await
}

/// The webhooks of a namespace (its owners), or the site-wide ones (administrators).
pub async fn list(state: &AppState, p: &Principal, namespace: Option<&NamespaceRef>) -> AppResult<Vec<WebhookView>> {
    let (belongs, _) = belonging(state, p, namespace).await?;
    let ids = sqlx::query_scalar!(
        "select webhook_id from webhook where namespace_id is not distinct from $1 order by webhook_id",
        belongs.map(|s| s.0)
    )
    .fetch_all(&state.db)
    .await?;
    let mut out = Vec::new();
    for id in ids {
        out.push(view(state, id).await?);
    }
    Ok(out)
}

/// Every namespace's webhooks, for administrators: the failing ones (their newest delivery
/// failed or waits for a retry) first, then by namespace and name. At most `LIMIT`.
pub async fn list_all_namespaces(state: &AppState, p: &Principal) -> AppResult<Vec<WebhookView>> {
    const LIMIT: i64 = 500;
    p.allowed(policy::can_administer)?;
    let ids = sqlx::query_scalar!(
        r#"select w.webhook_id from webhook w join namespace n using (namespace_id)
           order by n.name, w.name limit $1"#,
        LIMIT
    )
    .fetch_all(&state.db)
    .await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.push(view(state, id).await?);
    }
    // A stable sort: failing first, each group still by namespace and name.
    out.sort_by_key(|w| !w.last_delivery.as_ref().is_some_and(|d| d.is_failing()));
    Ok(out)
}

/// A webhook (its namespace and name), for whoever may manage it (anyone else: not found).
async fn managed<'a>(state: &AppState, p: &'a Principal, id: i64) -> AppResult<(Option<i64>, String, Allowed<'a>)> {
    let row = sqlx::query!(
        r#"select w.namespace_id, w.name, n.name as "namespace?" from webhook w
           left join namespace n on n.namespace_id = w.namespace_id where w.webhook_id = $1"#,
        id
    )
    .fetch_optional(&state.db)
    .await?
    .ok_or_else(|| AppError::not_found("No such webhook."))?;
    let not_found = |_| AppError::not_found("No such webhook.");
    let (_, allowed) = match row.namespace {
        Some(ns) => belonging(state, p, Some(&NamespaceRef::Name(ns))).await.map_err(not_found)?,
        None => belonging(state, p, None).await.map_err(not_found)?,
    };
    Ok((row.namespace_id, row.name, allowed))
}

pub async fn get(state: &AppState, p: &Principal, id: i64) -> AppResult<WebhookView> {
    managed(state, p, id).await?;
    view(state, id).await
}

/// Turns a webhook on or off.
pub async fn set_enabled(state: &AppState, p: &Principal, id: i64, enabled: bool) -> AppResult<WebhookView> {
    let (namespace_id, name, allowed) = managed(state, p, id).await?;
    let mut tx = allowed.begin(&state.db).await?;
    sqlx::query!("update webhook set enabled = $2 where webhook_id = $1", id, enabled).execute(&mut *tx).await?;
    let action = if enabled { "webhook.enable" } else { "webhook.disable" };
    audit::record(&mut tx, action, Target { kind: "webhook", name: &name, namespace_id }, json!({})).await?;
    tx.commit().await?;
    view(state, id).await
}

pub async fn delete(state: &AppState, p: &Principal, id: i64) -> AppResult<()> {
    let (namespace_id, name, allowed) = managed(state, p, id).await?;
    let mut tx = allowed.begin(&state.db).await?;
    sqlx::query!("delete from webhook where webhook_id = $1", id).execute(&mut *tx).await?;
    audit::record(&mut tx, "webhook.delete", Target { kind: "webhook", name: &name, namespace_id }, json!({})).await?;
    tx.commit().await?;
    Ok(())
}

/// The newest deliveries of a webhook.
pub async fn deliveries(state: &AppState, p: &Principal, id: i64) -> AppResult<Vec<WebhookDelivery>> {
    managed(state, p, id).await?;
    delivery_rows(state, id, 50).await
}

async fn delivery_rows(state: &AppState, webhook_id: i64, limit: i64) -> AppResult<Vec<WebhookDelivery>> {
    Ok(sqlx::query_as!(
        WebhookDelivery,
        r#"select webhook_delivery_id as id, webhook_id, event, state, attempts, last_status, last_error, response_ms,
                  response_body, created_at as "created_at: DateTime<Utc>",
                  next_attempt_at as "next_attempt_at: DateTime<Utc>", delivered_at as "delivered_at: DateTime<Utc>", payload
           from webhook_delivery where webhook_id = $1 order by webhook_delivery_id desc limit $2"#,
        webhook_id,
        limit
    )
    .fetch_all(&state.db)
    .await?)
}

async fn view(state: &AppState, id: i64) -> AppResult<WebhookView> {
    let r = sqlx::query!(
        r#"select w.webhook_id, n.name as "namespace?", w.name, w.url, w.events, w.format, w.header_names, w.enabled,
                  w.created_at as "created_at: DateTime<Utc>"
           from webhook w left join namespace n on n.namespace_id = w.namespace_id where w.webhook_id = $1"#,
        id
    )
    .fetch_optional(&state.db)
    .await?
    .ok_or_else(|| AppError::not_found("No such webhook."))?;
    Ok(WebhookView {
        id: r.webhook_id,
        namespace: r.namespace,
        name: r.name,
        url: r.url,
        events: r.events,
        format: r.format,
        header_names: r.header_names,
        enabled: r.enabled,
        created_at: r.created_at,
        last_delivery: delivery_rows(state, id, 1).await?.pop(),
    })
}

/// Queues a test event for a webhook now.
pub async fn send_test(state: &AppState, p: &Principal, id: i64) -> AppResult<WebhookDelivery> {
    let (_, _, allowed) = managed(state, p, id).await?;
    let payload = json!({
        "type": "TEST",
        "occur_at": Utc::now().timestamp(),
        "operator": p.name(),
        "event_data": { "message": "A test delivery from Portcullis." }
    });
    let mut tx = allowed.begin(&state.db).await?;
    let did = sqlx::query_scalar!(
        "insert into webhook_delivery (webhook_id, event, payload) values ($1, 'test', $2) returning webhook_delivery_id",
        id,
        payload
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    one_delivery(state, did).await
}

/// Sends a delivery again (a new delivery of the same payload).
pub async fn redeliver(state: &AppState, p: &Principal, delivery_id: i64) -> AppResult<WebhookDelivery> {
    let webhook_id =
        sqlx::query_scalar!("select webhook_id from webhook_delivery where webhook_delivery_id = $1", delivery_id)
            .fetch_optional(&state.db)
            .await?
            .ok_or_else(|| AppError::not_found("No such delivery."))?;
    let (_, _, allowed) = managed(state, p, webhook_id).await?;
    let mut tx = allowed.begin(&state.db).await?;
    let did = sqlx::query_scalar!(
        "insert into webhook_delivery (webhook_id, event, payload)
         select webhook_id, event, payload from webhook_delivery where webhook_delivery_id = $1
         returning webhook_delivery_id",
        delivery_id
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    one_delivery(state, did).await
}

async fn one_delivery(state: &AppState, id: i64) -> AppResult<WebhookDelivery> {
    Ok(sqlx::query_as!(
        WebhookDelivery,
        r#"select webhook_delivery_id as id, webhook_id, event, state, attempts, last_status, last_error, response_ms,
                  response_body, created_at as "created_at: DateTime<Utc>",
                  next_attempt_at as "next_attempt_at: DateTime<Utc>", delivered_at as "delivered_at: DateTime<Utc>", payload
           from webhook_delivery where webhook_delivery_id = $1"#,
        id
    )
    .fetch_one(&state.db)
    .await?)
}

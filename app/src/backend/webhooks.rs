//! Outbound webhooks: what happens to a namespace's images, told to other systems (CI, chat),
//! signed so that they can tell it came from here. Owns the `webhook` and `webhook_delivery`
//! tables.
//!
//! An event is queued in the same transaction that records it ([`enqueue`]), so nothing is
//! told that did not happen and nothing that happened is lost. Workers on any replica claim
//! due deliveries with `FOR UPDATE SKIP LOCKED` (and a lease), send them with a timeout, and
//! retry failures with exponential back-off for a bounded time. A receiver that is slow or
//! down costs only its own deliveries: the inbox and the token endpoint never wait on it.
//!
//! Each delivery is signed: `X-Portcullis-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of
//! "<t>.<body>" under the webhook's secret>`. Targets on loopback, private or link-local
//! addresses are refused unless `webhook_allow_private`, checked on the address the name
//! resolves to when sending (and the connection is made to that very address), redirects
//! not followed.
//!
//! May call: `access` (the principal), `directory` (the namespace and its facts), `registry`
//! (the keys' encryption of secrets), `audit`.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use sqlx::PgConnection;

use crate::backend::access::principal::Principal;
use crate::backend::audit::{self, Target};
use crate::backend::directory::namespaces::{self, NamespaceRef};
use crate::backend::AppState;
use crate::error::{AppError, AppResult};
use crate::model::{CreatedWebhook, WebhookDelivery, WebhookView};
use crate::policy;

/// The events a webhook may ask for.
pub const EVENTS: [&str; 4] = ["push", "delete", "pull", "cleanup"];
/// The payload formats.
pub const FORMATS: [&str; 2] = ["portcullis", "cloudevents"];
/// How many times a delivery is tried before it is recorded as failed, and for how long.
const MAX_ATTEMPTS: i32 = 12;
const RETRY_FOR: Duration = Duration::from_secs(24 * 3600);
/// How long one attempt may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// How much of a receiver's answer is kept.
const RESPONSE_KEPT: usize = 2048;
/// Headers a webhook may not set: they are the protocol's or the signature's.
const RESERVED_HEADERS: [&str; 6] =
    ["host", "content-type", "content-length", "user-agent", "connection", "transfer-encoding"];

/// What a new webhook is to be.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct NewWebhook {
    pub name: String,
    pub url: String,
    pub events: Vec<String>,
    #[serde(default)]
    pub format: Option<String>,
    /// Custom headers (name, value): a receiver's own token, for instance.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The signing secret; one is generated when none is given.
    #[serde(default)]
    pub secret: Option<String>,
}

/// Whether an address is one a webhook may not reach unless allowed: this machine, the
/// private ranges, link-local (cloud metadata lives there), and the like.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
                || (a == 198 && (b == 18 || b == 19)) // benchmarking
                || a >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_ipv4(v6) {
                return is_internal(IpAddr::V4(v4));
            }
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0], s[1], s[2]) == (0x64, 0xff9b, 1) // local-use NAT64 (64:ff9b:1::/48): a site's own translator
                || (s[0], s[1]) == (0x2001, 0) // Teredo: the IPv4 inside is obfuscated, so refuse it whole
        }
    }
}

/// The IPv4 address an IPv6 address carries and reaches, where it carries one: IPv4-mapped
/// (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`, deprecated but still routed by some
/// stacks), NAT64 (`64:ff9b::a.b.c.d`, which a translator turns into a connection to the IPv4
/// address) and 6to4 (`2002:AABB:CCDD::/48`). Each would otherwise let a webhook reach an
/// internal IPv4 address through an IPv6 literal.
fn embedded_ipv4(v6: std::net::Ipv6Addr) -> Option<std::net::Ipv4Addr> {
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = v6.segments();
    let low = std::net::Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        // `::` and `::1` are the IPv6 unspecified and loopback addresses, not IPv4-compatible ones.
        [0, 0, 0, 0, 0, 0, 0, 0 | 1] => None,
        [0, 0, 0, 0, 0, 0, _, _] | [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(low),
        [0x2002, hi, lo, ..] => Some(std::net::Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8)),
        _ => None,
    }
}

/// A webhook's URL as the activity log keeps it: its scheme and host (and port) only. The path
/// and query of a Slack, Teams or CI trigger URL are a bearer secret.
fn logged_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => u.origin().ascii_serialization(),
        Err(_) => String::new(),
    }
}

/// A URL a webhook may be given: http or https, a host, no credentials in it, and, when
/// the host is an address, not an internal one (unless allowed).
fn check_url(url: &str, allow_private: bool) -> AppResult<reqwest::Url> {
    let bad = |m: &str| AppError::invalid("url", m);
    if url.len() > 2048 {
        return Err(bad("at most 2048 characters"));
    }
    let parsed = reqwest::Url::parse(url.trim()).map_err(|e| bad(&format!("not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad("must start with http:// or https://"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad("may not carry credentials: send them in a header instead, which is stored encrypted"));
    }
    match parsed.host() {
        None => return Err(bad("has no host")),
        Some(url::Host::Ipv4(ip)) if !allow_private && is_internal(IpAddr::V4(ip)) => {
            return Err(bad("points at a loopback, private or link-local address, which webhooks may not reach"));
        }
        Some(url::Host::Ipv6(ip)) if !allow_private && is_internal(IpAddr::V6(ip)) => {
            return Err(bad("points at a loopback, private or link-local address, which webhooks may not reach"));
        }
        _ => {}
    }
    Ok(parsed)
}

fn check_headers(headers: &[(String, String)]) -> AppResult<()> {
    if headers.len() > 10 {
        return Err(AppError::invalid("headers", "at most 10 headers"));
    }
    for (name, value) in headers {
        let lower = name.to_ascii_lowercase();
        let token = !name.is_empty()
            && name.len() <= 64
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !token {
            return Err(AppError::invalid("headers", format!("{name:?} is not a header name")));
        }
        if RESERVED_HEADERS.contains(&lower.as_str()) || lower.starts_with("x-portcullis-") {
            return Err(AppError::invalid("headers", format!("{name} is set by Portcullis itself")));
        }
        if value.len() > 1024 || value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(AppError::invalid("headers", format!("the value of {name} is too long or has line breaks")));
        }
    }
    Ok(())
}

/// Checks a new webhook's fields; returns the URL as parsed and the format.
fn check_new(w: &NewWebhook, allow_private: bool) -> AppResult<String> {
    let name = w.name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(AppError::invalid("name", "1 to 64 characters"));
    }
    check_url(&w.url, allow_private)?;
    if w.events.is_empty() {
        return Err(AppError::invalid("events", "choose at least one event"));
    }
    if let Some(e) = w.events.iter().find(|e| !EVENTS.contains(&e.as_str())) {
        return Err(AppError::invalid("events", format!("{e:?} is not one of {}", EVENTS.join(", "))));
    }
    let format = w.format.clone().filter(|f| !f.is_empty()).unwrap_or_else(|| "portcullis".into());
    if !FORMATS.contains(&format.as_str()) {
        return Err(AppError::invalid("format", format!("must be one of {}", FORMATS.join(", "))));
    }
    check_headers(&w.headers)?;
    if let Some(s) = &w.secret {
        if !s.is_empty() && (s.len() < 16 || s.len() > 256) {
            return Err(AppError::invalid("secret", "16 to 256 characters, or leave it empty to have one made"));
        }
    }
    Ok(format)
}

/// Where a webhook belongs: a namespace, or the whole site (`None`).
async fn scope(state: &AppState, p: &Principal, namespace: Option<&NamespaceRef>) -> AppResult<Option<(i64, String)>> {
    match namespace {
        None => {
            p.allowed(policy::can_administer)?;
            Ok(None)
        }
        Some(ns) => {
            let (n, _) = namespaces::find(state, p, ns).await?;
            p.allowed(|a| policy::can_manage_webhooks(a, &n.facts()))?;
            Ok(Some((n.id, n.name)))
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
    let scope = scope(state, p, namespace).await?;
    let user = p.require_writer()?;
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
    let mut tx = state.db.begin().await?;
    let id = sqlx::query_scalar!(
        "insert into webhook (namespace_id, name, url, events, format, secret, headers, header_names, created_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning webhook_id",
        scope.as_ref().map(|s| s.0),
        new.name.trim(),
        new.url.trim(),
        &new.events,
        format,
        crypt.seal(&secret)?,
        crypt.seal(&Value::Object(headers).to_string())?,
        &names,
        user.username
    )
    .fetch_one(&mut *tx)
    .await?;
    let target = Target { kind: "webhook", name: new.name.trim(), namespace_id: scope.as_ref().map(|s| s.0) };
    audit::record(
        &mut tx,
        Some(user),
        "webhook.create",
        target,
        json!({ "url": logged_url(new.url.trim()), "events": new.events }),
    )
    .await?;
    tx.commit().await?;
    Ok(CreatedWebhook { webhook: view(state, id).await?, secret })
}

/// The webhooks of a namespace (its owners), or the site-wide ones (administrators).
pub async fn list(state: &AppState, p: &Principal, namespace: Option<&NamespaceRef>) -> AppResult<Vec<WebhookView>> {
    let scope = scope(state, p, namespace).await?;
    let ids = sqlx::query_scalar!(
        "select webhook_id from webhook where namespace_id is not distinct from $1 order by webhook_id",
        scope.map(|s| s.0)
    )
    .fetch_all(&state.db)
    .await?;
    let mut out = Vec::new();
    for id in ids {
        out.push(view(state, id).await?);
    }
    Ok(out)
}

/// A webhook, for whoever may manage it (anyone else: not found).
async fn managed(state: &AppState, p: &Principal, id: i64) -> AppResult<(Option<i64>, String)> {
    let row = sqlx::query!(
        r#"select w.namespace_id, w.name, n.name as "namespace?" from webhook w
           left join namespace n on n.namespace_id = w.namespace_id where w.webhook_id = $1"#,
        id
    )
    .fetch_optional(&state.db)
    .await?
    .ok_or_else(|| AppError::not_found("No such webhook."))?;
    let not_found = |_| AppError::not_found("No such webhook.");
    match row.namespace {
        Some(ns) => scope(state, p, Some(&NamespaceRef::Name(ns))).await.map_err(not_found)?,
        None => scope(state, p, None).await.map_err(not_found)?,
    };
    Ok((row.namespace_id, row.name))
}

pub async fn get(state: &AppState, p: &Principal, id: i64) -> AppResult<WebhookView> {
    managed(state, p, id).await?;
    view(state, id).await
}

/// Turns a webhook on or off.
pub async fn set_enabled(state: &AppState, p: &Principal, id: i64, enabled: bool) -> AppResult<WebhookView> {
    let (namespace_id, name) = managed(state, p, id).await?;
    let user = p.require_writer()?;
    let mut tx = state.db.begin().await?;
    sqlx::query!("update webhook set enabled = $2 where webhook_id = $1", id, enabled).execute(&mut *tx).await?;
    let action = if enabled { "webhook.enable" } else { "webhook.disable" };
    audit::record(&mut tx, Some(user), action, Target { kind: "webhook", name: &name, namespace_id }, json!({}))
        .await?;
    tx.commit().await?;
    view(state, id).await
}

pub async fn delete(state: &AppState, p: &Principal, id: i64) -> AppResult<()> {
    let (namespace_id, name) = managed(state, p, id).await?;
    let user = p.require_writer()?;
    let mut tx = state.db.begin().await?;
    sqlx::query!("delete from webhook where webhook_id = $1", id).execute(&mut *tx).await?;
    audit::record(
        &mut tx,
        Some(user),
        "webhook.delete",
        Target { kind: "webhook", name: &name, namespace_id },
        json!({}),
    )
    .await?;
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
                  next_attempt_at as "next_attempt_at: DateTime<Utc>", delivered_at as "delivered_at: DateTime<Utc>"
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
    managed(state, p, id).await?;
    p.require_writer()?;
    let payload = json!({
        "type": "TEST",
        "occur_at": Utc::now().timestamp(),
        "operator": p.name(),
        "event_data": { "message": "A test delivery from Portcullis." }
    });
    let did = sqlx::query_scalar!(
        "insert into webhook_delivery (webhook_id, event, payload) values ($1, 'test', $2) returning webhook_delivery_id",
        id,
        payload
    )
    .fetch_one(&state.db)
    .await?;
    one_delivery(state, did).await
}

/// Sends a delivery again (a new delivery of the same payload).
pub async fn redeliver(state: &AppState, p: &Principal, delivery_id: i64) -> AppResult<WebhookDelivery> {
    let webhook_id =
        sqlx::query_scalar!("select webhook_id from webhook_delivery where webhook_delivery_id = $1", delivery_id)
            .fetch_optional(&state.db)
            .await?
            .ok_or_else(|| AppError::not_found("No such delivery."))?;
    managed(state, p, webhook_id).await?;
    p.require_writer()?;
    let did = sqlx::query_scalar!(
        "insert into webhook_delivery (webhook_id, event, payload)
         select webhook_id, event, payload from webhook_delivery where webhook_delivery_id = $1
         returning webhook_delivery_id",
        delivery_id
    )
    .fetch_one(&state.db)
    .await?;
    one_delivery(state, did).await
}

async fn one_delivery(state: &AppState, id: i64) -> AppResult<WebhookDelivery> {
    Ok(sqlx::query_as!(
        WebhookDelivery,
        r#"select webhook_delivery_id as id, webhook_id, event, state, attempts, last_status, last_error, response_ms,
                  response_body, created_at as "created_at: DateTime<Utc>",
                  next_attempt_at as "next_attempt_at: DateTime<Utc>", delivered_at as "delivered_at: DateTime<Utc>"
           from webhook_delivery where webhook_delivery_id = $1"#,
        id
    )
    .fetch_one(&state.db)
    .await?)
}

/// Something that happened to an image, as webhooks report it.
#[derive(Debug, Clone)]
pub struct ImageEvent<'a> {
    /// `push`, `delete` or `pull`.
    pub kind: &'a str,
    pub repository: &'a str,
    pub namespace_id: Option<i64>,
    pub tag: Option<&'a str>,
    pub digest: &'a str,
    /// The verified user, when known.
    pub actor: Option<&'a str>,
    pub at: DateTime<Utc>,
}

/// Queues `event` for every enabled webhook that asked for it (its namespace's, and the
/// site-wide ones), in the caller's transaction. Returns how many deliveries were queued.
pub async fn enqueue(conn: &mut PgConnection, registry_host: &str, event: &ImageEvent<'_>) -> AppResult<u64> {
    let kind = match event.kind {
        "push" => "PUSH_ARTIFACT",
        "delete" => "DELETE_ARTIFACT",
        _ => "PULL_ARTIFACT",
    };
    let (namespace, name) = match event.repository.rsplit_once('/') {
        Some((ns, name)) => (ns, name),
        None => ("", event.repository),
    };
    let resource_url = match event.tag {
        Some(t) => format!("{registry_host}/{}:{t}", event.repository),
        None => format!("{registry_host}/{}@{}", event.repository, event.digest),
    };
    let payload = json!({
        "type": kind,
        "occur_at": event.at.timestamp(),
        "operator": event.actor.unwrap_or(""),
        "event_data": {
            "resources": [{ "digest": event.digest, "tag": event.tag, "resource_url": resource_url }],
            "repository": { "name": name, "namespace": namespace, "repo_full_name": event.repository },
        },
    });
    Ok(sqlx::query!(
        "insert into webhook_delivery (webhook_id, event, payload)
         select webhook_id, $1, $2 from webhook
         where enabled and $1 = any(events) and (namespace_id is null or namespace_id = $3)",
        event.kind,
        payload,
        event.namespace_id
    )
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

/// What a cleanup run did, as webhooks report it.
#[derive(Debug, Clone)]
pub struct CleanupEvent<'a> {
    pub namespace_id: i64,
    pub namespace: &'a str,
    /// The repository whose own policy ran, if it was one.
    pub repository: Option<&'a str>,
    pub trigger: &'a str,
    /// Who ran it (`None`: the schedule).
    pub actor: Option<&'a str>,
    pub deleted: i32,
    pub kept: i32,
    pub skipped: i32,
    pub bytes_freed: i64,
}

/// Queues a cleanup run's summary for the webhooks that asked for `cleanup`.
pub async fn enqueue_cleanup(conn: &mut PgConnection, e: &CleanupEvent<'_>) -> AppResult<u64> {
    let payload = json!({
        "type": "CLEANUP_RUN",
        "occur_at": Utc::now().timestamp(),
        "operator": e.actor.unwrap_or("schedule"),
        "event_data": {
            "namespace": e.namespace, "repository": e.repository, "trigger": e.trigger,
            "deleted": e.deleted, "kept": e.kept, "skipped": e.skipped, "bytes_freed": e.bytes_freed,
        },
    });
    Ok(sqlx::query!(
        "insert into webhook_delivery (webhook_id, event, payload)
         select webhook_id, 'cleanup', $1 from webhook
         where enabled and 'cleanup' = any(events) and (namespace_id is null or namespace_id = $2)",
        payload,
        e.namespace_id
    )
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

/// The signature header's value for `body` sent at `t` under `secret`.
pub fn signature(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// A claimed delivery, with what sending it needs.
struct Due {
    id: i64,
    event: String,
    payload: Value,
    attempts: i32,
    created_at: DateTime<Utc>,
    url: String,
    format: String,
    secret: String,
    headers: String,
}

/// How an attempt went.
struct Attempt {
    status: Option<i32>,
    error: Option<String>,
    ms: i32,
    body: Option<String>,
}

/// Resolves the target and refuses an internal address (unless allowed): the address to
/// connect to, so that the name cannot resolve elsewhere between the check and the send.
async fn resolve(url: &reqwest::Url, allow_private: bool) -> Result<Option<SocketAddr>, String> {
    let host = url.host_str().ok_or("the URL has no host")?;
    let port = url.port_or_known_default().ok_or("the URL has no port")?;
    if url.host().is_some_and(|h| !matches!(h, url::Host::Domain(_))) {
        // An address: checked when the webhook was made, and again here.
        let ip: IpAddr = host.trim_matches(['[', ']']).parse().map_err(|_| "a malformed address")?;
        if !allow_private && is_internal(ip) {
            return Err(format!("{ip} is a loopback, private or link-local address"));
        }
        return Ok(None);
    }
    let addrs: Vec<SocketAddr> =
        tokio::net::lookup_host((host, port)).await.map_err(|e| format!("{host} does not resolve: {e}"))?.collect();
    let first = *addrs.first().ok_or_else(|| format!("{host} resolves to no address"))?;
    if !allow_private {
        if let Some(bad) = addrs.iter().find(|a| is_internal(a.ip())) {
            return Err(format!("{host} resolves to {}, a loopback, private or link-local address", bad.ip()));
        }
    }
    Ok(Some(first))
}

async fn attempt(state: &AppState, d: &Due) -> Attempt {
    let started = Instant::now();
    let failed = |error: String| Attempt { status: None, error: Some(error), ms: 0, body: None };
    let Ok(url) = reqwest::Url::parse(&d.url) else { return failed("the URL does not parse".into()) };
    let pinned = match resolve(&url, state.settings.webhook_allow_private).await {
        Ok(p) => p,
        Err(why) => return failed(format!("refused: {why}")),
    };
    let crypt = state.keys.crypt();
    let (Ok(secret), Ok(headers)) = (crypt.open(&d.secret), crypt.open(&d.headers)) else {
        return failed("the webhook's secret cannot be read (was keys_encryption_key changed?)".into());
    };
    let (body, content_type) = render(state, d);
    let t = Utc::now().timestamp();
    // No proxy, whatever HTTP(S)_PROXY says: a proxy would connect to the host itself, past
    // the address checked and pinned here.
    let mut builder =
        reqwest::Client::builder().no_proxy().redirect(reqwest::redirect::Policy::none()).timeout(TIMEOUT);
    if let (Some(addr), Some(host)) = (pinned, url.host_str()) {
        builder = builder.resolve(host, addr);
    }
    let Ok(client) = builder.build() else { return failed("no HTTP client".into()) };
    let mut req = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .header(reqwest::header::USER_AGENT, concat!("Portcullis-Webhook/", env!("CARGO_PKG_VERSION")))
        .header("X-Portcullis-Event", &d.event)
        .header("X-Portcullis-Delivery", d.id.to_string())
        .header("X-Portcullis-Signature", signature(&secret, t, &body));
    if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(&headers) {
        for (k, v) in map {
            req = req.header(k, v.as_str().unwrap_or_default());
        }
    }
    match req.body(body).send().await {
        Ok(mut res) => {
            let status = i32::from(res.status().as_u16());
            let mut kept = Vec::new();
            while kept.len() < RESPONSE_KEPT {
                match res.chunk().await {
                    Ok(Some(c)) => kept.extend_from_slice(&c[..c.len().min(RESPONSE_KEPT - kept.len())]),
                    _ => break,
                }
            }
            let ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
            let body = Some(String::from_utf8_lossy(&kept).replace('\0', ""));
            let error = (!(200..300).contains(&status)).then(|| format!("the receiver answered {status}"));
            Attempt { status: Some(status), error, ms, body }
        }
        Err(e) => {
            let mut why = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                why = format!("{why}: {s}");
                source = s.source();
            }
            Attempt { ms: i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX), ..failed(why) }
        }
    }
}

/// The body as the webhook's format wants it, and its content type.
fn render(state: &AppState, d: &Due) -> (Vec<u8>, &'static str) {
    match d.format.as_str() {
        "cloudevents" => {
            let kind = match d.event.as_str() {
                "push" => "io.portcullis.artifact.pushed",
                "delete" => "io.portcullis.artifact.deleted",
                "pull" => "io.portcullis.artifact.pulled",
                "cleanup" => "io.portcullis.cleanup.completed",
                _ => "io.portcullis.test",
            };
            let time = d.payload["occur_at"]
                .as_i64()
                .and_then(|t| DateTime::from_timestamp(t, 0))
                .unwrap_or(d.created_at)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            let base = state.settings.public_url.trim_end_matches('/');
            let data = &d.payload["event_data"];
            let source = match (data["repository"]["repo_full_name"].as_str(), data["namespace"].as_str()) {
                (Some(repo), _) => format!("{base}/repositories/{repo}"),
                (None, Some(ns)) => format!("{base}/namespaces/{ns}"),
                _ => base.to_string(),
            };
            let event = json!({
                "specversion": "1.0",
                "id": d.id.to_string(),
                "source": source,
                "type": kind,
                "time": time,
                "datacontenttype": "application/json",
                "data": d.payload,
            });
            (event.to_string().into_bytes(), "application/cloudevents+json")
        }
        _ => (d.payload.to_string().into_bytes(), "application/json"),
    }
}

/// The wait before attempt `n + 1`: 1 s, 2 s, 4 s … at most an hour.
fn backoff(attempts: i32) -> Duration {
    Duration::from_secs(1u64 << attempts.clamp(1, 13).saturating_sub(1)).min(Duration::from_secs(3600))
}

/// Claims the due deliveries (any replica may: a claimed one is leased for two minutes),
/// sends them, and records how each went. Returns how many were sent.
pub async fn run_due(state: &AppState) -> AppResult<usize> {
    use futures_util::StreamExt as _;
    let due = sqlx::query_as!(
        Due,
        r#"update webhook_delivery d set attempts = d.attempts + 1, next_attempt_at = now() + interval '2 minutes'
           from webhook w
           where w.webhook_id = d.webhook_id and d.webhook_delivery_id in
                 (select webhook_delivery_id from webhook_delivery where state = 'pending' and next_attempt_at <= now()
                  order by next_attempt_at limit 20 for update skip locked)
           returning d.webhook_delivery_id as id, d.event, d.payload, d.attempts,
                     d.created_at as "created_at: DateTime<Utc>", w.url, w.format, w.secret, w.headers"#
    )
    .fetch_all(&state.db)
    .await?;
    let n = due.len();
    let results: Vec<(i64, i32, DateTime<Utc>, Attempt)> = futures_util::stream::iter(due)
        .map(|d| async move {
            let a = attempt(state, &d).await;
            (d.id, d.attempts, d.created_at, a)
        })
        .buffer_unordered(8)
        .collect()
        .await;
    for (id, attempts, created_at, a) in results {
        let delivered = a.error.is_none();
        let give_up = !delivered
            && (attempts >= MAX_ATTEMPTS
                || Utc::now() - created_at > chrono::Duration::from_std(RETRY_FOR).expect("a day"));
        let state_now = if delivered {
            "delivered"
        } else if give_up {
            "failed"
        } else {
            "pending"
        };
        if let Some(e) = &a.error {
            tracing::info!(target: "portcullis::webhooks", delivery = id, attempts, error = %e, "webhook delivery failed");
        }
        sqlx::query!(
            "update webhook_delivery set state = $2, last_status = $3, last_error = $4, response_ms = $5,
                 response_body = $6, delivered_at = case when $2 = 'delivered' then now() end,
                 next_attempt_at = now() + make_interval(secs => $7)
             where webhook_delivery_id = $1",
            id,
            state_now,
            a.status,
            a.error,
            a.ms,
            a.body,
            backoff(attempts).as_secs_f64()
        )
        .execute(&state.db)
        .await?;
    }
    Ok(n)
}

/// Runs the delivery worker, supervised: every second, whatever is due.
pub fn spawn_worker(state: AppState) {
    let db = state.db.clone();
    crate::backend::jobs::supervise("webhook deliveries", db, move || {
        let state = state.clone();
        async move {
            while !state.db.is_closed() {
                if run_due(&state).await? == 0 {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
            Ok(())
        }
    });
}

/// Deletes deliveries older than `days`. Returns how many.
pub async fn prune(state: &AppState, days: u32) -> AppResult<u64> {
    Ok(sqlx::query!(
        "delete from webhook_delivery where webhook_delivery_id in
             (select webhook_delivery_id from webhook_delivery
              where created_at < now() - make_interval(days => $1) and state <> 'pending' limit 10000)",
        days as i32
    )
    .execute(&state.db)
    .await?
    .rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            // IPv4 inside IPv6: compatible, NAT64 (well-known and local-use), 6to4, Teredo.
            "::127.0.0.1",
            "::10.0.0.1",
            "64:ff9b::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::8.8.8.8",
            "2002:7f00:1::1",
            "2002:a9fe:a9fe::",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2a00:1450::1", "64:ff9b::8.8.8.8", "2002:808:808::1", "::8.8.8.8"] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn only_the_origin_of_a_url_is_logged() {
        assert_eq!(logged_url("https://hooks.example.com/services/T0/B0?token=s3cr3t"), "https://hooks.example.com");
        assert_eq!(logged_url("http://ci.example:8080/trigger/abc#x"), "http://ci.example:8080");
        assert_eq!(logged_url("not a url"), "");
    }

    #[test]
    fn urls_are_checked() {
        assert!(check_url("https://hooks.example.com/x", false).is_ok());
        assert!(check_url("ftp://hooks.example.com/x", false).is_err());
        assert!(check_url("https://user:pw@hooks.example.com/x", false).is_err());
        assert!(check_url("http://127.0.0.1:8080/x", false).is_err());
        assert!(check_url("http://[::1]/x", false).is_err());
        assert!(check_url("http://127.0.0.1:8080/x", true).is_ok());
        assert!(check_url("not a url", true).is_err());
    }

    #[test]
    fn headers_of_the_protocol_cannot_be_overridden() {
        assert!(check_headers(&[("Authorization".into(), "Bearer x".into())]).is_ok());
        assert!(check_headers(&[("Content-Type".into(), "text/plain".into())]).is_err());
        assert!(check_headers(&[("X-Portcullis-Signature".into(), "forged".into())]).is_err());
        assert!(check_headers(&[("X-Ok".into(), "a\r\nInjected: yes".into())]).is_err());
        assert!(check_headers(&[("bad name".into(), "x".into())]).is_err());
    }

    #[test]
    fn the_signature_is_an_hmac_of_time_and_body() {
        // echo -n '1700000000.{}' | openssl dgst -sha256 -hmac secret
        assert_eq!(
            signature("secret", 1_700_000_000, b"{}"),
            "t=1700000000,v1=b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163"
        );
    }

    #[test]
    fn retries_back_off_up_to_an_hour() {
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(2), Duration::from_secs(2));
        assert_eq!(backoff(5), Duration::from_secs(16));
        assert_eq!(backoff(40), Duration::from_secs(3600));
    }
}

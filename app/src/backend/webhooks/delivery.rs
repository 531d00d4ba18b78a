//! The delivery worker: claims due deliveries on any replica, signs and sends them to the
//! address checked when resolving, retries with back-off, and prunes old deliveries.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::backend::access::principal::Duty;
use crate::backend::AppState;
use crate::error::AppResult;

use super::targets::resolve;

/// How many times a delivery is tried before it is recorded as failed, and for how long.
const MAX_ATTEMPTS: i32 = 12;
const RETRY_FOR: Duration = Duration::from_secs(24 * 3600);
/// How long one attempt may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// How much of a receiver's answer is kept.
const RESPONSE_KEPT: usize = 2048;

/// The signature header's value for `body` sent at `t` under `secret`.
pub fn signature(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// A claimed delivery, with what sending it needs.
pub(super) struct Due {
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
pub(super) struct Attempt {
    status: Option<i32>,
    error: Option<String>,
    ms: i32,
    body: Option<String>,
}

pub(super) async fn attempt(state: &AppState, d: &Due) -> Attempt {
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
pub(super) fn render(state: &AppState, d: &Due) -> (Vec<u8>, &'static str) {
    match d.format.as_str() {
        "cloudevents" => {
            let kind = match d.event.as_str() {
                "push" => "io.portcullis.artifact.pushed",
                "delete" => "io.portcullis.artifact.deleted",
                "pull" => "io.portcullis.artifact.pulled",
                "cleanup" => "io.portcullis.cleanup.completed",
                "quota" if d.payload["type"] == "QUOTA_EXCEEDED" => "io.portcullis.quota.exceeded",
                "quota" => "io.portcullis.quota.warning",
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
pub(super) fn backoff(attempts: i32) -> Duration {
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
    .fetch_all(&mut *Duty::Delivery.on(&state.db).await?)
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
        .execute(&mut *Duty::Delivery.on(&state.db).await?)
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
    .execute(&mut *Duty::Prune.on(&state.db).await?)
    .await?
    .rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

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

//! `GET /metrics`: Prometheus's text format.
//!
//! Counters and histograms are recorded where things happen, through the `metrics` facade
//! (the token endpoint, the HTTP layer, the event inbox and worker, reconcile, argon2, the
//! token service's caches); this module installs the recorder once per process and, at each
//! scrape, adds what is read then: the database pool and the inbox as PostgreSQL holds it
//! (the same for every replica).
//!
//! The page is protected: with `metrics_token` set, a scraper sends it as a bearer token;
//! without one, only clients on this machine (loopback, after the trusted proxies) may scrape.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use app::backend::AppState;
use axum::{
    extract::{MatchedPath, Request, State},
    http::{header, HeaderMap, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::config::Secret;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Latency buckets for requests (seconds): a token is a millisecond, an argon2 check tens.
const REQUEST_BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Buckets for reconcile runs, which take from a second to an hour.
const RUN_BUCKETS: &[f64] = &[0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0];

/// The process's recorder, installed on first use. Another recorder installed first (a test
/// harness) leaves this one unregistered: its page is then empty but still valid.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets(REQUEST_BUCKETS)
            .and_then(|b| b.set_buckets_for_metric(Matcher::Suffix("run_duration_seconds".into()), RUN_BUCKETS))
            .expect("static buckets are valid");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder was installed first; /metrics shows only the scrape-time gauges");
        }
        describe();
        metrics::gauge!("portcullis_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
        handle
    })
}

/// Keeps the recorder's histograms bounded: run for as long as the server serves.
pub fn spawn_upkeep() {
    let handle = handle().clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            handle.run_upkeep();
        }
    });
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_gauge!("portcullis_build_info", "The running version (the value is always 1).");
    describe_counter!(
        "portcullis_token_requests_total",
        "Token requests, by outcome (issued, unauthorized, bad_request, throttled, error) and credential \
         (anonymous, password, access_token, refresh_token)."
    );
    describe_histogram!(
        "portcullis_token_request_duration_seconds",
        Unit::Seconds,
        "Time to answer a token request, by credential."
    );
    describe_gauge!("portcullis_argon2_waiting", "Password checks waiting for an argon2 slot.");
    describe_gauge!("portcullis_argon2_running", "Password checks being computed now.");
    describe_counter!("portcullis_http_requests_total", "HTTP requests by method, route and status.");
    describe_histogram!(
        "portcullis_http_request_duration_seconds",
        Unit::Seconds,
        "Time to answer an HTTP request, by method and route."
    );
    describe_counter!("portcullis_events_received_total", "Registry events this replica's inbox stored.");
    describe_counter!("portcullis_events_unreadable_total", "Notifications this replica's inbox could not read.");
    describe_counter!("portcullis_events_processed_total", "Events this replica's worker processed, by outcome.");
    describe_gauge!("portcullis_inbox_events", "Events in the inbox (all replicas), by state.");
    describe_gauge!("portcullis_inbox_lag_seconds", "Age of the oldest event waiting to be applied (0: none waits).");
    describe_counter!("portcullis_reconcile_runs_total", "Reconcile runs on this replica, by outcome.");
    describe_histogram!("portcullis_reconcile_run_duration_seconds", Unit::Seconds, "Duration of reconcile runs.");
    describe_gauge!(
        "portcullis_job_active",
        "1 while this replica holds a singleton job's lock (event worker, reconcile)."
    );
    describe_counter!("portcullis_job_runs_total", "Times this replica ran a singleton job.");
    describe_gauge!("portcullis_db_pool_connections", "Connections of the database pool, by state.");
    describe_gauge!("portcullis_db_pool_max_connections", "The database pool's size limit.");
    describe_counter!(
        "portcullis_auth_cache_lookups_total",
        "Token service cache lookups, by cache (principal, namespace) and result (hit, miss)."
    );
}

pub fn router(state: AppState, token: Secret) -> Router {
    Router::new().route("/metrics", get(scrape)).with_state((state, Arc::new(token)))
}

/// Why this request may not read the metrics, as the answer to give; `None` when it may.
/// Without a token, both the TCP peer and the client (whom a trusted proxy forwarded for, if
/// any) must be this machine: a header alone never makes a request local, whoever is trusted
/// with `X-Forwarded-For`.
fn refusal(
    token: &Secret,
    headers: &HeaderMap,
    peer: Option<std::net::IpAddr>,
    client: Option<std::net::IpAddr>,
) -> Option<Response> {
    if !token.is_empty() {
        let expected = format!("Bearer {}", token.expose());
        let given = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes()).unwrap_or_default();
        if crate::events::constant_time_eq(given, expected.as_bytes()) {
            return None;
        }
        let mut res = (StatusCode::UNAUTHORIZED, "the metrics token is missing or wrong\n").into_response();
        res.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        return Some(res);
    }
    match (peer, client) {
        (Some(peer), Some(client)) if peer.is_loopback() && client.is_loopback() => None,
        _ => Some(
            (
                StatusCode::FORBIDDEN,
                "metrics are served to this machine only; set metrics_token to scrape from elsewhere\n",
            )
                .into_response(),
        ),
    }
}

async fn scrape(
    State((state, token)): State<(AppState, Arc<Secret>)>,
    crate::token::ClientAddr(client): crate::token::ClientAddr,
    crate::token::PeerAddr(peer): crate::token::PeerAddr,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = refusal(&token, &headers, peer, client) {
        return refused;
    }
    let handle = handle();
    let db = &state.db;
    let idle = db.num_idle() as f64;
    metrics::gauge!("portcullis_db_pool_connections", "state" => "idle").set(idle);
    metrics::gauge!("portcullis_db_pool_connections", "state" => "in_use").set(f64::from(db.size()) - idle);
    metrics::gauge!("portcullis_db_pool_max_connections").set(f64::from(db.options().get_max_connections()));
    match app::backend::images::events::inbox_gauges(&state).await {
        Ok(g) => {
            for (outcome, n) in
                [("pending", g.pending), ("applied", g.applied), ("skipped", g.skipped), ("failed", g.failed)]
            {
                metrics::gauge!("portcullis_inbox_events", "state" => outcome).set(n as f64);
            }
            metrics::gauge!("portcullis_inbox_lag_seconds").set(g.lag_seconds);
        }
        // The page still answers: the pool's own gauges say what is wrong.
        Err(e) => tracing::warn!(error = %e, "metrics: the inbox could not be read"),
    }
    let mut res = handle.render().into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    res
}

/// Counts every request by method, route (the pattern, never the path: a path would make a
/// series per repository) and status, with its duration.
pub async fn track(req: Request, next: Next) -> Response {
    let started = Instant::now();
    // Only the standard methods are named: any other word would be a new series.
    let method: &'static str = match *req.method() {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    };
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    let response = next.run(req).await;
    let route = route.unwrap_or_else(|| "unmatched".into());
    let status = response.status().as_u16().to_string();
    metrics::histogram!("portcullis_http_request_duration_seconds", "method" => method, "route" => route.clone())
        .record(started.elapsed().as_secs_f64());
    metrics::counter!("portcullis_http_requests_total", "method" => method, "route" => route, "status" => status)
        .increment(1);
    response
}

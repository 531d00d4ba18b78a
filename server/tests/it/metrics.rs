//! `GET /metrics`: a scrape after real pushes and logins passes Debian's `promtool check
//! metrics` and counts what happened; the page is refused to whoever may not read it.

use crate::common;

use common::stack::{oci_image, Stack};
use common::*;

/// The metrics page as `client` reads it from the stack (loopback), with `bearer` if given.
async fn scrape(stack: &Stack, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = reqwest::Client::new().get(format!("{}/metrics", stack.url));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

/// The value of the series `name{labels}` (labels in the exporter's order), if present.
fn value(page: &str, series: &str) -> Option<f64> {
    page.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

/// `promtool check metrics` on a page: its complaints, or nothing.
fn promtool(page: &str) -> std::process::Output {
    use std::io::Write as _;
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool is installed (Debian's prometheus, deploy/local/setup.sh)");
    child.stdin.take().unwrap().write_all(page.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn a_scrape_after_pushes_and_logins_passes_promtool_and_counts_them() {
    let db = fresh_db().await;
    let stack = Stack::start(&db).await;
    let world = stack.replica_world().await;
    let alice = world.person("alice").await;
    let before = scrape(&stack, &[]).await.text().await.unwrap();
    let issued = r#"portcullis_token_requests_total{outcome="issued",credential="password"}"#;
    let refused = r#"portcullis_token_requests_total{outcome="unauthorized",credential="password"}"#;
    let count = |page: &str, series: &str| value(page, series).unwrap_or(0.0);

    let image = oci_image(stack.dir.path(), "measured", &[]);
    stack.push(&image, &format!("alice:{}", alice.password), "alice/app:1").await.expect_ok("alice pushing");
    assert_eq!(stack.token(Some(("alice", "not her password")), &[]).await.status(), 401);
    for _ in 0..2 {
        assert_eq!(stack.token(Some(("alice", &alice.password)), &["repository:alice/app:pull"]).await.status(), 200);
    }
    stack.wait_for_tag(&alice, "alice/app", "1").await;

    let res = scrape(&stack, &[]).await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let page = res.text().await.unwrap();
    let checked = promtool(&page);
    assert!(
        checked.status.success(),
        "promtool check metrics: {}{}\n{page}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );

    assert!(count(&page, issued) > count(&before, issued), "a password login is counted\n{page}");
    assert!(count(&page, refused) > count(&before, refused), "a refused login is counted\n{page}");
    assert!(page.contains("portcullis_token_request_duration_seconds_bucket{credential=\"password\",le=\"0.005\"}"));
    let token_route = r#"portcullis_http_requests_total{method="GET",route="/v2/token",status="200"}"#;
    assert!(count(&page, token_route) >= 1.0, "HTTP requests by route pattern\n{page}");
    assert!(!page.contains("route=\"/v2/token?"), "never the raw path");
    assert!(count(&page, "portcullis_events_received_total") >= 1.0, "the push's events arrived\n{page}");
    assert!(count(&page, r#"portcullis_events_processed_total{outcome="applied"}"#) >= 1.0);
    assert!(count(&page, r#"portcullis_inbox_events{state="applied"}"#) >= 1.0, "the inbox as PostgreSQL holds it");
    assert_eq!(value(&page, r#"portcullis_inbox_events{state="pending"}"#), Some(0.0));
    assert!(value(&page, "portcullis_inbox_lag_seconds").is_some());
    assert!(count(&page, r#"portcullis_job_runs_total{job="portcullis.events"}"#) >= 1.0, "{page}");
    assert!(value(&page, r#"portcullis_db_pool_connections{state="in_use"}"#).is_some());
    assert!(count(&page, "portcullis_db_pool_max_connections") >= 1.0);
    assert!(value(&page, "portcullis_argon2_waiting").is_some());
    assert!(
        count(&page, r#"portcullis_auth_cache_lookups_total{cache="principal",result="hit"}"#) >= 1.0,
        "a repeated login comes from the cache\n{page}"
    );
    assert!(page.contains("# HELP portcullis_token_requests_total"));
}

#[tokio::test]
async fn with_a_metrics_token_a_scraper_must_send_it() {
    let db = fresh_db().await;
    let stack = Stack::start_with(&db, |c| c.metrics_token = server::config::Secret::new("scrape-secret-1")).await;
    let none = scrape(&stack, &[]).await;
    assert_eq!(none.status(), 401, "not even from this machine without the token");
    assert_eq!(none.headers()["www-authenticate"], "Bearer");
    assert_eq!(scrape(&stack, &[("authorization", "Bearer wrong")]).await.status(), 401);
    let right = scrape(&stack, &[("authorization", "Bearer scrape-secret-1")]).await;
    assert_eq!(right.status(), 200);
    assert!(right.text().await.unwrap().contains("portcullis_build_info"));
}

#[tokio::test]
async fn without_a_token_only_this_machine_may_scrape() {
    let db = fresh_db().await;
    // Behind a proxy on this machine the peer is loopback: the client it names decides.
    let stack = Stack::start_with(&db, |c| c.trusted_proxies = "127.0.0.1".parse().unwrap()).await;
    assert_eq!(scrape(&stack, &[]).await.status(), 200, "a scraper on this machine");
    let outside = scrape(&stack, &[("x-forwarded-for", "203.0.113.9")]).await;
    assert_eq!(outside.status(), 403, "a client the proxy forwarded from elsewhere");
    assert!(outside.text().await.unwrap().contains("metrics_token"), "the refusal says how to allow it");
}

/// A client inside the network of the trusted proxies is no proxy of this machine: its
/// `X-Forwarded-For: 127.0.0.1` does not make it local (the TCP peer decides too).
#[tokio::test]
async fn a_forwarded_loopback_address_does_not_read_the_metrics() {
    use axum::extract::ConnectInfo;
    use axum::http::Request;
    let db = fresh_db().await;
    // Proxies inside the network, and one on this machine.
    let app = app_with(&db, |c| c.trusted_proxies = "10.0.0.0/8,127.0.0.1".parse().unwrap()).await;
    let scrape = |peer: [u8; 4], forwarded: Option<&str>| {
        let mut req = Request::get("/metrics").extension(ConnectInfo(std::net::SocketAddr::from((peer, 40000))));
        if let Some(f) = forwarded {
            req = req.header("x-forwarded-for", f);
        }
        send(&app, req.body(axum::body::Body::empty()).unwrap())
    };
    assert_eq!(scrape([10, 1, 2, 3], Some("127.0.0.1")).await.status, 403, "a forged header from inside the network");
    assert_eq!(scrape([10, 1, 2, 3], None).await.status, 403);
    assert_eq!(scrape([127, 0, 0, 1], Some("203.0.113.9")).await.status, 403, "forwarded from elsewhere");
    assert_eq!(scrape([127, 0, 0, 1], None).await.status, 200, "this machine");
}

//! Outbound webhooks against a real HTTP receiver on 127.0.0.1 (allowed by these stacks'
//! `webhook_allow_private`, except where the refusal is the point): a push delivers a signed
//! payload that verifies, a receiver answering 500 then 200 gets the retry, an internal
//! address is refused, the secret is never shown again, and only owners manage webhooks.

use crate::common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::model::{CreatedWebhook, TeamRole, WebhookDelivery, WebhookView};
use axum::http::{HeaderMap, StatusCode};
use common::stack::{oci_image, Stack};
use common::*;
use serde_json::{json, Value};

const KEYS_SECRET: &str = "webhook test keys secret";

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Received {
    headers: HeaderMap,
    body: Vec<u8>,
}

/// An HTTP receiver on 127.0.0.1: records every request, answers with the statuses it is
/// given in turn (then 200).
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    async fn start(answers: &[u16]) -> Receiver {
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let answers = Arc::new(Mutex::new(answers.to_vec()));
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post({
                let got = got.clone();
                move |headers: HeaderMap, body: axum::body::Bytes| {
                    let (got, answers) = (got.clone(), answers.clone());
                    async move {
                        got.lock().unwrap().push(Received { headers, body: body.to_vec() });
                        let mut a = answers.lock().unwrap();
                        let status = if a.is_empty() { 200 } else { a.remove(0) };
                        (StatusCode::from_u16(status).unwrap(), format!("answered {status}"))
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { url, got }
    }

    /// Waits until `n` requests have arrived; returns them.
    async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..200 {
            let got = self.got.lock().unwrap().clone();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the receiver got {} requests, not {n}", self.got.lock().unwrap().len());
    }
}

/// Whether `header` (`t=…,v1=…`) is the HMAC-SHA256 of `t.body` under `secret`, as a
/// receiver checks it.
fn verifies(header: &str, body: &[u8], secret: &str) -> bool {
    hmac_check::verify(header, body, secret)
}

/// The receiver's side of the signature, written from the documentation only.
mod hmac_check {
    use sha2::{Digest, Sha256};

    fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
        let mut k = [0u8; 64];
        if key.len() > 64 {
            k[..32].copy_from_slice(&Sha256::digest(key));
        } else {
            k[..key.len()].copy_from_slice(key);
        }
        let pad = |b: u8| k.iter().map(|x| x ^ b).collect::<Vec<u8>>();
        let inner = Sha256::new().chain_update(pad(0x36)).chain_update(message).finalize();
        Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize().into()
    }

    pub fn verify(header: &str, body: &[u8], secret: &str) -> bool {
        let mut t = None;
        let mut v1 = None;
        for part in header.split(',') {
            match part.split_once('=') {
                Some(("t", x)) => t = Some(x),
                Some(("v1", x)) => v1 = Some(x),
                _ => {}
            }
        }
        let (Some(t), Some(v1)) = (t, v1) else { return false };
        let mut message = format!("{t}.").into_bytes();
        message.extend_from_slice(body);
        let expected: String = hmac_sha256(secret.as_bytes(), &message).iter().map(|b| format!("{b:02x}")).collect();
        expected == v1
    }
}

async fn stack(allow_private: bool) -> Stack {
    let db = fresh_db().await;
    Stack::start_with(&db, |c| {
        c.webhook_allow_private = allow_private;
        c.keys_encryption_key = server::config::Secret::new(KEYS_SECRET);
    })
    .await
}

async fn namespace_id(who: &Person, name: &str) -> i64 {
    who.namespace(name).await.namespace.id
}

/// Waits until the delivery log of webhook `id` has a delivery in `state`.
async fn wait_for_state(who: &Person, id: i64, state: &str) -> Vec<WebhookDelivery> {
    for _ in 0..200 {
        let log: Vec<WebhookDelivery> = who.get(&format!("/api/v1/webhooks/{id}/deliveries")).await.parse();
        if log.iter().any(|d| d.state == state) {
            return log;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no delivery of webhook {id} reached {state}");
}

#[tokio::test]
async fn a_push_delivers_a_signed_payload_that_verifies_and_the_secret_is_never_shown_again() {
    let stack = stack(true).await;
    let world = stack.replica_world().await;
    let alice = world.person("alice").await;
    let receiver = Receiver::start(&[]).await;
    let ns = namespace_id(&alice, "alice").await;
    let secret = "a receiver's shared secret 1";
    let r = alice
        .post(
            &format!("/api/v1/namespaces/{ns}/webhooks"),
            json!({ "name": "ci", "url": receiver.url, "events": ["push", "delete"], "secret": secret,
                    "headers": { "Authorization": "Bearer receiver-token-9" } }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let created: CreatedWebhook = r.parse();
    assert_eq!(created.secret, secret);
    assert_eq!(created.webhook.header_names, vec!["Authorization".to_string()]);

    let image = oci_image(stack.dir.path(), "told", &[]);
    stack.push(&image, &alice.creds(), "alice/app:1.0").await.expect_ok("alice pushing");
    let got = receiver.wait_for(1).await;
    let hook = &got[0];
    let header = |k: &str| hook.headers.get(k).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    assert!(verifies(&header("x-portcullis-signature"), &hook.body, secret), "the signature verifies");
    assert!(!verifies(&header("x-portcullis-signature"), &hook.body, "another secret"), "and only with the secret");
    let mut forged = hook.body.clone();
    forged.extend_from_slice(b" ");
    assert!(!verifies(&header("x-portcullis-signature"), &forged, secret), "a changed body does not verify");
    assert_eq!(header("x-portcullis-event"), "push");
    assert_eq!(header("content-type"), "application/json");
    assert_eq!(header("authorization"), "Bearer receiver-token-9", "the custom header is sent");
    let payload: Value = serde_json::from_slice(&hook.body).unwrap();
    assert_eq!(payload["type"], "PUSH_ARTIFACT");
    assert_eq!(payload["operator"], "alice");
    assert_eq!(payload["event_data"]["repository"]["repo_full_name"], "alice/app");
    assert_eq!(payload["event_data"]["resources"][0]["tag"], "1.0");
    assert_eq!(payload["event_data"]["resources"][0]["resource_url"], format!("{}/alice/app:1.0", stack.registry));

    let log = wait_for_state(&alice, created.webhook.id, "delivered").await;
    assert_eq!((log[0].last_status, log[0].response_body.as_deref()), (Some(200), Some("answered 200")));
    // The secret and the header's value appear in no answer, and are stored encrypted.
    for path in [
        format!("/api/v1/webhooks/{}", created.webhook.id),
        format!("/api/v1/namespaces/{ns}/webhooks"),
        format!("/api/v1/webhooks/{}/deliveries", created.webhook.id),
    ] {
        let body = alice.get(&path).await.body;
        assert!(!body.contains(secret) && !body.contains("receiver-token-9"), "{path}: {body}");
    }
    let stored: (String, String) =
        sqlx::query_as("select secret, headers from webhook").fetch_one(&world.db).await.unwrap();
    assert!(!stored.0.contains(secret) && !stored.1.contains("receiver-token-9"), "{stored:?}");
}

#[tokio::test]
async fn a_receiver_answering_500_then_200_gets_the_retry_in_cloudevents() {
    let stack = stack(true).await;
    let world = stack.replica_world().await;
    let alice = world.person("alice").await;
    let receiver = Receiver::start(&[500]).await;
    let ns = namespace_id(&alice, "alice").await;
    let created: CreatedWebhook = alice
        .post(
            &format!("/api/v1/namespaces/{ns}/webhooks"),
            json!({ "name": "chat", "url": receiver.url, "events": ["push"], "format": "cloudevents" }),
        )
        .await
        .parse();
    let r = alice.post(&format!("/api/v1/webhooks/{}/test", created.webhook.id), json!({})).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let got = receiver.wait_for(2).await;
    let id = |r: &Received| r.headers["x-portcullis-delivery"].to_str().unwrap().to_string();
    assert_eq!(id(&got[0]), id(&got[1]), "the same delivery, tried again");
    assert_eq!(got[1].headers["content-type"], "application/cloudevents+json");
    let event: Value = serde_json::from_slice(&got[1].body).unwrap();
    assert_eq!((event["specversion"].as_str(), event["type"].as_str()), (Some("1.0"), Some("io.portcullis.test")));
    assert!(verifies(got[1].headers["x-portcullis-signature"].to_str().unwrap(), &got[1].body, &created.secret));
    let log = wait_for_state(&alice, created.webhook.id, "delivered").await;
    assert_eq!(log[0].attempts, 2, "{log:?}");

    // Redelivered on demand: a new delivery of the same event.
    let again: WebhookDelivery =
        alice.post(&format!("/api/v1/webhooks/deliveries/{}/redeliver", log[0].id), json!({})).await.parse();
    assert_ne!(again.id, log[0].id);
    let got = receiver.wait_for(3).await;
    let redelivered: Value = serde_json::from_slice(&got[2].body).unwrap();
    assert_eq!(redelivered["data"], event["data"], "the same event");
    assert_eq!(redelivered["id"], json!(again.id.to_string()), "under the new delivery's id");
}

#[tokio::test]
async fn an_internal_address_is_refused_unless_allowed() {
    let stack = stack(false).await;
    let world = stack.replica_world().await;
    let alice = world.person("alice").await;
    let receiver = Receiver::start(&[]).await;
    let ns = namespace_id(&alice, "alice").await;
    let hooks = format!("/api/v1/namespaces/{ns}/webhooks");
    let r = alice.post(&hooks, json!({ "name": "in", "url": receiver.url, "events": ["push"] })).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("loopback"), "{}", r.body);
    // A name that resolves inside is refused when sending, and nothing reaches the receiver.
    let by_name = receiver.url.replace("127.0.0.1", "localhost");
    let created: CreatedWebhook =
        alice.post(&hooks, json!({ "name": "in", "url": by_name, "events": ["push"] })).await.parse();
    alice.post(&format!("/api/v1/webhooks/{}/test", created.webhook.id), json!({})).await;
    let mut refused = None;
    for _ in 0..100 {
        let log: Vec<WebhookDelivery> =
            alice.get(&format!("/api/v1/webhooks/{}/deliveries", created.webhook.id)).await.parse();
        refused = log.into_iter().find(|d| d.last_error.is_some());
        if refused.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let refused = refused.expect("the delivery was tried");
    assert!(refused.last_error.as_deref().unwrap().contains("resolves to 127.0.0.1"), "{refused:?}");
    assert_eq!(refused.state, "pending", "tried again later, in case the name changes");
    assert!(receiver.got.lock().unwrap().is_empty());
    for url in
        ["http://169.254.169.254/latest/meta-data", "http://[::1]/x", "ftp://example.com/x", "http://u:p@example.com/"]
    {
        let r = alice.post(&hooks, json!({ "name": "bad", "url": url, "events": ["push"] })).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {}", r.body);
    }
}

#[tokio::test]
async fn only_owners_manage_a_namespaces_webhooks_and_only_administrators_site_wide_ones() {
    let stack = stack(true).await;
    let world = stack.replica_world().await;
    let (root, alice, bob) = (world.root().await, world.person("alice").await, world.person("bob").await);
    let receiver = Receiver::start(&[]).await;
    let new = || json!({ "name": "h", "url": receiver.url, "events": ["push"] });
    let alice_ns = namespace_id(&alice, "alice").await;
    let created: CreatedWebhook = alice.post(&format!("/api/v1/namespaces/{alice_ns}/webhooks"), new()).await.parse();

    // bob does not see alice's private namespace, nor her webhook.
    assert_eq!(bob.post(&format!("/api/v1/namespaces/{alice_ns}/webhooks"), new()).await.status, StatusCode::NOT_FOUND);
    assert_eq!(bob.get(&format!("/api/v1/webhooks/{}", created.webhook.id)).await.status, StatusCode::NOT_FOUND);
    assert_eq!(bob.delete(&format!("/api/v1/webhooks/{}", created.webhook.id)).await.status, StatusCode::NOT_FOUND);

    // In a team, a contributor may push but not manage webhooks; the owner may.
    let team: Value = alice.post("/api/v1/teams", json!({ "name": "acme" })).await.json();
    let team_id = team["id"].as_i64().unwrap();
    let r = alice
        .post(&format!("/api/v1/teams/{team_id}/members"), json!({ "username": "bob", "role": TeamRole::Contributor }))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let ns: Value = alice.post("/api/v1/namespaces", json!({ "name": "acme", "team_id": team_id })).await.json();
    let acme = ns["id"].as_i64().unwrap();
    let r = bob.post(&format!("/api/v1/namespaces/{acme}/webhooks"), new()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(alice.post(&format!("/api/v1/namespaces/{acme}/webhooks"), new()).await.status, StatusCode::CREATED);

    // Site-wide: administrators only.
    assert_eq!(alice.post("/api/v1/webhooks", new()).await.status, StatusCode::FORBIDDEN);
    assert_eq!(alice.get("/api/v1/webhooks").await.status, StatusCode::FORBIDDEN);
    assert_eq!(root.post("/api/v1/webhooks", new()).await.status, StatusCode::CREATED);
    let site: Vec<WebhookView> = root.get("/api/v1/webhooks").await.parse();
    assert_eq!((site.len(), site[0].namespace.as_deref()), (1, None));
    // Every namespace's webhooks, in one list: administrators only.
    let all = |who: &Person| {
        let app = world.app.clone();
        let who = who.clone();
        async move { call(&app, "/api/webhooks/all", &[], Some(&who.session().await)).await }
    };
    let listed: Vec<WebhookView> = serde_json::from_str(&all(&root).await.body).unwrap();
    let mut names: Vec<_> = listed.iter().map(|w| w.namespace.clone().unwrap_or_default()).collect();
    names.sort();
    assert_eq!(names, ["acme", "alice"]);
    assert_eq!(all(&alice).await.status, StatusCode::FORBIDDEN);

    // Its owner edits it; the fields not given stay, and bob (not even seeing it) may not.
    let path = format!("/api/v1/webhooks/{}", created.webhook.id);
    let edit = json!({ "name": "ci", "events": ["push", "delete"], "format": "cloudevents" });
    assert_eq!(bob.put(&path, edit.clone()).await.status, StatusCode::NOT_FOUND);
    let r = alice.put(&path, edit).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let edited: WebhookView = r.parse();
    assert_eq!(
        (edited.name.as_str(), edited.format.as_str(), edited.url.as_str()),
        ("ci", "cloudevents", receiver.url.as_str())
    );
    assert_eq!(edited.events, ["push", "delete"]);
    assert!(edited.enabled);
    assert_eq!(alice.put(&path, json!({ "events": [] })).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(alice.put(&path, json!({ "secret": "short" })).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(alice.put(&path, json!({})).await.status, StatusCode::UNPROCESSABLE_ENTITY, "nothing to change");
    assert!(world.actions().await.iter().any(|a| a == "webhook.update"));

    // Turned off, it is not told of pushes.
    let r = alice.put(&format!("/api/v1/webhooks/{}", created.webhook.id), json!({ "enabled": false })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(!r.parse::<WebhookView>().enabled);
    assert_eq!(alice.delete(&format!("/api/v1/webhooks/{}", created.webhook.id)).await.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_cleanup_run_is_told_its_deletions_and_its_summary() {
    let stack = stack(true).await;
    let world = stack.replica_world().await;
    let alice = world.person("alice").await;
    let receiver = Receiver::start(&[]).await;
    let ns = namespace_id(&alice, "alice").await;
    let created: CreatedWebhook = alice
        .post(
            &format!("/api/v1/namespaces/{ns}/webhooks"),
            json!({ "name": "audit", "url": receiver.url, "events": ["delete", "cleanup"] }),
        )
        .await
        .parse();
    for (tag, content) in [("old", "old image"), ("new", "new image")] {
        let dir = stack.dir.path().join(tag);
        std::fs::create_dir_all(&dir).unwrap();
        let image = oci_image(&dir, content, &[]);
        stack.push(&image, &alice.creds(), &format!("alice/app:{tag}")).await.expect_ok("pushing");
        stack.wait_for_tag(&alice, "alice/app", tag).await;
    }
    let policy = format!("/api/v1/namespaces/{ns}/cleanup");
    assert_eq!(alice.put(&policy, json!({ "keep_last": 1 })).await.status, StatusCode::OK);
    assert_eq!(alice.post(&format!("{policy}/run"), json!({})).await.status, StatusCode::OK);
    let got = receiver.wait_for(2).await;
    let payloads: Vec<Value> = got.iter().map(|r| serde_json::from_slice(&r.body).unwrap()).collect();
    let deleted = payloads.iter().find(|p| p["type"] == "DELETE_ARTIFACT").expect("the deletion is told");
    assert_eq!(deleted["event_data"]["resources"][0]["tag"], "old");
    let summary = payloads.iter().find(|p| p["type"] == "CLEANUP_RUN").expect("the run is told");
    assert_eq!((summary["event_data"]["deleted"].as_i64(), summary["operator"].as_str()), (Some(1), Some("alice")));
    for r in &got {
        assert!(verifies(r.headers["x-portcullis-signature"].to_str().unwrap(), &r.body, &created.secret));
    }
}

/// A webhook's URL is a bearer secret (Slack's, a CI trigger's `?token=`): the activity log keeps
/// its scheme and host only, and a namespace's activity shows its details only to those who may
/// manage the namespace, not to everyone who may pull from it.
#[tokio::test]
async fn a_webhooks_url_is_logged_as_its_host_and_details_go_only_to_managers() {
    let world = World::with(|c| c.keys_encryption_key = server::config::Secret::new(KEYS_SECRET)).await;
    let (root, alice, bob) = (world.root().await, world.person("alice").await, world.person("bob").await);
    alice.set_visibility("alice", app::model::Visibility::Public).await;
    let ns = namespace_id(&alice, "alice").await;
    let url = "https://hooks.example.com/services/T0/B0?token=s3cr3t-t0ken";
    let r = alice
        .post(&format!("/api/v1/namespaces/{ns}/webhooks"), json!({ "name": "ci", "url": url, "events": ["push"] }))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);

    // bob, new here, reads alice's public namespace: its activity, without details.
    let (bob_session, alice_session) = (bob.session().await, alice.session().await);
    let page = get(&world.app, "/namespaces/alice", Some(&bob_session)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("s3cr3t") && !page.body.contains("hooks.example.com"), "{}", page.body);
    let activity = |cookie: String| {
        let app = world.app.clone();
        async move {
            let r = call(&app, "/api/namespaces/get", &[("name", "alice")], Some(&cookie)).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            let created =
                r.json()["activity"].as_array().unwrap().iter().find(|e| e["action"] == "webhook.create").cloned();
            created.expect("the webhook's creation is in the namespace's activity")["details"].clone()
        }
    };
    assert_eq!(activity(bob_session).await, json!({}));
    // alice, its owner, sees the details: the host, never the path or the token.
    let details = activity(alice_session).await;
    assert_eq!(details["url"], "https://hooks.example.com", "{details}");
    // The administrators' export has no token either.
    let csv = root.get("/admin/activity.csv").await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.body.contains("webhook.create") && !csv.body.contains("s3cr3t"), "{}", csv.body);
}

/// Deliveries go straight to the address checked and pinned, whatever `HTTP_PROXY` says: a
/// proxy would connect to the host itself, past the check (here the proxy does not even answer).
#[tokio::test]
async fn deliveries_ignore_the_proxy_settings_of_the_environment() {
    let stack = stack(true).await;
    let world = stack.replica_world().await;
    let alice = world.person("alice").await;
    let receiver = Receiver::start(&[]).await;
    let ns = namespace_id(&alice, "alice").await;
    let r = alice
        .post(
            &format!("/api/v1/namespaces/{ns}/webhooks"),
            json!({ "name": "ci", "url": receiver.url, "events": ["push"] }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.parse::<CreatedWebhook>().webhook.id;
    // Set after the stack started: only clients made from now on read it (the webhook's is made per delivery).
    for var in ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"] {
        std::env::set_var(var, "http://127.0.0.1:9");
    }
    let r = alice.post(&format!("/api/v1/webhooks/{id}/test"), json!({})).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let got = tokio::time::timeout(Duration::from_secs(20), receiver.wait_for(1)).await;
    let log: Vec<WebhookDelivery> = alice.get(&format!("/api/v1/webhooks/{id}/deliveries")).await.parse();
    for var in ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"] {
        std::env::remove_var(var);
    }
    assert!(got.is_ok_and(|g| g.len() == 1), "delivered to the receiver itself, not the proxy: {log:?}");
}

#[tokio::test]
async fn a_namespace_nearing_its_quota_is_warned_once_and_a_refused_push_is_told() {
    let stack = stack(true).await;
    let world = stack.replica_world().await;
    let (root, alice) = (world.root().await, world.person("alice").await);
    let receiver = Receiver::start(&[]).await;
    let ns = namespace_id(&alice, "alice").await;
    let created: CreatedWebhook = alice
        .post(
            &format!("/api/v1/namespaces/{ns}/webhooks"),
            json!({ "name": "storage", "url": receiver.url, "events": ["quota"] }),
        )
        .await
        .parse();
    let quota = format!("/api/v1/namespaces/{ns}/quota");
    let images: Vec<_> = ["one", "two", "three"]
        .iter()
        .map(|c| {
            let dir = stack.dir.path().join(c);
            std::fs::create_dir_all(&dir).unwrap();
            oci_image(&dir, c, &[])
        })
        .collect();
    stack.push(&images[0], &alice.creds(), "alice/app:one").await.expect_ok("a push without a quota");
    let mut used = 0;
    for _ in 0..100 {
        used = alice.get(&quota).await.json()["used_bytes"].as_i64().unwrap();
        if used > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(used > 0);
    // Room for one more image of about the same size, which takes the namespace past 85 %.
    let limit = 2 * used + 100;
    assert_eq!(root.put(&quota, json!({ "limit_bytes": limit })).await.status, StatusCode::OK);
    stack.push(&images[1], &alice.creds(), "alice/app:two").await.expect_ok("a push under the quota");
    stack.push(&images[1], &alice.creds(), "alice/app:two-again").await.expect_ok("the same image again");
    stack.push(&images[2], &alice.creds(), "alice/app:three").await.expect_refused("a push over the quota");
    let got = receiver.wait_for(2).await;
    let payloads: Vec<Value> = got.iter().map(|r| serde_json::from_slice(&r.body).unwrap()).collect();
    let kinds: Vec<&str> = payloads.iter().map(|p| p["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["QUOTA_WARNING", "QUOTA_EXCEEDED"], "one warning, then the refusal: {payloads:?}");
    let (warning, exceeded) = (&payloads[0]["event_data"], &payloads[1]["event_data"]);
    assert_eq!((warning["namespace"].as_str(), warning["limit_bytes"].as_i64()), (Some("alice"), Some(limit)));
    assert!(warning["percent"].as_i64().unwrap() >= 85, "{warning}");
    assert_eq!(exceeded["reference"], "three");
    assert!(exceeded["message"].as_str().unwrap().starts_with("quota exceeded: used"), "{exceeded}");
    assert_eq!(payloads[1]["operator"], "alice");
    for r in &got {
        assert!(verifies(r.headers["x-portcullis-signature"].to_str().unwrap(), &r.body, &created.secret));
    }
}

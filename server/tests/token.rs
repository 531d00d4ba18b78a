//! The token endpoint through the router: the protocol, the grant, credentials of every kind.

mod common;

use axum::body::{Body, Bytes};
use axum::http::{header, Request, StatusCode};
use base64::Engine as _;
use common::stack::{claims, jwt_header};
use common::*;
use serde_json::json;

fn basic(user: &str, secret: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}")))
}

async fn token_get(app: &axum::Router, query: &str, auth: Option<&str>) -> Reply {
    let mut req = Request::get(format!("/v2/token?{query}"));
    if let Some(a) = auth {
        req = req.header(header::AUTHORIZATION, a);
    }
    send(app, req.body(Body::empty()).unwrap()).await
}

async fn token_post(app: &axum::Router, form_body: &str) -> Reply {
    let req = Request::post("/v2/token")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form_body.to_string()))
        .unwrap();
    send(app, req).await
}

/// Alice (password "alice password 1") with a team namespace `acme` where bob is a viewer.
async fn setup(app: &axum::Router) -> (String, i64, String) {
    let (_, admin) = bootstrap(app).await;
    let (alice_id, alice) = user_with_token(app, &admin, "alice").await;
    user_with_token(app, &admin, "bob").await;
    api(app, "POST", "/api/v1/teams", Some(&alice), Some(json!({"name": "acme"}))).await;
    api(app, "POST", "/api/v1/namespaces", Some(&alice), Some(json!({"name": "acme", "team": "acme"}))).await;
    let team = api(app, "GET", "/api/v1/teams", Some(&alice), None).await.json()[0]["id"].as_i64().unwrap();
    api(
        app,
        "POST",
        &format!("/api/v1/teams/{team}/members"),
        Some(&alice),
        Some(json!({"username": "bob", "role": "viewer"})),
    )
    .await;
    (admin, alice_id, alice)
}

const ALICE_PW: &str = "alice password 1";

#[tokio::test]
async fn a_token_has_the_claims_the_registry_needs() {
    let db = fresh_db().await;
    let app = app(&db).await;
    setup(&app).await;
    let r = token_get(
        &app,
        "service=portcullis-registry&scope=repository:alice/hello:pull,push",
        Some(&basic("alice", ALICE_PW)),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.headers[header::CACHE_CONTROL], "no-store");
    let body = r.json();
    assert_eq!(body["token"], body["access_token"]);
    assert_eq!(body["expires_in"], 300);
    let issued_at = body["issued_at"].as_str().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(issued_at).is_ok(), "issued_at is RFC 3339: {issued_at}");

    let jwt = body["token"].as_str().unwrap();
    let h = jwt_header(jwt);
    assert_eq!(h["alg"], "ES256");
    assert_eq!(h["typ"], "JWT");
    assert_eq!(h["kid"].as_str().unwrap().split(':').count(), 12);
    assert_eq!(h["x5c"].as_array().unwrap().len(), 1);
    let c = claims(jwt);
    assert_eq!(c["iss"], "portcullis");
    assert_eq!(c["aud"], "portcullis-registry");
    assert_eq!(c["sub"], "alice");
    let (iat, nbf, exp) = (c["iat"].as_i64().unwrap(), c["nbf"].as_i64().unwrap(), c["exp"].as_i64().unwrap());
    assert_eq!(exp - iat, 300);
    assert!(nbf <= iat);
    assert_eq!(c["access"], json!([{"type": "repository", "name": "alice/hello", "actions": ["pull", "push"]}]));
    // The signature is 64 bytes (JOSE r||s), not DER.
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(jwt.split('.').nth(2).unwrap()).unwrap();
    assert_eq!(sig.len(), 64);

    let again = token_get(&app, "service=portcullis-registry", Some(&basic("alice", ALICE_PW))).await;
    assert_ne!(claims(again.json()["token"].as_str().unwrap())["jti"], c["jti"], "every token has its own jti");
}

#[tokio::test]
async fn the_grant_is_what_was_asked_and_allowed() {
    let db = fresh_db().await;
    let app = app(&db).await;
    setup(&app).await;
    let bob = basic("bob", "bob password 1");
    let q = "scope=repository:acme/app:pull,push&scope=repository:alice/hello:pull&scope=repository:bob/mine:*";
    let c = claims(token_get(&app, q, Some(&bob)).await.json()["token"].as_str().unwrap());
    assert_eq!(
        c["access"],
        json!([
            {"type": "repository", "name": "acme/app", "actions": ["pull"]},
            {"type": "repository", "name": "bob/mine", "actions": ["pull", "push", "delete"]},
        ]),
        "a viewer pulls but does not push; alice's private namespace is not bob's"
    );
    // Space-separated scopes, a resource class, a host:port name and junk in one request.
    let q =
        "scope=repository(plugin):bob/p:pull%20repository:127.0.0.1:5000/bob/x:push%20nonsense%20repository:bob/y:fly";
    let c = claims(token_get(&app, q, Some(&bob)).await.json()["token"].as_str().unwrap());
    assert_eq!(
        c["access"],
        json!([
            {"type": "repository", "name": "bob/p", "actions": ["pull"]},
            {"type": "repository", "name": "127.0.0.1:5000/bob/x", "actions": ["push"]},
        ])
    );
}

#[tokio::test]
async fn anonymous_gets_public_pulls_only() {
    let db = fresh_db().await;
    let app = app(&db).await;
    let (_, _, alice) = setup(&app).await;
    let q = "scope=repository:acme/app:pull,push&scope=repository:hello:pull";
    let r = token_get(&app, q, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let c = claims(r.json()["token"].as_str().unwrap());
    assert_eq!(c["sub"], "");
    assert_eq!(
        c["access"],
        json!([{"type": "repository", "name": "hello", "actions": ["pull"]}]),
        "the global namespace is public"
    );
    let ns = api(&app, "GET", "/api/v1/namespaces", Some(&alice), None).await.json();
    let acme = ns.as_array().unwrap().iter().find(|n| n["name"] == "acme").unwrap()["id"].clone();
    api(&app, "PUT", &format!("/api/v1/namespaces/{acme}"), Some(&alice), Some(json!({"visibility": "public"}))).await;
    let c = claims(token_get(&app, q, None).await.json()["token"].as_str().unwrap());
    assert_eq!(c["access"][0], json!({"type": "repository", "name": "acme/app", "actions": ["pull"]}));
}

#[tokio::test]
async fn a_dotted_namespace_is_judged_as_itself_not_as_a_registry_host() {
    let db = fresh_db().await;
    let app = app(&db).await;
    let (admin, _, alice) = setup(&app).await;
    user_with_token(&app, &admin, "john.doe").await;
    // john.doe's personal namespace is private: the registry reads "john.doe/app" as a path in it.
    let q = "scope=repository:john.doe/app:pull&scope=repository:john.doe/alice/x:pull,push";
    let r = token_get(&app, q, None).await;
    assert_eq!(claims(r.json()["token"].as_str().unwrap())["access"], json!([]), "anonymous gets nothing");
    let r = token_get(&app, q, Some(&basic("alice", &alice))).await;
    assert_eq!(claims(r.json()["token"].as_str().unwrap())["access"], json!([]), "alice gets nothing");
    let r = token_get(&app, q, Some(&basic("john.doe", "john.doe password 1"))).await;
    assert_eq!(
        claims(r.json()["token"].as_str().unwrap())["access"],
        json!([
            {"type": "repository", "name": "john.doe/app", "actions": ["pull"]},
            {"type": "repository", "name": "john.doe/alice/x", "actions": ["pull", "push"]},
        ]),
        "its owner gets what he asked"
    );
}

#[tokio::test]
async fn only_admins_get_the_catalog() {
    let db = fresh_db().await;
    let app = app(&db).await;
    setup(&app).await;
    let admin = token_get(&app, "scope=registry:catalog:*", Some(&basic("root", "root password 1"))).await;
    assert_eq!(
        claims(admin.json()["token"].as_str().unwrap())["access"],
        json!([{"type": "registry", "name": "catalog", "actions": ["*"]}])
    );
    let alice = token_get(&app, "scope=registry:catalog:*", Some(&basic("alice", ALICE_PW))).await;
    assert_eq!(claims(alice.json()["token"].as_str().unwrap())["access"], json!([]));
}

#[tokio::test]
async fn bad_credentials_get_401_and_bad_requests_400() {
    let db = fresh_db().await;
    let app = app(&db).await;
    setup(&app).await;
    let wrong = token_get(&app, "scope=repository:alice/x:pull", Some(&basic("alice", "wrong"))).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.json()["errors"][0]["code"], "UNAUTHORIZED");
    assert!(wrong.headers.contains_key(header::WWW_AUTHENTICATE));
    let unknown = token_get(&app, "scope=repository:alice/x:pull", Some(&basic("mallory", "wrong"))).await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.body, wrong.body, "an unknown user looks like a wrong password");

    for bad in ["Bearer abc", "Basic !!!", "Basic bm9jb2xvbg=="] {
        let r = token_get(&app, "", Some(bad)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.body);
        assert_eq!(r.json()["errors"][0]["code"], "INVALID_REQUEST");
    }
    assert_eq!(token_get(&app, "service=someone-else", None).await.status, StatusCode::BAD_REQUEST);
    // Garbage scopes are dropped, not an error.
    let r = token_get(&app, "scope=%00%ff::::&scope=repository:&scope=registry:catalog:pull", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(claims(r.json()["token"].as_str().unwrap())["access"], json!([]));
    assert_eq!(token_post(&app, "grant_type=magic").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(token_post(&app, "grant_type=password&username=alice").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(token_post(&app, "grant_type=refresh_token").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        token_post(&app, "grant_type=refresh_token&refresh_token=pcrt_nope").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn the_account_parameter_must_be_the_authenticated_user() {
    let db = fresh_db().await;
    let app = app(&db).await;
    setup(&app).await;
    let ok = token_get(&app, "account=alice&service=portcullis-registry", Some(&basic("alice", ALICE_PW))).await;
    assert_eq!(ok.status, StatusCode::OK);
    let spoof = token_get(&app, "account=bob&scope=repository:bob/x:push", Some(&basic("alice", ALICE_PW))).await;
    assert_eq!(spoof.status, StatusCode::UNAUTHORIZED, "{}", spoof.body);
    let anon = token_get(&app, "account=bob&scope=repository:bob/x:pull", None).await;
    assert_eq!(anon.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn post_password_and_refresh_token_grants() {
    let db = fresh_db().await;
    let app = app(&db).await;
    setup(&app).await;
    let r = token_post(&app, &format!("grant_type=password&username=alice&password={}&access_type=offline&client_id=docker&service=portcullis-registry&scope=repository:alice/x:pull%20repository:bob/y:pull", app::ui::urlencode(ALICE_PW))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let body = r.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "repository:alice/x:pull");
    let refresh = body["refresh_token"].as_str().unwrap().to_string();
    assert!(refresh.starts_with("pcrt_"));

    // The refresh token alone authenticates, sent chunked as skopeo does.
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(Bytes::from("grant_type=refresh_token&refresh_token=")),
        Ok(Bytes::from(refresh.clone())),
        Ok(Bytes::from("&client_id=skopeo&service=portcullis-registry&scope=repository:alice/x:push")),
    ];
    let req = Request::post("/v2/token")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .unwrap();
    let r = send(&app, req).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let c = claims(r.json()["access_token"].as_str().unwrap());
    assert_eq!(c["sub"], "alice");
    assert_eq!(c["access"][0]["actions"], json!(["push"]));
    // As the password in Basic too (docker's identity token flow through GET).
    let r = token_get(&app, "scope=repository:alice/x:pull", Some(&basic("alice", &refresh))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(token_get(&app, "", Some(&basic("bob", &refresh))).await.status, StatusCode::UNAUTHORIZED);
    // GET offline_token=true also hands one out.
    let r = token_get(&app, "offline_token=true&client_id=docker", Some(&basic("alice", ALICE_PW))).await;
    assert!(r.json()["refresh_token"].as_str().unwrap().starts_with("pcrt_"));
    let r = token_get(&app, "", Some(&basic("alice", ALICE_PW))).await;
    assert!(r.json().get("refresh_token").is_none(), "no refresh token unless asked");

    // A password change voids every refresh token.
    let cookie = log_in(&app, "alice", ALICE_PW).await.session_cookie().unwrap();
    let r = call(
        &app,
        "/api/account/password",
        &[
            ("current_password", ALICE_PW),
            ("new_password", "new password 22"),
            ("new_password_confirm", "new password 22"),
        ],
        Some(&cookie),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = token_post(&app, &format!("grant_type=refresh_token&refresh_token={refresh}")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_remembered_password_is_forgotten_when_it_changes_or_the_user_is_disabled() {
    let db = fresh_db().await;
    let app = app(&db).await;
    let (admin, alice_id, _) = setup(&app).await;
    // Twice: the second is served from the cache.
    for _ in 0..2 {
        assert_eq!(token_get(&app, "", Some(&basic("alice", ALICE_PW))).await.status, StatusCode::OK);
    }
    let cookie = log_in(&app, "alice", ALICE_PW).await.session_cookie().unwrap();
    call(
        &app,
        "/api/account/password",
        &[
            ("current_password", ALICE_PW),
            ("new_password", "new password 22"),
            ("new_password_confirm", "new password 22"),
        ],
        Some(&cookie),
    )
    .await;
    assert_eq!(token_get(&app, "", Some(&basic("alice", ALICE_PW))).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(token_get(&app, "", Some(&basic("alice", "new password 22"))).await.status, StatusCode::OK);
    let r = token_get(&app, "offline_token=true", Some(&basic("alice", "new password 22"))).await;
    let refresh = r.json()["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(
        token_post(&app, &format!("grant_type=refresh_token&refresh_token={refresh}")).await.status,
        StatusCode::OK
    );
    api(&app, "PUT", &format!("/api/v1/users/{alice_id}"), Some(&admin), Some(json!({"enabled": false}))).await;
    assert_eq!(token_get(&app, "", Some(&basic("alice", "new password 22"))).await.status, StatusCode::UNAUTHORIZED);
    // Her refresh token stops working too, and stays void after she is enabled again.
    let refreshed = |refresh: String| {
        let app = app.clone();
        async move { token_post(&app, &format!("grant_type=refresh_token&refresh_token={refresh}")).await.status }
    };
    assert_eq!(refreshed(refresh.clone()).await, StatusCode::UNAUTHORIZED);
    api(&app, "PUT", &format!("/api/v1/users/{alice_id}"), Some(&admin), Some(json!({"enabled": true}))).await;
    assert_eq!(refreshed(refresh).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn access_tokens_work_as_passwords_and_keep_their_restrictions() {
    let db = fresh_db().await;
    let app = app(&db).await;
    let (admin, alice_id, alice) = setup(&app).await;
    let full = token_get(&app, "scope=repository:alice/x:pull,push", Some(&basic("alice", &alice))).await;
    assert_eq!(claims(full.json()["token"].as_str().unwrap())["access"][0]["actions"], json!(["pull", "push"]));

    let pull_only = token_for(&app, &admin, alice_id, json!({"name": "ro", "pull_only": true})).await;
    let r = token_get(&app, "scope=repository:alice/x:pull,push,delete", Some(&basic("alice", &pull_only))).await;
    assert_eq!(claims(r.json()["token"].as_str().unwrap())["access"][0]["actions"], json!(["pull"]));
    // It cannot be traded for a refresh token, which would carry alice's whole rights.
    let r = token_get(&app, "offline_token=true&client_id=docker", Some(&basic("alice", &pull_only))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.json().get("refresh_token").is_none(), "{}", r.body);
    let r = token_get(&app, "offline_token=true&client_id=docker", Some(&basic("alice", ALICE_PW))).await;
    assert!(r.json()["refresh_token"].is_string(), "a password still earns one");

    let only_acme = token_for(&app, &admin, alice_id, json!({"name": "acme", "namespaces": ["acme"]})).await;
    let r = token_get(
        &app,
        "scope=repository:alice/x:pull&scope=repository:acme/y:push&scope=repository:hello:pull",
        Some(&basic("alice", &only_acme)),
    )
    .await;
    assert_eq!(
        claims(r.json()["token"].as_str().unwrap())["access"],
        json!([{"type": "repository", "name": "acme/y", "actions": ["push"]}])
    );

    // Someone else's name with alice's token is refused; so is a revoked token.
    assert_eq!(token_get(&app, "", Some(&basic("bob", &alice))).await.status, StatusCode::UNAUTHORIZED);
    let id = api(&app, "GET", &format!("/api/v1/users/{alice_id}/application_tokens"), Some(&admin), None)
        .await
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "ro")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    api(&app, "DELETE", &format!("/api/v1/users/application_tokens/{id}"), Some(&admin), None).await;
    assert_eq!(token_get(&app, "", Some(&basic("alice", &pull_only))).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn bot_users_have_no_password_but_tokens_work() {
    let db = fresh_db().await;
    let app = app(&db).await;
    let (admin, _, _) = setup(&app).await;
    let r = api(&app, "POST", "/api/v1/users", Some(&admin), Some(json!({"username": "ci-bot", "bot": true}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let bot_id = r.json()["id"].as_i64().unwrap();
    let secret = token_for(&app, &admin, bot_id, json!({"name": "ci"})).await;
    assert_eq!(token_get(&app, "", Some(&basic("ci-bot", &secret))).await.status, StatusCode::OK);
    assert_eq!(token_get(&app, "", Some(&basic("ci-bot", ""))).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn rs256_is_selectable_and_a_switch_takes_effect_at_the_next_start() {
    let db = fresh_db().await;
    let app = app(&db).await;
    let (_, _, alice) = setup(&app).await;
    let jwt = |r: Reply| r.json()["token"].as_str().unwrap().to_string();
    let before = jwt(token_get(&app, "", Some(&basic("alice", &alice))).await);
    assert_eq!(jwt_header(&before)["alg"], "ES256");
    // The next start with RS256 configured signs with a new RS256 key...
    let app = app_with(&db, |c| c.token_algorithm = "RS256".parse().unwrap()).await;
    let after = jwt(token_get(&app, "", Some(&basic("alice", &alice))).await);
    assert_eq!(jwt_header(&after)["alg"], "RS256");
    assert_ne!(jwt_header(&after)["kid"], jwt_header(&before)["kid"]);
    // ...and the ES256 key stays published for the tokens it signed.
    let published: i64 = sqlx::query_scalar(
        "select count(*) from signing_key where kind = 'signing' and (retired_at is null or alg = 'ES256')",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(published, 2);
}

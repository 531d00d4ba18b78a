//! The token endpoint through the router: the protocol, the grant, credentials of every kind.

use crate::common;

use app::model::{AccessTokenView, TeamRole, UserView, Visibility};
use axum::body::{Body, Bytes};
use axum::http::{header, Request, StatusCode};
use base64::Engine as _;
use common::stack::{claims, jwt_header};
use common::*;
use serde_json::{json, Value};

async fn token_get(world: &World, query: &str, auth: Option<&str>) -> Reply {
    let mut req = Request::get(format!("/v2/token?{query}"));
    if let Some(a) = auth {
        req = req.header(header::AUTHORIZATION, a);
    }
    send(&world.app, req.body(Body::empty()).unwrap()).await
}

async fn token_post(world: &World, form_body: &str) -> Reply {
    let req = Request::post("/v2/token")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form_body.to_string()))
        .unwrap();
    send(&world.app, req).await
}

/// The claims of the registry token in a token answer (whose body has no model type).
#[track_caller]
fn claims_of(r: &Reply) -> Value {
    claims(r.json()["token"].as_str().unwrap_or_else(|| panic!("no token: {} {}", r.status, r.body)))
}

/// Root, alice and bob; alice's team `acme` with its namespace `acme`, where bob is a viewer.
async fn acme(world: &World) -> (Person, Person, Person) {
    let (root, alice, bob) = (world.root().await, world.person("alice").await, world.person("bob").await);
    let acme = alice.create_team("acme").await;
    alice.create_namespace("acme", "acme").await;
    alice.add_member(acme.id, "bob", TeamRole::Viewer).await;
    (root, alice, bob)
}

const ALICE_PW: &str = "alice password 1";

#[tokio::test]
async fn a_token_has_the_claims_the_registry_needs() {
    let world = World::new().await;
    let (_, alice, _) = acme(&world).await;
    let r =
        token_get(&world, "service=portcullis-registry&scope=repository:alice/hello:pull,push", Some(&alice.basic()))
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

    let again = token_get(&world, "service=portcullis-registry", Some(&alice.basic())).await;
    assert_ne!(claims_of(&again)["jti"], c["jti"], "every token has its own jti");
}

#[tokio::test]
async fn the_grant_is_what_was_asked_and_allowed() {
    let world = World::new().await;
    let (_, _, bob) = acme(&world).await;
    let q = "scope=repository:acme/app:pull,push&scope=repository:alice/hello:pull&scope=repository:bob/mine:*";
    let c = claims_of(&token_get(&world, q, Some(&bob.basic())).await);
    assert_eq!(
        c["access"],
        json!([
            {"type": "repository", "name": "acme/app", "actions": ["pull"]},
            {"type": "repository", "name": "bob/mine", "actions": ["pull", "push", "delete"]},
        ]),
        "a viewer pulls but does not push; alice's private namespace is not bob's"
    );
}

#[tokio::test]
async fn scopes_are_read_as_clients_send_them_and_junk_is_dropped() {
    let world = World::new().await;
    let (_, _, bob) = acme(&world).await;
    // Space-separated scopes, a resource class, a host:port name and junk in one request.
    let q =
        "scope=repository(plugin):bob/p:pull%20repository:127.0.0.1:5000/bob/x:push%20nonsense%20repository:bob/y:fly";
    let c = claims_of(&token_get(&world, q, Some(&bob.basic())).await);
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
    let world = World::new().await;
    let (_, alice, _) = acme(&world).await;
    let q = "scope=repository:acme/app:pull,push&scope=repository:hello:pull";
    let r = token_get(&world, q, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let c = claims_of(&r);
    assert_eq!(c["sub"], "");
    assert_eq!(
        c["access"],
        json!([{"type": "repository", "name": "hello", "actions": ["pull"]}]),
        "the global namespace is public"
    );
    alice.set_visibility("acme", Visibility::Public).await;
    let c = claims_of(&token_get(&world, q, None).await);
    assert_eq!(c["access"][0], json!({"type": "repository", "name": "acme/app", "actions": ["pull"]}));
}

#[tokio::test]
async fn a_dotted_namespace_is_judged_as_itself_not_as_a_registry_host() {
    let world = World::new().await;
    let (_, alice, _) = acme(&world).await;
    let john = world.person("john.doe").await;
    // john.doe's personal namespace is private: the registry reads "john.doe/app" as a path in it.
    let q = "scope=repository:john.doe/app:pull&scope=repository:john.doe/alice/x:pull,push";
    let r = token_get(&world, q, None).await;
    assert_eq!(claims_of(&r)["access"], json!([]), "anonymous gets nothing");
    let r = token_get(&world, q, Some(&alice.basic_with(&alice.token))).await;
    assert_eq!(claims_of(&r)["access"], json!([]), "alice gets nothing");
    let r = token_get(&world, q, Some(&john.basic())).await;
    assert_eq!(
        claims_of(&r)["access"],
        json!([
            {"type": "repository", "name": "john.doe/app", "actions": ["pull"]},
            {"type": "repository", "name": "john.doe/alice/x", "actions": ["pull", "push"]},
        ]),
        "its owner gets what he asked"
    );
}

#[tokio::test]
async fn only_admins_get_the_catalog() {
    let world = World::new().await;
    let (root, alice, _) = acme(&world).await;
    let admin = token_get(&world, "scope=registry:catalog:*", Some(&root.basic())).await;
    assert_eq!(claims_of(&admin)["access"], json!([{"type": "registry", "name": "catalog", "actions": ["*"]}]));
    let alice = token_get(&world, "scope=registry:catalog:*", Some(&alice.basic())).await;
    assert_eq!(claims_of(&alice)["access"], json!([]));
}

#[tokio::test]
async fn wrong_credentials_get_401_and_an_unknown_user_looks_like_a_wrong_password() {
    let world = World::new().await;
    acme(&world).await;
    let wrong = token_get(&world, "scope=repository:alice/x:pull", Some(&basic("alice", "wrong"))).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.json()["errors"][0]["code"], "UNAUTHORIZED");
    assert!(wrong.headers.contains_key(header::WWW_AUTHENTICATE));
    let unknown = token_get(&world, "scope=repository:alice/x:pull", Some(&basic("mallory", "wrong"))).await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.body, wrong.body, "an unknown user looks like a wrong password");
}

#[tokio::test]
async fn malformed_credentials_and_another_service_get_400() {
    let world = World::new().await;
    acme(&world).await;
    for bad in ["Bearer abc", "Basic !!!", "Basic bm9jb2xvbg=="] {
        let r = token_get(&world, "", Some(bad)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.body);
        assert_eq!(r.json()["errors"][0]["code"], "INVALID_REQUEST");
    }
    assert_eq!(token_get(&world, "service=someone-else", None).await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn garbage_scopes_are_dropped_not_an_error() {
    let world = World::new().await;
    acme(&world).await;
    let r = token_get(&world, "scope=%00%ff::::&scope=repository:&scope=registry:catalog:pull", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(claims_of(&r)["access"], json!([]));
}

#[tokio::test]
async fn incomplete_grants_get_400_and_an_unknown_refresh_token_401() {
    let world = World::new().await;
    acme(&world).await;
    assert_eq!(token_post(&world, "grant_type=magic").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(token_post(&world, "grant_type=password&username=alice").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(token_post(&world, "grant_type=refresh_token").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        token_post(&world, "grant_type=refresh_token&refresh_token=pcrt_nope").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn the_account_parameter_must_be_the_authenticated_user() {
    let world = World::new().await;
    let (_, alice, _) = acme(&world).await;
    let ok = token_get(&world, "account=alice&service=portcullis-registry", Some(&alice.basic())).await;
    assert_eq!(ok.status, StatusCode::OK);
    let spoof = token_get(&world, "account=bob&scope=repository:bob/x:push", Some(&alice.basic())).await;
    assert_eq!(spoof.status, StatusCode::UNAUTHORIZED, "{}", spoof.body);
    let anon = token_get(&world, "account=bob&scope=repository:bob/x:pull", None).await;
    assert_eq!(anon.status, StatusCode::UNAUTHORIZED);
}

/// The POST password grant for alice, offline (with a refresh token), as docker's login does.
async fn password_grant(world: &World) -> Reply {
    token_post(world, &format!("grant_type=password&username=alice&password={}&access_type=offline&client_id=docker&service=portcullis-registry&scope=repository:alice/x:pull%20repository:bob/y:pull", app::ui::urlencode(ALICE_PW))).await
}

/// A refresh token of alice's, from the password grant.
async fn refresh_token(world: &World) -> String {
    let r = password_grant(world).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json()["refresh_token"].as_str().unwrap().to_string()
}

/// Alice changes her password (from `ALICE_PW`) to "new password 22".
async fn change_password(world: &World, alice: &Person) -> Reply {
    let pairs = [
        ("current_password", ALICE_PW),
        ("new_password", "new password 22"),
        ("new_password_confirm", "new password 22"),
    ];
    call(&world.app, "/api/account/password", &pairs, Some(&alice.session().await)).await
}

#[tokio::test]
async fn the_password_grant_answers_with_the_allowed_scope_and_a_refresh_token() {
    let world = World::new().await;
    acme(&world).await;
    let r = password_grant(&world).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let body = r.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "repository:alice/x:pull");
    assert!(body["refresh_token"].as_str().unwrap().starts_with("pcrt_"));
}

#[tokio::test]
async fn a_refresh_token_alone_authenticates_its_owner_only() {
    let world = World::new().await;
    let (_, alice, _) = acme(&world).await;
    let refresh = refresh_token(&world).await;
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
    let r = send(&world.app, req).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let c = claims(r.json()["access_token"].as_str().unwrap());
    assert_eq!(c["sub"], "alice");
    assert_eq!(c["access"][0]["actions"], json!(["push"]));
    // As the password in Basic too (docker's identity token flow through GET).
    let r = token_get(&world, "scope=repository:alice/x:pull", Some(&alice.basic_with(&refresh))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(token_get(&world, "", Some(&basic("bob", &refresh))).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn get_hands_out_a_refresh_token_only_when_asked() {
    let world = World::new().await;
    let (_, alice, _) = acme(&world).await;
    let r = token_get(&world, "offline_token=true&client_id=docker", Some(&alice.basic())).await;
    assert!(r.json()["refresh_token"].as_str().unwrap().starts_with("pcrt_"));
    let r = token_get(&world, "", Some(&alice.basic())).await;
    assert!(r.json().get("refresh_token").is_none(), "no refresh token unless asked");
}

#[tokio::test]
async fn a_password_change_voids_every_refresh_token() {
    let world = World::new().await;
    let (_, alice, _) = acme(&world).await;
    let refresh = refresh_token(&world).await;
    let r = change_password(&world, &alice).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = token_post(&world, &format!("grant_type=refresh_token&refresh_token={refresh}")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_remembered_password_is_forgotten_when_it_changes() {
    let world = World::new().await;
    let (_, alice, _) = acme(&world).await;
    // Twice: the second is served from the cache.
    for _ in 0..2 {
        assert_eq!(token_get(&world, "", Some(&alice.basic())).await.status, StatusCode::OK);
    }
    change_password(&world, &alice).await;
    assert_eq!(token_get(&world, "", Some(&alice.basic())).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(token_get(&world, "", Some(&basic("alice", "new password 22"))).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_disabled_users_remembered_password_and_refresh_tokens_end_for_good() {
    let world = World::new().await;
    let (root, alice, _) = acme(&world).await;
    // Twice: the second is served from the cache.
    for _ in 0..2 {
        assert_eq!(token_get(&world, "", Some(&alice.basic())).await.status, StatusCode::OK);
    }
    let r = token_get(&world, "offline_token=true", Some(&alice.basic())).await;
    let refresh = r.json()["refresh_token"].as_str().unwrap().to_string();
    let refreshed = |refresh: String| {
        let world = &world;
        async move { token_post(world, &format!("grant_type=refresh_token&refresh_token={refresh}")).await.status }
    };
    assert_eq!(refreshed(refresh.clone()).await, StatusCode::OK);
    let alice_path = format!("/api/v1/users/{}", alice.id);
    root.put(&alice_path, json!({"enabled": false})).await;
    assert_eq!(token_get(&world, "", Some(&alice.basic())).await.status, StatusCode::UNAUTHORIZED);
    // Her refresh token stops working too, and stays void after she is enabled again.
    assert_eq!(refreshed(refresh.clone()).await, StatusCode::UNAUTHORIZED);
    root.put(&alice_path, json!({"enabled": true})).await;
    assert_eq!(refreshed(refresh).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_full_access_token_grants_what_its_user_may() {
    let world = World::new().await;
    let (_, alice, _) = acme(&world).await;
    let full = token_get(&world, "scope=repository:alice/x:pull,push", Some(&alice.basic_with(&alice.token))).await;
    assert_eq!(claims_of(&full)["access"][0]["actions"], json!(["pull", "push"]));
}

#[tokio::test]
async fn a_pull_only_token_grants_pulls_and_earns_no_refresh_token() {
    let world = World::new().await;
    let (root, alice, _) = acme(&world).await;
    let pull_only = root.mint_for(alice.id, json!({"name": "ro", "pull_only": true})).await;
    let r = token_get(&world, "scope=repository:alice/x:pull,push,delete", Some(&alice.basic_with(&pull_only))).await;
    assert_eq!(claims_of(&r)["access"][0]["actions"], json!(["pull"]));
    // It cannot be traded for a refresh token, which would carry alice's whole rights.
    let r = token_get(&world, "offline_token=true&client_id=docker", Some(&alice.basic_with(&pull_only))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.json().get("refresh_token").is_none(), "{}", r.body);
    let r = token_get(&world, "offline_token=true&client_id=docker", Some(&alice.basic())).await;
    assert!(r.json()["refresh_token"].is_string(), "a password still earns one");
}

#[tokio::test]
async fn a_namespace_token_grants_only_in_its_namespaces() {
    let world = World::new().await;
    let (root, alice, _) = acme(&world).await;
    let only_acme = root.mint_for(alice.id, json!({"name": "acme", "namespaces": ["acme"]})).await;
    let r = token_get(
        &world,
        "scope=repository:alice/x:pull&scope=repository:acme/y:push&scope=repository:hello:pull",
        Some(&alice.basic_with(&only_acme)),
    )
    .await;
    assert_eq!(claims_of(&r)["access"], json!([{"type": "repository", "name": "acme/y", "actions": ["push"]}]));
}

#[tokio::test]
async fn a_token_works_under_its_owners_name_only_and_until_revoked() {
    let world = World::new().await;
    let (root, alice, _) = acme(&world).await;
    let pull_only = root.mint_for(alice.id, json!({"name": "ro", "pull_only": true})).await;
    // Someone else's name with alice's token is refused; so is a revoked token.
    assert_eq!(token_get(&world, "", Some(&basic("bob", &alice.token))).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(token_get(&world, "", Some(&alice.basic_with(&pull_only))).await.status, StatusCode::OK);
    let tokens = root.get(&format!("/api/v1/users/{}/application_tokens", alice.id)).await;
    let id = tokens.parse::<Vec<AccessTokenView>>().into_iter().find(|t| t.name == "ro").unwrap().id;
    root.delete(&format!("/api/v1/users/application_tokens/{id}")).await;
    assert_eq!(token_get(&world, "", Some(&alice.basic_with(&pull_only))).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn bot_users_have_no_password_but_tokens_work() {
    let world = World::new().await;
    let (root, _, _) = acme(&world).await;
    let r = root.post("/api/v1/users", json!({"username": "ci-bot", "bot": true})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let bot = r.parse::<UserView>();
    let secret = root.mint_for(bot.id, json!({"name": "ci"})).await;
    assert_eq!(token_get(&world, "", Some(&basic("ci-bot", &secret))).await.status, StatusCode::OK);
    assert_eq!(token_get(&world, "", Some(&basic("ci-bot", ""))).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn rs256_is_selectable_and_a_switch_takes_effect_at_the_next_start() {
    let world = World::new().await;
    let (_, alice, _) = acme(&world).await;
    let jwt = |r: Reply| r.json()["token"].as_str().unwrap().to_string();
    let before = jwt(token_get(&world, "", Some(&alice.basic_with(&alice.token))).await);
    assert_eq!(jwt_header(&before)["alg"], "ES256");
    // The next start with RS256 configured signs with a new RS256 key...
    let rs256 = app_with(&world.db, |c| c.token_algorithm = "RS256".parse().unwrap()).await;
    let restarted = World::on(world.db.clone(), rs256);
    let after = jwt(token_get(&restarted, "", Some(&alice.basic_with(&alice.token))).await);
    assert_eq!(jwt_header(&after)["alg"], "RS256");
    assert_ne!(jwt_header(&after)["kid"], jwt_header(&before)["kid"]);
    // ...and the ES256 key stays published for the tokens it signed.
    let published: i64 = sqlx::query_scalar(
        "select count(*) from signing_key where kind = 'signing' and (retired_at is null or alg = 'ES256')",
    )
    .fetch_one(&world.db)
    .await
    .unwrap();
    assert_eq!(published, 2);
}

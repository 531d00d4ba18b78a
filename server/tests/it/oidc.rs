//! Signing in through an OpenID Connect provider, against a real one: npm's `oidc-provider`
//! (a certified implementation, installed by `deploy/local/setup.sh`) started on 127.0.0.1
//! with the test's client, people and signing key. Chromium does the whole redirect flow;
//! forged callbacks and forged ID tokens (wrong nonce, another key, expired, another
//! audience) are refused.

use crate::common;

use std::time::Duration;

use app::backend::access::oidc::{self, OidcSettings};
use axum::http::StatusCode;
use common::oidc_provider::*;
use common::stack::{self, Stack};
use common::*;
use serde_json::json;

/// Runs the Chromium script; returns (what the user menu says, the session cookie).
async fn browser_sign_in(base: &str, login: &str, choose: Option<&str>, provider: &OpenIdProvider) -> (String, String) {
    let mut args = vec![base, login];
    args.extend(choose);
    let out = tokio::time::timeout(Duration::from_secs(120), node_script("oidc-sign-in.js").args(&args).output())
        .await
        .expect("the browser finishes")
        .expect("node runs (Playwright is installed by deploy/local/setup.sh)");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "the browser did not sign {login} in: {stdout}\n{}\n--- provider:\n{}",
        String::from_utf8_lossy(&out.stderr),
        provider.log()
    );
    let line = |prefix: &str| {
        stdout.lines().find_map(|l| l.strip_prefix(prefix)).unwrap_or_else(|| panic!("{prefix}: {stdout}")).to_string()
    };
    (line("signed in as "), line("cookie "))
}

/// The teams (not personal) of `name`: (team, role, synced).
async fn teams_of(db: &sqlx::PgPool, name: &str) -> Vec<(String, String, bool)> {
    sqlx::query_as(
        r#"select t.name, m.role::text, m.synced from team_member m join team t using (team_id)
           join "user" u on u.user_id = m.user_id where u.username = $1 and t.personal_user_id is null"#,
    )
    .bind(name)
    .fetch_all(db)
    .await
    .unwrap()
}

async fn user_row(db: &sqlx::PgPool, name: &str) -> Option<(String, String, Option<String>)> {
    sqlx::query_as(r#"select source, display_name, email from "user" where username = $1"#)
        .bind(name)
        .fetch_optional(db)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_sign_in_through_the_provider_and_docker_login_with_tokens() {
    let db = fresh_db().await;
    let port = free_port();
    let stack =
        Stack::start_with(&db, |c| c.oidc_providers = server::config::OidcProviders(vec![settings(port)])).await;
    let provider = OpenIdProvider::start(port, &stack.url).await;
    let app = server::router(stack.state.clone(), &stack.config);

    // A local administrator, a team for the developers group, and a local carol.
    let root = sign_up(&app, "root", "local root password").await;
    let r = call(&app, "/api/teams/create", &[("name", "acme"), ("description", "")], Some(&root)).await;
    assert!(r.status.is_success(), "{}", r.body);
    let r = call(
        &app,
        "/api/admin/group-mappings/add",
        &[("group", "developers"), ("team", "acme"), ("role", "contributor")],
        Some(&root),
    )
    .await;
    assert!(r.status.is_success(), "{}", r.body);
    let carol_local = sign_up(&app, "carol", "carol's local password").await;
    // Mappings of other sources never match this provider's groups: a directory mapping of a
    // group named developers, another provider's everyone, and one whose source is unknown
    // would each make olivia an administrator.
    sqlx::query(
        "insert into group_mapping (group_name, grants_admin, source, match_by) values
         ('developers', true, 'ldap', 'name'), ('everyone', true, 'oidc:other', 'value'), ('everyone', true, null, 'value')",
    )
    .execute(&db)
    .await
    .unwrap();

    // Administrators see the provider's settings and the redirect URI to register, never
    // the client secret.
    let page = get(&app, "/admin/authentication", Some(&root)).await;
    assert!(page.body.contains("Corp SSO") && page.body.contains("/login/oidc/corp/callback"), "{}", page.body);
    assert!(!page.body.contains(CLIENT_SECRET));

    // The sign-in page offers the provider.
    let page = get(&app, "/login", None).await;
    assert!(page.body.contains("Sign in with Corp SSO") && page.body.contains("/login/oidc/corp"), "{}", page.body);

    // olivia's first sign-in makes her account, named from her preferred_username, with her
    // name, address and the team her group maps to.
    let (menu, olivia) = browser_sign_in(&stack.url, "olivia", None, &provider).await;
    assert!(menu.contains("olivia.ops"), "{menu}");
    let who = me(&app, &olivia).await.expect("the browser's session works here too");
    assert_eq!((who.username.as_str(), who.display_name.as_str()), ("olivia.ops", "Olivia Ops"));
    assert_eq!(who.email.as_deref(), Some("olivia@example.org"));
    assert!(!who.is_admin);
    assert_eq!(user_row(&db, "olivia.ops").await.unwrap().0, "oidc");
    assert_eq!(teams_of(&db, "olivia.ops").await, vec![("acme".to_string(), "contributor".to_string(), true)]);
    // The second sign-in finds the same account.
    let (menu, _) = browser_sign_in(&stack.url, "olivia", None, &provider).await;
    assert!(menu.contains("olivia.ops"), "{menu}");
    let accounts: i64 = sqlx::query_scalar("select count(*) from oidc_identity").fetch_one(&db).await.unwrap();
    assert_eq!(accounts, 1);

    // The provider's carol is not the local carol: she chooses another name.
    let (menu, carol_sso) = browser_sign_in(&stack.url, "carol", Some("carol-corp"), &provider).await;
    assert!(menu.contains("carol-corp"), "{menu}");
    assert_eq!(me(&app, &carol_sso).await.unwrap().username, "carol-corp");
    assert_eq!(me(&app, &carol_local).await.unwrap().username, "carol", "the local carol is untouched");
    assert_eq!(user_row(&db, "carol").await.unwrap().0, "local");
    assert_eq!(user_row(&db, "carol-corp").await.unwrap().2, None, "an address the provider did not verify");

    // docker login: olivia makes an access token on her account page and pushes with it; her
    // (non-existent) password does not log in, and she may not push to root's namespace.
    let r = call(&app, "/api/tokens/create", &[("name", "laptop")], Some(&olivia)).await;
    assert!(r.status.is_success(), "{}", r.body);
    let token = r.parse::<app::model::CreatedToken>().secret;
    let image = stack::oci_image(stack.dir.path(), "hello from olivia", &[]);
    let creds = format!("olivia.ops:{token}");
    stack.push(&image, &creds, "olivia.ops/app:1").await.expect_ok("olivia pushes with her access token");
    stack.push(&image, &creds, "root/app:1").await.expect_refused("olivia pushing to root's namespace");
    stack.push(&image, "olivia.ops:", "olivia.ops/app:2").await.expect_refused("an empty password");
    assert_eq!(log_in(&app, "olivia.ops", "anything").await.status, StatusCode::UNAUTHORIZED);

    // The provider is asked about everyone: it knows both.
    let report = oidc::check_all(&stack.state).await.unwrap();
    assert_eq!((report.known, report.signed_out, report.failed), (2, 0, 0), "{report:?}\n{}", provider.log());
    stack.push(&image, &creds, "olivia.ops/app:2").await.expect_ok("olivia's token outlives her ID token");
    // Between sign-ins, her teams follow her groups: she leaves developers at the provider,
    // and the next check takes her out of acme.
    provider.set_groups("olivia", "everyone").await;
    let report = oidc::check_all(&stack.state).await.unwrap();
    assert_eq!((report.known, report.signed_out, report.failed), (2, 0, 0), "{report:?}");
    assert_eq!(teams_of(&db, "olivia.ops").await, vec![]);

    // The provider forgets olivia: she loses her tokens and sessions here; carol keeps hers.
    provider.forget("olivia").await;
    let report = oidc::check_all(&stack.state).await.unwrap();
    assert_eq!((report.known, report.signed_out, report.failed), (1, 1, 0), "{report:?}");
    stack.push(&image, &creds, "olivia.ops/app:3").await.expect_refused("a token of someone the provider forgot");
    assert!(me(&app, &olivia).await.is_none(), "her session ended");
    assert_eq!(me(&app, &carol_sso).await.unwrap().username, "carol-corp");
    let log: i64 = sqlx::query_scalar("select count(*) from audit_event where action = 'user.signed_out'")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(log, 1, "the activity log says why");

    // The provider goes down: no one is signed out for it.
    let mut provider = provider;
    provider.child.kill().await.unwrap();
    let report = oidc::check_all(&stack.state).await.unwrap();
    assert_eq!((report.known, report.signed_out, report.failed), (0, 0, 1), "{report:?}");
    assert_eq!(me(&app, &carol_sso).await.unwrap().username, "carol-corp");

    // Starting sign-ins is throttled per address, and the session each start makes lives
    // minutes, not the two weeks of a signed-in one.
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut statuses = Vec::new();
    for _ in 0..40 {
        statuses.push(client.get(format!("{}/login/oidc/corp", stack.url)).send().await.unwrap().status().as_u16());
    }
    assert!(statuses.contains(&303) && statuses.ends_with(&[429]), "{statuses:?}");
    let longest: f64 = sqlx::query_scalar(
        "select extract(epoch from max(expiry_date) - now())::float8 from tower_sessions.session
         where position('oidc_attempt'::bytea in data) > 0",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert!(longest <= 15.0 * 60.0 + 5.0, "{longest}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_callbacks_and_id_tokens_are_refused() {
    let db = fresh_db().await;
    let port = free_port();
    let public = "http://127.0.0.1:3000";
    let provider = OpenIdProvider::start(port, public).await;
    // A second provider, which does not answer.
    let down: OidcSettings = serde_json::from_value(json!({
        "name": "lab", "label": "Lab IdP", "issuer": format!("http://127.0.0.1:{}", free_port()), "client_id": "x",
    }))
    .unwrap();
    let app = app_with(&db, |c| c.oidc_providers = server::config::OidcProviders(vec![settings(port), down])).await;
    // Each provider is a button; one that does not answer sends people back with a message.
    let page = get(&app, "/login", None).await;
    assert!(page.body.contains("Sign in with Corp SSO") && page.body.contains("Sign in with Lab IdP"), "{}", page.body);
    let r = get(&app, "/login/oidc/lab", None).await;
    assert_eq!(r.location(), Some("/login?sso=unavailable"), "{} {}", r.status, r.body);
    let page = get(&app, "/login?sso=unavailable", None).await;
    assert!(page.body.contains("does not answer"), "{}", page.body);

    // Starting a sign-in sends the browser to the provider with a state, a nonce and a PKCE
    // challenge; an unknown provider is not found.
    let r = get(&app, "/login/oidc/corp", None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let to = r.location().unwrap().to_string();
    assert!(to.starts_with(&provider.issuer()), "{to}");
    for part in ["state=", "nonce=", "code_challenge=", "code_challenge_method=S256", "response_type=code"] {
        assert!(to.contains(part), "{part} in {to}");
    }
    let cookie = r.session_cookie().expect("the attempt is kept in a session");
    assert_eq!(get(&app, "/login/oidc/elsewhere", None).await.status, StatusCode::NOT_FOUND);
    // A `next` with control characters, backslashes or another site starts a sign-in all the
    // same (it will end on this site's home page): nothing a client sends panics the start.
    for next in ["/%09/evil.example", "/%0a", "/%0d%0a/x", "%2F%2Fevil.example", "/%5Cevil", "https://evil.example"] {
        let r = get(&app, &format!("/login/oidc/corp?next={next}"), None).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{next}: {}", r.body);
        assert!(r.location().unwrap_or_default().starts_with(&provider.issuer()), "{next}");
    }

    // A callback this browser did not start, a forged state, and (the attempt being used once)
    // a replay with the right state: all refused, no session made.
    let r = get(&app, "/login/oidc/corp/callback?code=abc&state=xyz", None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.body.contains("did not start in this browser"), "{}", r.body);
    let r = get(&app, "/login/oidc/corp/callback?code=abc&state=forged", Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let state = to.split(['?', '&']).find_map(|p| p.strip_prefix("state=")).unwrap();
    let r = get(&app, &format!("/login/oidc/corp/callback?code=abc&state={state}"), Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    // A fresh attempt with its right state but a code the provider never issued.
    let r = get(&app, "/login/oidc/corp", None).await;
    let (cookie, to) = (r.session_cookie().unwrap(), r.location().unwrap().to_string());
    let state = to.split(['?', '&']).find_map(|p| p.strip_prefix("state=")).unwrap();
    let r = get(&app, &format!("/login/oidc/corp/callback?code=forged-code&state={state}"), Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(me(&app, &cookie).await.is_none());
    // The provider said no (the person cancelled): the sign-in page says so.
    let r = get(&app, "/login/oidc/corp", None).await;
    let cookie = r.session_cookie().unwrap();
    let r = get(&app, "/login/oidc/corp/callback?error=access_denied&state=x", Some(&cookie)).await;
    assert_eq!(r.location(), Some("/login?sso=denied"));
    let page = get(&app, "/login?sso=denied", None).await;
    assert!(page.body.contains("cancelled at the provider"), "{}", page.body);

    // ID tokens, verified against the keys the provider publishes. The test holds the
    // provider's own key, so it can sign what only the provider should.
    let corp = oidc::Provider::new(settings(port), public).unwrap();
    let now = chrono::Utc::now().timestamp();
    let claims = |nonce: &str, aud: &str, exp: i64| {
        json!({ "iss": provider.issuer(), "sub": "olivia", "aud": aud, "iat": exp - 600, "exp": exp, "nonce": nonce,
                "groups": ["developers"] })
    };
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some("test-key".into());
    let sign = |key: &[u8], claims: serde_json::Value| {
        jsonwebtoken::encode(&header, &claims, &jsonwebtoken::EncodingKey::from_ec_pem(key).unwrap()).unwrap()
    };
    let key = provider.key_pem();
    // The control: a token as the provider makes them verifies, and its claims come back.
    let good = sign(&key, claims("n-1", CLIENT_ID, now + 300));
    let verified = corp.verify(&good, "n-1").await.expect("a token the provider's key signed");
    assert_eq!(verified["groups"], json!(["developers"]));
    let other_key = rcgen::KeyPair::generate().unwrap().serialize_pem();
    for (what, token, nonce) in [
        ("a wrong nonce", good.clone(), "n-2"),
        ("another key", sign(other_key.as_bytes(), claims("n-1", CLIENT_ID, now + 300)), "n-1"),
        ("an expired token", sign(&key, claims("n-1", CLIENT_ID, now - 600)), "n-1"),
        ("another audience", sign(&key, claims("n-1", "someone-else", now + 300)), "n-1"),
        ("no signature", format!("{}.", good.rsplit_once('.').unwrap().0), "n-1"),
        ("garbage", "not.a.token".to_string(), "n-1"),
    ] {
        let r = corp.verify(&token, nonce).await;
        assert!(matches!(r, Err(oidc::OidcError::Refused(_))), "{what}: {r:?}");
    }
    // `portcullis doctor` reaches the provider; a wrong issuer fails with what to check.
    let check = server::doctor::provider_check(settings(port), public).await;
    assert_eq!(check.status, server::doctor::Status::Ok, "{check:?}");
    let check = server::doctor::provider_check(settings(free_port()), public).await;
    assert_eq!(check.status, server::doctor::Status::Fail, "{check:?}");
}

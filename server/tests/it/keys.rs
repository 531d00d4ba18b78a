//! Signing keys as the registry sees them: it trusts Portcullis's CA and checks each token's
//! certificate dates, so a retired key is worthless once its certificate ends, and a key
//! alone (a `kid` without its certificate) is never enough. The CA itself is replaced in two
//! steps around a registry restart. Private keys are encrypted at rest when a key is set.

use crate::common;

use common::stack::{claims, jwt_header, oci_image, Stack};
use common::*;
use rcgen::{CertificateParams, DnType, Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256};
use serde_json::json;

/// Alice, with an image pushed as `alice/app:1.0`, and that image.
async fn alice_with_an_image(stack: &Stack, content: &str, what: &str) -> (Person, std::path::PathBuf) {
    let alice = stack.world().person("alice").await;
    let image = oci_image(stack.dir.path(), content, &[]);
    stack.push(&image, &alice.creds(), "alice/app:1.0").await.expect_ok(what);
    (alice, image)
}

/// A token for alice's repository signed by `key`, with `x5c` when a certificate is given.
fn forge(key_pem: &str, kid: &str, cert_der: Option<&[u8]>) -> String {
    use base64::Engine as _;
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(kid.to_string());
    header.x5c = cert_der.map(|d| vec![base64::engine::general_purpose::STANDARD.encode(d)]);
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"iss": "portcullis", "sub": "alice", "aud": "portcullis-registry", "exp": now + 300,
        "nbf": now - 5, "iat": now, "jti": format!("forged-{now}"),
        "access": [{"type": "repository", "name": "alice/app", "actions": ["pull"]}]});
    let key = jsonwebtoken::EncodingKey::from_ec_pem(key_pem.as_bytes()).unwrap();
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

/// A signing certificate for a new key, issued by the CA in the database, valid from
/// `from` to `until` (seconds from now).
fn certified_key(ca_key_pem: &str, from: i64, until: i64) -> (String, Vec<u8>) {
    let ca_key = KeyPair::from_pem(ca_key_pem).unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.distinguished_name.push(DnType::CommonName, "Portcullis token CA");
    ca_params.distinguished_name.push(DnType::OrganizationName, "Portcullis");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.key_usages =
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::CrlSign];
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, "forged signer");
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now + time::Duration::seconds(from);
    params.not_after = now + time::Duration::seconds(until);
    let cert = params.signed_by(&key, &issuer).unwrap();
    (key.serialize_pem(), cert.der().to_vec())
}

#[tokio::test]
async fn the_registry_takes_only_tokens_whose_certificate_is_current() {
    let db = fresh_db().await;
    let stack = Stack::start(&db).await;
    alice_with_an_image(&stack, "keys", "push").await;
    // The bundle holds the CA only: no key is trusted by its id alone.
    let bundle = std::fs::read_to_string(stack.dir.path().join("registry/rootcertbundle.pem")).unwrap();
    assert_eq!(bundle.matches("BEGIN CERTIFICATE").count(), 1);
    let ca_key: String =
        sqlx::query_scalar("select private_key_pem from signing_key where kind = 'ca'").fetch_one(&db).await.unwrap();
    let tags = |token: String| {
        let stack = &stack;
        async move { stack.registry_get("/v2/alice/app/tags/list", &token).await.status().as_u16() }
    };
    // A key certified by the CA, certificate current: accepted (so the forging is right)...
    let (key, cert) = certified_key(&ca_key, -60, 3600);
    assert_eq!(tags(forge(&key, "whatever", Some(&cert))).await, 200);
    // ...the same key without its certificate: refused; a certificate that has ended: refused.
    assert_eq!(tags(forge(&key, "whatever", None)).await, 401);
    let (old_key, old_cert) = certified_key(&ca_key, -7200, -600);
    assert_eq!(tags(forge(&old_key, "whatever", Some(&old_cert))).await, 401);
}

#[tokio::test]
async fn a_retired_signing_key_signs_nothing_the_registry_takes_by_its_kid_alone() {
    let db = fresh_db().await;
    let stack = Stack::start(&db).await;
    let (alice, _) = alice_with_an_image(&stack, "keys", "push").await;
    let tags = |token: String| {
        let stack = &stack;
        async move { stack.registry_get("/v2/alice/app/tags/list", &token).await.status().as_u16() }
    };
    // Portcullis's own signing key, once retired, signs nothing the registry takes without
    // its certificate, and its certificate ends shortly after its turn.
    let before = stack.registry_token(&alice, &["repository:alice/app:pull"]).await;
    let old: (String, String, chrono::DateTime<chrono::Utc>) = sqlx::query_as(
        "select kid, private_key_pem, not_after from signing_key where kind = 'signing' and retired_at is null",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    let lifetime = old.2 - chrono::Utc::now();
    assert!(lifetime < chrono::Duration::hours(26), "a signing certificate lasts about its turn: {lifetime}");
    stack.state.keys.rotate(&db).await.unwrap();
    assert_eq!(tags(before.clone()).await, 200, "tokens signed before the rotation stay valid");
    assert_eq!(tags(forge(&old.1, &old.0, None)).await, 401, "a retired key by its kid alone");
    assert_eq!(jwt_header(&before)["kid"], old.0);
    assert_eq!(claims(&before)["sub"], "alice");
}

#[tokio::test]
async fn a_ca_is_replaced_around_a_registry_restart() {
    let db = fresh_db().await;
    let mut stack = Stack::start(&db).await;
    let (alice, image) = alice_with_an_image(&stack, "new ca", "push under the first CA").await;
    use app::backend::registry::keys::CaRotation;
    let CaRotation::Staged { kid } = stack.state.keys.rotate_ca(&db, false).await.unwrap() else {
        panic!("staged first")
    };
    assert_eq!(stack.state.keys.bundle(&db).await.unwrap().matches("BEGIN CERTIFICATE").count(), 2);
    stack
        .push(&image, &alice.creds(), "alice/app:staged")
        .await
        .expect_ok("the old CA still signs while one is staged");
    let before = stack.registry_token(&alice, &["repository:alice/app:pull"]).await;
    stack.restart_registry().await;
    let finished = stack.state.keys.rotate_ca(&db, true).await.unwrap();
    assert_eq!(finished, CaRotation::Finished { kid });
    stack.push(&image, &alice.creds(), "alice/app:2.0").await.expect_ok("push under the new CA");
    assert_eq!(
        stack.registry_get("/v2/alice/app/tags/list", &before).await.status(),
        200,
        "an earlier token still works"
    );
    // The old CA leaves the bundle once the tokens it certified have expired.
    assert_eq!(stack.state.keys.bundle(&db).await.unwrap().matches("BEGIN CERTIFICATE").count(), 2);
    sqlx::query(
        "update signing_key set retired_at = now() - interval '2 hours' where kind = 'ca' and retired_at is not null",
    )
    .execute(&db)
    .await
    .unwrap();
    assert_eq!(stack.state.keys.bundle(&db).await.unwrap().matches("BEGIN CERTIFICATE").count(), 1);
    // Finishing twice is a mistake, and says so.
    assert!(stack.state.keys.rotate_ca(&db, true).await.is_err());
}

#[tokio::test]
async fn private_keys_are_encrypted_at_rest_with_the_configured_key() {
    let db = fresh_db().await;
    server::migrate(&db).await.unwrap();
    let with = |key: &str| {
        let mut c = server::Config::defaults();
        c.keys_encryption_key = server::config::Secret::new(key);
        c
    };
    // Started once without a key: the keys are in clear.
    server::state(db.clone(), &server::Config::defaults()).await.unwrap();
    let clear: i64 = sqlx::query_scalar("select count(*) from signing_key where private_key_pem like '-----BEGIN%'")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(clear, 2, "a CA and a signing key");
    // With a key, they are encrypted at the next start, and used as before.
    let state = server::state(db.clone(), &with("first secret")).await.unwrap();
    let sealed: Vec<String> =
        sqlx::query_scalar("select private_key_pem from signing_key").fetch_all(&db).await.unwrap();
    assert!(sealed.iter().all(|k| k.starts_with("aes256gcm:") && !k.contains("PRIVATE")), "{sealed:?}");
    let signer = state.keys.current(&db).await;
    assert!(!signer.kid.is_empty());
    state.keys.rotate(&db).await.unwrap();
    // Without the key, or with another one, Portcullis cannot start: it says why in its log.
    assert!(server::state(db.clone(), &server::Config::defaults()).await.is_err());
    assert!(server::state(db.clone(), &with("another secret")).await.is_err());
    assert!(server::state(db.clone(), &with("first secret")).await.is_ok());
}

#[tokio::test]
async fn the_registry_configuration_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt as _;
    let db = fresh_db().await;
    let stack = Stack::start(&db).await;
    let mode = |f: &str| std::fs::metadata(stack.dir.path().join(f)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("registry/config.yml"), 0o600, "it holds the notification secret");
    assert_eq!(mode("registry/rootcertbundle.pem"), 0o644);
}

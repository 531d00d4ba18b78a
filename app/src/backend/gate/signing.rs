//! A namespace's signature policy: whether every image pulled from it must carry a cosign
//! signature that verifies against one of the namespace's trusted public keys, and those keys.
//!
//! The signature is cosign's "simple signing" format: the tag `sha256-<hex>.sig` in the same
//! repository (or, the OCI 1.1 way, a referrer of artifact type
//! `application/vnd.dev.cosign.artifact.sig.v1+json`) is a manifest whose layers are JSON payloads
//! (`application/vnd.dev.cosign.simplesigning.v1+json`) naming the signed digest under
//! `critical.image.docker-manifest-digest`, each with its ECDSA signature (base64 DER, over
//! the payload's bytes) in the annotation `dev.cosignproject.cosign/signature`.
//!
//! The gate asks [`may_pull`] on every manifest GET in a namespace that requires signatures
//! (a HEAD carries no content and passes). What passes unsigned: the signatures and other
//! artifacts themselves, the per-platform images of a signed index (clients fetch them by
//! digest after the index), and, for a short grace window, what its pusher just pushed, so
//! that CI can sign it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lc_rs::signature::{ParsedPublicKey, ECDSA_P256_SHA256_ASN1};
use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use crate::backend::access::principal::{Duty, Principal};
use crate::backend::audit::{self, Target};
use crate::backend::org::namespaces::{self, NamespaceRef};
use crate::backend::registry::client::Blob;
use crate::backend::AppState;
use crate::error::{AppError, AppResult};
use crate::model::{SignaturePolicyView, SignatureState, TrustedKeyView};
use crate::policy;
use crate::scope::is_digest;

use super::check::{refused, Refusal};

/// The media type of a cosign simple-signing payload.
pub const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The annotation of a payload's layer that holds its signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The media type of an in-toto attestation (cosign attest): an artifact, never an image.
const DSSE: &str = "application/vnd.dsse.envelope.v1+json";

/// The largest payload read: a simple-signing payload is a few hundred bytes.
const PAYLOAD_LIMIT: u64 = 64 * 1024;
/// The most signatures (layers) of one `.sig` manifest that are checked.
const MAX_SIGNATURES: usize = 20;
/// The most keys a namespace trusts.
const MAX_KEYS: i64 = 50;
/// How long a namespace's policy is remembered: a change on another replica holds here
/// within this time (on the replica that made it, at once).
const FRESH: Duration = Duration::from_secs(5);
/// How many namespaces' policies, and verified digests per namespace, are remembered.
const KEPT: usize = 4096;

/// A trusted key, parsed.
pub struct Key {
    pub name: String,
    key: ParsedPublicKey,
}

/// A namespace's policy as the gate reads it.
pub struct Policy {
    pub namespace: String,
    pub namespace_id: i64,
    pub required: bool,
    pub keys: Vec<Key>,
    /// Digests (`repo@digest`) found signed while this policy was fresh, and by which key.
    verified: Mutex<HashMap<String, String>>,
}

impl Policy {
    fn key_names(&self) -> String {
        self.keys.iter().map(|k| k.name.as_str()).collect::<Vec<_>>().join(", ")
    }
}

/// A namespace's policy as read (`None`: it has none), and when.
type Read = (Instant, Option<Arc<Policy>>);

/// The policies read lately, by namespace.
#[derive(Default)]
pub struct Policies(Mutex<HashMap<String, Read>>);

impl Policies {
    fn forget(&self, namespace: &str) {
        self.0.lock().expect("signature policies").remove(namespace);
    }
}

/// A public key as a namespace trusts it: PEM (`-----BEGIN PUBLIC KEY-----`, as cosign's
/// `cosign.pub`), ECDSA P-256. Its DER and fingerprint (SHA-256 of the DER, hex).
pub fn parse_key(pem: &str) -> Result<(ParsedPublicKey, String), String> {
    let pem = pem.trim();
    if pem.len() > 8192 {
        return Err("a public key is a few hundred characters; this is not one".into());
    }
    if pem.contains("PRIVATE KEY") {
        return Err("this is a private key: give the public key (cosign.pub), and keep the private one secret".into());
    }
    let body = pem
        .strip_prefix("-----BEGIN PUBLIC KEY-----")
        .and_then(|b| b.strip_suffix("-----END PUBLIC KEY-----"))
        .ok_or("a PEM public key: -----BEGIN PUBLIC KEY-----, then base64, then -----END PUBLIC KEY-----")?;
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(b64).map_err(|_| "the key is not valid base64")?;
    let key = ParsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &der)
        .map_err(|_| "not an ECDSA P-256 public key (what cosign generate-key-pair makes)")?;
    Ok((key, hex::encode(Sha256::digest(&der))))
}

/// The signature tag of a digest: `sha256-<hex>.sig`.
pub fn signature_tag(digest: &str) -> Option<String> {
    digest.strip_prefix("sha256:").map(|hex| format!("sha256-{hex}.sig"))
}

/// Whether a tag is one of cosign's (`sha256-<hex>.sig`, `.att`, `.sbom`): an artifact
/// about an image, which passes the policy.
fn is_artifact_tag(tag: &str) -> bool {
    tag.strip_prefix("sha256-").is_some_and(|rest| {
        let (hex, kind) = rest.split_once('.').unwrap_or((rest, ""));
        hex.len() == 64 && matches!(kind, "sig" | "att" | "sbom")
    })
}

/// Whether a manifest is an artifact (a signature, an attestation, anything with a subject
/// or an artifact type) rather than an image or index someone runs.
fn is_artifact(manifest: &serde_json::Value) -> bool {
    if manifest.get("subject").is_some() || manifest.get("artifactType").is_some() {
        return true;
    }
    let layers = manifest.get("layers").and_then(|l| l.as_array());
    layers.is_some_and(|layers| {
        !layers.is_empty()
            && layers.iter().all(|l| matches!(l["mediaType"].as_str(), Some(SIMPLE_SIGNING) | Some(DSSE)))
    })
}

/// The policy of `namespace`, if it has one (a requirement or a trusted key).
pub async fn policy(state: &AppState, namespace: &str) -> AppResult<Option<Arc<Policy>>> {
    if let Some((at, p)) = state.signing.0.lock().expect("signature policies").get(namespace) {
        if at.elapsed() < FRESH {
            return Ok(p.clone());
        }
    }
    let rows = sqlx::query!(
        r#"select n.namespace_id, coalesce(p.required, false) as "required!", k.name as "name?",
                  k.public_key as "public_key?"
           from namespace n left join signature_policy p using (namespace_id)
           left join trusted_key k using (namespace_id)
           where n.name = $1 order by k.trusted_key_id"#,
        namespace
    )
    .fetch_all(&state.db)
    .await?;
    let (namespace_id, required) = rows.first().map_or((0, false), |r| (r.namespace_id, r.required));
    let keys: Vec<Key> = rows
        .into_iter()
        .filter_map(|r| {
            let (key, _) = parse_key(r.public_key.as_deref()?).ok()?;
            Some(Key { name: r.name?, key })
        })
        .collect();
    let p = (required || !keys.is_empty()).then(|| {
        Arc::new(Policy { namespace: namespace.to_string(), namespace_id, required, keys, verified: Mutex::default() })
    });
    let mut all = state.signing.0.lock().expect("signature policies");
    if all.len() >= KEPT {
        all.clear();
    }
    all.insert(namespace.to_string(), (Instant::now(), p.clone()));
    Ok(p)
}

/// What checking a digest's signatures came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Verified by this trusted key.
    Signed(String),
    /// Signatures are attached and none verifies: why not (the first reason found).
    Invalid(String),
    /// Signatures are attached, and there is no key to check them with.
    Unverified,
    Unsigned,
}

/// The simple-signing payload's claim: which digest it signs.
fn signed_digest(payload: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(payload).ok()?;
    let critical = v.get("critical")?;
    if critical["type"].as_str()? != "cosign container image signature" {
        return None;
    }
    critical["image"]["docker-manifest-digest"].as_str().map(String::from)
}

/// Checks the signatures attached to `repo@digest` against `keys`.
pub async fn verify(state: &AppState, keys: &[Key], namespace: &str, repo: &str, digest: &str) -> AppResult<Verdict> {
    let Some(tag) = signature_tag(digest) else { return Ok(Verdict::Unsigned) };
    // Where cosign puts signatures: the tag, and (OCI 1.1) referrers of the signature type.
    let mut found = Vec::new();
    if let Some(sig) = state.registry.manifest(state, repo, &tag).await? {
        found.push(sig.body);
    }
    for d in super::referrers::of_type(state, repo, digest, super::referrers::COSIGN_SIGNATURE).await? {
        if let Some(sig) = state.registry.manifest(state, repo, &d).await? {
            found.push(sig.body);
        }
    }
    if found.is_empty() {
        return Ok(Verdict::Unsigned);
    }
    let layers: Vec<serde_json::Value> = found
        .iter()
        .filter_map(|body| serde_json::from_slice::<serde_json::Value>(body).ok())
        .flat_map(|m| m["layers"].as_array().cloned().unwrap_or_default())
        .collect();
    let signatures: Vec<_> =
        layers.iter().filter(|l| l["mediaType"].as_str() == Some(SIMPLE_SIGNING)).take(MAX_SIGNATURES).collect();
    if signatures.is_empty() {
        return Ok(Verdict::Invalid("the signature found holds no cosign simple-signing payload".into()));
    }
    if keys.is_empty() {
        return Ok(Verdict::Unverified);
    }
    let mut why = None;
    for layer in signatures {
        let Some(signature) = layer["annotations"][SIGNATURE_ANNOTATION]
            .as_str()
            .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s.trim()).ok())
        else {
            why.get_or_insert_with(|| "a payload without a readable signature".to_string());
            continue;
        };
        let (Some(blob), size) = (layer["digest"].as_str(), layer["size"].as_i64().unwrap_or(0)) else { continue };
        let payload = match state.registry.blob(state, repo, blob, size, PAYLOAD_LIMIT).await? {
            Blob::Read(bytes) if format!("sha256:{}", hex::encode(Sha256::digest(&bytes))) == blob => bytes,
            _ => {
                why.get_or_insert_with(|| "a signature's payload cannot be read".to_string());
                continue;
            }
        };
        match signed_digest(&payload) {
            Some(d) if d == digest => {}
            Some(other) => {
                why.get_or_insert_with(|| format!("the signature found is for {other}, another image"));
                continue;
            }
            None => {
                why.get_or_insert_with(|| "a payload that is not a cosign image signature".to_string());
                continue;
            }
        }
        if let Some(k) = keys.iter().find(|k| k.key.verify_sig(&payload, &signature).is_ok()) {
            return Ok(Verdict::Signed(k.name.clone()));
        }
        why.get_or_insert_with(|| format!("it is signed by a key namespace {namespace} does not trust"));
    }
    Ok(Verdict::Invalid(why.unwrap_or_else(|| "no signature verifies".into())))
}

/// `verify`, remembered while the policy is fresh when it comes to "signed".
async fn verified(state: &AppState, policy: &Policy, repo: &str, digest: &str) -> AppResult<Verdict> {
    let key = format!("{repo}@{digest}");
    if let Some(by) = policy.verified.lock().expect("verified digests").get(&key) {
        return Ok(Verdict::Signed(by.clone()));
    }
    let verdict = verify(state, &policy.keys, &policy.namespace, repo, digest).await?;
    if let Verdict::Signed(by) = &verdict {
        let mut seen = policy.verified.lock().expect("verified digests");
        if seen.len() >= KEPT {
            seen.clear();
        }
        seen.insert(key, by.clone());
    }
    Ok(verdict)
}

/// Whether `actor` may fetch the manifest `repo@digest` (asked for as `reference`, its body
/// `body`) under its namespace's signature policy.
pub async fn may_pull(
    state: &AppState,
    actor: &str,
    repo: &str,
    reference: &str,
    digest: &str,
    body: &[u8],
) -> AppResult<Result<(), Refusal>> {
    let Some((namespace, _)) = repo.split_once('/') else { return Ok(Ok(())) };
    let Some(policy) = policy(state, namespace).await?.filter(|p| p.required) else { return Ok(Ok(())) };
    if is_artifact_tag(reference) || serde_json::from_slice(body).is_ok_and(|m| is_artifact(&m)) {
        return Ok(Ok(()));
    }
    let verdict = verified(state, &policy, repo, digest).await?;
    if matches!(verdict, Verdict::Signed(_)) {
        return Ok(Ok(()));
    }
    if !actor.is_empty() && pushed_lately(state, actor, repo, digest).await? {
        return Ok(Ok(()));
    }
    // The images of a signed index: fetched by digest once the index passed.
    if is_digest(reference) {
        for index in indexes_holding(state, repo, digest).await? {
            if matches!(verified(state, &policy, repo, &index).await?, Verdict::Signed(_)) {
                return Ok(Ok(()));
            }
        }
    }
    let hint = format!(
        "sign it with one of the keys namespace {namespace} trusts ({keys}): cosign sign --key <key> {host}/{repo}@{digest}; \
         or ask an owner of {namespace} to change its signature policy",
        keys = policy.key_names(),
        host = state.settings.registry_host,
    );
    let refusal = match verdict {
        Verdict::Invalid(why) => Refusal(format!(
            "{repo}@{digest} has a signature that does not verify ({why}), and namespace {namespace} requires \
             signed images; {hint}"
        )),
        _ => {
            Refusal(format!("{repo}@{digest} is not signed, and namespace {namespace} requires signed images; {hint}"))
        }
    };
    refused(state, actor, Some(policy.namespace_id), repo, reference, refusal).await
}

/// The digests of `repo`'s indexes that hold `digest` as one of their platforms' images.
async fn indexes_holding(state: &AppState, repo: &str, digest: &str) -> AppResult<Vec<String>> {
    Ok(sqlx::query_scalar!(
        "select m.digest from manifest m join repository r using (repository_id)
         where r.name = $1
           and m.media_type in ('application/vnd.oci.image.index.v1+json',
                                'application/vnd.docker.distribution.manifest.list.v2+json')
           and m.platforms @> jsonb_build_array(jsonb_build_object('digest', $2::text))
         limit 10",
        repo,
        digest
    )
    .fetch_all(&state.db)
    .await?)
}

/// Whether `actor` pushed `repo@digest` through the gate within the grace window.
async fn pushed_lately(state: &AppState, actor: &str, repo: &str, digest: &str) -> AppResult<bool> {
    Ok(sqlx::query_scalar!(
        r#"select exists (select 1 from gate_push where repository = $1 and digest = $2 and pushed_by = $3
                          and pushed_at > now() - make_interval(secs => $4)) as "e!""#,
        repo,
        digest,
        actor,
        state.settings.signature_grace_secs as f64
    )
    .fetch_one(&state.db)
    .await?)
}

/// Notes that `actor` pushed `repo@digest` through the gate, when its namespace requires
/// signatures (for the grace window), and forgets pushes older than the window.
pub async fn pushed(state: &AppState, actor: &str, repo: &str, digest: &str) -> AppResult<()> {
    let Some((namespace, _)) = repo.split_once('/') else { return Ok(()) };
    if actor.is_empty() || state.settings.signature_grace_secs <= 0 {
        return Ok(());
    }
    if !policy(state, namespace).await?.is_some_and(|p| p.required) {
        return Ok(());
    }
    sqlx::query!(
        "with old as (delete from gate_push where pushed_at < now() - make_interval(secs => $4))
         insert into gate_push (repository, digest, pushed_by) values ($1, $2, $3)
         on conflict (repository, digest, pushed_by) do update set pushed_at = now()",
        repo,
        digest,
        actor,
        state.settings.signature_grace_secs as f64
    )
    .execute(&mut *Duty::Gate.on(&state.db).await?)
    .await?;
    Ok(())
}

/// The tag page's answer: what `repo@digest`'s signature comes to under its namespace's keys.
/// `attached`: whether Portcullis has seen its `.sig` tag (when not, nothing is fetched).
pub async fn state_of(state: &AppState, repo: &str, digest: &str, attached: bool) -> SignatureState {
    let said = |s: &str, key: Option<String>, reason: Option<String>| SignatureState { state: s.into(), key, reason };
    if !attached {
        return said("unsigned", None, None);
    }
    let namespace = repo.split_once('/').map(|(n, _)| n).unwrap_or("");
    let checked = async {
        let p = if namespace.is_empty() { None } else { policy(state, namespace).await? };
        match p {
            Some(p) => verified(state, &p, repo, digest).await,
            None => verify(state, &[], namespace, repo, digest).await,
        }
    };
    match checked.await {
        Ok(Verdict::Signed(key)) => said("signed", Some(key), None),
        Ok(Verdict::Invalid(why)) => said("invalid", None, Some(why)),
        Ok(Verdict::Unverified) => said("unverified", None, None),
        Ok(Verdict::Unsigned) => said("unsigned", None, None),
        Err(e) => {
            tracing::warn!(error = %e, repo, digest, "checking a signature for the tag page failed");
            said("unknown", None, Some("it cannot be checked now".into()))
        }
    }
}

/// A namespace's signature policy and trusted keys (whoever sees the namespace).
pub async fn get(state: &AppState, p: &Principal, ns: &NamespaceRef) -> AppResult<SignaturePolicyView> {
    let (n, _) = namespaces::find(state, p, ns).await?;
    view(state, n.id, &n.name).await
}

async fn view(state: &AppState, namespace_id: i64, namespace: &str) -> AppResult<SignaturePolicyView> {
    let required = sqlx::query_scalar!("select required from signature_policy where namespace_id = $1", namespace_id)
        .fetch_optional(&state.db)
        .await?
        .unwrap_or(false);
    let keys = sqlx::query!(
        r#"select trusted_key_id, name, fingerprint, added_by,
                  added_at as "added_at: chrono::DateTime<chrono::Utc>"
           from trusted_key where namespace_id = $1 order by trusted_key_id"#,
        namespace_id
    )
    .fetch_all(&state.db)
    .await?
    .into_iter()
    .map(|k| TrustedKeyView {
        id: k.trusted_key_id,
        name: k.name,
        fingerprint: k.fingerprint,
        added_by: k.added_by,
        added_at: k.added_at,
    })
    .collect();
    Ok(SignaturePolicyView {
        namespace: namespace.to_string(),
        required,
        keys,
        grace_seconds: state.settings.signature_grace_secs,
    })
}

/// Requires signatures on every pull from a namespace, or stops (owners of its team,
/// administrators). Requiring them needs a trusted key first.
pub async fn set_required(
    state: &AppState,
    p: &Principal,
    ns: &NamespaceRef,
    required: bool,
) -> AppResult<SignaturePolicyView> {
    let (n, _) = namespaces::find(state, p, ns).await?;
    let allowed = p.allowed(|a| policy::can_manage_signature_policy(a, &n.facts()))?;
    let mut tx = allowed.begin(&state.db).await?;
    let keys = sqlx::query_scalar!(r#"select count(*) as "n!" from trusted_key where namespace_id = $1"#, n.id)
        .fetch_one(&mut *tx)
        .await?;
    if required && keys == 0 {
        return Err(AppError::invalid(
            "required",
            "trust a public key first (the cosign.pub that signs this namespace's images): without one, every pull would be refused",
        ));
    }
    sqlx::query!(
        "insert into signature_policy (namespace_id, required, set_by) values ($1, $2, $3)
         on conflict (namespace_id) do update set required = $2, set_by = $3, set_at = now()",
        n.id,
        required,
        allowed.user().username
    )
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        "signature_policy.set",
        Target::namespace(&n.name, n.id),
        serde_json::json!({ "required": required }),
    )
    .await?;
    tx.commit().await?;
    state.signing.forget(&n.name);
    view(state, n.id, &n.name).await
}

/// Trusts a public key to sign a namespace's images (owners, administrators).
pub async fn add_key(
    state: &AppState,
    p: &Principal,
    ns: &NamespaceRef,
    name: &str,
    public_key: &str,
) -> AppResult<TrustedKeyView> {
    let (n, _) = namespaces::find(state, p, ns).await?;
    let allowed = p.allowed(|a| policy::can_manage_signature_policy(a, &n.facts()))?;
    let name = name.trim();
    if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
        return Err(AppError::invalid("name", "a name for the key, up to 64 characters (ci, release-team)"));
    }
    let (_, fingerprint) = parse_key(public_key).map_err(|e| AppError::invalid("public_key", e))?;
    let mut tx = allowed.begin(&state.db).await?;
    let count = sqlx::query_scalar!(r#"select count(*) as "n!" from trusted_key where namespace_id = $1"#, n.id)
        .fetch_one(&mut *tx)
        .await?;
    if count >= MAX_KEYS {
        return Err(AppError::invalid("public_key", format!("a namespace trusts at most {MAX_KEYS} keys")));
    }
    let id = sqlx::query_scalar!(
        "insert into trusted_key (namespace_id, name, public_key, fingerprint, added_by) values ($1, $2, $3, $4, $5)
         on conflict do nothing returning trusted_key_id",
        n.id,
        name,
        public_key.trim(),
        fingerprint,
        allowed.user().username
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| AppError::Conflict(format!("{} already trusts this key, or one named {name}.", n.name)))?;
    audit::record(
        &mut tx,
        "trusted_key.add",
        Target::namespace(&n.name, n.id),
        serde_json::json!({ "name": name, "fingerprint": fingerprint }),
    )
    .await?;
    tx.commit().await?;
    state.signing.forget(&n.name);
    view(state, n.id, &n.name).await?.keys.into_iter().find(|k| k.id == id).ok_or(AppError::Internal)
}

/// Stops trusting a key (owners, administrators). The last key of a namespace that requires
/// signatures stays until the requirement is lifted.
pub async fn remove_key(state: &AppState, p: &Principal, ns: &NamespaceRef, id: i64) -> AppResult<()> {
    let (n, _) = namespaces::find(state, p, ns).await?;
    let allowed = p.allowed(|a| policy::can_manage_signature_policy(a, &n.facts()))?;
    let mut tx = allowed.begin(&state.db).await?;
    let gone = sqlx::query!(
        "delete from trusted_key where namespace_id = $1 and trusted_key_id = $2 returning name, fingerprint",
        n.id,
        id
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| AppError::not_found("No such key in this namespace."))?;
    let last_while_required = sqlx::query_scalar!(
        r#"select not exists (select 1 from trusted_key where namespace_id = $1)
                  and coalesce((select required from signature_policy where namespace_id = $1), false) as "b!""#,
        n.id
    )
    .fetch_one(&mut *tx)
    .await?;
    if last_while_required {
        return Err(AppError::Conflict(format!(
            "{} requires signed images and {} is the last key it trusts: trust another key first, or stop requiring signatures.",
            n.name, gone.name
        )));
    }
    audit::record(
        &mut tx,
        "trusted_key.remove",
        Target::namespace(&n.name, n.id),
        serde_json::json!({ "name": gone.name, "fingerprint": gone.fingerprint }),
    )
    .await?;
    tx.commit().await?;
    state.signing.forget(&n.name);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEO9zMTDAS+LRnyef41hDzIgXSfpEp
Pp786j01uO/ihguz/HYFfpCTtTi5Yyh612oB3qSui4frPMA62HCUwitK5g==
-----END PUBLIC KEY-----";

    #[test]
    fn a_cosign_public_key_is_read_and_anything_else_is_refused_with_why() {
        let (_, fingerprint) = parse_key(KEY).expect("a P-256 SubjectPublicKeyInfo");
        assert_eq!(fingerprint.len(), 64);
        assert!(parse_key("-----BEGIN EC PRIVATE KEY-----\nabc\n-----END EC PRIVATE KEY-----")
            .unwrap_err()
            .contains("private key"));
        assert!(parse_key("ssh-ed25519 AAAA").unwrap_err().contains("PEM"));
        let broken = KEY.replace("MFkw", "MFkx");
        assert!(parse_key(&broken).unwrap_err().contains("P-256"));
    }

    #[test]
    fn signatures_and_attestations_are_artifacts_and_images_are_not() {
        assert!(is_artifact_tag(&format!("sha256-{}.sig", "a".repeat(64))));
        assert!(is_artifact_tag(&format!("sha256-{}.att", "a".repeat(64))));
        assert!(!is_artifact_tag("sha256-abc.sig"));
        assert!(!is_artifact_tag("latest"));
        let sig = serde_json::json!({ "layers": [{ "mediaType": SIMPLE_SIGNING }] });
        assert!(is_artifact(&sig));
        let image = serde_json::json!({ "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip" }] });
        assert!(!is_artifact(&image));
        assert!(is_artifact(&serde_json::json!({ "subject": {}, "layers": [] })));
        assert!(!is_artifact(&serde_json::json!({ "manifests": [] })));
    }

    #[test]
    fn a_payload_names_the_digest_it_signs() {
        let payload = br#"{"critical":{"identity":{"docker-reference":"r/a"},"image":{"docker-manifest-digest":"sha256:ab"},"type":"cosign container image signature"},"optional":null}"#;
        assert_eq!(signed_digest(payload).as_deref(), Some("sha256:ab"));
        assert_eq!(
            signed_digest(br#"{"critical":{"image":{"docker-manifest-digest":"sha256:ab"},"type":"other"}}"#),
            None
        );
        assert_eq!(signed_digest(b"not json"), None);
    }
}

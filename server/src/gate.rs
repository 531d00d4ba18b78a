//! The manifest gate (issue 29): Portcullis serves the registry's API (`/v2/...`) and
//! forwards it to the registry, checking on the way what a registry token cannot say.
//!
//! - A manifest request (`/v2/<name>/manifests/<reference>`) is checked first: the client's
//!   bearer token must be one of Portcullis's, for this repository and this action; a PUT's
//!   body is read (bounded) and its digest computed; then the namespace's tag rules and its
//!   storage quota ([`app::backend::gate`]) decide; a GET, in a namespace that requires
//!   signed images, waits for its signature to verify. In read-only mode, nothing that writes
//!   passes. A refusal answers in the registry's error format and
//!   says which rule refused; nothing refused is forwarded.
//! - `/v2/<name>/referrers/<digest>` (OCI 1.1, which the registry does not serve) is answered
//!   here, from the manifests with a `subject` the gate accepted.
//! - Everything else (blobs, uploads, tag lists, the catalog) is streamed both ways
//!   untouched: the registry checks the token itself, and blobs carry no tag.
//!
//! So one address serves everything (single-address mode: `gate_listen`, and `make run`'s
//! `127.0.0.1:5000`), or a proxy in front sends only the manifest paths here (the nginx,
//! haproxy and Kubernetes set-ups).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::backend::gate::{self, Refusal};
use app::backend::registry::client::MANIFEST_LIMIT;
use app::backend::registry::jwt::{self, Verified};
use app::backend::AppState;
use app::scope::{is_digest, is_tag, RepositoryName};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use sha2::{Digest as _, Sha256};

use crate::token::error;

/// What the gate needs: the state (keys, rules, the registry client) and its own HTTP client,
/// which streams without an overall time limit (a layer of gigabytes takes its time).
#[derive(Clone)]
pub struct Gate {
    state: AppState,
    upstream: String,
    http: reqwest::Client,
    realm: Arc<str>,
    /// Tokens already checked, until they expire: a client sends the same token with every
    /// request of a pull, and a signature check costs more than the rest of the gate.
    checked: Arc<Mutex<HashMap<Box<str>, Arc<Verified>>>>,
}

/// The header every answer to a manifest path carries, so that `portcullis doctor` can tell
/// that clients' manifest requests reach the gate and not the registry itself.
pub const MARK: &str = "x-portcullis-gate";

/// How many checked tokens are remembered before all are forgotten.
const CHECKED_KEPT: usize = 4096;

impl Gate {
    pub fn new(state: AppState, config: &crate::Config) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .read_timeout(Duration::from_secs(120))
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(64)
            .build()
            .expect("an HTTP client with default TLS settings");
        Self {
            upstream: config.registry_url.trim_end_matches('/').to_string(),
            realm: format!("{}/v2/token", config.public_url.trim_end_matches('/')).into(),
            state,
            http,
            checked: Arc::default(),
        }
    }

    /// The token of `headers`, when it is one of Portcullis's and still good.
    async fn token(&self, headers: &HeaderMap) -> Result<Option<Arc<Verified>>, Response> {
        let Some(raw) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
        else {
            return Ok(None);
        };
        let now = chrono::Utc::now().timestamp();
        if let Some(v) = self.checked.lock().expect("gate token cache").get(raw) {
            if v.exp > now {
                return Ok(Some(v.clone()));
            }
        }
        match jwt::verify(&self.state, raw).await {
            Ok(Some(v)) => {
                let v = Arc::new(v);
                let mut checked = self.checked.lock().expect("gate token cache");
                if checked.len() >= CHECKED_KEPT {
                    checked.retain(|_, t| t.exp > now);
                    if checked.len() >= CHECKED_KEPT {
                        checked.clear();
                    }
                }
                checked.insert(raw.into(), v.clone());
                Ok(Some(v))
            }
            Ok(None) => Ok(None),
            Err(e) => {
                tracing::error!(error = %e, "checking a registry token at the gate failed");
                Err(error(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE", "cannot check the token now; try again"))
            }
        }
    }

    /// The registry's answer to a request without a good token: a challenge that sends the
    /// client to the token endpoint for `scope`.
    fn challenge(&self, name: &str, actions: &str, insufficient: bool) -> Response {
        let message = if insufficient {
            "the token does not grant this action on this repository"
        } else {
            "authentication required"
        };
        let mut res = error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message);
        let value = format!(
            "Bearer realm=\"{}\",service=\"{}\",scope=\"repository:{name}:{actions}\"{}",
            self.realm,
            self.state.settings.token.service,
            if insufficient { ",error=\"insufficient_scope\"" } else { "" }
        );
        if let Ok(v) = HeaderValue::from_str(&value) {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        res
    }
}

/// The gate's routes: all of `/v2/` (the token endpoint and the event inbox, merged beside
/// them, are more specific and win).
pub fn router(gate: Gate) -> Router {
    Router::new()
        .route("/v2/", axum::routing::any(pass))
        .route("/v2/{*rest}", axum::routing::any(serve))
        .with_state(gate)
}

/// The gate alone, with what every request gets: single-address mode's listener.
pub fn listener_router(gate: Gate, trusted: Arc<Vec<app::backend::ProxyNet>>) -> Router {
    router(gate)
        .layer(axum::middleware::from_fn_with_state(trusted, crate::client_ip))
        .layer(axum::middleware::from_fn(crate::prometheus::track))
        .layer(axum::middleware::from_fn(crate::request_id))
}

async fn pass(State(gate): State<Gate>, req: Request) -> Response {
    if let Some(refused) = read_only(&gate, req.method()).await {
        return refused;
    }
    forward(&gate, req).await
}

/// In read-only mode, the refusal of anything that would write (an upload, a manifest, a
/// delete): pulls go on. The token endpoint grants no push or delete then either; this holds
/// a token granted before the switch.
async fn read_only(gate: &Gate, method: &Method) -> Option<Response> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return None;
    }
    let mode = gate.state.access_settings.read_only(&gate.state.db).await;
    mode.enabled.then(|| error(StatusCode::FORBIDDEN, "DENIED", &mode.said()))
}

async fn serve(State(gate): State<Gate>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let is_manifest = path.contains("/manifests/");
    if let Some(mut refused) = read_only(&gate, req.method()).await {
        if is_manifest {
            refused.headers_mut().insert(MARK, HeaderValue::from_static("manifests"));
        }
        return refused;
    }
    let rest = &path["/v2/".len()..];
    if let Some((name, digest)) = rest.rsplit_once("/referrers/").filter(|(_, d)| !d.contains('/')) {
        return referrers(&gate, req, name, digest).await;
    }
    match rest.rsplit_once("/manifests/") {
        Some((name, reference)) => {
            let mut res = manifest(&gate, req, name, reference).await;
            res.headers_mut().insert(MARK, HeaderValue::from_static("manifests"));
            res
        }
        None => forward(&gate, req).await,
    }
}

/// The manifest types a PUT may carry: OCI and Docker images and indexes, and Docker's
/// schema 1 (which the registry answers for itself).
const MANIFEST_TYPES: &[&str] = &[
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
    "application/json",
];

async fn manifest(gate: &Gate, req: Request, name: &str, reference: &str) -> Response {
    if RepositoryName::parse(name).is_none() {
        return error(StatusCode::BAD_REQUEST, "NAME_INVALID", "invalid repository name");
    }
    if !is_tag(reference) && !is_digest(reference) {
        return error(
            StatusCode::BAD_REQUEST,
            "TAG_INVALID",
            "invalid reference: a tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}) or a digest (sha256:<64 hex digits>)",
        );
    }
    let (action, scope) = match *req.method() {
        Method::GET | Method::HEAD => ("pull", "pull"),
        Method::PUT => ("push", "pull,push"),
        Method::DELETE => ("delete", "delete"),
        _ => return error(StatusCode::METHOD_NOT_ALLOWED, "UNSUPPORTED", "the operation is unsupported"),
    };
    let token = match gate.token(req.headers()).await {
        Ok(Some(t)) => t,
        Ok(None) => return gate.challenge(name, scope, false),
        Err(res) => return res,
    };
    if !token.allows(name, action) {
        return gate.challenge(name, scope, true);
    }
    match action {
        "push" => put(gate, req, name, reference, &token.sub).await,
        "delete" => match gate::may_delete(&gate.state, &token.sub, name, reference).await {
            Ok(Ok(())) => {
                let res = forward(gate, req).await;
                if res.status().is_success() && is_digest(reference) {
                    if let Err(e) = gate::referrers::forget(&gate.state, name, reference).await {
                        tracing::warn!(error = %e, repository = name, "forgetting a deleted referrer failed");
                    }
                }
                res
            }
            Ok(Err(refusal)) => denied(refusal, &token.sub, "DELETE", name, reference),
            Err(e) => rules_unavailable(e),
        },
        _ if req.method() == Method::GET => pull(gate, req, name, reference, &token.sub).await,
        _ => forward(gate, req).await,
    }
}

/// A manifest GET: straight through, unless the namespace requires signed images; then the
/// registry's answer is held (a manifest is small) until the signature policy lets it go.
async fn pull(gate: &Gate, req: Request, name: &str, reference: &str, who: &str) -> Response {
    let Some((namespace, _)) = name.split_once('/') else { return forward(gate, req).await };
    match gate::signing::policy(&gate.state, namespace).await {
        Ok(Some(p)) if p.required => {}
        Ok(_) => return forward(gate, req).await,
        Err(e) => return rules_unavailable(e),
    }
    let res = forward(gate, req).await;
    if !res.status().is_success() {
        return res;
    }
    let (parts, body) = res.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MANIFEST_LIMIT as usize).await else {
        return error(StatusCode::BAD_GATEWAY, "UNAVAILABLE", "the registry's answer could not be read; try again");
    };
    let digest = parts
        .headers
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .map(String::from)
        .unwrap_or_else(|| format!("sha256:{}", hex::encode(Sha256::digest(&body))));
    match gate::signing::may_pull(&gate.state, who, name, reference, &digest, &body).await {
        Ok(Ok(())) => Response::from_parts(parts, Body::from(body)),
        Ok(Err(refusal)) => denied(refusal, who, "GET", name, reference),
        Err(e) => rules_unavailable(e),
    }
}

async fn put(gate: &Gate, req: Request, name: &str, reference: &str, who: &str) -> Response {
    let media_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .unwrap_or_default();
    if !MANIFEST_TYPES.contains(&media_type.as_str()) {
        return error(
            StatusCode::BAD_REQUEST,
            "MANIFEST_INVALID",
            &format!(
                "manifest invalid: Content-Type {media_type:?} is not a manifest type (OCI or Docker image or index)"
            ),
        );
    }
    let (parts, body) = req.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MANIFEST_LIMIT as usize).await else {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "SIZE_INVALID",
            &format!("manifest over {} MiB, more than a registry accepts", MANIFEST_LIMIT >> 20),
        );
    };
    let Ok(parsed) = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&body) else {
        return error(StatusCode::BAD_REQUEST, "MANIFEST_INVALID", "manifest invalid: not a JSON object");
    };
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(&body)));
    if reference.starts_with("sha256:") && reference != digest {
        return error(
            StatusCode::BAD_REQUEST,
            "DIGEST_INVALID",
            &format!("the manifest's digest is {digest}, not the {reference} it was pushed as"),
        );
    }
    match gate::may_put(&gate.state, who, name, reference, &digest).await {
        Ok(Ok(())) => {}
        Ok(Err(refusal)) => return denied(refusal, who, "PUT", name, reference),
        Err(e) => return rules_unavailable(e),
    }
    match gate::quota::may_put(&gate.state, who, name, reference, &parsed).await {
        Ok(Ok(())) => {}
        Ok(Err(refusal)) => return denied(refusal, who, "PUT", name, reference),
        Err(e) => return rules_unavailable(e),
    }
    let size = body.len();
    let mut res = forward(gate, Request::from_parts(parts, Body::from(body))).await;
    if res.status().is_success() {
        // For the signature policy's grace window: the pusher may pull it before it is signed.
        if let Err(e) = gate::signing::pushed(&gate.state, who, name, &digest).await {
            tracing::warn!(error = %e, repository = name, "recording a push for the signing grace window failed");
        }
        // A manifest with a subject is listed by the referrers API from now on; the answer
        // says so (`OCI-Subject`), as a registry that serves the API itself does.
        match gate::referrers::record(&gate.state, name, &digest, &media_type, size, &parsed).await {
            Ok(Some(subject)) => {
                if let Ok(v) = HeaderValue::from_str(&subject) {
                    res.headers_mut().insert("oci-subject", v);
                }
            }
            Ok(None) => {}
            Err(e) => {
                // The registry has it; only the referrers list would miss it. Say so loudly.
                tracing::error!(error = %e, repository = name, digest, "recording a referrer failed");
            }
        }
    }
    res
}

/// `GET /v2/<name>/referrers/<digest>` (OCI distribution-spec 1.1): the manifests whose
/// `subject` is `digest`, as an image index, for whoever may pull the repository; with
/// `?artifactType=`, only those of that type (and `OCI-Filters-Applied: artifactType`).
async fn referrers(gate: &Gate, req: Request, name: &str, digest: &str) -> Response {
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return error(StatusCode::METHOD_NOT_ALLOWED, "UNSUPPORTED", "the operation is unsupported");
    }
    if RepositoryName::parse(name).is_none() {
        return error(StatusCode::BAD_REQUEST, "NAME_INVALID", "invalid repository name");
    }
    if !is_digest(digest) {
        return error(StatusCode::BAD_REQUEST, "DIGEST_INVALID", "invalid digest: sha256:<64 hex digits>");
    }
    let token = match gate.token(req.headers()).await {
        Ok(Some(t)) => t,
        Ok(None) => return gate.challenge(name, "pull", false),
        Err(res) => return res,
    };
    if !token.allows(name, "pull") {
        return gate.challenge(name, "pull", true);
    }
    let artifact_type = req
        .uri()
        .query()
        .and_then(|q| form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "artifactType"))
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty());
    match gate::referrers::index(&gate.state, name, digest, artifact_type.as_deref()).await {
        Ok(index) => {
            let mut res =
                ([(header::CONTENT_TYPE, HeaderValue::from_static(gate::referrers::INDEX))], index.to_string())
                    .into_response();
            if artifact_type.is_some() {
                res.headers_mut().insert("oci-filters-applied", HeaderValue::from_static("artifactType"));
            }
            res
        }
        Err(e) => rules_unavailable(e),
    }
}

/// A refusal: `403 DENIED` with the rule's reason.
fn denied(refusal: Refusal, who: &str, method: &str, name: &str, reference: &str) -> Response {
    tracing::info!(actor = who, method, repository = name, reference, reason = %refusal.0, "the gate refused");
    error(StatusCode::FORBIDDEN, "DENIED", &refusal.0)
}

/// The rules could not be read: the gate fails closed.
fn rules_unavailable(e: app::error::AppError) -> Response {
    tracing::error!(error = %e, "reading the gate's rules failed");
    error(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE", "cannot check this namespace's rules now; try again")
}

/// Headers that belong to one hop, never forwarded.
fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "host"
    )
}

/// Sends a request on to the registry as it came (the body streamed) and its answer back
/// the same way. The registry builds the addresses it answers with (an upload's Location)
/// from the forwarded host, so they point at the gate.
async fn forward(gate: &Gate, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/v2/");
    let url = format!("{}{path}", gate.upstream);
    let mut headers = HeaderMap::with_capacity(parts.headers.len() + 2);
    for (k, v) in &parts.headers {
        if !hop_by_hop(k) {
            headers.append(k.clone(), v.clone());
        }
    }
    if !headers.contains_key("x-forwarded-host") {
        if let Some(host) = parts.headers.get(header::HOST) {
            headers.insert("x-forwarded-host", host.clone());
        }
    }
    if !headers.contains_key("x-forwarded-proto") {
        headers.insert("x-forwarded-proto", HeaderValue::from_static("http"));
    }
    let body = match parts.method {
        Method::GET | Method::HEAD | Method::DELETE | Method::OPTIONS => reqwest::Body::from(""),
        _ => reqwest::Body::wrap_stream(body.into_data_stream()),
    };
    let sent = gate.http.request(parts.method.clone(), url).headers(headers).body(body).send().await;
    let res = match sent {
        Ok(res) => res,
        Err(e) => {
            tracing::warn!(error = %e, "the registry is unreachable from the gate");
            return error(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE", "the registry is unreachable; try again");
        }
    };
    let mut out = Response::builder().status(res.status());
    if let Some(h) = out.headers_mut() {
        for (k, v) in res.headers() {
            if !hop_by_hop(k) {
                h.append(k.clone(), v.clone());
            }
        }
    }
    out.body(Body::from_stream(res.bytes_stream())).unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever a client puts after `/manifests/`, what the gate takes for a reference is
        /// one path segment of the registry's grammar: no separator, no escape, nothing that
        /// climbs out of the repository.
        #[test]
        fn a_reference_the_gate_accepts_is_one_plain_segment(s in "[a-zA-Z0-9_.:%/\\-]{0,140}|\\PC{0,20}") {
            if is_tag(&s) || is_digest(&s) {
                prop_assert!(!s.is_empty() && s.len() <= 135);
                prop_assert!(!s.contains('/') && !s.contains('%') && !s.contains('\\') && !s.starts_with('.'));
                prop_assert!(s.bytes().all(|c| c.is_ascii_alphanumeric() || b"_.-:".contains(&c)));
            }
            if is_digest(&s) {
                prop_assert!(s.starts_with("sha256:") || s.starts_with("sha512:"));
            }
        }
    }

    #[test]
    fn references_follow_the_registry_grammar() {
        assert!(is_tag("v1.2.0"));
        assert!(is_tag("latest"));
        assert!(is_tag("_x"));
        assert!(!is_tag(".hidden"));
        assert!(!is_tag("-x"));
        assert!(!is_tag(""));
        assert!(!is_tag(&"a".repeat(129)));
        assert!(!is_tag("a/b"));
        assert!(!is_tag("..%2f"));
        assert!(is_digest(&format!("sha256:{}", "a".repeat(64))));
        assert!(!is_digest(&format!("sha256:{}", "A".repeat(64))));
        assert!(!is_digest(&format!("sha256:{}", "a".repeat(63))));
        assert!(!is_digest("md5:abc"));
    }
}

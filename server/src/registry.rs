//! The registry-facing side: the token endpoint (`/v2/token`) and the registry's
//! configuration (`portcullis registry-config`).

use std::path::Path;

use app::backend::token_service::{self, Credentials, Issued, TokenError, TokenRequest};
use app::backend::AppState;
use axum::{
    body::{Body, Bytes},
    extract::DefaultBodyLimit,
    extract::{FromRequestParts, RawQuery, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use base64::Engine as _;
use rand::RngCore as _;
use serde_json::json;

use crate::config::Config;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v2/token", get(token_get).post(token_post))
        // The inbox reads its body itself, within its own limit.
        .route("/v2/webhooks/events", axum::routing::post(events_inbox).layer(DefaultBodyLimit::disable()))
        .with_state(state)
}

/// The largest envelope the inbox reads. Distribution refuses manifests over 4 MiB, and an
/// envelope lists a manifest's descriptors (with their annotations) JSON-escaped, which can
/// grow a text six-fold; a bigger body is recorded as skipped, never refused.
pub const INBOX_LIMIT: usize = 32 * 1024 * 1024;

/// Reads a body up to `limit` bytes; a longer one is read to its end (so that the sender sees
/// its request answered) but only its first `limit` bytes are kept, and `false` says so.
async fn read_body(body: Body, limit: usize) -> Result<(Vec<u8>, bool), axum::Error> {
    use http_body_util::BodyExt as _;
    let mut body = body;
    let mut kept = Vec::new();
    let mut whole = true;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            let room = limit.saturating_sub(kept.len());
            if data.len() > room {
                whole = false;
            }
            kept.extend_from_slice(&data[..data.len().min(room)]);
        }
    }
    Ok((kept, whole))
}

/// `POST /v2/webhooks/events`: the registry's notifications. The shared secret is required;
/// events are stored durably (de-duplicated on their id) before the answer, applied
/// afterwards. With the right secret, every body gets a 2xx: what cannot be used is recorded
/// as skipped with the reason, since a refusal would make the registry resend it forever and
/// hold every later event behind it. Only an unreachable database is a 503 (resend later).
async fn events_inbox(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let expected = format!("Bearer {}", state.events_secret);
    let given = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes()).unwrap_or_default();
    if !constant_time_eq(given, expected.as_bytes()) {
        tracing::warn!(target: "portcullis::events", "notification without the shared secret refused");
        return error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "the notification secret is missing or wrong");
    }
    let unavailable = || error(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE", "could not be recorded; resend later");
    let (body, whole) = match read_body(body, INBOX_LIMIT).await {
        Ok(b) => b,
        // The connection broke: the registry did not get an answer either, and resends.
        Err(_) => return unavailable(),
    };
    let parsed = if whole {
        app::backend::events::parse_envelope(&body)
    } else {
        Err(format!("an envelope over {} MiB", INBOX_LIMIT >> 20))
    };
    let events = match parsed {
        Ok(e) => e,
        Err(why) => {
            tracing::warn!(target: "portcullis::events", %why, "unreadable notification recorded and acknowledged");
            return match app::backend::events::record_unreadable(&state, &body, &why).await {
                Ok(()) => StatusCode::ACCEPTED.into_response(),
                Err(_) => unavailable(),
            };
        }
    };
    match app::backend::events::store(&state, &events).await {
        Ok(_) => StatusCode::OK.into_response(),
        Err(_) => unavailable(),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The client's address, when the server runs with connection info (it does, except in
/// tests that call the router directly): the peer, or whom a trusted proxy forwarded for.
pub struct ClientAddr(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.extensions.get::<app::backend::ClientIp>().map(|c| c.0)))
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let mut res =
        (status, Json(json!({ "errors": [{ "code": code, "message": message, "detail": null }] }))).into_response();
    if status == StatusCode::UNAUTHORIZED {
        res.headers_mut()
            .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Basic realm=\"portcullis\""));
    }
    res
}

fn error_response(e: TokenError) -> Response {
    match e {
        TokenError::Unauthorized(m) => error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", &m),
        TokenError::BadRequest(m) => error(StatusCode::BAD_REQUEST, "INVALID_REQUEST", &m),
        TokenError::Throttled(m) => error(StatusCode::TOO_MANY_REQUESTS, "TOOMANYREQUESTS", &m),
        TokenError::Internal => error(StatusCode::INTERNAL_SERVER_ERROR, "UNKNOWN", "internal error"),
    }
}

/// Credentials from an `Authorization: Basic` header; anonymous without one.
fn basic(headers: &HeaderMap) -> Result<Credentials, TokenError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else { return Ok(Credentials::Anonymous) };
    let bad = || TokenError::BadRequest("malformed Authorization header: expected Basic credentials".into());
    let value = value.to_str().map_err(|_| bad())?;
    let (scheme, encoded) = value.split_once(' ').ok_or_else(bad)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(bad());
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (username, secret) = decoded.split_once(':').ok_or_else(bad)?;
    Ok(Credentials::Basic { username: username.to_string(), secret: secret.to_string() })
}

/// The parameters of a request, repeated keys kept (`scope` may repeat).
fn params(raw: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(raw).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

fn first<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn request_from(params: &[(String, String)], addr: Option<std::net::IpAddr>) -> TokenRequest {
    TokenRequest {
        service: first(params, "service").map(String::from),
        scopes: params.iter().filter(|(k, _)| k == "scope").map(|(_, v)| v.clone()).collect(),
        account: first(params, "account").map(String::from),
        offline: first(params, "offline_token") == Some("true") || first(params, "access_type") == Some("offline"),
        client_id: first(params, "client_id").map(String::from),
        client_addr: addr,
    }
}

/// `GET /v2/token`: Basic or anonymous (the Docker token protocol).
async fn token_get(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = params(query.unwrap_or_default().as_bytes());
    let creds = match basic(&headers) {
        Ok(c) => c,
        Err(e) => return error_response(e),
    };
    match token_service::issue(&state, creds, request_from(&params, addr)).await {
        Ok(issued) => get_response(issued),
        Err(e) => error_response(e),
    }
}

fn get_response(i: Issued) -> Response {
    let mut body = json!({
        "token": i.token,
        "access_token": i.token,
        "expires_in": i.expires_in,
        "issued_at": i.issued_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    });
    if let Some(r) = i.refresh_token {
        body["refresh_token"] = json!(r);
    }
    no_store(Json(body).into_response())
}

fn no_store(mut res: Response) -> Response {
    res.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    res
}

/// `POST /v2/token`: the OAuth2 form (`grant_type=password` or `refresh_token`). Chunked
/// bodies are fine: the body is read whole, within the server's size limit.
async fn token_post(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = params(&body);
    tracing::debug!(
        target: "portcullis::token",
        keys = ?params.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        grant_type = first(&params, "grant_type"),
        scope = ?params.iter().filter(|(k, _)| k == "scope").map(|(_, v)| v.as_str()).collect::<Vec<_>>(),
        "token POST"
    );
    let creds = match first(&params, "grant_type") {
        Some("password") => match (first(&params, "username"), first(&params, "password")) {
            (Some(u), Some(p)) if !u.is_empty() => {
                Credentials::Basic { username: u.to_string(), secret: p.to_string() }
            }
            _ => {
                return error_response(TokenError::BadRequest("grant_type=password needs username and password".into()))
            }
        },
        Some("refresh_token") => match first(&params, "refresh_token") {
            Some(t) if !t.is_empty() => Credentials::Refresh { token: t.to_string() },
            _ => return error_response(TokenError::BadRequest("grant_type=refresh_token needs refresh_token".into())),
        },
        Some(other) => {
            return error_response(TokenError::BadRequest(format!("unsupported grant_type {other:?}")));
        }
        None => match basic(&headers) {
            // Not in the spec, but harmless: a POST with Basic and no grant type.
            Ok(Credentials::Anonymous) => return error_response(TokenError::BadRequest("missing grant_type".into())),
            Ok(c) => c,
            Err(e) => return error_response(e),
        },
    };
    let mut req = request_from(&params, addr);
    // A POST asks for a refresh token with access_type=offline (docker) or offline_token.
    req.offline = req.offline || first(&params, "access_type") == Some("offline");
    match token_service::issue(&state, creds, req).await {
        Ok(i) => {
            let scope = i.scope();
            let mut body = json!({
                "access_token": i.token,
                "token_type": "Bearer",
                "expires_in": i.expires_in,
                "issued_at": i.issued_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "scope": scope,
            });
            if let Some(r) = i.refresh_token {
                body["refresh_token"] = json!(r);
            }
            no_store(Json(body).into_response())
        }
        Err(e) => error_response(e),
    }
}

/// Where the registry listens and keeps its data, for `registry-config`.
pub struct RegistryLayout<'a> {
    pub listen: &'a str,
    pub storage: &'a Path,
}

/// Writes the registry's `config.yml` and `rootcertbundle.pem` into `out`: token auth against
/// this Portcullis, deletes enabled.
pub async fn write_config(
    state: &AppState,
    config: &Config,
    out: &Path,
    layout: RegistryLayout<'_>,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(out)?;
    std::fs::create_dir_all(layout.storage)?;
    let out = &std::fs::canonicalize(out)?;
    let storage = std::fs::canonicalize(layout.storage)?;
    let bundle = state.keys.bundle(&state.db).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let bundle_path = out.join("rootcertbundle.pem");
    write_file(&bundle_path, bundle.as_bytes(), 0o644)?;
    let mut secret = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let base = config.public_url.trim_end_matches('/');
    let yaml = format!(
        r#"# Written by `portcullis registry-config`: token authentication against Portcullis.
version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: {listen}
  secret: {secret}
  headers:
    X-Content-Type-Options: [nosniff]
auth:
  token:
    realm: {realm}
    service: {service}
    issuer: {issuer}
    rootcertbundle: {bundle}
notifications:
  events:
    includereferences: true
  endpoints:
    - name: portcullis
      url: {events}
      headers:
        Authorization: [Bearer {events_secret}]
      timeout: 2s
      threshold: 3
      backoff: 3s
      # Blob uploads, pulls and mounts change no tag: only manifest events are sent.
      ignoredmediatypes:
        - application/octet-stream
"#,
        storage = storage.display(),
        listen = layout.listen,
        secret = hex::encode(secret),
        realm = format_args!("{base}/v2/token"),
        service = state.token.service,
        issuer = state.token.issuer,
        bundle = bundle_path.display(),
        events = format_args!("{base}/v2/webhooks/events"),
        events_secret = state.events_secret,
    );
    // It holds the registry's HTTP secret and the notification secret.
    write_file(&out.join("config.yml"), yaml.as_bytes(), 0o600)?;
    Ok(())
}

/// Writes a file with the given permissions (from its creation on, never wider).
fn write_file(path: &Path, content: &[u8], mode: u32) -> std::io::Result<()> {
    use std::io::Write as _;
    #[cfg(unix)]
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let _ = std::fs::remove_file(path);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(mode);
    let mut file = options.open(path)?;
    file.write_all(content)?;
    #[cfg(unix)]
    file.set_permissions(std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

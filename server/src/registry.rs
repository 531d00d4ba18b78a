//! The registry-facing side: the token endpoint (`/v2/token`) and the registry's
//! configuration (`portcullis registry-config`).

use std::net::SocketAddr;
use std::path::Path;

use app::backend::token_service::{self, Credentials, Issued, TokenError, TokenRequest};
use app::backend::{keys, AppState};
use axum::{
    body::Bytes,
    extract::{ConnectInfo, FromRequestParts, RawQuery, State},
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
        .route("/v2/webhooks/events", axum::routing::post(events_inbox))
        .with_state(state)
}

/// `POST /v2/webhooks/events`: the registry's notifications. The shared secret is required;
/// events are stored (de-duplicated on their id) before the answer, applied afterwards.
async fn events_inbox(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let expected = format!("Bearer {}", state.events_secret);
    let given = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes()).unwrap_or_default();
    if !constant_time_eq(given, expected.as_bytes()) {
        tracing::warn!(target: "portcullis::events", "notification without the shared secret refused");
        return error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "the notification secret is missing or wrong");
    }
    let events = match app::backend::events::parse_envelope(&body) {
        Ok(e) => e,
        Err(why) => {
            // Not an envelope: refusing would only make the registry resend it forever. It is
            // recorded, with the reason, for the administrators' events list.
            tracing::warn!(target: "portcullis::events", %why, "unreadable notification recorded and acknowledged");
            return match app::backend::events::record_unreadable(&state, &body, &why).await {
                Ok(()) => StatusCode::ACCEPTED.into_response(),
                Err(_) => error(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE", "could not be recorded; resend later"),
            };
        }
    };
    match app::backend::events::store(&state, &events).await {
        Ok(_) => StatusCode::OK.into_response(),
        // Not stored: the registry must resend it later.
        Err(_) => error(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE", "events could not be stored; resend later"),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The client's address, when the server runs with connection info (it does, except in
/// tests that call the router directly).
pub struct ClientAddr(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())))
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
    let bundle = keys::bundle_pem(&state.db, state.token.expires_in).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let bundle_path = out.join("rootcertbundle.pem");
    std::fs::write(&bundle_path, bundle)?;
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
    std::fs::write(out.join("config.yml"), yaml)?;
    Ok(())
}

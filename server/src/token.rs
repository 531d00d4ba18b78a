//! The token endpoint (`GET`/`POST /v2/token`): the Docker token protocol over
//! [`app::backend::registry::token_service`], which turns credentials into a signed JWT.

use app::backend::access::login::parse_authorization;
use app::backend::registry::token_service::{self, Credentials, Issued, TokenError, TokenRequest};
use app::backend::AppState;
use axum::{
    body::Bytes,
    extract::{FromRequestParts, RawQuery, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use serde_json::json;

pub fn router(state: AppState) -> Router {
    Router::new().route("/v2/token", get(token_get).post(token_post)).with_state(state)
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

/// The TCP peer's address, whatever a proxy says (when the server runs with connection info).
pub struct PeerAddr(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for PeerAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip())))
    }
}

/// An error in the registry's JSON shape (`{"errors": [{code, message}]}`).
pub(crate) fn error(status: StatusCode, code: &str, message: &str) -> Response {
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
        TokenError::Unavailable(m) => error(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE", &m),
        TokenError::Internal => error(StatusCode::INTERNAL_SERVER_ERROR, "UNKNOWN", "internal error"),
    }
}

/// Credentials from an `Authorization: Basic` header; anonymous without one.
fn basic(headers: &HeaderMap) -> Result<Credentials, TokenError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else { return Ok(Credentials::Anonymous) };
    let bad = || TokenError::BadRequest("malformed Authorization header: expected Basic credentials".into());
    let value = value.to_str().map_err(|_| bad())?;
    match parse_authorization(value) {
        Some((Some(username), secret)) => Ok(Credentials::Basic { username, secret }),
        _ => Err(bad()),
    }
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
    match issue(&state, creds, request_from(&params, addr)).await {
        Ok(issued) => get_response(issued),
        Err(e) => error_response(e),
    }
}

/// Issues a token, counted and timed on the metrics page by outcome and kind of credential.
async fn issue(state: &AppState, creds: Credentials, req: TokenRequest) -> Result<Issued, TokenError> {
    let started = std::time::Instant::now();
    let credential = creds.kind();
    let result = token_service::issue(state, creds, req).await;
    let outcome = match &result {
        Ok(_) => "issued",
        Err(TokenError::Unauthorized(_)) => "unauthorized",
        Err(TokenError::BadRequest(_)) => "bad_request",
        Err(TokenError::Throttled(_)) => "throttled",
        Err(TokenError::Unavailable(_)) => "unavailable",
        Err(TokenError::Internal) => "error",
    };
    metrics::histogram!("portcullis_token_request_duration_seconds", "credential" => credential)
        .record(started.elapsed().as_secs_f64());
    metrics::counter!("portcullis_token_requests_total", "outcome" => outcome, "credential" => credential).increment(1);
    result
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
    match issue(&state, creds, req).await {
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

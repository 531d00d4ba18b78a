//! REST API v1 (Portus-compatible paths, JSON). Handlers are thin adapters over
//! `app::backend`: they extract the principal and the input, call one backend operation, and
//! turn its result into JSON.
//!
//! Authentication: `Authorization: Bearer <access token>`, `Basic <username>:<access token>`,
//! or the browser session cookie. Without any, the request is anonymous.
//! Errors are `{"message": "...", "field": "..."}` with the status of the error: 400 malformed,
//! 401 not authenticated, 403 refused, 404 unknown, 409 conflict, 413 too large, 422 invalid.

mod accounts;
mod activity;
mod auth;
mod cleanup;
mod namespaces;
pub mod openapi;
mod repositories;
mod tag_rules;
mod teams;
mod webhooks;

use app::backend::AppState;
use app::error::AppError;
use app::model::{Page, PageRequest};
use axum::{
    extract::{rejection::JsonRejection, rejection::PathRejection, FromRequest, FromRequestParts, Request},
    http::{header, request::Parts, StatusCode},
    response::{IntoResponse, Response},
    routing::{delete, get, patch, post, put},
    Json, Router,
};
use serde::de::DeserializeOwned;
use serde_json::json;

pub use auth::ApiAuth;

/// A handler's answer to a POST that made something: 201 and the thing.
type Created<T> = (StatusCode, Json<T>);

fn created<T>(value: T) -> Created<T> {
    (StatusCode::CREATED, Json(value))
}

/// A list's search text (`?q=`).
#[derive(serde::Deserialize, Default)]
struct TextQuery {
    #[serde(default)]
    q: String,
}

pub fn router(state: AppState) -> Router {
    use {accounts::*, activity::*, namespaces::*, repositories::*, teams::*};
    Router::new()
        .route("/api/v1/health", get(crate::health::readyz))
        .route("/api/v1/users/bootstrap", post(bootstrap))
        .route("/api/v1/users", get(list_users).post(create_user))
        .route("/api/v1/users/{id}", get(get_user).put(update_user).patch(update_user).delete(delete_user))
        .route("/api/v1/group_mappings", get(list_group_mappings).post(create_group_mapping))
        .route("/api/v1/group_mappings/{id}", patch(set_group_mapping_source).delete(delete_group_mapping))
        .route("/api/v1/users/{id}/password", put(set_user_password))
        .route("/api/v1/users/{id}/password_reset", post(send_password_reset))
        .route("/api/v1/users/{id}/application_tokens", get(list_tokens).post(create_token))
        .route("/api/v1/users/application_tokens/{id}", delete(revoke_token))
        .route("/api/v1/teams", get(list_teams).post(create_team))
        .route("/api/v1/teams/{id}", get(get_team).put(update_team).patch(update_team).delete(delete_team))
        .route("/api/v1/teams/{id}/members", get(list_members).post(add_member))
        .route("/api/v1/teams/{id}/members/{user_id}", put(set_member_role).delete(remove_member))
        .route("/api/v1/teams/{id}/namespaces", get(team_namespaces))
        .route("/api/v1/namespaces", get(list_namespaces).post(create_namespace))
        .route(
            "/api/v1/namespaces/{id}",
            get(get_namespace).put(update_namespace).patch(update_namespace).delete(delete_namespace),
        )
        .route("/api/v1/namespaces/{id}/repositories", get(namespace_repositories))
        .route(
            "/api/v1/namespaces/{id}/webhooks",
            get(webhooks::list_for_namespace).post(webhooks::create_for_namespace),
        )
        .route(
            "/api/v1/namespaces/{id}/cleanup",
            get(cleanup::namespace_get).put(cleanup::namespace_put).delete(cleanup::namespace_delete),
        )
        .route("/api/v1/namespaces/{id}/cleanup/preview", post(cleanup::namespace_preview))
        .route("/api/v1/namespaces/{id}/cleanup/run", post(cleanup::namespace_run))
        .route(
            "/api/v1/repositories/{id}/cleanup",
            get(cleanup::repository_get).put(cleanup::repository_put).delete(cleanup::repository_delete),
        )
        .route("/api/v1/repositories/{id}/cleanup/preview", post(cleanup::repository_preview))
        .route("/api/v1/repositories/{id}/cleanup/run", post(cleanup::repository_run))
        .route("/api/v1/namespaces/{id}/tag_rules", get(tag_rules::list).post(tag_rules::add))
        .route("/api/v1/namespaces/{id}/tag_rules/{rule_id}", delete(tag_rules::remove))
        .route("/api/v1/namespaces/{id}/quota", get(tag_rules::quota).put(tag_rules::set_quota))
        .route("/api/v1/read_only", get(tag_rules::read_only).put(tag_rules::set_read_only))
        .route("/api/v1/default_quota", get(tag_rules::default_quota).put(tag_rules::set_default_quota))
        .route(
            "/api/v1/namespaces/{id}/signature_policy",
            get(tag_rules::signature_policy).put(tag_rules::set_signature_policy),
        )
        .route("/api/v1/namespaces/{id}/trusted_keys", post(tag_rules::add_trusted_key))
        .route("/api/v1/namespaces/{id}/trusted_keys/{key_id}", delete(tag_rules::remove_trusted_key))
        .route("/api/v1/webhooks", get(webhooks::list_site_wide).post(webhooks::create_site_wide))
        .route("/api/v1/webhooks/{id}", get(webhooks::get).put(webhooks::change).delete(webhooks::delete))
        .route("/api/v1/webhooks/{id}/deliveries", get(webhooks::deliveries))
        .route("/api/v1/webhooks/{id}/test", post(webhooks::test))
        .route("/api/v1/webhooks/deliveries/{id}/redeliver", post(webhooks::redeliver))
        .route("/api/v1/repositories", get(list_repositories))
        .route(
            "/api/v1/repositories/{id}",
            get(get_repository).put(update_repository).patch(update_repository).delete(delete_repository),
        )
        .route("/api/v1/repositories/{id}/tags", get(list_tags))
        .route("/api/v1/repositories/{id}/history", get(repository_history))
        .route("/api/v1/repositories/{id}/restore", post(restore_tag))
        .route("/api/v1/tags/{id}", get(get_tag).delete(delete_tag))
        .route("/api/v1/{*rest}", axum::routing::any(unknown_endpoint))
        .route("/api/openapi.json", get(openapi::document))
        .route("/admin/activity.csv", get(activity_csv))
        .with_state(state)
}

async fn unknown_endpoint() -> ApiError {
    ApiError(AppError::not_found("No such API endpoint. See /api/openapi.json."))
}

/// An error as the API answers it.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        Self(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut body = json!({ "message": self.0.message() });
        if let Some(field) = self.0.field() {
            body["field"] = json!(field);
        }
        let mut res = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer realm=\"portcullis\""));
        }
        res
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

fn bad_request(status: StatusCode, message: String) -> ApiError {
    ApiError(match status {
        StatusCode::UNPROCESSABLE_ENTITY => AppError::invalid("body", message),
        StatusCode::PAYLOAD_TOO_LARGE => AppError::BadRequest("request body too large".into()),
        _ => AppError::BadRequest(message),
    })
}

/// `Json` whose rejections are API errors: 400 for broken JSON, 422 for the wrong shape (a
/// body that is not a JSON object included: serde would read a struct from an array), 415
/// without a JSON content type.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let value = match Json::<serde_json::Value>::from_request(req, state).await {
            Ok(Json(v)) => v,
            Err(rejection) => return Err(json_rejection(rejection)),
        };
        if !value.is_object() {
            return Err(ApiError(AppError::invalid("body", "must be a JSON object")).into_response());
        }
        serde_json::from_value(value)
            .map(Self)
            .map_err(|e| ApiError(AppError::invalid("body", e.to_string())).into_response())
    }
}

fn json_rejection(r: JsonRejection) -> Response {
    let status = r.status();
    let message = r.body_text();
    if status == StatusCode::UNSUPPORTED_MEDIA_TYPE || status == StatusCode::PAYLOAD_TOO_LARGE {
        let body = Json(json!({ "message": message }));
        return (status, body).into_response();
    }
    bad_request(status, message).into_response()
}

/// Query parameters whose parse failure is a 400 API error.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Self(q.0))
            .map_err(|e| ApiError(AppError::BadRequest(format!("bad query parameter: {}", e.body_text()))))
    }
}

/// `page` and `per_page` of a list (1-based; at most 100 a page, 50 when not given).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct PageQuery {
    pub page: Option<u32>,
    pub per_page: Option<u32>,
}

impl PageQuery {
    /// The page asked for: 400 for a page or page size below 1; a size over 100 is 100.
    pub fn request(&self) -> Result<PageRequest, ApiError> {
        for (name, v) in [("page", self.page), ("per_page", self.per_page)] {
            if v == Some(0) {
                return Err(ApiError(AppError::BadRequest(format!("{name} must be at least 1"))));
            }
        }
        Ok(PageRequest::new(self.page, self.per_page))
    }
}

/// A page of a list as the API answers it, in the manner of GitHub's and Harbor's APIs: the
/// items as a JSON array, the total in `X-Total-Count`, and `Link` (RFC 8288) to the first,
/// previous, next and last pages.
pub struct Paged<T> {
    pub page: Page<T>,
    pub uri: axum::http::Uri,
}

impl<T: serde::Serialize> IntoResponse for Paged<T> {
    fn into_response(self) -> Response {
        let Paged { page, uri } = self;
        let keep: Vec<(String, String)> = form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .filter(|(k, _)| k != "page" && k != "per_page")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let link = |n: u32, rel: &str| {
            let mut q = form_urlencoded::Serializer::new(String::new());
            q.extend_pairs(keep.iter());
            q.append_pair("page", &n.to_string());
            q.append_pair("per_page", &page.per_page.to_string());
            format!("<{}?{}>; rel=\"{rel}\"", uri.path(), q.finish())
        };
        let last = page.pages();
        let mut links = vec![link(1, "first")];
        if page.page > 1 {
            links.push(link((page.page - 1).min(last), "prev"));
        }
        if page.page < last {
            links.push(link(page.page + 1, "next"));
        }
        links.push(link(last, "last"));
        let mut res = Json(&page.items).into_response();
        let headers = res.headers_mut();
        headers.insert("x-total-count", header::HeaderValue::from(page.total));
        if let Ok(v) = header::HeaderValue::from_str(&links.join(", ")) {
            headers.insert(header::LINK, v);
        }
        res
    }
}

/// A path parameter whose parse failure is a 400 API error.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state).await.map(|p| Self(p.0)).map_err(
            |e: PathRejection| ApiError(AppError::BadRequest(format!("bad path parameter: {}", e.body_text()))),
        )
    }
}

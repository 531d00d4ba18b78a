//! Who is calling the API.

use app::backend::access::{access_tokens as tokens, login, principal::Principal, session};
use app::backend::AppState;
use app::error::AppError;
use axum::{
    extract::FromRequestParts,
    http::{header, request::Parts},
};

use super::ApiError;

/// The principal of an API request: token (Bearer or Basic), session cookie, or anonymous.
/// A credential that is present but wrong is a 401, never a silent downgrade to anonymous.
pub struct ApiAuth(pub Principal);

impl FromRequestParts<AppState> for ApiAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            let value = value.to_str().map_err(|_| invalid())?;
            return from_authorization(state, value).await.map(ApiAuth);
        }
        let Some(session) = parts.extensions.get::<tower_sessions::Session>().cloned() else {
            return Ok(ApiAuth(Principal::anonymous()));
        };
        let user = session::current_user(state, &session).await?;
        Ok(ApiAuth(user.map(Principal::user).unwrap_or_default()))
    }
}

fn invalid() -> ApiError {
    ApiError(AppError::unauthorized("Invalid or expired credentials."))
}

async fn from_authorization(state: &AppState, value: &str) -> Result<Principal, ApiError> {
    let (username, secret) = login::parse_authorization(value).ok_or_else(invalid)?;
    let (user, scope) = tokens::authenticate(&state.db, &secret).await?.ok_or_else(invalid)?;
    if username.is_some_and(|u| !u.eq_ignore_ascii_case(&user.username)) {
        return Err(invalid());
    }
    Ok(Principal { user: Some(user), token: Some(scope) })
}

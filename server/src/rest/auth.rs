//! Who is calling the API.

use app::backend::{access::Principal, session, tokens, AppState};
use app::error::AppError;
use axum::{
    extract::FromRequestParts,
    http::{header, request::Parts},
};
use base64::Engine as _;

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
    let (scheme, rest) = value.split_once(' ').ok_or_else(invalid)?;
    let (username, secret) = match scheme.to_ascii_lowercase().as_str() {
        "bearer" => (None, rest.trim().to_string()),
        "basic" => {
            let decoded = base64::engine::general_purpose::STANDARD.decode(rest.trim()).map_err(|_| invalid())?;
            let decoded = String::from_utf8(decoded).map_err(|_| invalid())?;
            let (user, secret) = decoded.split_once(':').ok_or_else(invalid)?;
            (Some(user.to_ascii_lowercase()), secret.to_string())
        }
        _ => return Err(invalid()),
    };
    let (user, scope) = tokens::authenticate(&state.db, &secret).await?.ok_or_else(invalid)?;
    if username.is_some_and(|u| u != user.username) {
        return Err(invalid());
    }
    Ok(Principal { user: Some(user), token: Some(scope) })
}

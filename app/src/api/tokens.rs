//! The signed-in user's access tokens.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::{AccessTokenView, CreatedToken, Page, RefreshTokenView};

#[cfg(feature = "ssr")]
use crate::api::form;
#[cfg(feature = "ssr")]
use crate::backend::access::access_tokens as tokens;

/// Session key of a just-created secret, kept for the one page load that shows it after a
/// plain (no-JavaScript) form post, then deleted.
#[cfg(feature = "ssr")]
const NEW_SECRET: &str = "new_token";

#[server(endpoint = "tokens/list", output = crate::api::Json)]
pub async fn list_tokens(page: Option<u32>) -> Result<Page<AccessTokenView>, AppError> {
    let (state, p) = form::principal().await?;
    let me = p.require_user()?.id;
    tokens::list(&state, &p, me, crate::model::PageRequest::new(page, None)).await
}

/// Takes (and forgets) the secret of a token created by a plain form post, if any.
#[server(endpoint = "tokens/new-secret", output = crate::api::Json)]
pub async fn take_new_secret() -> Result<Option<CreatedToken>, AppError> {
    let session = form::session().await?;
    let taken = session.remove::<CreatedToken>(NEW_SECRET).await.map_err(|_| AppError::Internal)?;
    Ok(taken)
}

/// Keeps a just-created secret for the next page load when the form was posted without
/// JavaScript (a redirect follows, and the secret must not travel in a URL).
#[cfg(feature = "ssr")]
async fn flash_for_plain_post(created: &CreatedToken) -> Result<(), AppError> {
    if form::is_plain_form_post() {
        let session = form::session().await?;
        session.insert(NEW_SECRET, created).await.map_err(|_| AppError::Internal)?;
    }
    Ok(())
}

/// An administrator creates an access token for a user (a bot user, typically).
#[server(endpoint = "admin/users/token", output = crate::api::Json)]
pub async fn create_token_for(user_id: i64, name: String, pull_only: Option<String>) -> Result<CreatedToken, AppError> {
    form::answer(None, |state, p| async move {
        let new = tokens::NewToken { name, pull_only: pull_only.is_some_and(|v| !v.is_empty()), ..Default::default() };
        let created = tokens::create(&state, &p, user_id, new).await?;
        flash_for_plain_post(&created).await?;
        Ok(created)
    })
    .await
}

#[server(endpoint = "tokens/create", output = crate::api::Json)]
pub async fn create_token(
    name: String,
    namespaces: Option<String>,
    pull_only: Option<String>,
    expires_days: Option<String>,
) -> Result<CreatedToken, AppError> {
    form::answer(Some("/account#tokens"), |state, p| async move {
        let me = p.require_user()?.id;
        let expires_at = match expires_days.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
            None => None,
            Some(d) => {
                let days: i64 = d
                    .parse()
                    .ok()
                    .filter(|d| (1..=3650).contains(d))
                    .ok_or_else(|| AppError::invalid("expires_days", "must be a number of days from 1 to 3650"))?;
                Some(chrono::Utc::now() + chrono::Duration::days(days))
            }
        };
        let new = tokens::NewToken {
            name,
            namespaces: namespaces
                .unwrap_or_default()
                .split([',', ' '])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
            pull_only: pull_only.as_deref().is_some_and(|v| !v.is_empty()),
            expires_at,
        };
        let created = tokens::create(&state, &p, me, new).await?;
        flash_for_plain_post(&created).await?;
        Ok(created)
    })
    .await
}

#[server(endpoint = "tokens/revoke", output = crate::api::Json)]
pub async fn revoke_token(id: i64) -> Result<AccessTokenView, AppError> {
    form::answer(None, |state, p| async move { tokens::revoke(&state, &p, id).await }).await
}

/// The clients that logged in with `docker login` (refresh tokens), newest first.
#[server(endpoint = "tokens/refresh/list", output = crate::api::Json)]
pub async fn list_refresh_tokens() -> Result<Vec<RefreshTokenView>, AppError> {
    let (state, p) = form::principal().await?;
    let me = p.require_user()?;
    crate::backend::registry::token_service::list_refresh_tokens(&state, me).await
}

#[server(endpoint = "tokens/refresh/revoke", output = crate::api::Json)]
pub async fn revoke_refresh_token(id: i64) -> Result<(), AppError> {
    form::answer(None, |state, p| async move {
        crate::backend::registry::token_service::revoke_refresh_token(&state, &p, id).await
    })
    .await
}

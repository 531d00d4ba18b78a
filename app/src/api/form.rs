//! How a server function answers a form.
//!
//! Every form in Portcullis is a real `<form>` posting to a server function, so it works
//! before hydration and with JavaScript off. For such a plain post (it accepts `text/html`),
//! the server-function layer answers Post/Redirect/Get: an error goes back to the form's page
//! encoded in the URL, where `ServerAction::new()` picks it up, so the page shows it exactly as
//! it would after a hydrated call. A hydrated call gets the `Result` with a matching status.
//! On success both kinds are sent on to the next page.

use axum::http::{header, request::Parts, StatusCode};
use leptos::prelude::*;
use leptos_axum::ResponseOptions;

use crate::backend::AppState;
use crate::error::{AppError, AppResult};

/// The shared state, provided to every server function by the router.
pub fn state() -> AppResult<AppState> {
    use_context::<AppState>().ok_or_else(|| {
        tracing::error!("AppState missing from the server-function context");
        AppError::Internal
    })
}

/// The session of this request (tower-sessions layer).
pub async fn session() -> AppResult<tower_sessions::Session> {
    leptos_axum::extract::<tower_sessions::Session>().await.map_err(|e| {
        tracing::error!(error = ?e, "session layer missing");
        AppError::Internal
    })
}

/// The client's IP address (see [`super::client_ip`]), when the server was started with
/// connection info.
pub fn client_addr() -> Option<std::net::IpAddr> {
    use_context::<Parts>().and_then(|p| p.extensions.get::<crate::backend::ClientIp>().map(|c| c.0))
}

/// Whether this request is a plain HTML form post (no JavaScript), answered by a redirect.
pub fn is_plain_form_post() -> bool {
    use_context::<Parts>()
        .and_then(|p| p.headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).map(|v| v.contains("text/html")))
        .unwrap_or(false)
}

/// Finishes a form's server function: see the module documentation.
pub fn respond<T>(result: AppResult<T>, success: Option<&str>) -> AppResult<T> {
    match &result {
        Ok(_) => {
            if let Some(to) = success {
                // `redirect` panics on what cannot be a header value; a name from a form may
                // carry a control character, and nothing a client sends may panic a handler.
                if axum::http::HeaderValue::from_str(to).is_ok() {
                    leptos_axum::redirect(to);
                } else {
                    tracing::warn!(to = ?to, "not a header value; sent home instead");
                    leptos_axum::redirect("/");
                }
            }
        }
        Err(err) => {
            // A plain post must stay a redirect; only a hydrated call gets the error status.
            if !is_plain_form_post() {
                if let Some(opts) = use_context::<ResponseOptions>() {
                    opts.set_status(StatusCode::from_u16(err.status()).unwrap_or(StatusCode::BAD_REQUEST));
                }
            }
        }
    }
    result
}

/// Runs a form's server function: the state and principal of the request, then `work`, then
/// the answer [`respond`] gives (Post/Redirect/Get for a plain form, the `Result` for a
/// hydrated call), going on to `success` when it worked.
pub async fn answer<T, F, Fut>(success: Option<&str>, work: F) -> AppResult<T>
where
    F: FnOnce(AppState, crate::backend::access::principal::Principal) -> Fut,
    Fut: std::future::Future<Output = AppResult<T>>,
{
    let result = match principal().await {
        Ok((state, p)) => work(state, p).await,
        Err(e) => Err(e),
    };
    respond(result, success)
}

/// The state and the principal of this request (the session's user, or anonymous).
pub async fn principal() -> AppResult<(AppState, crate::backend::access::principal::Principal)> {
    let state = state()?;
    let session = session().await?;
    let user = crate::backend::access::session::current_user(&state, &session).await?;
    Ok((state, user.map(crate::backend::access::principal::Principal::user).unwrap_or_default()))
}

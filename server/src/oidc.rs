//! The browser's side of signing in through an OpenID Connect provider: `/login/oidc/<name>`
//! sends it to the provider, `/login/oidc/<name>/callback` is where the provider sends it
//! back. The protocol itself is `app::backend::access::oidc`.

use app::backend::access::oidc::{self, Attempt, Outcome, Pending};
use app::backend::access::{session, throttle};
use app::backend::{AppState, ClientIp};
use app::error::AppError;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Extension;
use axum::Router;
use serde::Deserialize;
use tower_sessions::Session;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/login/oidc/{name}", get(start))
        .route("/login/oidc/{name}/callback", get(callback))
        .with_state(state)
}

#[derive(Deserialize)]
struct Start {
    next: Option<String>,
}

async fn start(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<Start>,
    addr: Option<Extension<ClientIp>>,
    session: Session,
) -> Response {
    let Some(provider) = state.oidc.get(&name) else {
        return failure(StatusCode::NOT_FOUND, "No sign-in provider has this name.");
    };
    let throttled = throttle::begin(&state.db, throttle::provider_attempt(addr.map(|a| a.0 .0))).await;
    if let Err(e) = async { throttled?.succeeded(&state.db).await }.await {
        return app_failure(e);
    }
    if let Err(e) = session::keep_briefly_unless_signed_in(&session).await {
        return app_failure(e);
    }
    let next = app::api::safe_next(&state.settings.public_url, q.next.as_deref());
    match provider.begin(&next).await {
        Ok((url, attempt)) => match session.insert(oidc::ATTEMPT_KEY, attempt).await {
            Ok(()) => Redirect::to(&url).into_response(),
            Err(e) => {
                tracing::error!(error = %e, "session store error");
                failure(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong on our side; try again.")
            }
        },
        Err(e) => {
            tracing::warn!(provider = %name, error = %e, "cannot start a sign-in");
            Redirect::to("/login?sso=unavailable").into_response()
        }
    }
}

#[derive(Deserialize)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

async fn callback(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<Callback>,
    session: Session,
) -> Response {
    let Some(provider) = state.oidc.get(&name) else {
        return failure(StatusCode::NOT_FOUND, "No sign-in provider has this name.");
    };
    // Used once, whatever happens next.
    let attempt = session.remove::<Attempt>(oidc::ATTEMPT_KEY).await.ok().flatten();
    if let Some(error) = &q.error {
        tracing::info!(provider = %name, %error, "the provider did not sign the person in");
        let code = if error == "access_denied" { "denied" } else { "failed" };
        return Redirect::to(&format!("/login?sso={code}")).into_response();
    }
    let (Some(attempt), Some(code), Some(returned)) = (attempt, q.code, q.state) else {
        tracing::warn!(provider = %name, "a sign-in came back that did not start in this browser");
        return failure(
            StatusCode::BAD_REQUEST,
            "This sign-in did not start in this browser, or it was already used. Start again from the sign-in page.",
        );
    };
    let identity = match provider.finish(&state, attempt.clone(), &code, &returned).await {
        Ok(identity) => identity,
        Err(oidc::OidcError::Refused(why)) => {
            tracing::warn!(provider = %name, %why, "sign-in refused");
            return failure(
                StatusCode::BAD_REQUEST,
                "This sign-in could not be verified. Start again from the sign-in page.",
            );
        }
        Err(e) => {
            tracing::warn!(provider = %name, error = %e, "sign-in failed");
            return Redirect::to("/login?sso=unavailable").into_response();
        }
    };
    match oidc::sign_in(&state, &identity).await {
        Ok(Outcome::SignedIn(user)) => match session::establish(&state, &session, &user).await {
            Ok(()) => {
                tracing::info!(target: "portcullis::auth", username = %user.username, provider = %name, "signed in through a provider");
                Redirect::to(&attempt.next).into_response()
            }
            Err(e) => app_failure(e),
        },
        Ok(Outcome::ChooseUsername { suggestion }) => {
            let pending = Pending::new(identity, suggestion, attempt.next);
            match session.insert(oidc::PENDING_KEY, pending).await {
                Ok(()) => Redirect::to("/login/choose-username").into_response(),
                Err(e) => {
                    tracing::error!(error = %e, "session store error");
                    failure(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong on our side; try again.")
                }
            }
        }
        Err(e) => app_failure(e),
    }
}

fn app_failure(e: AppError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    failure(status, &e.message())
}

/// A small page that says what went wrong, with the way back.
fn failure(status: StatusCode, message: &str) -> Response {
    let message = message.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let body = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Sign-in failed · Portcullis</title><style>body{{font-family:system-ui,sans-serif;background:#f8fafc;color:#0f172a;\
         display:flex;min-height:100vh;align-items:center;justify-content:center;margin:0;padding:1rem}}main{{background:#fff;\
         border:1px solid #e2e8f0;border-radius:.75rem;padding:2rem;max-width:28rem}}h1{{font-size:1.25rem;margin:0 0 .75rem}}\
         a{{color:#4f46e5}}</style></head><body><main><h1>Sign-in failed</h1><p>{message}</p>\
         <p><a href=\"/login\">Back to sign in</a></p></main></body></html>"
    );
    (status, Html(body)).into_response()
}

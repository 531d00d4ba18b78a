//! Sign-up, login, logout, the current user and password changes.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::{CurrentUser, SiteInfo};

#[cfg(feature = "ssr")]
use crate::api::form;
#[cfg(feature = "ssr")]
use crate::backend::access::{login as auth, recovery, session, throttle, users};

/// The signed-in user, or `None` for a visitor.
#[server(endpoint = "me", output = crate::api::Json)]
pub async fn get_current_user() -> Result<Option<CurrentUser>, AppError> {
    let state = form::state()?;
    let session = form::session().await?;
    Ok(session::current_user(&state, &session).await?.map(|u| u.to_current()))
}

/// What the public pages show about this instance.
#[server(endpoint = "site", output = crate::api::Json)]
pub async fn get_site_info() -> Result<SiteInfo, AppError> {
    let state = form::state()?;
    Ok(SiteInfo {
        signup_enabled: state.settings.signup_enabled,
        password_reset_by_email: state.mailer.is_some(),
        registry_host: state.settings.registry_host.clone(),
        providers: state
            .oidc
            .buttons()
            .into_iter()
            .map(|(name, label)| crate::model::SignInProvider { name, label })
            .collect(),
        read_only: Some(crate::backend::org::settings::read_only(&state).await).filter(|m| m.enabled).map(|m| m.said()),
    })
}

/// The first sign-in through a provider waiting for a username, in this browser.
#[server(endpoint = "login/pending", output = crate::api::Json)]
pub async fn pending_sign_in() -> Result<crate::model::PendingSignIn, AppError> {
    let state = form::state()?;
    let pending = pending(&form::session().await?).await?;
    let label = state.oidc.get(&pending.identity.provider).map(|p| p.settings.label().to_string());
    Ok(crate::model::PendingSignIn {
        provider: label.unwrap_or_else(|| pending.identity.provider.clone()),
        suggestion: pending.suggestion,
        claimed_name: pending.identity.claimed_name,
        display_name: pending.identity.display_name,
        email: pending.identity.email,
    })
}

#[cfg(feature = "ssr")]
async fn pending(session: &tower_sessions::Session) -> Result<crate::backend::access::oidc::Pending, AppError> {
    use crate::backend::access::oidc;
    let pending = session.get::<oidc::Pending>(oidc::PENDING_KEY).await.map_err(|e| {
        tracing::error!(error = %e, "session store error");
        AppError::Internal
    })?;
    pending.filter(oidc::Pending::is_fresh).ok_or_else(|| {
        AppError::not_found("No sign-in is waiting for a username in this browser (or it took too long). Start again from the sign-in page.")
    })
}

/// Finishes a first sign-in through a provider under the username the person chose.
#[server(endpoint = "login/choose", output = crate::api::Json)]
pub async fn choose_username(username: String) -> Result<(), AppError> {
    let mut next = "/".to_string();
    let result = async {
        let state = form::state()?;
        let session = form::session().await?;
        let pending = pending(&session).await?;
        let user = crate::backend::access::oidc::create_chosen(&state, &pending.identity, &username).await?;
        next = super::safe_next(&state.settings.public_url, Some(&pending.next));
        let _ = session.remove_value(crate::backend::access::oidc::PENDING_KEY).await;
        session::establish(&state, &session, &user).await
    }
    .await;
    form::respond(result, Some(&next))
}

/// A forgotten password: mails a reset link to the account named by `login` (a username or an
/// email address), if there is one. The answer is the same whether or not there is.
#[server(endpoint = "password/forgot", output = crate::api::Json)]
pub async fn request_password_reset(login: String) -> Result<(), AppError> {
    let result = async {
        let state = form::state()?;
        recovery::request(&state, &login, form::client_addr(), &state.settings.public_url).await
    }
    .await;
    form::respond(result, Some("/forgot-password?sent=1"))
}

/// Whose password a reset link sets, while the link still works.
#[server(endpoint = "password/reset/user", output = crate::api::Json)]
pub async fn password_reset_user(token: String) -> Result<String, AppError> {
    recovery::link_user(&form::state()?, &token).await
}

/// Uses a reset link: sets the new password and signs the user out everywhere.
#[server(endpoint = "password/reset", output = crate::api::Json)]
pub async fn reset_password(token: String, password: String, password_confirm: String) -> Result<(), AppError> {
    let result = async {
        let state = form::state()?;
        recovery::complete(&state, &token, password, &password_confirm).await
    }
    .await;
    form::respond(result, Some("/login?reset=1"))
}

#[server(endpoint = "login", output = crate::api::Json)]
pub async fn login(username: String, password: String, next: Option<String>) -> Result<(), AppError> {
    let mut to = "/".to_string();
    let result = async {
        let state = form::state()?;
        to = super::safe_next(&state.settings.public_url, next.as_deref());
        let session = form::session().await?;
        let username = username.trim();
        if username.is_empty() || password.is_empty() {
            return Err(AppError::unauthorized(auth::BAD_CREDENTIALS));
        }
        let user = auth::login_with_password(&state, username, password, form::client_addr()).await?;
        session::establish(&state, &session, &user).await
    }
    .await;
    form::respond(result, Some(&to))
}

#[server(endpoint = "signup", output = crate::api::Json)]
pub async fn signup(username: String, password: String, password_confirm: String) -> Result<(), AppError> {
    let result = async {
        let state = form::state()?;
        if !state.settings.signup_enabled {
            return Err(AppError::forbidden("Sign-up is turned off here. Ask an administrator for an account."));
        }
        let username = username.trim().to_string();
        crate::model::validate_username(&username).map_err(|e| AppError::invalid("username", e))?;
        crate::model::validate_password(&password).map_err(|e| AppError::invalid("password", e))?;
        if password != password_confirm {
            return Err(AppError::invalid("password_confirm", "does not match the password"));
        }
        // Counted before the costly hash, whether or not the name turns out to be free.
        throttle::begin(&state.db, throttle::signup_attempt(form::client_addr())).await?.succeeded(&state.db).await?;
        let hash = state.hasher.hash(password).await?;
        let new = users::NewUser { username: &username, password_hash: Some(&hash), ..Default::default() };
        let user = users::insert(&state.db, new, state.settings.first_user_admin, users::Origin::SignUp).await?;
        let session = form::session().await?;
        session::establish(&state, &session, &user).await
    }
    .await;
    form::respond(result, Some("/"))
}

#[server(endpoint = "logout", output = crate::api::Json)]
pub async fn logout() -> Result<(), AppError> {
    let result = async {
        let session = form::session().await?;
        session::end(&session).await
    }
    .await;
    form::respond(result, Some("/login"))
}

#[server(endpoint = "account/password", output = crate::api::Json)]
pub async fn change_password(
    current_password: String,
    new_password: String,
    new_password_confirm: String,
) -> Result<(), AppError> {
    let result = async {
        let state = form::state()?;
        let session = form::session().await?;
        let user = session::current_user(&state, &session)
            .await?
            .ok_or_else(|| AppError::unauthorized("Please sign in again."))?;
        if user.password_hash.is_none() {
            return Err(AppError::Conflict(
                "Your password is kept by your organisation's directory (LDAP); change it there.".into(),
            ));
        }
        // Throttled like a sign-in: a session left open must not be a way to guess the password.
        let attempt =
            throttle::begin(&state.db, throttle::password_attempt(&user.username, form::client_addr())).await?;
        if !state.hasher.verify(current_password, user.password_hash.clone()).await? {
            attempt.failed();
            return Err(AppError::invalid("current_password", "is not your current password"));
        }
        attempt.succeeded(&state.db).await?;
        crate::model::validate_password(&new_password).map_err(|e| AppError::invalid("new_password", e))?;
        if new_password != new_password_confirm {
            return Err(AppError::invalid("new_password_confirm", "does not match the new password"));
        }
        let hash = state.hasher.hash(new_password).await?;
        let me = crate::backend::access::principal::Principal::user(user.clone());
        let allowed = me.allowed(|a| crate::policy::can_change_user(a, user.id, false))?;
        let epoch = users::update_password(&state.db, allowed, &hash).await?;
        session::refresh_epoch(&session, epoch).await?;
        Ok(())
    }
    .await;
    form::respond(result, Some("/account?saved=password"))
}

#[server(endpoint = "account/profile", output = crate::api::Json)]
pub async fn update_profile(display_name: String, email: String) -> Result<crate::model::UserView, AppError> {
    form::answer(Some("/account?saved=profile"), |state, p| async move {
        let me = p.require_user()?.id;
        let change = crate::backend::access::accounts::UserChange {
            display_name: Some(display_name),
            email: Some(email),
            ..Default::default()
        };
        crate::backend::access::accounts::update_user(&state, &p, me, change).await
    })
    .await
}

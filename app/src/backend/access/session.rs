//! Browser sessions: which user a tower-sessions session belongs to.
//!
//! A session stores the user id and the user's auth epoch at login. Changing the password or
//! disabling the user bumps the epoch, which voids every other session at its next request.

use tower_sessions::cookie::time::Duration;
use tower_sessions::{Expiry, Session};

use super::principal::User;
use super::users;
use crate::backend::AppState;
use crate::error::{AppError, AppResult};

const USER_ID: &str = "uid";
const EPOCH: &str = "epoch";

fn session_error(e: tower_sessions::session::Error) -> AppError {
    tracing::error!(error = %e, "session store error");
    AppError::Internal
}

/// Binds the session to `user`, under a fresh session id (no fixation), for
/// `session_days` of inactivity, and records the sign-in's time.
pub async fn establish(state: &AppState, session: &Session, user: &User) -> AppResult<()> {
    session.cycle_id().await.map_err(session_error)?;
    session.set_expiry(Some(Expiry::OnInactivity(Duration::days(state.settings.session_days))));
    session.insert(USER_ID, user.id).await.map_err(session_error)?;
    session.insert(EPOCH, user.auth_epoch).await.map_err(session_error)?;
    users::signed_in(&mut super::principal::Duty::SignIn.on(&state.db).await?, user.id).await
}

/// Minutes a session that only carries a sign-in under way (at an identity provider) lives.
pub const SIGN_IN_MINUTES: i64 = 15;

/// Makes a session without a user short-lived: it only carries a sign-in under way, and
/// anyone may start as many as the throttle allows.
pub async fn keep_briefly_unless_signed_in(session: &Session) -> AppResult<()> {
    if session.get::<i64>(USER_ID).await.map_err(session_error)?.is_none() {
        session.set_expiry(Some(Expiry::OnInactivity(Duration::minutes(SIGN_IN_MINUTES))));
    }
    Ok(())
}

/// Records a new epoch in this session after the user changed their password here.
pub async fn refresh_epoch(session: &Session, epoch: i32) -> AppResult<()> {
    session.cycle_id().await.map_err(session_error)?;
    session.insert(EPOCH, epoch).await.map_err(session_error)
}

/// Deletes the session from the store: the cookie, if replayed, finds nothing.
pub async fn end(session: &Session) -> AppResult<()> {
    session.flush().await.map_err(session_error)
}

/// The enabled user this session belongs to, if any. A session whose user is gone, disabled
/// or re-keyed is flushed.
pub async fn current_user(state: &AppState, session: &Session) -> AppResult<Option<User>> {
    let Some(id) = session.get::<i64>(USER_ID).await.map_err(session_error)? else {
        return Ok(None);
    };
    let epoch = session.get::<i32>(EPOCH).await.map_err(session_error)?;
    match users::find_by_id(&state.db, id).await? {
        Some(user) if user.is_enabled && Some(user.auth_epoch) == epoch => Ok(Some(user)),
        _ => {
            end(session).await?;
            Ok(None)
        }
    }
}

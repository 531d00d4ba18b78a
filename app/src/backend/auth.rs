//! Checking credentials: username and password, throttled, without revealing which part
//! was wrong or whether the account exists.

use std::net::IpAddr;

use super::users::{self, User};
use super::{throttle, AppState};
use crate::error::{AppError, AppResult};

/// The one answer for every failed login: unknown user, wrong password, disabled, bot.
pub const BAD_CREDENTIALS: &str = "Invalid username or password.";

/// Checks a username and password. The attempt is throttled per account and address, and
/// per account (see [`throttle`]); it is counted before the (costly) check.
pub async fn login_with_password(
    state: &AppState,
    username: &str,
    password: String,
    addr: Option<IpAddr>,
) -> AppResult<User> {
    let attempt = throttle::begin(&state.db, throttle::password_attempt(username, addr)).await?;
    let user = users::find_by_username(&state.db, &username.to_ascii_lowercase()).await?;
    let hash = user.as_ref().and_then(|u| u.password_hash.clone());
    // An empty password never matches, whatever is stored; nor does one longer than any a
    // user can set (it is not worth hashing).
    let plausible = !password.is_empty() && password.chars().count() <= crate::model::MAX_PASSWORD_LEN;
    let verified = plausible && state.hasher.verify(password, hash).await?;
    match user {
        Some(user) if verified && user.is_enabled && !user.is_bot => {
            attempt.succeeded(&state.db).await?;
            Ok(user)
        }
        _ => {
            attempt.failed();
            tracing::info!(target: "portcullis::auth", %username, ?addr, "login refused");
            Err(AppError::unauthorized(BAD_CREDENTIALS))
        }
    }
}

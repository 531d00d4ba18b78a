//! Checking credentials: username and password, throttled, without revealing which part
//! was wrong or whether the account exists.

use std::net::IpAddr;

use super::users::{self, User};
use super::{throttle, AppState};
use crate::error::{AppError, AppResult};

/// The one answer for every failed login: unknown user, wrong password, disabled, bot.
pub const BAD_CREDENTIALS: &str = "Invalid username or password.";

/// Checks a username and password. Failures are counted per account and per address;
/// over the limit, even correct credentials are refused until the window passes.
pub async fn login_with_password(
    state: &AppState,
    username: &str,
    password: String,
    addr: Option<IpAddr>,
) -> AppResult<User> {
    let account_key = throttle::account_key(username);
    let mut keys = vec![account_key.clone()];
    keys.extend(throttle::address_key(addr));
    throttle::check(&state.db, &keys).await?;

    let user = users::find_by_username(&state.db, &username.to_ascii_lowercase()).await?;
    let hash = user.as_ref().and_then(|u| u.password_hash.clone());
    let verified = state.hasher.verify(password, hash).await?;
    match user {
        Some(user) if verified && user.is_enabled && !user.is_bot => {
            throttle::clear(&state.db, &account_key).await?;
            Ok(user)
        }
        _ => {
            throttle::record_failure(&state.db, &keys).await?;
            tracing::info!(target: "portcullis::auth", %username, ?addr, "login refused");
            Err(AppError::unauthorized(BAD_CREDENTIALS))
        }
    }
}

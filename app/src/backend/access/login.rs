//! Checking credentials: username and password, throttled, without revealing which part
//! was wrong or whether the account exists.

use std::net::IpAddr;

use super::principal::User;
use super::users;
use crate::backend::access::throttle;
use crate::backend::AppState;
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
    // Directory people (and, with a directory, names unknown here) are checked by the
    // directory; local accounts, administrators among them, never are: a directory outage
    // locks no local account out.
    if let Some(directory) = &state.directory {
        let local = match &user {
            Some(u) => users::source_of(&state.db, u.id).await?.as_deref() == Some("local"),
            None => false,
        };
        if !local {
            return match directory_login(state, directory, username, &password).await {
                Ok(Some(user)) if user.is_enabled && !user.is_bot => {
                    attempt.succeeded(&state.db).await?;
                    Ok(user)
                }
                Ok(_) => {
                    attempt.failed();
                    tracing::info!(target: "portcullis::auth", %username, ?addr, "directory login refused");
                    Err(AppError::unauthorized(BAD_CREDENTIALS))
                }
                Err(_) if user.is_none() => {
                    // A name unknown here while the directory does not answer: the answer a
                    // local name with a wrong password gets (same words, same status, a hash
                    // checked for the same time), or an outage would tell the names of local
                    // accounts from all others.
                    let _ = state.hasher.verify(password, None).await?;
                    attempt.failed();
                    tracing::info!(target: "portcullis::auth", %username, ?addr, "login refused (the directory does not answer)");
                    Err(AppError::unauthorized(BAD_CREDENTIALS))
                }
                Err(e) => {
                    // A directory account: it is told the directory is down. Not counted as a
                    // failure: the password was never checked.
                    attempt.succeeded(&state.db).await?;
                    Err(e)
                }
            };
        }
    }
    let hash = user.as_ref().and_then(|u| u.password_hash.clone());
    // An empty password never matches, whatever is stored; nor does one longer than any a
    // user can set (it is not worth hashing).
    let plausible = !password.is_empty() && password.chars().count() <= crate::model::MAX_PASSWORD_LEN;
    let verified = plausible && state.hasher.verify(password, hash).await?;
    match user {
        Some(user)
            if verified
                && user.is_enabled
                && !user.is_bot
                && !crate::policy::keeps_local_password(user.is_admin, state.settings.local_passwords) =>
        {
            attempt.succeeded(&state.db).await?;
            Err(AppError::unauthorized(
                "Passwords kept by Portcullis are only for administrators here: sign in with your directory account.",
            ))
        }
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

/// Checks a password with the directory and brings the local account up to date with what
/// the directory says (making it at the first sign-in). `Ok(None)`: refused.
async fn directory_login(
    state: &AppState,
    directory: &super::ldap::Directory,
    username: &str,
    password: &str,
) -> AppResult<Option<User>> {
    // Not worth a round trip: nothing the directory would accept.
    if password.chars().count() > crate::model::MAX_PASSWORD_LEN || crate::model::validate_username(username).is_err() {
        return Ok(None);
    }
    let found = directory.authenticate(&username.to_ascii_lowercase(), password).await.map_err(|e| {
        tracing::warn!(error = %e, "directory sign-in failed");
        match e {
            super::ldap::DirectoryError::Unreachable(_) => AppError::Unavailable(
                "The directory (LDAP) that checks passwords does not answer; try again in a while, or ask an administrator."
                    .into(),
            ),
            super::ldap::DirectoryError::Refused(_) => AppError::Unavailable(
                "The directory (LDAP) refused Portcullis's search; an administrator should check its settings.".into(),
            ),
        }
    })?;
    let Some(person) = found else { return Ok(None) };
    if person.username != username.to_ascii_lowercase() {
        tracing::warn!(asked = %username, found = %person.username, "the directory's username differs from the one signed in with");
        return Ok(None);
    }
    match users::from_directory(&state.db, &person.username, &person.display_name, person.email.as_deref()).await? {
        Some(user) => Ok(Some(super::groups::sync(state, user, super::groups::DIRECTORY, &person.groups).await?)),
        None => Ok(None),
    }
}

/// The credentials an `Authorization` header carries: `Basic` (a username and a secret, split
/// at the first `:`) or `Bearer` (a secret alone). `None` for anything else or a header that
/// does not decode.
pub fn parse_authorization(value: &str) -> Option<(Option<String>, String)> {
    use base64::Engine as _;
    let (scheme, rest) = value.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some((None, rest.trim().to_string()));
    }
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(rest.trim()).ok()?;
    let (user, secret) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    Some((Some(user.to_string()), secret.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_headers_parse_or_do_not() {
        assert_eq!(parse_authorization("Basic YWxpY2U6czNjcjp0"), Some((Some("alice".into()), "s3cr:t".into())));
        assert_eq!(parse_authorization("bearer  pcat_x "), Some((None, "pcat_x".into())));
        for bad in ["Basic", "Basic !!!", "Basic YWxpY2U=", "Digest abc", "", "Basic //8="] {
            assert_eq!(parse_authorization(bad), None, "{bad}");
        }
    }
}

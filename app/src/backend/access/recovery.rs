//! Getting back into an account: reset links by email, and passwords set by administrators.
//!
//! - A user who forgot their password gives their username or email address. Whatever they
//!   give, the answer is the same and comes at once: the lookup and the mail happen after
//!   the answer, so neither its words nor its timing tell whether an account exists.
//! - An administrator sets a new password for a user, or sends them a link.
//! - A link is a single-use token (32 random bytes) of which only the SHA-256 is stored,
//!   valid for [`LINK_LIFETIME_MINUTES`] and only while the user's password has not changed
//!   since. Using it sets the password, bumps the user's auth epoch (every session, refresh
//!   token and other link of theirs ends) and voids the user's other links.
//!
//! Without SMTP configured nothing is sent: the forgotten-password page says to ask an
//! administrator, and administrators can still set a password.

use std::net::IpAddr;

use super::access_tokens::{hash, new_secret};
use super::principal::{Allowed, Change, Duty, Principal, User};
use super::{throttle, users};
use crate::backend::audit::{self, Target};
use crate::backend::AppState;
use crate::error::{AppError, AppResult};

/// How long a reset link works.
pub const LINK_LIFETIME_MINUTES: i32 = crate::model::PASSWORD_RESET_MINUTES;

/// What a reset link's token starts with (scanners recognise it; never a password).
const PREFIX: &str = "pcr_";

/// Requests per client address and per name or address asked about, an hour: enough for a
/// user who mistypes, too few to flood a mailbox.
const REQUESTS: throttle::Rule =
    throttle::Rule { limit: 5, window_secs: 60 * 60, backoff: false, on_success: throttle::OnSuccess::Keep };

/// Whether reset links can be sent here (SMTP is configured).
pub fn mail_enabled(state: &AppState) -> bool {
    state.mailer.is_some()
}

/// A forgotten password: sends a link to the account `login` names (a username or an email
/// address) if there is one, enabled, with a password and an address. The answer is the same
/// either way; only a throttled client or missing SMTP gets an error.
pub async fn request(state: &AppState, login: &str, addr: Option<IpAddr>, base_url: &str) -> AppResult<()> {
    if !mail_enabled(state) {
        return Err(AppError::Conflict(NO_MAIL.into()));
    }
    let login = login.trim().to_lowercase();
    if login.is_empty() || login.chars().count() > 254 {
        return Err(AppError::invalid("login", "give your username or email address"));
    }
    let mut keys = vec![(format!("reset:{login}"), REQUESTS)];
    if let Some(a) = addr {
        keys.push((format!("reset-from:{a}"), REQUESTS));
    }
    throttle::begin(&state.db, keys).await?.succeeded(&state.db).await?;
    let (state, base_url) = (state.clone(), base_url.to_string());
    tokio::spawn(async move {
        if let Err(e) = send_if_known(&state, &login, &base_url).await {
            tracing::warn!(error = %e, "a password reset link was not sent");
        }
    });
    Ok(())
}

/// Said when a reset link is asked for and no mail can be sent.
pub const NO_MAIL: &str = crate::model::NO_RESET_MAIL;

async fn send_if_known(state: &AppState, login: &str, base_url: &str) -> AppResult<()> {
    let user = sqlx::query_as!(
        User,
        r#"select user_id as id, username, display_name, email, password_hash, is_admin, is_enabled,
                  is_bot, auth_epoch
           from "user"
           where (username = $1 or lower(email) = $1) and is_enabled and not is_bot and email is not null
             and password_hash is not null and source = 'local'
           order by username = $1 desc limit 1"#,
        login
    )
    .fetch_optional(&state.db)
    .await?;
    match user {
        Some(user) => send_link(state, &user, None, base_url).await,
        None => {
            tracing::info!(target: "portcullis::auth", "password reset asked for an unknown or unreachable account");
            Ok(())
        }
    }
}

/// An administrator sends user `id` a reset link; errors say why one cannot be sent.
pub async fn send_for_admin(state: &AppState, p: &Principal, id: i64, base_url: &str) -> AppResult<String> {
    let allowed = p.allowed(crate::policy::can_administer)?;
    if !mail_enabled(state) {
        return Err(AppError::Conflict(
            "Email is not set up on this Portcullis (smtp_host): set a new password instead.".into(),
        ));
    }
    let user = users::find_by_id(&state.db, id).await?.ok_or_else(|| AppError::not_found("No such user."))?;
    if user.is_bot {
        return Err(AppError::Conflict("Bot users have no password; they sign in with access tokens.".into()));
    }
    // A link would give a directory or provider account a password of its own here.
    if users::source_of(&state.db, id).await?.as_deref() != Some("local") {
        return Err(AppError::Conflict(format!("{}: {}", user.username, users::VOUCHED_PASSWORD)));
    }
    let email = user.email.clone().ok_or_else(|| {
        AppError::Conflict(format!("{} has no email address: set a new password instead.", user.username))
    })?;
    send_link(state, &user, Some(allowed), base_url).await?;
    Ok(email)
}

/// Makes a link for `user`, records it and mails it.
async fn send_link(state: &AppState, user: &User, by: Option<Allowed<'_>>, base_url: &str) -> AppResult<()> {
    let mailer = state.mailer.as_ref().ok_or_else(|| AppError::Conflict(NO_MAIL.into()))?;
    let email = user.email.as_deref().ok_or_else(|| AppError::Conflict("The user has no email address.".into()))?;
    let token = new_secret(PREFIX);
    let mut tx = Duty::SignIn.begin_for(by, &state.db).await?;
    let by = by.map(|a| a.user());
    sqlx::query!(
        "insert into password_reset (user_id, token_hash, auth_epoch, requested_by, expires_at)
         values ($1, $2, $3, $4, now() + make_interval(mins => $5))",
        user.id,
        hash(&token),
        user.auth_epoch,
        by.map(|b| b.id),
        LINK_LIFETIME_MINUTES
    )
    .execute(&mut *tx)
    .await?;
    // Asked for by an administrator, or by someone (anyone may ask): the log does not say
    // the user did it.
    let details = serde_json::json!({ "by_administrator": by.is_some() });
    audit::record(&mut tx, "user.password_reset_sent", Target::user(&user.username), details).await?;
    // Stored before it is sent: a link that arrives always works.
    tx.commit().await?;
    let link = format!("{}/reset-password?token={token}", base_url.trim_end_matches('/'));
    let who = by.map(|b| format!("An administrator ({})", b.username)).unwrap_or_else(|| "Someone".into());
    let body = format!(
        "Hello {name},\n\n{who} asked for a new password for your Portcullis account \"{username}\".\n\
         To choose one, open this link within {LINK_LIFETIME_MINUTES} minutes:\n\n{link}\n\n\
         The link works once. Setting a new password signs you out everywhere, and docker logins \
         made with the old password stop working.\n\
         If you did not ask for this, ignore this message: your password stays as it is.\n",
        name = if user.display_name.is_empty() { &user.username } else { &user.display_name },
        username = user.username,
    );
    mailer.send(email, "Reset your Portcullis password", body).await
}

/// The user a link is for, while it still works (the reset page shows whose password it sets).
pub async fn link_user(state: &AppState, token: &str) -> AppResult<String> {
    Ok(valid_link(&state.db, token).await?.username)
}

/// The user of a link that is unused, unexpired, and made since their password last changed.
async fn valid_link(db: &sqlx::PgPool, token: &str) -> AppResult<User> {
    if !token.starts_with(PREFIX) || token.len() != PREFIX.len() + 43 {
        return Err(expired());
    }
    sqlx::query_as!(
        User,
        r#"select u.user_id as id, u.username, u.display_name, u.email, u.password_hash, u.is_admin, u.is_enabled,
                  u.is_bot, u.auth_epoch
           from password_reset r join "user" u on u.user_id = r.user_id
           where r.token_hash = $1 and r.used_at is null and r.expires_at > now()
             and r.auth_epoch = u.auth_epoch and u.is_enabled and not u.is_bot and u.source = 'local'"#,
        hash(token)
    )
    .fetch_optional(db)
    .await?
    .ok_or_else(expired)
}

fn expired() -> AppError {
    AppError::NotFound("This link has expired or was already used. Ask for a new one.".into())
}

/// Uses a link: sets the new password, ends every session and refresh token of the user, and
/// voids their other links. The link is taken under a row lock, so it works exactly once.
pub async fn complete(state: &AppState, token: &str, password: String, confirm: &str) -> AppResult<()> {
    crate::model::validate_password(&password).map_err(|e| AppError::invalid("password", e))?;
    if password != confirm {
        return Err(AppError::invalid("password_confirm", "does not match the password"));
    }
    // Checked, then hashed, before the transaction, which holds its locks only for the writes.
    let user = valid_link(&state.db, token).await?;
    let password_hash = state.hasher.hash(password).await?;
    let mut tx = Duty::SignIn.begin(&state.db).await?;
    // Taken again under the row's lock: of two uses at once, one finds it used.
    sqlx::query!(
        r#"update password_reset r set used_at = now()
           from "user" u
           where r.token_hash = $1 and r.used_at is null and r.expires_at > now()
             and u.user_id = r.user_id and r.auth_epoch = u.auth_epoch and u.is_enabled and not u.is_bot
             and u.source = 'local'
           returning r.password_reset_id"#,
        hash(token)
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(expired)?;
    users::replace_password(&mut tx, user.id, &password_hash).await?;
    void_links(&mut tx, user.id).await?;
    audit::record_as(&mut tx, Some(&user), "user.password_reset", Target::user(&user.username), serde_json::json!({}))
        .await?;
    tx.commit().await?;
    Ok(())
}

/// An administrator sets user `id`'s password; their sessions, refresh tokens and reset links
/// end. Not for oneself (the account page asks for the current password) nor for bots.
pub async fn set_by_admin(state: &AppState, p: &Principal, id: i64, password: String) -> AppResult<()> {
    let allowed = p.allowed(crate::policy::can_administer)?;
    let admin = allowed.user().clone();
    if id == admin.id {
        return Err(AppError::Conflict("Change your own password on your account page.".into()));
    }
    crate::model::validate_password(&password).map_err(|e| AppError::invalid("password", e))?;
    let user = users::find_by_id(&state.db, id).await?.ok_or_else(|| AppError::not_found("No such user."))?;
    if user.is_bot {
        return Err(AppError::Conflict("Bot users have no password; they sign in with access tokens.".into()));
    }
    if users::source_of(&state.db, id).await?.as_deref() != Some("local") {
        return Err(AppError::Conflict(format!(
            "{} signs in through the directory (LDAP) or an identity provider, which keeps their password.",
            user.username
        )));
    }
    let password_hash = state.hasher.hash(password).await?;
    let mut tx = allowed.begin(&state.db).await?;
    users::replace_password(&mut tx, id, &password_hash).await?;
    void_links(&mut tx, id).await?;
    audit::record(&mut tx, "user.password_set", Target::user(&user.username), serde_json::json!({})).await?;
    tx.commit().await?;
    Ok(())
}

/// Ends every link of user `id` still unused (their password was just set).
async fn void_links(conn: &mut Change<'_>, id: i64) -> AppResult<()> {
    sqlx::query!("update password_reset set used_at = now() where user_id = $1 and used_at is null", id)
        .execute(&mut **conn)
        .await?;
    Ok(())
}

/// Removes links that ended a day ago or more.
pub async fn prune(db: &sqlx::PgPool) -> AppResult<u64> {
    Ok(sqlx::query!("delete from password_reset where expires_at < now() - interval '1 day'")
        .execute(&mut *Duty::Prune.on(db).await?)
        .await?
        .rows_affected())
}

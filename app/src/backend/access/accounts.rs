//! What administrators do to users and to the site's settings. Every operation checks the
//! policy and records the change in the activity log.

use super::principal::User;
use super::users::{self, NewUser, Origin};
use crate::backend::access::principal::{check, Principal};
use crate::backend::audit::{self, Target};
use crate::backend::images::store::Holder;
use crate::backend::AppState;
use crate::error::{AppError, AppResult};
use crate::model::{validate_password, validate_username, Page, PageRequest, UserView};

/// An account an administrator (or the bootstrap) creates.
#[derive(Default)]
pub struct AccountRequest {
    pub username: String,
    /// Required for people; must be absent for bots.
    pub password: Option<String>,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub is_admin: bool,
    pub is_bot: bool,
}

impl std::fmt::Debug for AccountRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountRequest")
            .field("username", &self.username)
            .field("is_admin", &self.is_admin)
            .field("is_bot", &self.is_bot)
            .finish_non_exhaustive()
    }
}

fn validate_email(email: Option<&str>) -> AppResult<()> {
    match email {
        Some(e) if !e.is_empty() && (!e.contains('@') || e.len() > 254 || e.contains(char::is_whitespace)) => {
            Err(AppError::invalid("email", "is not an email address"))
        }
        _ => Ok(()),
    }
}

/// Validates and inserts an account (with its personal namespace).
pub async fn create_account(state: &AppState, req: AccountRequest, origin: Origin<'_>) -> AppResult<User> {
    let username = req.username.trim().to_string();
    validate_username(&username).map_err(|e| AppError::invalid("username", e))?;
    validate_email(req.email.as_deref())?;
    let hash = match (&req.password, req.is_bot) {
        (Some(_), true) => return Err(AppError::invalid("password", "bot users have no password; give them tokens")),
        (None, false) => return Err(AppError::invalid("password", "is required for people")),
        (Some(pw), false) => {
            validate_password(pw).map_err(|e| AppError::invalid("password", e))?;
            Some(state.hasher.hash(pw.clone()).await?)
        }
        (None, true) => None,
    };
    let new = NewUser {
        username: &username,
        password_hash: hash.as_deref(),
        is_admin: req.is_admin,
        is_bot: req.is_bot,
        display_name: req.display_name.as_deref(),
        email: req.email.as_deref(),
        source: None,
    };
    users::insert(&state.db, new, false, origin).await
}

/// An administrator creates an account.
pub async fn create_user(state: &AppState, p: &Principal, req: AccountRequest) -> AppResult<UserView> {
    let allowed = p.allowed(crate::policy::can_administer)?;
    let user = create_account(state, req, Origin::Admin(allowed)).await?;
    users::view(&state.db, user.id).await?.ok_or(AppError::Internal)
}

/// The very first account, an administrator, created through the API before anyone exists.
pub async fn bootstrap(state: &AppState, mut req: AccountRequest) -> AppResult<User> {
    if users::any_exist(&state.db).await? {
        return Err(AppError::forbidden("Portcullis already has users; bootstrap is only for the first one."));
    }
    req.is_admin = true;
    req.is_bot = false;
    create_account(state, req, Origin::Bootstrap).await
}

pub async fn list_users(state: &AppState, p: &Principal, q: &str, req: PageRequest) -> AppResult<Page<UserView>> {
    p.require_user()?;
    p.require_admin()?;
    users::list(&state.db, &crate::backend::bounded_query("q", q)?, req).await
}

/// A user as seen by themself or an administrator.
pub async fn get_user(state: &AppState, p: &Principal, id: i64) -> AppResult<UserView> {
    p.require_user()?;
    check(crate::policy::can_see_user(&p.actor(), id)).map_err(|_| AppError::not_found("No such user."))?;
    users::view(&state.db, id).await?.ok_or_else(|| AppError::not_found("No such user."))
}

/// What may change about a user; `None` leaves a field as it is.
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct UserChange {
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub is_admin: Option<bool>,
    pub is_enabled: Option<bool>,
}

/// Changes a user. Anyone may change their own display name and email; only administrators
/// change the admin and enabled flags, and never so that no enabled administrator is left.
pub async fn update_user(state: &AppState, p: &Principal, id: i64, change: UserChange) -> AppResult<UserView> {
    let target = get_user(state, p, id).await?;
    let admin_fields = change.is_admin.is_some_and(|a| a != target.is_admin)
        || change.is_enabled.is_some_and(|e| e != target.is_enabled);
    let allowed = p.allowed(|a| crate::policy::can_change_user(a, id, admin_fields))?;
    let me = allowed.user();
    validate_email(change.email.as_deref())?;
    if change.display_name.as_deref().is_some_and(|d| d.chars().count() > 100) {
        return Err(AppError::invalid("display_name", "must be at most 100 characters"));
    }
    let mut tx = allowed.begin(&state.db).await?;
    let removes_admin = (change.is_admin == Some(false) && target.is_admin)
        || (change.is_enabled == Some(false) && target.is_admin && target.is_enabled);
    if removes_admin && users::other_enabled_admins(&mut tx, id).await? == 0 {
        return Err(AppError::Conflict("This is the last enabled administrator; promote someone else first.".into()));
    }
    let name = target.username.as_str();
    if change.display_name.is_some() || change.email.is_some() {
        let display = change.display_name.as_deref().unwrap_or(&target.display_name).trim().to_string();
        let email = match &change.email {
            Some(e) if e.trim().is_empty() => None,
            Some(e) => Some(e.trim().to_string()),
            None => target.email.clone(),
        };
        users::update_profile(&mut tx, id, &display, email.as_deref()).await?;
        audit::record(&mut tx, "user.update", Target::user(name), serde_json::json!({})).await?;
    }
    if let Some(admin) = change.is_admin.filter(|a| *a != target.is_admin) {
        users::set_admin(&mut tx, id, admin, false).await?;
        let action = if admin { "user.promote" } else { "user.demote" };
        audit::record(&mut tx, action, Target::user(name), serde_json::json!({})).await?;
    }
    if let Some(enabled) = change.is_enabled.filter(|e| *e != target.is_enabled) {
        if !enabled && id == me.id {
            return Err(AppError::Conflict("You cannot disable your own account.".into()));
        }
        users::set_enabled(&mut tx, id, enabled).await?;
        let action = if enabled { "user.enable" } else { "user.disable" };
        audit::record(&mut tx, action, Target::user(name), serde_json::json!({})).await?;
    }
    tx.commit().await?;
    users::view(&state.db, id).await?.ok_or(AppError::Internal)
}

/// Deletes a user with their personal namespace and tokens.
pub async fn delete_user(state: &AppState, p: &Principal, id: i64) -> AppResult<()> {
    let allowed = p.allowed(crate::policy::can_administer)?;
    let me = allowed.user();
    let target = get_user(state, p, id).await?;
    if id == me.id {
        return Err(AppError::Conflict("You cannot delete your own account.".into()));
    }
    let mut tx = allowed.begin(&state.db).await?;
    if target.is_admin && target.is_enabled && users::other_enabled_admins(&mut tx, id).await? == 0 {
        return Err(AppError::Conflict("This is the last enabled administrator.".into()));
    }
    // Their images would stay in the registry, and a later account of the same name would
    // inherit them.
    let held = crate::backend::images::store::before_removing(&mut tx, Holder::PersonalOf(id)).await?;
    if held > 0 {
        return Err(AppError::Conflict(format!(
            "Their personal namespace still holds {held} repositories. Delete those first, or disable the account instead."
        )));
    }
    users::delete(&mut tx, id).await?;
    audit::record(&mut tx, "user.delete", Target::user(&target.username), serde_json::json!({})).await?;
    tx.commit().await?;
    Ok(())
}

//! Administration: users, site settings, the activity log.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::{AuditEventView, Feed, Page, PushPolicy, UserView};
use crate::policy::AccessSettings;

#[cfg(feature = "ssr")]
use crate::api::form;
#[cfg(feature = "ssr")]
use crate::backend::{access::accounts as admin, access::groups, access::recovery, audit, org::settings};

#[server(endpoint = "admin/users", output = crate::api::Json)]
pub async fn list_users(q: Option<String>, page: Option<u32>) -> Result<Page<UserView>, AppError> {
    let (state, p) = form::principal().await?;
    admin::list_users(&state, &p, q.as_deref().unwrap_or_default(), crate::model::PageRequest::new(page, None)).await
}

/// Checkbox values: a checked box sends its value, an unchecked one sends nothing.
#[cfg(feature = "ssr")]
fn checked(v: &Option<String>) -> bool {
    v.as_deref().is_some_and(|v| !v.is_empty() && v != "false")
}

#[server(endpoint = "admin/users/create", output = crate::api::Json)]
pub async fn create_user(
    username: String,
    password: Option<String>,
    email: Option<String>,
    admin: Option<String>,
    bot: Option<String>,
) -> Result<UserView, AppError> {
    form::answer(None, |state, p| async move {
        let is_bot = checked(&bot);
        let req = admin::AccountRequest {
            username,
            password: password.filter(|pw| !pw.is_empty() || !is_bot),
            email: email.filter(|e| !e.trim().is_empty()),
            display_name: None,
            is_admin: checked(&admin),
            is_bot,
        };
        admin::create_user(&state, &p, req).await
    })
    .await
}

#[server(endpoint = "admin/users/update", output = crate::api::Json)]
pub async fn update_user(id: i64, admin: Option<bool>, enabled: Option<bool>) -> Result<UserView, AppError> {
    form::answer(None, |state, p| async move {
        let change = admin::UserChange { is_admin: admin, is_enabled: enabled, ..Default::default() };
        admin::update_user(&state, &p, id, change).await
    })
    .await
}

#[server(endpoint = "admin/users/delete", output = crate::api::Json)]
pub async fn delete_user(id: i64) -> Result<(), AppError> {
    form::answer(None, |state, p| async move { admin::delete_user(&state, &p, id).await }).await
}

/// An administrator sets a user's password (their sessions and docker logins end).
#[server(endpoint = "admin/users/password", output = crate::api::Json)]
pub async fn set_user_password(id: i64, password: String) -> Result<(), AppError> {
    form::answer(None, |state, p| async move { recovery::set_by_admin(&state, &p, id, password).await }).await
}

/// An administrator mails a user a password reset link; returns the address it went to.
#[server(endpoint = "admin/users/password-reset", output = crate::api::Json)]
pub async fn send_password_reset(id: i64) -> Result<String, AppError> {
    form::answer(
        None,
        |state, p| async move { recovery::send_for_admin(&state, &p, id, &state.settings.public_url).await },
    )
    .await
}

/// How people sign in here, and the directory's group mappings (administrators).
#[server(endpoint = "admin/authentication", output = crate::api::Json)]
pub async fn auth_overview() -> Result<crate::model::AuthOverview, AppError> {
    let (state, p) = form::principal().await?;
    groups::overview(&state, &p).await
}

#[server(endpoint = "admin/group-mappings/add", output = crate::api::Json)]
pub async fn add_group_mapping(
    group: String,
    team: String,
    role: crate::model::TeamRole,
    admin: Option<String>,
    source: Option<String>,
    match_by: Option<String>,
) -> Result<crate::model::GroupMappingView, AppError> {
    form::answer(None, |state, p| async move {
        let new = groups::NewMapping { group, team, role, grants_admin: checked(&admin), source, match_by };
        groups::add(&state, &p, new).await
    })
    .await
}

/// Says where a mapping's group comes from (a mapping made before mappings had sources).
#[server(endpoint = "admin/group-mappings/source", output = crate::api::Json)]
pub async fn set_group_mapping_source(
    id: i64,
    source: String,
    match_by: Option<String>,
) -> Result<crate::model::GroupMappingView, AppError> {
    form::answer(None, |state, p| async move { groups::set_source(&state, &p, id, &source, match_by.as_deref()).await })
        .await
}

#[server(endpoint = "admin/group-mappings/delete", output = crate::api::Json)]
pub async fn delete_group_mapping(id: i64) -> Result<(), AppError> {
    form::answer(None, |state, p| async move { groups::delete(&state, &p, id).await }).await
}

/// What the directory says of a person, and which mappings their groups match.
#[server(endpoint = "admin/directory/try", output = crate::api::Json)]
pub async fn try_directory_user(username: String) -> Result<Option<crate::model::DirectoryLookup>, AppError> {
    form::answer(None, |state, p| async move { groups::try_user(&state, &p, &username).await }).await
}

/// Whether the directory, the mail server and each sign-in provider answer now.
#[server(endpoint = "admin/connections", output = crate::api::Json)]
pub async fn check_connections() -> Result<Vec<crate::model::ConnectionStatus>, AppError> {
    let (state, p) = form::principal().await?;
    crate::backend::access::connections::check(&state, &p).await
}

#[server(endpoint = "admin/settings", output = crate::api::Json)]
pub async fn get_settings() -> Result<AccessSettings, AppError> {
    let (state, p) = form::principal().await?;
    settings::get_settings(&state, &p).await
}

#[server(endpoint = "admin/settings/update", output = crate::api::Json)]
pub async fn update_settings(
    push_policy: PushPolicy,
    delete_enabled: Option<String>,
    contributors_may_delete: Option<String>,
    users_may_create_teams: Option<String>,
    users_may_create_namespaces: Option<String>,
    users_may_change_visibility: Option<String>,
) -> Result<AccessSettings, AppError> {
    form::answer(Some("/admin/settings?saved=1"), |state, p| async move {
        let s = AccessSettings {
            push_policy,
            delete_enabled: checked(&delete_enabled),
            contributors_may_delete: checked(&contributors_may_delete),
            users_may_create_teams: checked(&users_may_create_teams),
            users_may_create_namespaces: checked(&users_may_create_namespaces),
            users_may_change_visibility: checked(&users_may_change_visibility),
            // Kept as it is: read-only mode has a form of its own.
            read_only: false,
        };
        settings::update_settings(&state, &p, s).await
    })
    .await
}

#[server(endpoint = "admin/read-only", output = crate::api::Json)]
pub async fn get_read_only() -> Result<crate::model::ReadOnlyMode, AppError> {
    let (state, p) = form::principal().await?;
    p.allowed(crate::policy::can_administer)?;
    Ok(settings::read_only(&state).await)
}

/// Switches read-only mode: pulls go on, pushes and deletes wait (for the registry's garbage
/// collection).
#[server(endpoint = "admin/read-only/set", output = crate::api::Json)]
pub async fn set_read_only(
    enabled: Option<String>,
    message: Option<String>,
) -> Result<crate::model::ReadOnlyMode, AppError> {
    form::answer(Some("/admin/settings?read_only=saved"), |state, p| async move {
        let mode = crate::model::ReadOnlyMode { enabled: checked(&enabled), message: message.unwrap_or_default() };
        settings::set_read_only(&state, &p, mode).await
    })
    .await
}

#[server(endpoint = "admin/default-quota", output = crate::api::Json)]
pub async fn get_default_quota() -> Result<crate::model::DefaultQuota, AppError> {
    let (state, p) = form::principal().await?;
    p.allowed(crate::policy::can_administer)?;
    Ok(settings::default_quota(&state).await)
}

/// Sets the site's default storage quota: a size such as `50 GB`, `none`, or empty for the
/// configuration's.
#[server(endpoint = "admin/default-quota/set", output = crate::api::Json)]
pub async fn set_default_quota(limit: String) -> Result<crate::model::DefaultQuota, AppError> {
    form::answer(Some("/admin/settings?quota=saved"), |state, p| async move {
        let limit = match limit.trim() {
            "" => None,
            "none" | "None" | "0" => Some(0),
            text => Some(crate::model::parse_size(text).filter(|n| *n > 0).ok_or_else(|| {
                AppError::invalid(
                    "limit",
                    "a size such as 50 GB, 500 MB or 1.5 GiB; none for no default; empty for the configuration's",
                )
            })?),
        };
        settings::set_default_quota(&state, &p, limit).await
    })
    .await
}

/// A page of the activity log (administrators).
#[server(endpoint = "admin/activity", output = crate::api::Json)]
pub async fn list_activity(
    actor: String,
    action: String,
    target: String,
    // Days, `YYYY-MM-DD` (optional: older callers send none).
    from: Option<String>,
    to: Option<String>,
    before: Option<i64>,
) -> Result<Feed<AuditEventView>, AppError> {
    let (state, p) = form::principal().await?;
    p.require_user()?;
    p.require_admin()?;
    let filter = audit::Filter { actor, action, target, ..Default::default() }
        .days(from.as_deref().unwrap_or_default(), to.as_deref().unwrap_or_default())?;
    audit::list(&state.db, &filter, before, 50).await
}

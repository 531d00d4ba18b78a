//! A namespace's or a repository's cleanup policy, for their pages (owners): read, save,
//! preview, run. `repository` empty: the namespace's.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::{CleanupPolicyView, CleanupReport};

#[cfg(feature = "ssr")]
use crate::api::form;
#[cfg(feature = "ssr")]
use crate::backend::{
    images::cleanup::{self, SetOn},
    org::namespaces::NamespaceRef,
};

/// What a form names: a namespace, or one of its repositories.
#[cfg(feature = "ssr")]
fn set_on(namespace: String, repository: Option<String>) -> SetOn {
    match repository.filter(|r| !r.is_empty()) {
        Some(r) => SetOn::Repository(r),
        None => SetOn::Namespace(NamespaceRef::Name(namespace)),
    }
}

/// The page a form goes back to.
#[cfg(feature = "ssr")]
fn page_of(namespace: &str, repository: Option<&str>) -> String {
    match repository.filter(|r| !r.is_empty()) {
        Some(r) => format!("/repositories/{r}/-/settings#cleanup"),
        None => format!("/namespaces/{namespace}?tab=cleanup#cleanup"),
    }
}

#[server(endpoint = "cleanup/get", output = crate::api::Json)]
pub async fn get_cleanup(namespace: String, repository: Option<String>) -> Result<Option<CleanupPolicyView>, AppError> {
    let (state, p) = form::principal().await?;
    cleanup::get(&state, &p, &set_on(namespace, repository)).await
}

/// A whole number from a form field: empty is `None`.
#[cfg(feature = "ssr")]
fn number(field: &str, value: Option<String>) -> Result<Option<i32>, AppError> {
    match value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| AppError::invalid(field, "a whole number, or empty")),
    }
}

#[server(endpoint = "cleanup/save", output = crate::api::Json)]
#[allow(clippy::too_many_arguments)]
pub async fn save_cleanup(
    namespace: String,
    repository: Option<String>,
    keep_last: Option<String>,
    keep_days: Option<String>,
    include_pattern: Option<String>,
    keep_pattern: Option<String>,
    schedule: Option<String>,
    delete_untagged: Option<String>,
    enabled: Option<String>,
) -> Result<CleanupPolicyView, AppError> {
    let back = page_of(&namespace, repository.as_deref());
    form::answer(Some(&back), |state, p| async move {
        let rules = crate::model::CleanupRules {
            keep_last: number("keep_last", keep_last)?,
            keep_days: number("keep_days", keep_days)?,
            include_pattern: include_pattern.filter(|s| !s.trim().is_empty()).unwrap_or_else(|| ".*".into()),
            keep_pattern: keep_pattern.unwrap_or_default().trim().to_string(),
            schedule: schedule.unwrap_or_default().trim().to_string(),
            delete_untagged: delete_untagged.is_some_and(|v| !v.is_empty()),
            enabled: enabled.is_some_and(|v| !v.is_empty()),
        };
        cleanup::set(&state, &p, &set_on(namespace, repository), rules).await
    })
    .await
}

/// What the policy would do now.
#[server(endpoint = "cleanup/preview", output = crate::api::Json)]
pub async fn preview_cleanup(namespace: String, repository: Option<String>) -> Result<CleanupReport, AppError> {
    form::answer(None, |state, p| async move { cleanup::run(&state, &p, &set_on(namespace, repository), true).await })
        .await
}

#[server(endpoint = "cleanup/run", output = crate::api::Json)]
pub async fn run_cleanup(namespace: String, repository: Option<String>) -> Result<CleanupReport, AppError> {
    form::answer(None, |state, p| async move { cleanup::run(&state, &p, &set_on(namespace, repository), false).await })
        .await
}

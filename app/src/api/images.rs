//! Repositories, tags, search and reconcile, for the pages.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::{
    ReconcileRunView, RepositoryHead, RepositoryHistoryView, RepositoryTagsView, RepositoryView, TagDetail, TagView,
};

#[cfg(feature = "ssr")]
use crate::api::form;
#[cfg(feature = "ssr")]
use crate::backend::images::{browse, manage};

pub use crate::model::Page;

#[server(endpoint = "repositories/get", output = crate::api::Json)]
pub async fn get_repository(
    name: String,
    tag: String,
    label: String,
    sort: String,
    page: u32,
) -> Result<RepositoryTagsView, AppError> {
    let (state, p) = form::principal().await?;
    let q = browse::TagQuery { name: tag, label, sort, page, per_page: 50 };
    browse::repository_page(&state, &p, &name, &q).await
}

#[server(endpoint = "repositories/history", output = crate::api::Json)]
pub async fn get_repository_history(name: String) -> Result<RepositoryHistoryView, AppError> {
    let (state, p) = form::principal().await?;
    browse::repository_history(&state, &p, &name).await
}

/// The repository's settings page: refused to those who may change nothing there.
#[server(endpoint = "repositories/settings", output = crate::api::Json)]
pub async fn get_repository_settings(name: String) -> Result<RepositoryHead, AppError> {
    let (state, p) = form::principal().await?;
    browse::repository_settings(&state, &p, &name).await
}

#[server(endpoint = "repositories/update", output = crate::api::Json)]
pub async fn update_repository(name: String, description: String) -> Result<RepositoryView, AppError> {
    form::answer(None, |state, p| async move { manage::update_repository(&state, &p, &name, &description).await }).await
}

#[server(endpoint = "repositories/delete", output = crate::api::Json)]
pub async fn delete_repository(name: String) -> Result<(), AppError> {
    let to = match name.split_once('/') {
        Some((ns, _)) => format!("/namespaces/{ns}"),
        None => "/explore".to_string(),
    };
    form::answer(Some(&to), |state, p| async move { manage::delete_repository(&state, &p, &name).await }).await
}

#[server(endpoint = "tags/get", output = crate::api::Json)]
pub async fn get_tag(id: i64) -> Result<TagDetail, AppError> {
    let (state, p) = form::principal().await?;
    crate::backend::images::life::tag_detail(&state, &p, id).await
}

/// Deletes the tag's manifest, and so every tag sharing its digest.
#[server(endpoint = "tags/delete", output = crate::api::Json)]
pub async fn delete_tag(id: i64, repository: String, digest: Option<String>) -> Result<Vec<String>, AppError> {
    form::answer(Some(&format!("/repositories/{repository}")), |state, p| async move {
        manage::delete_tag(&state, &p, id, digest.as_deref()).await
    })
    .await
}

/// Puts an earlier image back under a tag (those who may push to the repository).
#[server(endpoint = "tags/restore", output = crate::api::Json)]
pub async fn restore_tag(repository: String, tag: String, digest: String) -> Result<(), AppError> {
    form::answer(Some(&format!("/repositories/{repository}/-/history")), |state, p| async move {
        crate::backend::images::manage::restore_tag(&state, &p, &repository, &tag, &digest).await.map(|_| ())
    })
    .await
}

#[server(endpoint = "images/explore", output = crate::api::Json)]
pub async fn explore(page: Option<u32>) -> Result<Page<RepositoryView>, AppError> {
    let state = form::state()?;
    browse::explore(&state, crate::model::PageRequest::new(page, None)).await
}

#[server(endpoint = "images/search", output = crate::api::Json)]
pub async fn search(q: String, page: Option<u32>) -> Result<crate::api::images::SearchData, AppError> {
    let (state, p) = form::principal().await?;
    let r = browse::search(&state, &p, &q, page.unwrap_or(1)).await?;
    Ok(SearchData {
        namespaces: r.namespaces,
        repositories: r.repositories,
        tags: r.tags,
        page: r.page,
        more: r.more,
        named: r.named,
    })
}

/// What a search found, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SearchData {
    pub namespaces: Vec<crate::model::NamespaceView>,
    pub repositories: Vec<RepositoryView>,
    pub tags: Vec<(String, TagView)>,
    pub page: u32,
    /// Whether the next page may find more.
    pub more: bool,
    /// The tag the search named as a pull reference (`repository:tag`): the page goes there.
    #[serde(default)]
    pub named: Option<i64>,
}

#[server(endpoint = "admin/registry", output = crate::api::Json)]
pub async fn get_registry_status() -> Result<RegistryStatus, AppError> {
    let (state, p) = form::principal().await?;
    p.require_user()?;
    p.require_admin()?;
    Ok(RegistryStatus {
        runs: crate::backend::images::reconcile::recent_runs(&state).await?,
        inbox: crate::backend::images::events::stats(&state).await?,
    })
}

/// Recent reconcile runs and the state of the event inbox (administrators).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RegistryStatus {
    pub runs: Vec<ReconcileRunView>,
    pub inbox: crate::model::InboxStats,
}

/// Reconciles with the registry now (administrators).
#[server(endpoint = "admin/reconcile", output = crate::api::Json)]
pub async fn run_reconcile() -> Result<(), AppError> {
    form::answer(None, |state, p| async move {
        p.allowed(crate::policy::can_administer)?;
        match crate::backend::images::reconcile::reconcile(&state, "administrator").await? {
            Some(_) => Ok(()),
            None => Err(AppError::Conflict("A reconcile is already running.".into())),
        }
    })
    .await
}

//! Namespaces, for the pages.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::model::{AuditEventView, NamespaceView, Page, TeamRole, Visibility};

#[cfg(feature = "ssr")]
use crate::api::form;
#[cfg(feature = "ssr")]
use crate::backend::audit;
#[cfg(feature = "ssr")]
use crate::backend::org::{namespaces, namespaces::NamespaceRef, teams, teams::TeamRef};

/// The namespaces the viewer may see, and the teams they may create namespaces for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceList {
    pub namespaces: Page<NamespaceView>,
    /// Teams the viewer may create namespaces for (name, role).
    pub teams_for_new: Vec<(String, Option<TeamRole>)>,
    /// Whether the viewer may make a new namespace other than private (for some team).
    pub may_choose_visibility: bool,
}

/// Everything the namespace page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceDetail {
    pub namespace: NamespaceView,
    /// Recent changes to this namespace.
    pub activity: Vec<AuditEventView>,
    /// What each role may do here, for the "who may do what" table: (role, pull, push, delete).
    pub roles: Vec<(String, bool, bool, bool)>,
    pub repositories: Page<crate::model::RepositoryView>,
    pub registry_host: String,
    /// Its storage: used, and the limit.
    pub quota: crate::model::QuotaView,
    /// Whether the viewer may set its quota (administrators).
    pub may_set_quota: bool,
    /// How many tags its repositories hold.
    pub tag_count: i64,
}

#[server(endpoint = "namespaces/list", output = crate::api::Json)]
pub async fn list_namespaces(q: Option<String>, page: Option<u32>) -> Result<NamespaceList, AppError> {
    let (state, p) = form::principal().await?;
    let list =
        namespaces::list(&state, &p, q.as_deref().unwrap_or_default(), crate::model::PageRequest::new(page, None))
            .await?;
    let s = state.access_settings.get(&state.db).await;
    let actor = p.actor();
    // The form offers (at most) the first hundred teams the viewer may create namespaces for.
    let teams_for_new = match p.user {
        Some(_) => teams::list(
            &state,
            &p,
            crate::model::PageRequest::new(Some(1), Some(crate::model::PageRequest::MAX_PER_PAGE)),
        )
        .await?
        .items
        .into_iter()
        .filter(|t| crate::policy::can_create_namespace(&actor, t.role, &s).is_ok())
        .map(|t| (t.name, t.role))
        .collect(),
        None => Vec::new(),
    };
    let may_choose_visibility =
        teams_for_new.iter().any(|(_, role)| crate::policy::can_choose_visibility(&actor, *role, &s).is_ok());
    Ok(NamespaceList { namespaces: list, teams_for_new, may_choose_visibility })
}

#[server(endpoint = "namespaces/get", output = crate::api::Json)]
pub async fn get_namespace(name: String, page: Option<u32>) -> Result<NamespaceDetail, AppError> {
    use crate::policy::{can_delete, can_pull, can_push, Actor, NamespaceFacts};
    let (state, p) = form::principal().await?;
    let ns = namespaces::get(&state, &p, &NamespaceRef::Name(name)).await?;
    let filter = audit::Filter { namespace_id: Some(ns.namespace.id), ..Default::default() };
    let s = state.access_settings.get(&state.db).await;
    let mut activity = match crate::policy::can_read_activity(&p.actor(), &ns.namespace.facts(), &s) {
        Ok(()) => audit::list(&state.db, &filter, None, 20).await?.items,
        Err(_) => Vec::new(),
    };
    // What happened and who did it, for all who may pull; the details (a webhook's host, a
    // member's role, a policy's rules) for those who manage the namespace.
    if crate::policy::can_read_activity_details(&p.actor(), &ns.namespace.facts()).is_err() {
        for e in &mut activity {
            e.details = serde_json::json!({});
        }
    }
    let member = Actor::user(0, false, true);
    let facts = |role| NamespaceFacts { role, ..ns.namespace.facts() };
    let mut roles: Vec<(String, bool, bool, bool)> = TeamRole::ALL
        .iter()
        .rev()
        .map(|r| {
            let f = facts(Some(*r));
            (
                r.as_str().to_string(),
                can_pull(&member, &f, &s).is_ok(),
                can_push(&member, &f, &s).is_ok(),
                can_delete(&member, &f, &s).is_ok(),
            )
        })
        .collect();
    let f = facts(None);
    roles.push(("signed-in users".into(), can_pull(&member, &f, &s).is_ok(), can_push(&member, &f, &s).is_ok(), false));
    roles.push(("anonymous".into(), can_pull(&Actor::ANONYMOUS, &f, &s).is_ok(), false, false));
    let repositories = crate::backend::images::browse::repositories(
        &state,
        &p,
        &NamespaceRef::Id(ns.namespace.id),
        crate::model::PageRequest::new(page, None),
    )
    .await?
    .1;
    let quota = crate::backend::gate::quota::standing(&state, ns.namespace.id, &ns.namespace.name).await?;
    let tag_count = crate::backend::images::browse::namespace_tag_count(&state, ns.namespace.id).await?;
    Ok(NamespaceDetail {
        tag_count,
        namespace: ns,
        activity,
        roles,
        repositories,
        registry_host: state.settings.registry_host.clone(),
        quota,
        may_set_quota: crate::policy::can_administer(&p.actor()).is_ok(),
    })
}

/// Sets a namespace's storage quota (administrators): a size such as `50 GB`, or empty for
/// the site's default.
#[server(endpoint = "namespaces/quota", output = crate::api::Json)]
pub async fn set_quota(namespace: String, limit: String) -> Result<crate::model::QuotaView, AppError> {
    let to = format!("/namespaces/{namespace}?tab=settings");
    form::answer(Some(&to), |state, p| async move {
        let limit = match limit.trim() {
            "" => None,
            text => Some(crate::model::parse_size(text).ok_or_else(|| {
                AppError::invalid("limit", "a size such as 50 GB, 500 MB or 1.5 GiB (empty: the site's default)")
            })?),
        };
        crate::backend::gate::quota::set(&state, &p, &NamespaceRef::Name(namespace), limit).await
    })
    .await
}

#[server(endpoint = "namespaces/create", output = crate::api::Json)]
pub async fn create_namespace(
    team: String,
    name: String,
    // Left out when the form does not offer the choice: a new namespace is private.
    visibility: Option<Visibility>,
    description: Option<String>,
) -> Result<NamespaceView, AppError> {
    let result = async {
        let (state, p) = form::principal().await?;
        let visibility = visibility.unwrap_or(Visibility::Private);
        namespaces::create(&state, &p, &TeamRef::Name(team), &name, visibility, description.as_deref().unwrap_or(""))
            .await
    }
    .await;
    let to = result.as_ref().map(|n| format!("/namespaces/{}", n.namespace.name)).ok();
    form::respond(result, to.as_deref())
}

#[server(endpoint = "namespaces/visibility", output = crate::api::Json)]
pub async fn set_visibility(namespace: String, visibility: Visibility) -> Result<NamespaceView, AppError> {
    form::answer(None, |state, p| async move {
        namespaces::set_visibility(&state, &p, &NamespaceRef::Name(namespace), visibility).await
    })
    .await
}

#[server(endpoint = "namespaces/update", output = crate::api::Json)]
pub async fn update_namespace(namespace: String, description: String) -> Result<NamespaceView, AppError> {
    form::answer(None, |state, p| async move {
        namespaces::update(&state, &p, &NamespaceRef::Name(namespace), &description).await
    })
    .await
}

#[server(endpoint = "namespaces/delete", output = crate::api::Json)]
pub async fn delete_namespace(namespace: String) -> Result<(), AppError> {
    form::answer(Some("/namespaces"), |state, p| async move {
        namespaces::delete(&state, &p, &NamespaceRef::Name(namespace)).await
    })
    .await
}

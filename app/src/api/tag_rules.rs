//! A namespace's tag rules (immutable tags, held by the manifest gate), for its page: read by
//! whoever sees the namespace, added and removed by its owners.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::TagRuleView;

#[cfg(feature = "ssr")]
use crate::api::form;
#[cfg(feature = "ssr")]
use crate::backend::{gate::rules, org::namespaces::NamespaceRef};

/// The page the forms go back to.
#[cfg(feature = "ssr")]
fn page_of(namespace: &str) -> String {
    format!("/namespaces/{namespace}?tab=rules")
}

#[server(endpoint = "tag_rules/list", output = crate::api::Json)]
pub async fn list_tag_rules(namespace: String) -> Result<Vec<TagRuleView>, AppError> {
    let (state, p) = form::principal().await?;
    rules::list(&state, &p, &NamespaceRef::Name(namespace)).await
}

#[server(endpoint = "tag_rules/add", output = crate::api::Json)]
pub async fn add_tag_rule(
    namespace: String,
    repositories: String,
    tags: String,
    kind: Option<String>,
    push_role: Option<String>,
    delete_role: Option<String>,
) -> Result<TagRuleView, AppError> {
    let back = page_of(&namespace);
    form::answer(Some(&back), |state, p| async move {
        let input = crate::model::TagRuleInput {
            repositories,
            tags,
            kind: kind.unwrap_or_default(),
            push_role: push_role.unwrap_or_default(),
            delete_role: delete_role.unwrap_or_default(),
        };
        rules::add(&state, &p, &NamespaceRef::Name(namespace), input).await
    })
    .await
}

#[server(endpoint = "tag_rules/remove", output = crate::api::Json)]
pub async fn remove_tag_rule(namespace: String, id: i64) -> Result<(), AppError> {
    let back = page_of(&namespace);
    form::answer(
        Some(&back),
        |state, p| async move { rules::remove(&state, &p, &NamespaceRef::Name(namespace), id).await },
    )
    .await
}

//! A namespace's tag rules (immutable and protected tags, held by the manifest gate) and its
//! signature policy, for its page: read by whoever sees the namespace, changed by its owners.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::{SignaturePolicyView, TagRuleView, TrustedKeyView};

#[cfg(feature = "ssr")]
use crate::api::form;
#[cfg(feature = "ssr")]
use crate::backend::{
    gate::{rules, signing},
    org::namespaces::NamespaceRef,
};

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

/// A namespace's signature policy and trusted keys (whoever sees the namespace).
#[server(endpoint = "signing/get", output = crate::api::Json)]
pub async fn get_signature_policy(namespace: String) -> Result<SignaturePolicyView, AppError> {
    let (state, p) = form::principal().await?;
    signing::get(&state, &p, &NamespaceRef::Name(namespace)).await
}

/// Requires signed images (`required` is `on` from a checkbox, absent when unticked) or stops.
#[server(endpoint = "signing/require", output = crate::api::Json)]
pub async fn set_signature_required(
    namespace: String,
    required: Option<String>,
) -> Result<SignaturePolicyView, AppError> {
    let back = page_of(&namespace);
    form::answer(Some(&back), |state, p| async move {
        let on = required.is_some_and(|v| !v.is_empty() && v != "false");
        signing::set_required(&state, &p, &NamespaceRef::Name(namespace), on).await
    })
    .await
}

#[server(endpoint = "signing/add_key", output = crate::api::Json)]
pub async fn add_trusted_key(namespace: String, name: String, public_key: String) -> Result<TrustedKeyView, AppError> {
    let back = page_of(&namespace);
    form::answer(Some(&back), |state, p| async move {
        signing::add_key(&state, &p, &NamespaceRef::Name(namespace), &name, &public_key).await
    })
    .await
}

#[server(endpoint = "signing/remove_key", output = crate::api::Json)]
pub async fn remove_trusted_key(namespace: String, id: i64) -> Result<(), AppError> {
    let back = page_of(&namespace);
    form::answer(Some(&back), |state, p| async move {
        signing::remove_key(&state, &p, &NamespaceRef::Name(namespace), id).await
    })
    .await
}

//! The gate's decisions on a manifest PUT or DELETE that the client's token already allows:
//! what the namespace's tag rules say. Each refusal says which rule and how to get past it.

use crate::backend::AppState;
use crate::error::AppResult;
use crate::model::glob_matches;
use crate::scope::RepositoryName;

/// Why the gate refuses a request: the message the client shows its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

/// Whether a reference is a digest (`algorithm:hex`) rather than a tag.
pub fn is_digest(reference: &str) -> bool {
    reference.contains(':')
}

/// The tag globs of the immutable rules of `repo`'s namespace that cover `repo` (cleanup
/// keeps what they cover).
pub async fn immutable_tags(state: &AppState, repo: &str) -> AppResult<Vec<String>> {
    let Some(name) = RepositoryName::parse(repo) else { return Ok(Vec::new()) };
    let Some(namespace) = name.namespace() else { return Ok(Vec::new()) };
    let path = &repo[namespace.len() + 1..];
    let rules = super::rules::immutable_in(&state.db, namespace).await?;
    Ok(rules.into_iter().filter(|(repos, _)| glob_matches(repos, path)).map(|(_, tags)| tags).collect())
}

/// The first of `globs` that covers `tag`.
pub fn covering<'a>(globs: &'a [String], tag: &str) -> Option<&'a str> {
    globs.iter().find(|g| glob_matches(g, tag)).map(String::as_str)
}

fn namespace_of(repo: &str) -> &str {
    repo.split_once('/').map(|(ns, _)| ns).unwrap_or(repo)
}

/// Whether `repo:reference` may be pointed at the manifest whose digest is `digest`. A tag
/// an immutable rule covers may be created, and pushed again with the same digest (clients
/// retry), but never moved. A push by digest moves no tag.
pub async fn may_put(state: &AppState, repo: &str, reference: &str, digest: &str) -> AppResult<Result<(), Refusal>> {
    if is_digest(reference) {
        return Ok(Ok(()));
    }
    let globs = immutable_tags(state, repo).await?;
    let Some(tags) = covering(&globs, reference) else { return Ok(Ok(())) };
    match state.registry.head_manifest(state, repo, reference).await? {
        Some((current, _)) if current != digest => Ok(Err(Refusal(format!(
            "{repo}:{reference} is immutable (rule \"{tags}\" of namespace {ns}) and already points at {current}; \
             push under a new tag, or ask an owner of {ns} to remove the rule",
            ns = namespace_of(repo)
        )))),
        _ => Ok(Ok(())),
    }
}

/// Whether `repo@reference` may be deleted. A manifest DELETE names a digest and takes every
/// tag on it, so it is refused when any of them is immutable; a tag is refused when it is.
pub async fn may_delete(state: &AppState, repo: &str, reference: &str) -> AppResult<Result<(), Refusal>> {
    let globs = immutable_tags(state, repo).await?;
    if globs.is_empty() {
        return Ok(Ok(()));
    }
    let tags = if is_digest(reference) {
        sqlx::query_scalar!(
            "select t.name from tag t join repository r using (repository_id)
             where r.name = $1 and t.digest = $2 order by t.name",
            repo,
            reference
        )
        .fetch_all(&state.db)
        .await?
    } else {
        vec![reference.to_string()]
    };
    for tag in tags {
        if let Some(pattern) = covering(&globs, &tag) {
            return Ok(Err(Refusal(format!(
                "{repo}:{tag} is immutable (rule \"{pattern}\" of namespace {ns}) and cannot be deleted{by}; \
                 ask an owner of {ns} to remove the rule first",
                ns = namespace_of(repo),
                by = if is_digest(reference) { format!(" with {reference}") } else { String::new() },
            ))));
        }
    }
    Ok(Ok(()))
}

//! The gate's decisions on a manifest PUT or DELETE that the client's token already allows:
//! what the namespace's tag rules say. Each refusal says which rule and how to get past it,
//! and is recorded in the activity log.

use crate::backend::access::principal::{Duty, Principal};
use crate::backend::access::users;
use crate::backend::audit::{self, Target};
use crate::backend::org::namespaces;
use crate::backend::AppState;
use crate::error::AppResult;
use crate::model::{glob_matches, role_reach};
use crate::policy::{self, Actor, NamespaceFacts};
use crate::scope::{is_digest, RepositoryName};

use super::rules::{rules_in, Rule};

/// Why the gate refuses a request: the message the client shows its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

/// The rules of `repo`'s namespace that cover `repo`, and the namespace's id.
async fn rules_for(state: &AppState, repo: &str) -> AppResult<(Option<i64>, Vec<Rule>)> {
    let Some(name) = RepositoryName::parse(repo) else { return Ok((None, Vec::new())) };
    let Some(namespace) = name.namespace() else { return Ok((None, Vec::new())) };
    let path = &repo[namespace.len() + 1..];
    let (id, rules) = rules_in(&state.db, namespace).await?;
    Ok((id, rules.into_iter().filter(|r| glob_matches(&r.repositories, path)).collect()))
}

/// What cleanup never deletes in `repo`: the tags the namespace's rules cover, as
/// `(tag glob, why)` ("immutable" or "protected").
pub async fn kept_tags(state: &AppState, repo: &str) -> AppResult<Vec<(String, &'static str)>> {
    Ok(rules_for(state, repo)
        .await?
        .1
        .into_iter()
        .map(|r| (r.tags, if r.immutable { "immutable" } else { "protected" }))
        .collect())
}

/// The first of `kept` that covers `tag`.
pub fn covering<'a>(kept: &'a [(String, &'static str)], tag: &str) -> Option<&'a (String, &'static str)> {
    kept.iter().find(|(g, _)| glob_matches(g, tag))
}

fn namespace_of(repo: &str) -> &str {
    repo.split_once('/').map(|(ns, _)| ns).unwrap_or(repo)
}

/// Who `actor` is to the policy, their facts of `repo`'s namespace, and how to say where they
/// stand in it (for the refusal's message).
async fn standing(state: &AppState, actor: &str, repo: &str) -> AppResult<(Actor, Option<NamespaceFacts>, String)> {
    let Some(user) = users::find_by_username(&state.db, actor).await? else {
        return Ok((Actor::ANONYMOUS, None, "not a member".into()));
    };
    let ns = namespaces::namespaces_by_name(&state.db, Some(user.id), &[namespace_of(repo).to_string()]).await?;
    let facts = ns.first().map(|n| n.facts());
    let said = match (user.is_admin, facts.and_then(|f| f.role)) {
        (true, _) => "an administrator".to_string(),
        (false, Some(role)) => format!("a {} there", role.as_str()),
        (false, None) => "not a member of its team".to_string(),
    };
    Ok((Principal::user(user).actor(), facts, said))
}

/// A protected rule's refusal of `what` (push or delete) on `repo:tag`, if the policy does not
/// let `actor` change it. The actor's standing is read once, when a rule needs it.
async fn protected(
    state: &AppState,
    actor: &str,
    repo: &str,
    tag: &str,
    rules: &[Rule],
    what: &str,
    standing_once: &mut Option<(Actor, Option<NamespaceFacts>, String)>,
) -> AppResult<Option<Refusal>> {
    for rule in rules.iter().filter(|r| !r.immutable && glob_matches(&r.tags, tag)) {
        let least = if what == "push" { &rule.push_role } else { &rule.delete_role };
        let least = least.as_deref().unwrap_or("admin");
        if standing_once.is_none() {
            *standing_once = Some(standing(state, actor, repo).await?);
        }
        let (who, facts, said) = standing_once.as_ref().expect("just read");
        let allowed = facts.as_ref().is_some_and(|f| policy::can_change_protected_tag(who, f, least).is_ok());
        if !allowed {
            let ns = namespace_of(repo);
            return Ok(Some(Refusal(format!(
                "{repo}:{tag} is protected (rule \"{tags}\" of namespace {ns}): only {who} may {what} it, and \
                 {actor} is {said}; ask an owner of {ns} to {what} it, or to change the rule",
                tags = rule.tags,
                who = role_reach(least),
            ))));
        }
    }
    Ok(None)
}

/// Whether `actor` may point `repo:reference` at the manifest whose digest is `digest`. A tag
/// an immutable rule covers may be created, and pushed again with the same digest (clients
/// retry), but never moved; a protected one only by members of the rule's least role. A push
/// by digest moves no tag.
pub async fn may_put(
    state: &AppState,
    actor: &str,
    repo: &str,
    reference: &str,
    digest: &str,
) -> AppResult<Result<(), Refusal>> {
    if is_digest(reference) {
        return Ok(Ok(()));
    }
    let (namespace_id, rules) = rules_for(state, repo).await?;
    if let Some(refusal) = protected(state, actor, repo, reference, &rules, "push", &mut None).await? {
        return refused(state, actor, namespace_id, repo, reference, refusal).await;
    }
    let Some(rule) = rules.iter().find(|r| r.immutable && glob_matches(&r.tags, reference)) else { return Ok(Ok(())) };
    match state.registry.head_manifest(state, repo, reference).await? {
        Some((current, _)) if current != digest => {
            let refusal = Refusal(format!(
                "{repo}:{reference} is immutable (rule \"{tags}\" of namespace {ns}) and already points at {current}; \
                 push under a new tag, or ask an owner of {ns} to remove the rule",
                tags = rule.tags,
                ns = namespace_of(repo)
            ));
            refused(state, actor, namespace_id, repo, reference, refusal).await
        }
        _ => Ok(Ok(())),
    }
}

/// Whether `actor` may delete `repo@reference`. A manifest DELETE names a digest and takes
/// every tag on it, so it is refused when any of them is immutable, or protected against the
/// actor; a tag is refused when it is.
pub async fn may_delete(state: &AppState, actor: &str, repo: &str, reference: &str) -> AppResult<Result<(), Refusal>> {
    let (namespace_id, rules) = rules_for(state, repo).await?;
    if rules.is_empty() {
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
    let by = if is_digest(reference) { format!(" with {reference}") } else { String::new() };
    let mut standing_once = None;
    for tag in tags {
        if let Some(rule) = rules.iter().find(|r| r.immutable && glob_matches(&r.tags, &tag)) {
            let refusal = Refusal(format!(
                "{repo}:{tag} is immutable (rule \"{pattern}\" of namespace {ns}) and cannot be deleted{by}; \
                 ask an owner of {ns} to remove the rule first",
                pattern = rule.tags,
                ns = namespace_of(repo),
            ));
            return refused(state, actor, namespace_id, repo, reference, refusal).await;
        }
        if let Some(refusal) = protected(state, actor, repo, &tag, &rules, "delete", &mut standing_once).await? {
            return refused(state, actor, namespace_id, repo, reference, refusal).await;
        }
    }
    Ok(Ok(()))
}

/// Records a refusal in the activity log (as the actor, when they are a user), then returns it.
pub(super) async fn refused(
    state: &AppState,
    actor: &str,
    namespace_id: Option<i64>,
    repo: &str,
    reference: &str,
    refusal: Refusal,
) -> AppResult<Result<(), Refusal>> {
    let user = users::find_by_username(&state.db, actor).await?;
    let mut change = Duty::Gate.begin(&state.db).await?;
    let target = Target { kind: "repository", name: repo, namespace_id };
    let details = serde_json::json!({ "reference": reference, "reason": refusal.0 });
    audit::record_as(&mut change, user.as_ref(), "gate.refuse", target, details).await?;
    change.commit().await?;
    Ok(Err(refusal))
}

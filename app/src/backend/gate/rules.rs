//! A namespace's tag rules: listed by whoever sees the namespace, added and removed by the
//! owners of its team and administrators, each change in the activity log.

use crate::backend::access::principal::Principal;
use crate::backend::audit::{self, Target};
use crate::backend::org::namespaces::{self, NamespaceRef};
use crate::backend::AppState;
use crate::error::{AppError, AppResult};
use crate::model::{TagRuleInput, TagRuleView};
use crate::policy;

/// The most rules a namespace holds: each PUT reads them all.
const MAX_RULES: i64 = 100;

/// A rule as the gate reads it.
#[derive(Debug, Clone)]
pub struct Rule {
    pub repositories: String,
    pub tags: String,
    pub immutable: bool,
    /// For a protected rule: the least role that may push, and delete.
    pub push_role: Option<String>,
    pub delete_role: Option<String>,
}

/// The rules of a namespace, as the gate reads them (one indexed read per PUT or DELETE, so a
/// rule changed on one replica holds on every other at once).
pub(super) async fn rules_in(db: &sqlx::PgPool, namespace: &str) -> AppResult<(Option<i64>, Vec<Rule>)> {
    let rows = sqlx::query!(
        "select n.namespace_id, r.repositories as \"repositories?\", r.tags as \"tags?\", r.kind as \"kind?\",
                r.push_role, r.delete_role
         from namespace n left join tag_rule r using (namespace_id)
         where n.name = $1 order by r.tag_rule_id",
        namespace
    )
    .fetch_all(db)
    .await?;
    let id = rows.first().map(|r| r.namespace_id);
    let rules = rows
        .into_iter()
        .filter_map(|r| {
            Some(Rule {
                repositories: r.repositories?,
                tags: r.tags?,
                immutable: r.kind? == "immutable",
                push_role: r.push_role,
                delete_role: r.delete_role,
            })
        })
        .collect();
    Ok((id, rules))
}

/// The rules of a namespace (anyone who may see it).
pub async fn list(state: &AppState, p: &Principal, ns: &NamespaceRef) -> AppResult<Vec<TagRuleView>> {
    let (n, _) = namespaces::find(state, p, ns).await?;
    views(&state.db, n.id, None).await
}

async fn views(db: &sqlx::PgPool, namespace_id: i64, id: Option<i64>) -> AppResult<Vec<TagRuleView>> {
    Ok(sqlx::query!(
        r#"select r.tag_rule_id, n.name as namespace, r.repositories, r.tags, r.kind, r.push_role, r.delete_role,
                  r.created_by,
                  r.created_at as "created_at: chrono::DateTime<chrono::Utc>"
         from tag_rule r join namespace n using (namespace_id)
         where r.namespace_id = $1 and ($2::bigint is null or r.tag_rule_id = $2) order by r.tag_rule_id"#,
        namespace_id,
        id
    )
    .fetch_all(db)
    .await?
    .into_iter()
    .map(|r| TagRuleView {
        id: r.tag_rule_id,
        namespace: r.namespace,
        repositories: r.repositories,
        tags: r.tags,
        kind: r.kind,
        push_role: r.push_role,
        delete_role: r.delete_role,
        created_by: r.created_by,
        created_at: r.created_at,
    })
    .collect())
}

/// A glob as a rule takes it: a tag's or a path's characters, `*` and `?`.
fn glob(field: &str, text: &str, path: bool) -> AppResult<String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(AppError::invalid(
            field,
            "say which: a name, or a pattern such as v* (* for any run of characters)",
        ));
    }
    if text.len() > 128 {
        return Err(AppError::invalid(field, "at most 128 characters"));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "._-*?".contains(c) || (path && c == '/');
    if let Some(c) = text.chars().find(|&c| !allowed(c)) {
        return Err(AppError::invalid(
            field,
            format!(
                "{c:?} cannot be in a {}; use letters, digits, . _ - and the wildcards * and ?",
                if path { "repository path" } else { "tag" }
            ),
        ));
    }
    Ok(text.to_string())
}

/// A protected rule's least role, from a form or the API: `owner` when not given.
fn least_role(field: &str, text: &str) -> AppResult<String> {
    match text.trim() {
        "" => Ok("owner".into()),
        r @ ("contributor" | "owner" | "admin") => Ok(r.into()),
        _ => Err(AppError::invalid(field, "contributor, owner or admin (administrators only)")),
    }
}

/// Adds a rule to a namespace (owners of its team, administrators).
pub async fn add(state: &AppState, p: &Principal, ns: &NamespaceRef, input: TagRuleInput) -> AppResult<TagRuleView> {
    let (n, _) = namespaces::find(state, p, ns).await?;
    let allowed = p.allowed(|a| policy::can_manage_tag_rules(a, &n.facts()))?;
    let repositories = if input.repositories.trim().is_empty() {
        "*".to_string()
    } else {
        glob("repositories", &input.repositories, true)?
    };
    let tags = glob("tags", &input.tags, false)?;
    // Roles are checked whenever given, though only a protected rule keeps them.
    let (push, delete) = (least_role("push_role", &input.push_role)?, least_role("delete_role", &input.delete_role)?);
    let (kind, push_role, delete_role) = match input.kind.trim() {
        "" | "immutable" => ("immutable", None, None),
        "protected" => ("protected", Some(push), Some(delete)),
        _ => return Err(AppError::invalid("kind", "immutable or protected")),
    };
    let mut tx = allowed.begin(&state.db).await?;
    let count = sqlx::query_scalar!(r#"select count(*) as "n!" from tag_rule where namespace_id = $1"#, n.id)
        .fetch_one(&mut *tx)
        .await?;
    if count >= MAX_RULES {
        return Err(AppError::invalid("tags", format!("a namespace holds at most {MAX_RULES} rules")));
    }
    let id = sqlx::query_scalar!(
        "insert into tag_rule (namespace_id, repositories, tags, kind, push_role, delete_role, created_by)
         values ($1, $2, $3, $4, $5, $6, $7)
         on conflict on constraint tag_rule_once do nothing returning tag_rule_id",
        n.id,
        repositories,
        tags,
        kind,
        push_role,
        delete_role,
        allowed.user().username
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| AppError::Conflict(format!("{} already has this rule.", n.name)))?;
    audit::record(
        &mut tx,
        "tag_rule.add",
        Target::namespace(&n.name, n.id),
        serde_json::json!({ "kind": kind, "repositories": repositories, "tags": tags,
                            "push_role": push_role, "delete_role": delete_role }),
    )
    .await?;
    tx.commit().await?;
    views(&state.db, n.id, Some(id)).await?.pop().ok_or(AppError::Internal)
}

/// Removes a rule of a namespace (owners of its team, administrators).
pub async fn remove(state: &AppState, p: &Principal, ns: &NamespaceRef, id: i64) -> AppResult<()> {
    let (n, _) = namespaces::find(state, p, ns).await?;
    let allowed = p.allowed(|a| policy::can_manage_tag_rules(a, &n.facts()))?;
    let mut tx = allowed.begin(&state.db).await?;
    let gone = sqlx::query!(
        "delete from tag_rule where namespace_id = $1 and tag_rule_id = $2 returning repositories, tags, kind",
        n.id,
        id
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| AppError::not_found("No such rule in this namespace."))?;
    audit::record(
        &mut tx,
        "tag_rule.remove",
        Target::namespace(&n.name, n.id),
        serde_json::json!({ "kind": gone.kind, "repositories": gone.repositories, "tags": gone.tags }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The rules of `repo`'s namespace that cover `repo:tag` (for whoever already sees the
/// repository).
pub async fn covering(state: &AppState, repo: &str, tag: &str) -> AppResult<Vec<TagRuleView>> {
    let Some((namespace, path)) = repo.split_once('/') else { return Ok(Vec::new()) };
    let Some(id) = sqlx::query_scalar!("select namespace_id from namespace where name = $1", namespace)
        .fetch_optional(&state.db)
        .await?
    else {
        return Ok(Vec::new());
    };
    Ok(views(&state.db, id, None)
        .await?
        .into_iter()
        .filter(|r| crate::model::glob_matches(&r.repositories, path) && crate::model::glob_matches(&r.tags, tag))
        .collect())
}

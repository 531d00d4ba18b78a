//! Cleanup policies (retention), in the style of Harbor's retention rules and GitLab's cleanup
//! policies: of the tags a policy covers, keep the N most recently pushed, keep what was pushed
//! or pulled within D days, always keep what a pattern names; delete the rest from the registry.
//! Owns the `cleanup_policy` and `cleanup_run` tables.
//!
//! Never collateral: the registry deletes by digest (every tag of it goes), so a digest is
//! deleted only when every tag pointing at it is to go; a tag to go that shares its digest with
//! a kept tag is skipped with the reason (Distribution 2.8 cannot untag), and so is an image a
//! kept multi-platform index includes. A dry run computes exactly the same decisions.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use regex::Regex;

use crate::backend::access::principal::{Allowed, Change, Duty, Principal};
use crate::backend::audit::{self, Target};
use crate::backend::gate;
use crate::backend::images::store;
use crate::backend::org::namespaces::{self, NamespaceRef};
use crate::backend::webhooks;
use crate::backend::AppState;
use crate::error::{AppError, AppResult};
use crate::model::{
    CleanupDecision, CleanupPolicyView, CleanupReport, CleanupRules, CleanupRunSummary, CleanupVerdict,
};
use crate::policy;

use super::browse::visible_repository;

/// What a policy is set on: a namespace (and every repository in it), or one repository.
#[derive(Debug, Clone)]
pub enum SetOn {
    Namespace(NamespaceRef),
    /// A repository by name.
    Repository(String),
}

/// What a policy is set on, as ids, once the principal may manage it.
struct Managed<'a> {
    namespace_id: i64,
    repository_id: Option<i64>,
    /// The namespace's facts for the principal.
    facts: policy::NamespaceFacts,
    allowed: Allowed<'a>,
}

/// What a policy is set on, once the principal may manage it.
async fn managed<'a>(state: &AppState, p: &'a Principal, on: &SetOn) -> AppResult<Managed<'a>> {
    match on {
        SetOn::Namespace(ns) => {
            let (n, _) = namespaces::find(state, p, ns).await?;
            let allowed = p.allowed(|a| policy::can_manage_cleanup(a, &n.facts()))?;
            Ok(Managed { namespace_id: n.id, repository_id: None, facts: n.facts(), allowed })
        }
        SetOn::Repository(name) => {
            let r = visible_repository(state, p, name).await?;
            let Some(ns) = r.namespace_id else {
                return Err(AppError::BadRequest(
                    "Repositories of the global namespace have no cleanup policy; use a namespace.".into(),
                ));
            };
            let allowed = p.allowed(|a| policy::can_manage_cleanup(a, &r.facts))?;
            Ok(Managed { namespace_id: ns, repository_id: Some(r.id), facts: r.facts, allowed })
        }
    }
}

/// Why no policy runs now (the registry is read-only, or deleting is turned off), if so.
async fn paused(state: &AppState) -> Option<String> {
    let s = state.access_settings.get(&state.db).await;
    let why = if s.read_only {
        policy::READ_ONLY
    } else if !s.delete_enabled {
        policy::CLEANUP_PAUSED
    } else {
        return None;
    };
    Some(format!("{}{}.", why[..1].to_uppercase(), &why[1..]))
}

/// Compiles a pattern, anchored as written (`^v\d+` is a prefix, `latest` anywhere).
fn pattern(field: &str, text: &str) -> AppResult<Option<Regex>> {
    if text.is_empty() {
        return Ok(None);
    }
    if text.len() > 256 {
        return Err(AppError::invalid(field, "at most 256 characters"));
    }
    regex::RegexBuilder::new(text)
        .size_limit(1 << 20)
        .build()
        .map(Some)
        .map_err(|e| AppError::invalid(field, format!("not a regular expression: {e}")))
}

fn check(rules: &CleanupRules) -> AppResult<()> {
    if rules.keep_last.is_none() && rules.keep_days.is_none() && rules.keep_pattern.is_empty() && !rules.delete_untagged
    {
        return Err(AppError::invalid(
            "keep_last",
            "say what to keep: the N newest, what was used within D days, or a pattern",
        ));
    }
    if rules.keep_last.is_some_and(|n| !(0..=10_000).contains(&n)) {
        return Err(AppError::invalid("keep_last", "from 0 to 10000"));
    }
    if rules.keep_days.is_some_and(|d| !(0..=3650).contains(&d)) {
        return Err(AppError::invalid("keep_days", "from 0 to 3650 days"));
    }
    if !rules.schedule.trim().is_empty() {
        super::cron::Schedule::parse(&rules.schedule).map_err(|why| AppError::invalid("schedule", why))?;
    }
    pattern("include_pattern", &rules.include_pattern)?;
    pattern("keep_pattern", &rules.keep_pattern)?;
    Ok(())
}

/// Sets the policy of a namespace or repository (owners of the namespace's team).
pub async fn set(state: &AppState, p: &Principal, on: &SetOn, rules: CleanupRules) -> AppResult<CleanupPolicyView> {
    let Managed { namespace_id: ns, repository_id: repo, allowed, .. } = managed(state, p, on).await?;
    check(&rules)?;
    let mut tx = allowed.begin(&state.db).await?;
    let id = sqlx::query_scalar!(
        "insert into cleanup_policy (namespace_id, repository_id, enabled, keep_last, keep_days, include_pattern,
                                     keep_pattern, schedule, created_by, delete_untagged)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         on conflict (namespace_id, coalesce(repository_id, 0)) do update set enabled = excluded.enabled,
             keep_last = excluded.keep_last, keep_days = excluded.keep_days,
             include_pattern = excluded.include_pattern, keep_pattern = excluded.keep_pattern,
             schedule = excluded.schedule, delete_untagged = excluded.delete_untagged,
             updated_at = now(), next_run_at = null
         returning cleanup_policy_id",
        ns,
        repo,
        rules.enabled,
        rules.keep_last,
        rules.keep_days,
        if rules.include_pattern.is_empty() { ".*" } else { rules.include_pattern.as_str() },
        rules.keep_pattern,
        rules.schedule.trim(),
        allowed.user().username,
        rules.delete_untagged
    )
    .fetch_one(&mut *tx)
    .await?;
    let view = view(&mut tx, id).await?;
    let name = view.repository.clone().unwrap_or_else(|| view.namespace.clone());
    let target =
        Target { kind: if repo.is_some() { "repository" } else { "namespace" }, name: &name, namespace_id: Some(ns) };
    audit::record(&mut tx, "cleanup.policy", target, serde_json::to_value(&view.rules).unwrap_or_default()).await?;
    tx.commit().await?;
    Ok(view)
}

/// The policy set on a namespace or repository, if any (owners).
pub async fn get(state: &AppState, p: &Principal, on: &SetOn) -> AppResult<Option<CleanupPolicyView>> {
    let Managed { namespace_id: ns, repository_id: repo, .. } = managed(state, p, on).await?;
    let id = sqlx::query_scalar!(
        "select cleanup_policy_id from cleanup_policy where namespace_id = $1 and repository_id is not distinct from $2",
        ns,
        repo
    )
    .fetch_optional(&state.db)
    .await?;
    match id {
        Some(id) => {
            let mut v = view(&mut *state.db.acquire().await?, id).await?;
            v.paused = paused(state).await;
            Ok(Some(v))
        }
        None => Ok(None),
    }
}

/// Removes the policy of a namespace or repository.
pub async fn remove(state: &AppState, p: &Principal, on: &SetOn) -> AppResult<()> {
    let Managed { namespace_id: ns, repository_id: repo, allowed, .. } = managed(state, p, on).await?;
    let mut tx = allowed.begin(&state.db).await?;
    let gone = sqlx::query!(
        "delete from cleanup_policy where namespace_id = $1 and repository_id is not distinct from $2",
        ns,
        repo
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if gone == 0 {
        return Err(AppError::not_found("No cleanup policy is set here."));
    }
    let name = match on {
        SetOn::Repository(r) => r.clone(),
        SetOn::Namespace(_) => {
            sqlx::query_scalar!("select name from namespace where namespace_id = $1", ns).fetch_one(&mut *tx).await?
        }
    };
    let target =
        Target { kind: if repo.is_some() { "repository" } else { "namespace" }, name: &name, namespace_id: Some(ns) };
    audit::record(&mut tx, "cleanup.remove", target, serde_json::json!({})).await?;
    tx.commit().await?;
    Ok(())
}

async fn view(conn: &mut sqlx::PgConnection, id: i64) -> AppResult<CleanupPolicyView> {
    let r = sqlx::query!(
        r#"select c.cleanup_policy_id, n.name as namespace, r.name as "repository?", c.enabled, c.keep_last, c.keep_days,
                  c.include_pattern, c.keep_pattern, c.schedule, c.delete_untagged,
                  c.last_run_at as "last_run_at: DateTime<Utc>",
                  l.trigger as "run_trigger?", l.started_at as "run_at?: DateTime<Utc>", l.deleted as "run_deleted?",
                  l.kept as "run_kept?", l.skipped as "run_skipped?", l.bytes_freed as "run_bytes?", l.error as run_error
           from cleanup_policy c join namespace n using (namespace_id)
           left join repository r on r.repository_id = c.repository_id
           left join lateral (select * from cleanup_run u where u.cleanup_policy_id = c.cleanup_policy_id
                              and u.finished_at is not null order by u.cleanup_run_id desc limit 1) l on true
           where c.cleanup_policy_id = $1"#,
        id
    )
    .fetch_one(conn)
    .await?;
    Ok(CleanupPolicyView {
        id: r.cleanup_policy_id,
        namespace: r.namespace,
        repository: r.repository,
        rules: CleanupRules {
            keep_last: r.keep_last,
            keep_days: r.keep_days,
            include_pattern: r.include_pattern,
            keep_pattern: r.keep_pattern,
            schedule: r.schedule,
            delete_untagged: r.delete_untagged,
            enabled: r.enabled,
        },
        last_run_at: r.last_run_at,
        last_run: match (r.run_trigger, r.run_at) {
            (Some(trigger), Some(at)) => Some(CleanupRunSummary {
                trigger,
                at,
                deleted: r.run_deleted.unwrap_or(0),
                kept: r.run_kept.unwrap_or(0),
                skipped: r.run_skipped.unwrap_or(0),
                bytes_freed: r.run_bytes.unwrap_or(0),
                error: r.run_error,
            }),
            _ => None,
        },
        paused: None,
    })
}

/// A tag as a cleanup sees it.
#[derive(Debug, Clone)]
struct Tagged {
    repository_id: i64,
    repository: String,
    tag: String,
    digest: String,
    pushed_at: DateTime<Utc>,
    last_pulled_at: Option<DateTime<Utc>>,
}

/// The decisions for one repository's tags under `rules`, newest push first. `immutable`: the
/// namespace's tag rules that cover the repository, as `(tag glob, immutable or protected)`:
/// a tag they cover is always kept.
fn decide(
    rules: &CleanupRules,
    tags: &[Tagged],
    children: &HashMap<String, Vec<String>>,
    immutable: &[(String, &'static str)],
    now: DateTime<Utc>,
) -> Vec<CleanupDecision> {
    let include = pattern("include_pattern", &rules.include_pattern).ok().flatten();
    let keep = pattern("keep_pattern", &rules.keep_pattern).ok().flatten();
    let mut covered = 0;
    let mut out: Vec<CleanupDecision> = tags
        .iter()
        .map(|t| {
            let decision = |action: &str, reason: String| CleanupDecision {
                repository: t.repository.clone(),
                tag: t.tag.clone(),
                digest: t.digest.clone(),
                action: action.into(),
                reason,
            };
            if let Some((glob, kind)) = gate::check::covering(immutable, &t.tag) {
                return decision("keep", format!("{kind} (the namespace's tag rule {glob})"));
            }
            if include.as_ref().is_some_and(|re| !re.is_match(&t.tag)) {
                return decision("keep", format!("not covered by the pattern {}", rules.include_pattern));
            }
            if keep.as_ref().is_some_and(|re| re.is_match(&t.tag)) {
                return decision("keep", format!("always kept by the pattern {}", rules.keep_pattern));
            }
            covered += 1;
            if let Some(n) = rules.keep_last.filter(|n| covered <= *n) {
                return decision("keep", format!("one of the {n} most recently pushed"));
            }
            if let Some(d) = rules.keep_days {
                let since = now - chrono::Duration::days(i64::from(d));
                if t.pushed_at >= since || t.last_pulled_at.is_some_and(|p| p >= since) {
                    return decision("keep", format!("pushed or pulled in the last {d} days"));
                }
            }
            decision("delete", "kept by no rule".into())
        })
        .collect();
    // The registry deletes a digest with every tag of it: a digest goes only if all its tags
    // go, and an image a kept index includes stays.
    let kept: Vec<(String, String)> =
        out.iter().filter(|d| d.action == "keep").map(|d| (d.tag.clone(), d.digest.clone())).collect();
    let kept_children: HashMap<&str, &str> = kept
        .iter()
        .flat_map(|(tag, digest)| children.get(digest).into_iter().flatten().map(move |c| (c.as_str(), tag.as_str())))
        .collect();
    for d in out.iter_mut().filter(|d| d.action == "delete") {
        if let Some((tag, _)) = kept.iter().find(|(_, digest)| *digest == d.digest) {
            d.action = "skip".into();
            d.reason = format!(
                "its image is also tagged {tag}, which is kept (the registry deletes an image with all its tags)"
            );
        } else if let Some(index) = kept_children.get(d.digest.as_str()) {
            d.action = "skip".into();
            d.reason = format!("its image is part of the multi-platform image {index}, which is kept");
        }
    }
    out
}

/// The most tags a repository may have for its tag pages to work out what its cleanup policy
/// does with each (its dry run says it for any number).
const VERDICT_TAGS: i64 = 5_000;

/// What the cleanup policy over `repository` (its own, else its namespace's) does with its tag
/// `tag`, as a dry run of that repository would say, if a policy covers it. For whoever sees
/// the repository.
pub async fn verdict(state: &AppState, repository: &str, tag: &str) -> AppResult<Option<CleanupVerdict>> {
    let Some(row) = sqlx::query!(
        r#"select c.cleanup_policy_id, r.repository_id,
                  (select count(*) from tag t where t.repository_id = r.repository_id) as "tags!"
           from repository r
           join cleanup_policy c on c.repository_id = r.repository_id
                                 or (c.repository_id is null and c.namespace_id = r.namespace_id)
           where r.name = $1
           order by c.repository_id nulls last limit 1"#,
        repository
    )
    .fetch_optional(&state.db)
    .await?
    else {
        return Ok(None);
    };
    let policy = view(&mut *state.db.acquire().await?, row.cleanup_policy_id).await?;
    let verdict = |action: &str, reason: String| CleanupVerdict {
        policy: match &policy.repository {
            Some(r) => format!("repository {r}"),
            None => format!("namespace {}", policy.namespace),
        },
        enabled: policy.rules.enabled,
        schedule: policy.rules.schedule.clone(),
        action: action.into(),
        reason,
    };
    if row.tags > VERDICT_TAGS {
        return Ok(Some(verdict(
            "unknown",
            format!(
                "the repository has more than {VERDICT_TAGS} tags: its policy's dry run says what it does with each"
            ),
        )));
    }
    let (tags, children) = covered(state, row.cleanup_policy_id, Some(row.repository_id)).await?;
    let kept = gate::check::kept_tags(state, repository).await?;
    Ok(decide(&policy.rules, &tags, &children, &kept, Utc::now())
        .into_iter()
        .find(|d| d.tag == tag)
        .map(|d| verdict(&d.action, d.reason)))
}

/// Every repository a policy covers, with its tags and the images its indexes include.
async fn covered(
    state: &AppState,
    policy_id: i64,
    only: Option<i64>,
) -> AppResult<(Vec<Tagged>, HashMap<String, Vec<String>>)> {
    let rows = sqlx::query!(
        r#"select t.repository_id, r.name as repository, t.name as tag, t.digest,
                  t.pushed_at as "pushed_at: DateTime<Utc>", t.last_pulled_at as "last_pulled_at: DateTime<Utc>"
           from cleanup_policy c
           join repository r on (c.repository_id is null and r.namespace_id = c.namespace_id
                                 and not exists(select 1 from cleanup_policy o where o.repository_id = r.repository_id))
                             or r.repository_id = c.repository_id
           join tag t on t.repository_id = r.repository_id
           where c.cleanup_policy_id = $1 and ($2::bigint is null or r.repository_id = $2)
           order by r.name, t.pushed_at desc, t.tag_id desc"#,
        policy_id,
        only
    )
    .fetch_all(&state.db)
    .await?;
    let children = sqlx::query!(
        r#"select m.digest, p ->> 'digest' as "child!"
           from cleanup_policy c
           join repository r on (c.repository_id is null and r.namespace_id = c.namespace_id) or r.repository_id = c.repository_id
           join manifest m on m.repository_id = r.repository_id, jsonb_array_elements(m.platforms) p
           where c.cleanup_policy_id = $1 and p ? 'digest' and ($2::bigint is null or r.repository_id = $2)"#,
        policy_id,
        only
    )
    .fetch_all(&state.db)
    .await?;
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for c in children {
        map.entry(c.digest).or_default().push(c.child);
    }
    let tags = rows
        .into_iter()
        .map(|r| Tagged {
            repository_id: r.repository_id,
            repository: r.repository,
            tag: r.tag,
            digest: r.digest,
            pushed_at: r.pushed_at,
            last_pulled_at: r.last_pulled_at,
        })
        .collect();
    Ok((tags, map))
}

/// The images of the policy's repositories that no tag points at any more and that the
/// registry still has: every digest the tags' history names, less the tagged ones and those
/// an index includes, each checked with the registry (so a dry run says what a run does).
async fn untagged(state: &AppState, policy_id: i64) -> AppResult<Vec<CleanupDecision>> {
    let rows = sqlx::query!(
        r#"select distinct r.name as repository, d as "digest!"
           from cleanup_policy c
           join repository r on (c.repository_id is null and r.namespace_id = c.namespace_id
                                 and not exists(select 1 from cleanup_policy o where o.repository_id = r.repository_id))
                             or r.repository_id = c.repository_id
           join tag_event e on e.repository = r.name
           cross join lateral unnest(array[e.digest, e.previous_digest]) d
           where c.cleanup_policy_id = $1 and d is not null
             and not exists(select 1 from tag t where t.repository_id = r.repository_id and t.digest = d)
             and not exists(select 1 from manifest i where i.repository_id = r.repository_id
                            and i.platforms @> jsonb_build_array(jsonb_build_object('digest', d)))
           order by 1, 2"#,
        policy_id
    )
    .fetch_all(&state.db)
    .await?;
    let mut out = Vec::new();
    for r in rows {
        if state.registry.head_manifest(state, &r.repository, &r.digest).await?.is_some() {
            out.push(CleanupDecision {
                repository: r.repository,
                tag: String::new(),
                digest: r.digest,
                action: "delete".into(),
                reason: "untagged: no tag points at it any more".into(),
            });
        }
    }
    Ok(out)
}

/// Runs a policy: decides, and unless `dry_run` deletes what is to go. Records a real run.
async fn run_policy(
    state: &AppState,
    policy_id: i64,
    dry_run: bool,
    trigger: &str,
    by: Option<Allowed<'_>>,
) -> AppResult<CleanupReport> {
    let who = by.map(|a| a.user());
    let rules = view(&mut *state.db.acquire().await?, policy_id).await?;
    let (tags, children) = covered(state, policy_id, None).await?;
    let now = Utc::now();
    let mut decisions = Vec::new();
    let mut by_repo: Vec<(i64, String, Vec<Tagged>)> = Vec::new();
    for t in tags {
        match by_repo.last_mut() {
            Some((id, _, list)) if *id == t.repository_id => list.push(t),
            _ => by_repo.push((t.repository_id, t.repository.clone(), vec![t])),
        }
    }
    for (_, repository, list) in &by_repo {
        let immutable = gate::check::kept_tags(state, repository).await?;
        decisions.extend(decide(&rules.rules, list, &children, &immutable, now));
    }
    if rules.rules.delete_untagged {
        decisions.extend(untagged(state, policy_id).await?);
    }
    let count = |a: &str| decisions.iter().filter(|d| d.action == a).count() as i32;
    let mut report = CleanupReport {
        dry_run,
        deleted: count("delete"),
        kept: count("keep"),
        skipped: count("skip"),
        bytes_freed: 0,
        errors: Vec::new(),
        decisions: Vec::new(),
    };
    // The digests to delete, each once, with its repository.
    let mut doomed: Vec<(i64, String, String)> = Vec::new();
    let mut seen = HashSet::new();
    let mut ids: HashMap<String, i64> = by_repo.iter().map(|(id, name, _)| (name.clone(), *id)).collect();
    for d in decisions.iter().filter(|d| d.action == "delete") {
        let id = match ids.get(&d.repository) {
            Some(id) => *id,
            None => {
                let mut conn = state.db.acquire().await?;
                let Some((id, _)) = store::repository_by_name(&mut conn, &d.repository).await? else { continue };
                ids.insert(d.repository.clone(), id);
                id
            }
        };
        if seen.insert((id, d.digest.clone())) {
            doomed.push((id, d.repository.clone(), d.digest.clone()));
        }
    }
    let sizes: HashMap<(i64, String), i64> = sqlx::query!(
        "select repository_id, digest, size from manifest where repository_id = any($1) and digest = any($2)",
        &doomed.iter().map(|d| d.0).collect::<Vec<_>>(),
        &doomed.iter().map(|d| d.2.clone()).collect::<Vec<_>>()
    )
    .fetch_all(&state.db)
    .await?
    .into_iter()
    .map(|r| ((r.repository_id, r.digest), r.size))
    .collect();
    if dry_run {
        report.bytes_freed = doomed.iter().filter_map(|d| sizes.get(&(d.0, d.2.clone()))).sum();
        report.decisions = decisions;
        return Ok(report);
    }
    let mut started = Duty::Cleanup.begin_for(by, &state.db).await?;
    let run_id = sqlx::query_scalar!(
        "insert into cleanup_run (cleanup_policy_id, trigger) values ($1, $2) returning cleanup_run_id",
        policy_id,
        trigger
    )
    .fetch_one(&mut *started)
    .await?;
    started.commit().await?;
    // The tags each doomed image was decided for.
    let mut decided: HashMap<(String, String), HashSet<String>> = HashMap::new();
    for d in decisions.iter().filter(|d| d.action == "delete") {
        decided.entry((d.repository.clone(), d.digest.clone())).or_default().insert(d.tag.clone());
    }
    pause_for_tests().await;
    let mut deleted_tags = 0;
    for (repo_id, repo, digest) in &doomed {
        let namespace_id: Option<i64> =
            sqlx::query_scalar!("select namespace_id from repository where repository_id = $1", repo_id)
                .fetch_optional(&state.db)
                .await?
                .flatten();
        let mut tx = Duty::Cleanup.begin_for(by, &state.db).await?;
        // The worker waits, so the registry's delete events find the rows gone already.
        store::exclude_worker(&mut tx).await?;
        // Asked again now: a tag given to this image since the decisions goes with it.
        let tags = decided.get(&(repo.clone(), digest.clone())).cloned().unwrap_or_default();
        if let Some(why) = retagged(state, &mut tx, *repo_id, repo, digest, &tags).await? {
            for d in
                decisions.iter_mut().filter(|d| d.action == "delete" && d.repository == *repo && d.digest == *digest)
            {
                d.action = "skip".into();
                d.reason = format!("{why} since this run decided; it stays");
                report.skipped += 1;
            }
            continue;
        }
        if let Err(e) = state.registry.delete_manifest(state, repo, digest).await {
            report.errors.push(format!("{repo}@{digest}: {e}"));
            continue;
        }
        let removed =
            store::remove_digest(&mut tx, *repo_id, digest, store::Removal { source: "cleanup", actor: None }).await?;
        // An untagged image is told as a delete of its digest.
        let untagged = removed.is_empty().then_some(None);
        for tag in removed.iter().map(|t| Some(t.as_str())).chain(untagged) {
            let told = webhooks::ImageEvent {
                kind: "delete",
                repository: repo,
                namespace_id,
                tag,
                digest,
                actor: Some("cleanup"),
                at: Utc::now(),
            };
            webhooks::enqueue(&mut tx, &state.settings.registry_host, &told).await?;
        }
        tx.commit().await?;
        deleted_tags += removed.len().max(1) as i32;
        report.bytes_freed += sizes.get(&(*repo_id, digest.clone())).copied().unwrap_or(0);
    }
    report.deleted = deleted_tags;
    report.decisions = decisions;
    let error = (!report.errors.is_empty()).then(|| report.errors.join("; "));
    let mut tx = Duty::Cleanup.begin_for(by, &state.db).await?;
    sqlx::query!(
        "update cleanup_run set finished_at = now(), deleted = $2, kept = $3, skipped = $4, bytes_freed = $5, error = $6
         where cleanup_run_id = $1",
        run_id,
        report.deleted,
        report.kept,
        report.skipped,
        report.bytes_freed,
        error
    )
    .execute(&mut *tx)
    .await?;
    mark_ran(&mut tx, policy_id).await?;
    let name = rules.repository.clone().unwrap_or_else(|| rules.namespace.clone());
    let ns_id: Option<i64> =
        sqlx::query_scalar!("select namespace_id from cleanup_policy where cleanup_policy_id = $1", policy_id)
            .fetch_optional(&mut *tx)
            .await?;
    let target = Target {
        kind: if rules.repository.is_some() { "repository" } else { "namespace" },
        name: &name,
        namespace_id: ns_id,
    };
    let details = serde_json::json!({
        "trigger": trigger, "deleted": report.deleted, "kept": report.kept, "skipped": report.skipped,
        "bytes_freed": report.bytes_freed,
    });
    audit::record(&mut tx, "cleanup.run", target, details).await?;
    if let Some(namespace_id) = ns_id {
        let told = webhooks::CleanupEvent {
            namespace_id,
            namespace: &rules.namespace,
            repository: rules.repository.as_deref(),
            trigger,
            actor: who.map(|u| u.username.as_str()),
            deleted: report.deleted,
            kept: report.kept,
            skipped: report.skipped,
            bytes_freed: report.bytes_freed,
        };
        webhooks::enqueue_cleanup(&mut tx, &told).await?;
    }
    tx.commit().await?;
    Ok(report)
}

/// Why the image `digest` of `repo` must stay after all, if it must: a tag other than those
/// the run decided to delete (`decided`) points at it now, here (with the event worker held off
/// by the caller), in a push the inbox holds and has not applied yet (pulls of it, such as a
/// look at the doomed tag, do not count), or in the registry
/// (its tags Portcullis does not know yet, each asked for its digest).
async fn retagged(
    state: &AppState,
    tx: &mut sqlx::PgConnection,
    repo_id: i64,
    repo: &str,
    digest: &str,
    decided: &HashSet<String>,
) -> AppResult<Option<String>> {
    let known = sqlx::query_scalar!("select name from tag where repository_id = $1 and digest = $2", repo_id, digest)
        .fetch_all(&mut *tx)
        .await?;
    if let Some(tag) = known.iter().find(|t| !decided.contains(*t)) {
        return Ok(Some(format!("it was tagged {tag}")));
    }
    if push_pending(&mut *tx, repo, digest).await? {
        return Ok(Some("the registry told of a push of it, not yet applied,".into()));
    }
    let all = sqlx::query_scalar!("select name from tag where repository_id = $1", repo_id).fetch_all(&mut *tx).await?;
    let all: HashSet<String> = all.into_iter().collect();
    for tag in state.registry.tags(state, repo).await? {
        if all.contains(&tag) || decided.contains(&tag) {
            continue;
        }
        if state.registry.head_manifest(state, repo, &tag).await?.is_some_and(|(d, _)| d == digest) {
            return Ok(Some(format!("it was tagged {tag} in the registry")));
        }
    }
    Ok(None)
}

/// Whether the inbox holds a push of the image `digest` to `repo` not applied yet. Other events
/// about it (a pull, such as a look at the doomed tag) give it no new tag.
pub async fn push_pending(tx: &mut sqlx::PgConnection, repo: &str, digest: &str) -> AppResult<bool> {
    Ok(sqlx::query_scalar!(
        r#"select exists(select 1 from registry_event where processed_at is null and repository = $1
                         and action = 'push' and raw -> 'target' ->> 'digest' = $2) as "e!""#,
        repo,
        digest
    )
    .fetch_one(tx)
    .await?)
}

type Gate = (std::sync::Arc<tokio::sync::Notify>, std::sync::Arc<tokio::sync::Notify>);
static PAUSE: std::sync::Mutex<Option<Gate>> = std::sync::Mutex::new(None);

/// For the tests of a run racing a push: the next run stops between its decisions and its
/// deletes, tells `reached`, and goes on when `resume` is told.
#[doc(hidden)]
pub fn pause_next_run(reached: std::sync::Arc<tokio::sync::Notify>, resume: std::sync::Arc<tokio::sync::Notify>) {
    *PAUSE.lock().unwrap_or_else(|e| e.into_inner()) = Some((reached, resume));
}

async fn pause_for_tests() {
    let gate = PAUSE.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some((reached, resume)) = gate {
        reached.notify_one();
        resume.notified().await;
    }
}

/// Runs the policy of a namespace or repository now, or (`dry_run`) says what it would do.
pub async fn run(state: &AppState, p: &Principal, on: &SetOn, dry_run: bool) -> AppResult<CleanupReport> {
    let Managed { namespace_id: ns, repository_id: repo, facts, allowed } = managed(state, p, on).await?;
    let allowed = if dry_run {
        allowed
    } else {
        let s = state.access_settings.get(&state.db).await;
        p.allowed(|a| policy::can_run_cleanup(a, &facts, &s))?
    };
    let id = sqlx::query_scalar!(
        "select cleanup_policy_id from cleanup_policy where namespace_id = $1 and repository_id is not distinct from $2",
        ns,
        repo
    )
    .fetch_optional(&state.db)
    .await?
    .ok_or_else(|| AppError::not_found("No cleanup policy is set here."))?;
    if dry_run {
        return run_policy(state, id, true, "preview", Some(allowed)).await;
    }
    let mut lock = crate::backend::jobs::dedicated_connection(&state.db, "portcullis cleanup").await?;
    crate::backend::jobs::exclusively(
        &mut lock,
        "portcullis.cleanup",
        run_policy(state, id, false, "on demand", Some(allowed)),
    )
    .await?
    .ok_or_else(|| AppError::Conflict("A cleanup is running already; try again in a moment.".into()))
}

/// Runs the policies whose schedule is due (the caller holds the cleanup lock).
async fn run_due(state: &AppState) -> AppResult<()> {
    // The next due time is stored; it is worked out (once) after each save and each run,
    // which clear it, from the time of that save or run.
    let policies = sqlx::query!(
        r#"select cleanup_policy_id, schedule, next_run_at as "next_run_at: DateTime<Utc>",
                  coalesce(last_run_at, updated_at) as "since!: DateTime<Utc>"
           from cleanup_policy where enabled and schedule <> '' and (next_run_at is null or next_run_at <= now())
           order by cleanup_policy_id"#
    )
    .fetch_all(&state.db)
    .await?;
    let now = Utc::now();
    let mut due = Vec::new();
    for p in policies {
        let next = match p.next_run_at {
            Some(next) => Some(next),
            None => {
                let next = super::cron::Schedule::parse(&p.schedule).ok().and_then(|s| s.next_after(p.since));
                // A schedule that never comes (saved before such were refused) is parked far ahead.
                let stored = next.unwrap_or(now + chrono::Duration::days(super::cron::HORIZON_DAYS));
                sqlx::query!(
                    "update cleanup_policy set next_run_at = to_timestamp($2::bigint) where cleanup_policy_id = $1",
                    p.cleanup_policy_id,
                    stored.timestamp()
                )
                .execute(&mut *Duty::Cleanup.on(&state.db).await?)
                .await?;
                next
            }
        };
        if next.is_some_and(|n| n <= now) {
            due.push(p.cleanup_policy_id);
        }
    }
    let paused = paused(state).await;
    for id in due {
        if let Some(why) = &paused {
            // Recorded as this occurrence's run, so the card says why nothing went, and the
            // policy is due again only at its next occurrence.
            skip_run(state, id, why).await?;
            tracing::info!(policy = id, reason = why.as_str(), "scheduled cleanup skipped");
            continue;
        }
        match run_policy(state, id, false, "schedule", None).await {
            Ok(r) => {
                tracing::info!(policy = id, deleted = r.deleted, kept = r.kept, skipped = r.skipped, "cleanup ran")
            }
            Err(e) => tracing::warn!(policy = id, error = %e, "cleanup failed"),
        }
    }
    Ok(())
}

/// Records that a policy ran (or that its scheduled run was skipped) now: its next due time
/// is worked out afresh from now.
async fn mark_ran(conn: &mut Change<'_>, policy_id: i64) -> AppResult<()> {
    sqlx::query!(
        "update cleanup_policy set last_run_at = now(), next_run_at = null where cleanup_policy_id = $1",
        policy_id
    )
    .execute(&mut **conn)
    .await?;
    Ok(())
}

/// Records that a scheduled run of a policy did not happen, and why.
async fn skip_run(state: &AppState, policy_id: i64, why: &str) -> AppResult<()> {
    let mut tx = Duty::Cleanup.begin(&state.db).await?;
    sqlx::query!(
        "insert into cleanup_run (cleanup_policy_id, trigger, finished_at, error) values ($1, 'schedule', now(), $2)",
        policy_id,
        format!("Skipped: {why}")
    )
    .execute(&mut *tx)
    .await?;
    mark_ran(&mut tx, policy_id).await?;
    tx.commit().await?;
    Ok(())
}

/// Runs the policies whose schedule is due now, unless a cleanup runs elsewhere: what the
/// scheduler does every minute.
pub async fn run_scheduled(state: &AppState) -> AppResult<()> {
    let mut lock = crate::backend::jobs::dedicated_connection(&state.db, "portcullis cleanup").await?;
    crate::backend::jobs::exclusively(&mut lock, "portcullis.cleanup", run_due(state)).await?;
    Ok(())
}

/// Runs scheduled cleanups, every minute, on one replica at a time.
pub fn spawn(state: AppState) {
    let db = state.db.clone();
    crate::backend::jobs::supervise("cleanup", db, move || {
        let state = state.clone();
        async move {
            while !state.db.is_closed() {
                run_scheduled(&state).await?;
                tokio::time::sleep(std::time::Duration::from_secs(60)).await;
            }
            Ok(())
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(name: &str, digest: &str, days_ago: i64) -> Tagged {
        Tagged {
            repository_id: 1,
            repository: "acme/app".into(),
            tag: name.into(),
            digest: digest.into(),
            pushed_at: Utc::now() - chrono::Duration::days(days_ago),
            last_pulled_at: None,
        }
    }

    fn rules(keep_last: Option<i32>, keep_days: Option<i32>, keep: &str) -> CleanupRules {
        CleanupRules {
            keep_last,
            keep_days,
            include_pattern: ".*".into(),
            keep_pattern: keep.into(),
            schedule: String::new(),
            delete_untagged: false,
            enabled: true,
        }
    }

    fn actions(ds: &[CleanupDecision]) -> Vec<(&str, &str)> {
        ds.iter().map(|d| (d.tag.as_str(), d.action.as_str())).collect()
    }

    #[test]
    fn the_newest_are_kept_and_a_pattern_always_keeps() {
        let tags =
            [tag("v4", "d4", 1), tag("v3", "d3", 2), tag("latest", "d0", 3), tag("v2", "d2", 4), tag("v1", "d1", 5)];
        let ds = decide(&rules(Some(2), None, "^latest$"), &tags, &HashMap::new(), &[], Utc::now());
        assert_eq!(
            actions(&ds),
            [("v4", "keep"), ("v3", "keep"), ("latest", "keep"), ("v2", "delete"), ("v1", "delete")]
        );
        assert!(ds[2].reason.contains("pattern"));
    }

    #[test]
    fn recent_use_keeps_and_a_shared_digest_is_never_collateral() {
        let mut used = tag("v1", "d1", 30);
        used.last_pulled_at = Some(Utc::now());
        let tags = [tag("v3", "d3", 20), tag("stable", "d2", 25), used, tag("v2", "d2", 40)];
        let ds = decide(&rules(None, Some(7), "^stable$"), &tags, &HashMap::new(), &[], Utc::now());
        assert_eq!(actions(&ds), [("v3", "delete"), ("stable", "keep"), ("v1", "keep"), ("v2", "skip")]);
        assert!(ds[3].reason.contains("also tagged stable"), "{}", ds[3].reason);
    }

    #[test]
    fn an_immutable_tag_is_always_kept_and_takes_no_place_among_the_newest() {
        let tags = [tag("v2", "d2", 1), tag("dev", "d3", 2), tag("v1", "d1", 3), tag("old", "d0", 4)];
        let ds =
            decide(&rules(Some(1), None, ""), &tags, &HashMap::new(), &[("v*".to_string(), "immutable")], Utc::now());
        assert_eq!(actions(&ds), [("v2", "keep"), ("dev", "keep"), ("v1", "keep"), ("old", "delete")]);
        assert!(ds[0].reason.contains("immutable") && ds[0].reason.contains("v*"), "{}", ds[0].reason);
    }

    #[test]
    fn an_image_a_kept_index_includes_stays() {
        let tags = [tag("multi", "index", 1), tag("amd64-only", "child", 50)];
        let children = HashMap::from([("index".to_string(), vec!["child".to_string()])]);
        let ds = decide(&rules(Some(1), None, ""), &tags, &children, &[], Utc::now());
        assert_eq!(actions(&ds), [("multi", "keep"), ("amd64-only", "skip")]);
    }

    #[test]
    fn a_policy_must_keep_something_and_patterns_must_compile() {
        assert!(check(&rules(None, None, "")).is_err());
        assert!(check(&rules(Some(3), None, "(")).is_err());
        assert!(check(&rules(Some(3), None, r"^v\d+")).is_ok());
    }
}

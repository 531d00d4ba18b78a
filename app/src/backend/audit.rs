//! The activity log: every change to users, teams, namespaces, tokens and settings, with who
//! did it, to what, and when. Written in the same transaction as the change it records.

use serde_json::Value;
use sqlx::{PgConnection, PgPool};

use super::access::principal::User;
use crate::error::AppResult;
use crate::model::{AuditEventView, Page};

/// What an entry is about.
pub struct Target<'a> {
    pub kind: &'static str,
    pub name: &'a str,
    pub namespace_id: Option<i64>,
}

impl<'a> Target<'a> {
    pub fn user(name: &'a str) -> Self {
        Self { kind: "user", name, namespace_id: None }
    }
    pub fn team(name: &'a str) -> Self {
        Self { kind: "team", name, namespace_id: None }
    }
    pub fn namespace(name: &'a str, id: i64) -> Self {
        Self { kind: "namespace", name, namespace_id: Some(id) }
    }
    pub fn token(name: &'a str) -> Self {
        Self { kind: "token", name, namespace_id: None }
    }
    pub fn settings() -> Self {
        Self { kind: "settings", name: "access", namespace_id: None }
    }
}

/// Records one change. `actor` is `None` for the system (the command line, the first start).
pub async fn record(
    conn: &mut PgConnection,
    actor: Option<&User>,
    action: &str,
    target: Target<'_>,
    details: Value,
) -> AppResult<()> {
    let actor_name = actor.map(|u| u.username.as_str()).unwrap_or("system");
    sqlx::query!(
        "insert into audit_event (actor_id, actor_name, action, target_kind, target_name, namespace_id, details)
         values ($1, $2, $3, $4, $5, $6, $7)",
        actor.map(|u| u.id),
        actor_name,
        action,
        target.kind,
        target.name,
        target.namespace_id,
        details
    )
    .execute(&mut *conn)
    .await?;
    // Access may have changed: tell every replica's caches (images do not change access).
    if !action.starts_with("image.") && !action.starts_with("repository.") {
        sqlx::query!("select pg_notify($1, $2)", super::registry::cache::CHANNEL, action).execute(&mut *conn).await?;
        super::registry::cache::invalidate();
    }
    tracing::info!(target: "portcullis::audit", actor = actor_name, action, kind = target.kind, name = target.name);
    Ok(())
}

/// Filters for the activity page and its CSV export. Empty strings mean "any".
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Filter {
    pub actor: String,
    /// A prefix of the action: `team` matches `team.create` and `team.member.add`.
    pub action: String,
    pub target: String,
    pub namespace_id: Option<i64>,
}

/// The newest entries first.
pub async fn list(db: &PgPool, f: &Filter, page: u32, per_page: u32) -> AppResult<Page<AuditEventView>> {
    let per_page = per_page.clamp(1, 10_000);
    let page = page.max(1);
    let offset = i64::from(page - 1) * i64::from(per_page);
    let total = sqlx::query_scalar!(
        r#"select count(*) as "n!" from audit_event
           where ($1 = '' or actor_name = $1) and ($2 = '' or action = $2 or action like $2 || '.%')
             and ($3 = '' or target_name ilike '%' || $3 || '%') and ($4::bigint is null or namespace_id = $4)"#,
        f.actor,
        f.action,
        f.target,
        f.namespace_id
    )
    .fetch_one(db)
    .await?;
    let items = entries(db, f, Some(i64::from(per_page)), offset).await?;
    Ok(Page { items, page, per_page, total: total as u64 })
}

/// Every matching entry, newest first, read in one query (one consistent snapshot: the CSV
/// export neither repeats nor skips entries written while it runs).
pub async fn all(db: &PgPool, f: &Filter) -> AppResult<Vec<AuditEventView>> {
    entries(db, f, None, 0).await
}

/// Matching entries, newest first; `limit` `None` means all of them.
async fn entries(db: &PgPool, f: &Filter, limit: Option<i64>, offset: i64) -> AppResult<Vec<AuditEventView>> {
    Ok(sqlx::query_as!(
        AuditEventView,
        r#"select e.audit_event_id as id, e.at as "at: _", e.actor_name as actor, e.action, e.target_kind, e.target_name,
                  n.name as "namespace?", e.details
           from audit_event e left join namespace n on n.namespace_id = e.namespace_id
           where ($1 = '' or e.actor_name = $1) and ($2 = '' or e.action = $2 or e.action like $2 || '.%')
             and ($3 = '' or e.target_name ilike '%' || $3 || '%') and ($4::bigint is null or e.namespace_id = $4)
           order by e.at desc, e.audit_event_id desc
           limit $5 offset $6"#,
        f.actor,
        f.action,
        f.target,
        f.namespace_id,
        limit,
        offset
    )
    .fetch_all(db)
    .await?)
}

/// Renders entries as CSV (RFC 4180), newest first.
pub fn to_csv(events: &[AuditEventView]) -> String {
    fn field(s: &str) -> String {
        // Quote everything; neutralise spreadsheet formulas.
        let s = if s.starts_with(['=', '+', '-', '@']) { format!("'{s}") } else { s.to_string() };
        format!("\"{}\"", s.replace('"', "\"\""))
    }
    let mut out = String::from("time,actor,action,target_kind,target,namespace,details\r\n");
    for e in events {
        let row = [
            e.at.to_rfc3339(),
            e.actor.clone(),
            e.action.clone(),
            e.target_kind.clone(),
            e.target_name.clone(),
            e.namespace.clone().unwrap_or_default(),
            e.details.to_string(),
        ];
        out.push_str(&row.iter().map(|f| field(f)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        let e = AuditEventView {
            id: 1,
            at: chrono::DateTime::from_timestamp(0, 0).unwrap(),
            actor: "al\"ice".into(),
            action: "team.create".into(),
            target_kind: "team".into(),
            target_name: "=cmd()".into(),
            namespace: None,
            details: serde_json::json!({"a": 1}),
        };
        let csv = to_csv(&[e]);
        let line = csv.lines().nth(1).unwrap();
        assert!(line.contains("\"al\"\"ice\""), "{line}");
        assert!(line.contains("\"'=cmd()\""), "{line}");
        assert!(csv.starts_with("time,actor,action"));
    }
}

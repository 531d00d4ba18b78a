//! The activity log: every change to users, teams, namespaces, tokens and settings, with who
//! did it, to what, and when. Written in the same transaction as the change it records. Owns the
//! `audit_event` table.

use serde_json::Value;
use sqlx::PgPool;

use super::access::principal::{Change, User};
use super::registry::cache::{self, Effect};
use crate::error::AppResult;
use crate::model::{AuditEventView, Feed};

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

/// Records one change, made by whoever `change` says: a person, or the system.
pub async fn record(change: &mut Change<'_>, action: &str, target: Target<'_>, details: Value) -> AppResult<()> {
    let actor = change.user();
    write(change, actor, action, target, details).await
}

/// Records a change the system makes for what a person did elsewhere or proved another way:
/// a push through the registry (which their token allowed), signing up, a first sign-in a
/// directory or provider vouched for, a recovery link. They are its actor (`None`: anonymous,
/// recorded as the system).
pub async fn record_as(
    change: &mut Change<'_>,
    actor: Option<&User>,
    action: &str,
    target: Target<'_>,
    details: Value,
) -> AppResult<()> {
    write(change, actor, action, target, details).await
}

async fn write(
    change: &mut Change<'_>,
    actor: Option<&User>,
    action: &str,
    target: Target<'_>,
    details: Value,
) -> AppResult<()> {
    let actor_name = actor.map(|u| u.username.as_str()).unwrap_or("system");
    let effect = effect(action, &target, &details);
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
    .execute(&mut **change)
    .await?;
    // Tell every replica's caches what may have changed (nothing, for most actions).
    if effect != Effect::Nothing {
        sqlx::query!("select pg_notify($1, $2)", cache::CHANNEL, effect.encode()).execute(&mut **change).await?;
        cache::apply(&effect);
    }
    tracing::info!(target: "portcullis::audit", actor = actor_name, action, kind = target.kind, name = target.name);
    Ok(())
}

/// What an action may have changed in the token service's caches: who may do what, through
/// which credential. Narrow where the action says whose access changed, nothing where it
/// cannot change access, everything where it is not known.
fn effect(action: &str, target: &Target<'_>, details: &Value) -> Effect {
    let named = |field: &str| details.get(field).and_then(Value::as_str).map(str::to_string);
    match action {
        // Images, repositories, webhooks, cleanup, group mappings (a sync that follows one
        // is recorded on its own), new tokens (nothing remembers a credential before its
        // first use), teams' own rows (a team with namespaces is never deleted), descriptions,
        // and a reset link asked for (by anyone: it must not flush everyone's credentials).
        // Tag rules and the gate's refusals change no token's grant; read-only mode changes
        // grants, but they are worked out afresh for each token, from the settings.
        _ if [
            "image.",
            "repository.",
            "tag.",
            "webhook.",
            "cleanup.",
            "group_mapping.",
            "tag_rule.",
            "gate.",
            "settings.read_only.",
            "quota.",
        ]
        .iter()
        .any(|p| action.starts_with(p)) =>
        {
            Effect::Nothing
        }
        "token.create"
        | "team.create"
        | "team.update"
        | "team.delete"
        | "namespace.update"
        | "user.password_reset_sent" => Effect::Nothing,
        // A member's role or membership: that member's facts.
        "team.member.add" | "team.member.remove" | "team.member.role" => {
            named("member").map_or(Effect::Everything, Effect::User)
        }
        // A revoked token: its owner's credentials.
        "token.revoke" => named("owner").map_or(Effect::Everything, Effect::User),
        _ if action.starts_with("user.") && target.kind == "user" => Effect::User(target.name.to_string()),
        _ if action.starts_with("namespace.") && target.kind == "namespace" => {
            Effect::Namespace(target.name.to_string())
        }
        _ => Effect::Everything,
    }
}

/// Filters for the activity page and its CSV export. Empty strings mean "any".
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Filter {
    pub actor: String,
    /// A prefix of the action: `team` matches `team.create` and `team.member.add`.
    pub action: String,
    pub target: String,
    pub namespace_id: Option<i64>,
    /// From this time on (the start of a day: see [`Filter::days`]).
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// Before this time (the end of a day).
    pub to: Option<chrono::DateTime<chrono::Utc>>,
}

impl Filter {
    /// Limits it to the days `from` to `to` (each `YYYY-MM-DD`, in UTC, both included; an
    /// empty one is open).
    pub fn days(mut self, from: &str, to: &str) -> AppResult<Self> {
        let day = |field: &'static str, s: &str| -> AppResult<Option<chrono::DateTime<chrono::Utc>>> {
            if s.trim().is_empty() {
                return Ok(None);
            }
            let d = chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                .map_err(|_| crate::error::AppError::invalid(field, "must be a date like 2026-12-07"))?;
            Ok(Some(d.and_time(chrono::NaiveTime::MIN).and_utc()))
        };
        self.from = day("from", from)?;
        self.to = day("to", to)?.map(|t| t + chrono::Duration::days(1));
        Ok(self)
    }
}

/// Whether `username` ever pushed an image that moved a tag (the dashboard's getting-started
/// box stays until they have).
pub async fn has_pushed(db: &PgPool, username: &str) -> AppResult<bool> {
    Ok(sqlx::query_scalar!(
        r#"select exists(select 1 from audit_event where actor_name = $1 and action = 'image.push') as "pushed!""#,
        username
    )
    .fetch_one(db)
    .await?)
}

/// A stretch of the activity log, newest first, and where the next (older) one starts.
pub async fn list(db: &PgPool, f: &Filter, before: Option<i64>, per_page: u32) -> AppResult<Feed<AuditEventView>> {
    let per_page = per_page.clamp(1, 1_000);
    let mut items = entries(db, f, before, i64::from(per_page) + 1).await?;
    let older = items.len() > per_page as usize;
    items.truncate(per_page as usize);
    let next_before = if older { items.last().map(|e| e.id) } else { None };
    Ok(Feed { items, before, next_before })
}

/// The entries matching `f`, newest first, older than entry `before` (if given), at most
/// `limit`. Read by the entry's id (the order they were written in), so that any stretch of a
/// million entries is an index range, not a scan past the ones before it.
async fn entries(
    db: impl sqlx::PgExecutor<'_>,
    f: &Filter,
    before: Option<i64>,
    limit: i64,
) -> AppResult<Vec<AuditEventView>> {
    Ok(sqlx::query_as!(
        AuditEventView,
        r#"select e.audit_event_id as id, e.at as "at: _", e.actor_name as actor, e.action, e.target_kind, e.target_name,
                  n.name as "namespace?", e.details
           from audit_event e left join namespace n on n.namespace_id = e.namespace_id
           where ($1 = '' or e.actor_name = $1) and ($2 = '' or e.action = $2 or e.action like $2 || '.%')
             and ($3 = '' or e.target_name ilike '%' || $3 || '%') and ($4::bigint is null or e.namespace_id = $4)
             and ($5::bigint is null or e.audit_event_id < $5)
             and ($7::timestamptz is null or e.at >= $7) and ($8::timestamptz is null or e.at < $8)
           order by e.audit_event_id desc
           limit $6"#,
        f.actor,
        f.action,
        f.target,
        f.namespace_id,
        before,
        limit,
        // Bound as chrono times (the macro would check them as `time`'s).
        f.from as _,
        f.to as _
    )
    .fetch_all(db)
    .await?)
}

/// Every matching entry, newest first, as CSV (RFC 4180) in chunks of a few thousand
/// entries: a log of millions is sent without being held in memory, all of it from one
/// snapshot (entries written meanwhile are neither repeated nor skipped).
pub fn csv_stream(db: PgPool, f: Filter) -> impl futures_util::Stream<Item = AppResult<String>> + Send {
    const CHUNK: i64 = 5_000;
    enum Step {
        Start,
        More(sqlx::Transaction<'static, sqlx::Postgres>, Option<i64>),
        Done,
    }
    futures_util::stream::try_unfold(Step::Start, move |step| {
        let (db, f) = (db.clone(), f.clone());
        // An error half-way can only cut the answer short (the status is sent): it is logged.
        let logged = |e: crate::error::AppError| {
            tracing::error!(error = %e, "the activity export stopped");
            e
        };
        async move {
            let (mut tx, before) = match step {
                Step::Done => return Ok(None),
                Step::Start => {
                    let mut tx = db.begin().await.map_err(|e| logged(e.into()))?;
                    sqlx::query!("set transaction isolation level repeatable read, read only")
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| logged(e.into()))?;
                    (tx, None)
                }
                Step::More(tx, before) => (tx, before),
            };
            let rows = entries(&mut *tx, &f, before, CHUNK).await.map_err(logged)?;
            let mut text = if before.is_none() { String::from(CSV_HEADER) } else { String::new() };
            text.push_str(&to_csv_rows(&rows));
            let next = match rows.last() {
                Some(last) if rows.len() as i64 == CHUNK => Step::More(tx, Some(last.id)),
                _ => Step::Done,
            };
            Ok(Some((text, next)))
        }
    })
}

const CSV_HEADER: &str = "time,actor,action,target_kind,target,namespace,details\r\n";

/// Renders entries as rows of CSV (RFC 4180), without the header.
fn to_csv_rows(events: &[AuditEventView]) -> String {
    // Quote everything; neutralise spreadsheet formulas.
    fn field(s: &str) -> String {
        if s.starts_with(['=', '+', '-', '@']) {
            format!("'{s}")
        } else {
            s.to_string()
        }
    }
    let mut out = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Always)
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
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
        // Into memory: a write cannot fail.
        let _ = out.write_record(row.iter().map(|f| field(f)));
    }
    out.into_inner().map(|bytes| String::from_utf8_lossy(&bytes).into_owned()).unwrap_or_default()
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
        let csv = to_csv_rows(&[e]);
        let line = csv.lines().next().unwrap();
        assert!(line.contains("\"al\"\"ice\""), "{line}");
        assert!(line.contains("\"'=cmd()\""), "{line}");
        assert!(CSV_HEADER.starts_with("time,actor,action"));
    }
}

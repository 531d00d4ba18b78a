//! Each tag's history: the `tag_event` rows that the store's tag changes write, read for the
//! tag and repository pages, and pruned after their retention. Putting an earlier image back
//! (Quay's "time machine") is [`super::manage::restore_tag`].

use crate::backend::access::principal::Duty;
use crate::backend::AppState;
use crate::error::AppResult;
use crate::model::{TagMove, HISTORY_SHOWN};

fn moves(rows: Vec<Row>) -> Vec<TagMove> {
    rows.into_iter()
        .map(|r| TagMove {
            id: r.id,
            tag: r.tag,
            digest: r.digest,
            previous_digest: r.previous_digest,
            actor: r.actor,
            source: r.source,
            at: r.at,
        })
        .collect()
}

struct Row {
    id: i64,
    tag: String,
    digest: Option<String>,
    previous_digest: Option<String>,
    actor: Option<String>,
    source: String,
    at: chrono::DateTime<chrono::Utc>,
}

/// The moves of one tag, newest first (the caller has checked the repository is visible).
pub async fn of_tag(state: &AppState, repository: &str, tag: &str) -> AppResult<Vec<TagMove>> {
    let rows = sqlx::query_as!(
        Row,
        r#"select tag_event_id as id, tag, digest, previous_digest, actor, source,
                  at as "at: chrono::DateTime<chrono::Utc>"
           from tag_event where repository = $1 and tag = $2 order by tag_event_id desc limit $3"#,
        repository,
        tag,
        HISTORY_SHOWN
    )
    .fetch_all(&state.db)
    .await?;
    Ok(moves(rows))
}

/// The latest moves of a repository's tags, deleted tags included, newest first.
pub async fn of_repository(state: &AppState, repository: &str) -> AppResult<Vec<TagMove>> {
    let rows = sqlx::query_as!(
        Row,
        r#"select tag_event_id as id, tag, digest, previous_digest, actor, source,
                  at as "at: chrono::DateTime<chrono::Utc>"
           from tag_event where repository = $1 order by tag_event_id desc limit $2"#,
        repository,
        HISTORY_SHOWN
    )
    .fetch_all(&state.db)
    .await?;
    Ok(moves(rows))
}

/// Deletes moves older than `days`, a bounded batch at a time. Returns how many.
pub async fn prune(state: &AppState, days: u32) -> AppResult<u64> {
    let mut total = 0;
    loop {
        let n = sqlx::query!(
            "delete from tag_event where tag_event_id in
                 (select tag_event_id from tag_event where at < now() - make_interval(days => $1) limit 5000)",
            days as i32
        )
        .execute(&mut *Duty::Prune.on(&state.db).await?)
        .await?
        .rows_affected();
        total += n;
        if n < 5000 {
            return Ok(total);
        }
    }
}

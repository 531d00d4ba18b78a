//! The REST API v1: the activity log: `/api/v1/admin/activity…` and its CSV export.

use app::backend::AppState;
use axum::extract::State;
use serde::Deserialize;

use super::{ApiAuth, ApiQuery, ApiResult};

#[derive(Deserialize)]
pub struct ActivityQuery {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    target: String,
    /// The first and last day (`YYYY-MM-DD`, UTC).
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// The activity log as CSV (administrators), with the filters of the activity page.
pub async fn activity_csv(
    State(state): State<AppState>,
    ApiAuth(p): ApiAuth,
    ApiQuery(q): ApiQuery<ActivityQuery>,
) -> ApiResult<impl axum::response::IntoResponse> {
    use app::backend::audit;
    p.require_user()?;
    p.require_admin()?;
    let filter = audit::Filter { actor: q.actor, action: q.action, target: q.target, ..Default::default() }
        .days(&q.from, &q.to)?;
    let headers = [
        (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8"),
        (axum::http::header::CONTENT_DISPOSITION, "attachment; filename=\"portcullis-activity.csv\""),
    ];
    Ok((headers, axum::body::Body::from_stream(audit::csv_stream(state.db.clone(), filter))))
}

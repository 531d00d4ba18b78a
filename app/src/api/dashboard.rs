//! The dashboard's one request: the viewer's latest pushes, and the first of their namespaces
//! and teams. One server function answering small rows, not three lists of whole views: the
//! browser decodes only what the page shows, and its wasm carries the code for only that (the
//! dashboard is one of the pages a first visit must load light; see "Front-end weight" in
//! docs/performance.md).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::model::{TeamRole, Visibility};

#[cfg(feature = "ssr")]
use crate::api::form;
#[cfg(feature = "ssr")]
use crate::backend::images::browse;
#[cfg(feature = "ssr")]
use crate::backend::org::{namespaces, teams};

/// How many namespaces and teams the dashboard lists before "All … →".
#[cfg(feature = "ssr")]
const CARD_ROWS: u32 = 8;
/// How many pushes it lists.
#[cfg(feature = "ssr")]
const RECENT_PUSHES: i64 = 10;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DashboardData {
    /// Whether the viewer has pushed an image yet.
    pub pushed: bool,
    /// The latest pushes the viewer may see, newest first.
    pub recent: Vec<RecentPush>,
    /// The viewer's namespaces: name and visibility.
    pub namespaces: Vec<(String, Visibility)>,
    /// The viewer's teams: name and their role there.
    pub teams: Vec<(String, Option<TeamRole>)>,
    /// Whether clients reach the registry over plain HTTP (its address here is `http://` and
    /// the host clients use is that address's): docker and podman then need to be told.
    #[serde(default)]
    pub plain_http: bool,
}

/// A push as the dashboard lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentPush {
    pub repository: String,
    /// The tag's id, for its page.
    pub tag_id: i64,
    pub tag: String,
    pub digest: String,
    pub size: Option<i64>,
    #[serde(deserialize_with = "crate::model::utc::deserialize")]
    pub pushed_at: chrono::DateTime<chrono::Utc>,
    pub pushed_by: Option<String>,
}

#[server(endpoint = "dashboard", output = crate::api::Json)]
pub async fn dashboard() -> Result<DashboardData, AppError> {
    use crate::model::PageRequest;
    let (state, p) = form::principal().await?;
    let rows = PageRequest::new(Some(1), Some(CARD_ROWS));
    let recent = browse::recent_pushes(&state, &p, RECENT_PUSHES).await?;
    let mine = namespaces::mine(&state, &p, rows).await?;
    let teams = teams::list(&state, &p, rows).await?;
    let pushed = crate::backend::audit::has_pushed(&state.db, p.require_user()?.username.as_str()).await?;
    Ok(DashboardData {
        pushed,
        recent: recent
            .into_iter()
            .map(|(repository, t)| RecentPush {
                repository,
                tag_id: t.id,
                tag: t.name,
                digest: t.digest,
                size: t.size,
                pushed_at: t.pushed_at,
                pushed_by: t.pushed_by,
            })
            .collect(),
        namespaces: mine.items.into_iter().map(|n| (n.namespace.name, n.namespace.visibility)).collect(),
        teams: teams.items.into_iter().map(|t| (t.name, t.role)).collect(),
        // Users reach plain HTTP when they type the gate's own address, or the registry's.
        plain_http: state.settings.registry_host == state.settings.gate_listen
            || state
                .settings
                .registry_url
                .strip_prefix("http://")
                .is_some_and(|rest| rest.trim_end_matches('/') == state.settings.registry_host),
    })
}

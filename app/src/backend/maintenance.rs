//! Housekeeping, every few minutes on one replica at a time: the signing key is replaced when
//! it has had its turn, and the tables that grow with use are kept bounded (processed
//! registry events, refresh tokens that ended, old throttle counts, reconcile runs, tag
//! history past its retention, password reset links that ended).

use std::time::Duration;

use super::access::throttle;
use super::images::events;
use super::registry::token_service;
use super::AppState;
use crate::error::AppResult;

/// How often the housekeeping runs.
const EVERY: Duration = Duration::from_secs(5 * 60);

/// What one run removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub events: u64,
    pub refresh_tokens: u64,
    pub throttles: u64,
    pub reconcile_runs: u64,
    pub tag_moves: u64,
    pub webhook_deliveries: u64,
    pub password_resets: u64,
}

/// Runs the housekeeping now and then, supervised.
pub fn spawn(state: AppState) {
    let db = state.db.clone();
    super::jobs::supervise("maintenance", db, move || {
        let state = state.clone();
        async move {
            let mut lock = super::jobs::dedicated_connection(&state.db, "portcullis maintenance").await?;
            while !state.db.is_closed() {
                if let Some(r) = super::jobs::exclusively(&mut lock, "portcullis.maintenance", run(&state)).await? {
                    if r != Report::default() {
                        tracing::info!(?r, "housekeeping removed what had ended");
                    }
                }
                tokio::time::sleep(EVERY).await;
            }
            Ok(())
        }
    });
}

/// One run (the caller holds the maintenance lock, or is a test).
pub async fn run(state: &AppState) -> AppResult<Report> {
    state.keys.renew(&state.db).await?;
    let events = events::prune(state, state.settings.events_retention_days).await?;
    let refresh_tokens = token_service::prune_refresh_tokens(state).await?;
    let throttles = throttle::prune(&state.db).await?;
    let reconcile_runs = super::images::reconcile::prune(state).await?;
    let tag_moves = super::images::history::prune(state, state.settings.tag_history_days).await?;
    let webhook_deliveries = super::webhooks::prune(state, 30).await?;
    let password_resets = super::access::recovery::prune(&state.db).await?;
    Ok(Report { events, refresh_tokens, throttles, reconcile_runs, tag_moves, webhook_deliveries, password_resets })
}

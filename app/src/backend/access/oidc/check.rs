//! The periodic check: every provider's refresh tokens refreshed; one the provider refuses
//! signs its person out everywhere.

use std::time::Duration;

use serde_json::Value;

use crate::backend::access::principal::Duty;
use crate::backend::access::users;
use crate::backend::audit::{self, Target};
use crate::backend::AppState;
use crate::error::AppResult;

use super::accounts::*;

/// What one round of [`check_all`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CheckReport {
    /// People the provider still knows.
    pub known: usize,
    /// People it no longer knows: their tokens and sessions are gone.
    pub signed_out: usize,
    /// People it could not be asked about (it was down).
    pub failed: usize,
}

/// Asks each provider, person by person, whether it still knows them (by their refresh
/// token). Those it refuses lose every access token, docker login and session here.
pub async fn check_all(state: &AppState) -> AppResult<CheckReport> {
    let rows = sqlx::query!(
        r#"select provider, subject, user_id, refresh_token as "refresh_token!" from oidc_identity
           where refresh_token is not null order by checked_at nulls first"#
    )
    .fetch_all(&state.db)
    .await?;
    let mut report = CheckReport::default();
    // A provider that fails once is not asked again this round: with it down, every person
    // would wait out a timeout.
    let mut down: Vec<String> = Vec::new();
    for row in rows {
        let Some(provider) = state.oidc.get(&row.provider) else { continue };
        if down.contains(&row.provider) {
            report.failed += 1;
            continue;
        }
        let Ok(token) = state.keys.crypt().open(&row.refresh_token) else {
            tracing::warn!(provider = %row.provider, "a refresh token cannot be read (was keys_encryption_key changed?)");
            report.failed += 1;
            continue;
        };
        match provider.still_knows(&token).await {
            Ok(Some(refreshed)) => {
                let new = refreshed.refresh_token;
                let sealed = if new == token { row.refresh_token.clone() } else { state.keys.crypt().seal(&new)? };
                sqlx::query!(
                    "update oidc_identity set refresh_token = $3, checked_at = now() where provider = $1 and subject = $2",
                    row.provider,
                    row.subject,
                    sealed
                )
                .execute(&mut *Duty::DirectorySync.on(&state.db).await?)
                .await?;
                // Between sign-ins too, name, email and teams follow what the provider says.
                let claims = refreshed.claims.filter(|c| c.get("sub").and_then(Value::as_str) == Some(&row.subject));
                if let Some(identity) = claims.map(|c| provider.identity(row.subject.clone(), &c, None)) {
                    if let Some(user) = users::find_by_id(&state.db, row.user_id).await?.filter(|u| u.is_enabled) {
                        follow(state, user, &identity).await?;
                    }
                }
                report.known += 1;
            }
            Ok(None) => {
                sign_out_everywhere(state, row.user_id, &row.provider, &row.subject).await?;
                report.signed_out += 1;
            }
            Err(e) => {
                tracing::warn!(provider = %row.provider, error = %e, "could not ask the provider about its people; trying again next time");
                down.push(row.provider.clone());
                report.failed += 1;
            }
        }
    }
    Ok(report)
}

/// The provider no longer knows this person: revokes their access tokens, and bumps their
/// auth epoch (which ends their sessions and docker logins). Their next sign-in through the
/// provider, if it lets them, starts afresh.
async fn sign_out_everywhere(state: &AppState, user_id: i64, provider: &str, subject: &str) -> AppResult<()> {
    let mut tx = Duty::DirectorySync.begin(&state.db).await?;
    sqlx::query!(
        "update oidc_identity set refresh_token = null, checked_at = now() where provider = $1 and subject = $2",
        provider,
        subject
    )
    .execute(&mut *tx)
    .await?;
    let revoked = crate::backend::access::access_tokens::revoke_all(&mut tx, user_id).await?;
    let username = crate::backend::access::users::end_sessions(&mut tx, user_id).await?;
    tracing::info!(%username, %provider, revoked, "the provider no longer knows this person: signed out everywhere");
    audit::record(
        &mut tx,
        "user.signed_out",
        Target::user(&username),
        serde_json::json!({ "provider": provider, "reason": "the provider refused their refresh token", "tokens_revoked": revoked }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Runs [`check_all`] every `every` on one replica at a time (`oidc_check_interval_secs`).
pub fn spawn_periodic(state: AppState, every: Duration) {
    if state.oidc.0.is_empty() || every.is_zero() {
        return;
    }
    crate::backend::jobs::periodically(
        "identity provider check",
        "portcullis.oidc_check",
        state,
        every,
        |state| async move {
            let r = check_all(&state).await?;
            if r.signed_out > 0 || r.failed > 0 {
                tracing::info!(?r, "checked the identity providers' people");
            }
            Ok(())
        },
    );
}

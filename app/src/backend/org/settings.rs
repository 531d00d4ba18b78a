//! The site's access settings (the `access_setting` table): written from the configuration at
//! the first start, then changed by administrators; cached a few seconds for the hot paths.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use sqlx::PgPool;

use crate::backend::access::principal::Allowed;
use crate::backend::access::principal::Duty;
use crate::backend::access::principal::Principal;
use crate::backend::AppState;
use crate::error::{AppError, AppResult};
use crate::policy::AccessSettings;

/// The site's access settings: kept in PostgreSQL (editable by administrators, shared by
/// replicas) and cached here for a few seconds so that hot paths do not query them.
#[derive(Clone)]
pub struct AccessSettingsStore {
    inner: Arc<RwLock<(AccessSettings, Instant)>>,
}

const SETTINGS_TTL: Duration = Duration::from_secs(5);

impl AccessSettingsStore {
    pub fn new(initial: AccessSettings) -> Self {
        Self { inner: Arc::new(RwLock::new((initial, Instant::now()))) }
    }

    /// Writes `defaults` unless settings were stored already, then loads what is stored.
    pub async fn init(db: &PgPool, defaults: AccessSettings) -> AppResult<Self> {
        sqlx::query!(
            "insert into access_setting (push_policy, delete_enabled, contributors_may_delete,
                 users_may_create_teams, users_may_create_namespaces, users_may_change_visibility)
             values ($1, $2, $3, $4, $5, $6) on conflict do nothing",
            defaults.push_policy.as_str(),
            defaults.delete_enabled,
            defaults.contributors_may_delete,
            defaults.users_may_create_teams,
            defaults.users_may_create_namespaces,
            defaults.users_may_change_visibility
        )
        .execute(&mut *Duty::Setup.on(db).await?)
        .await?;
        Ok(Self::new(load(db).await?))
    }

    /// The current settings (reloaded from PostgreSQL when the cached copy is old).
    pub async fn get(&self, db: &PgPool) -> AccessSettings {
        let (cached, at) = *self.inner.read().expect("settings lock");
        if at.elapsed() < SETTINGS_TTL {
            return cached;
        }
        match load(db).await {
            Ok(fresh) => {
                *self.inner.write().expect("settings lock") = (fresh, Instant::now());
                fresh
            }
            Err(_) => cached,
        }
    }

    /// Stores new settings and, when they changed, records who changed what, in one
    /// transaction. Returns the previous settings.
    pub async fn set(&self, db: &PgPool, s: AccessSettings, by: Allowed<'_>) -> AppResult<AccessSettings> {
        let mut tx = by.begin(db).await?;
        // The row lock orders two administrators saving at once.
        sqlx::query!("select 1 as one from access_setting for update").fetch_one(&mut *tx).await?;
        let before = load(&mut *tx).await?;
        sqlx::query!(
            "update access_setting set push_policy = $1, delete_enabled = $2, contributors_may_delete = $3,
                 users_may_create_teams = $4, users_may_create_namespaces = $5,
                 users_may_change_visibility = $6, updated_at = now()",
            s.push_policy.as_str(),
            s.delete_enabled,
            s.contributors_may_delete,
            s.users_may_create_teams,
            s.users_may_create_namespaces,
            s.users_may_change_visibility
        )
        .execute(&mut *tx)
        .await?;
        if before != s {
            let details = serde_json::json!({ "from": before, "to": s });
            crate::backend::audit::record(
                &mut tx,
                "settings.update",
                crate::backend::audit::Target::settings(),
                details,
            )
            .await?;
        }
        tx.commit().await?;
        *self.inner.write().expect("settings lock") = (s, Instant::now());
        Ok(before)
    }
}

async fn load<'e>(db: impl sqlx::PgExecutor<'e>) -> AppResult<AccessSettings> {
    let r = sqlx::query!("select * from access_setting").fetch_one(db).await?;
    Ok(AccessSettings {
        push_policy: r.push_policy.parse().map_err(|e: String| {
            tracing::error!(error = %e, "bad push policy stored");
            AppError::Internal
        })?,
        delete_enabled: r.delete_enabled,
        contributors_may_delete: r.contributors_may_delete,
        users_may_create_teams: r.users_may_create_teams,
        users_may_create_namespaces: r.users_may_create_namespaces,
        users_may_change_visibility: r.users_may_change_visibility,
    })
}

pub async fn get_settings(state: &AppState, p: &Principal) -> AppResult<AccessSettings> {
    p.require_user()?;
    Ok(state.access_settings.get(&state.db).await)
}

pub async fn update_settings(state: &AppState, p: &Principal, s: AccessSettings) -> AppResult<AccessSettings> {
    let allowed = p.allowed(crate::policy::can_administer)?;
    state.access_settings.set(&state.db, s, allowed).await?;
    Ok(s)
}

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
use crate::model::ReadOnlyMode;
use crate::policy::AccessSettings;

/// The site's access settings: kept in PostgreSQL (editable by administrators, shared by
/// replicas) and cached here for a few seconds so that hot paths do not query them.
#[derive(Clone)]
pub struct AccessSettingsStore {
    inner: Arc<RwLock<Snapshot>>,
}

#[derive(Clone)]
struct Snapshot {
    settings: AccessSettings,
    read_only_message: Arc<str>,
    /// The default storage quota administrators set (`None`: the configuration's applies).
    default_quota: Option<i64>,
    at: Instant,
}

/// What the `access_setting` row holds.
struct Stored {
    settings: AccessSettings,
    read_only_message: Arc<str>,
    default_quota: Option<i64>,
}

const SETTINGS_TTL: Duration = Duration::from_secs(5);

impl AccessSettingsStore {
    pub fn new(initial: AccessSettings) -> Self {
        Self::at(Stored { settings: initial, read_only_message: "".into(), default_quota: None })
    }

    fn at(s: Stored) -> Self {
        Self { inner: Arc::new(RwLock::new(Snapshot::of(s))) }
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
        Ok(Self::at(load(db).await?))
    }

    /// The current settings (reloaded from PostgreSQL when the cached copy is old).
    pub async fn get(&self, db: &PgPool) -> AccessSettings {
        self.snapshot(db).await.settings
    }

    /// Read-only mode, as now (within a few seconds of its switch on another replica).
    pub async fn read_only(&self, db: &PgPool) -> ReadOnlyMode {
        let s = self.snapshot(db).await;
        ReadOnlyMode { enabled: s.settings.read_only, message: s.read_only_message.to_string() }
    }

    /// The default storage quota administrators set, as stored: `None` when they have not
    /// (the configuration's applies), `Some(0)` for none.
    pub async fn default_quota(&self, db: &PgPool) -> Option<i64> {
        self.snapshot(db).await.default_quota
    }

    async fn snapshot(&self, db: &PgPool) -> Snapshot {
        let cached = self.inner.read().expect("settings lock").clone();
        if cached.at.elapsed() < SETTINGS_TTL {
            return cached;
        }
        match load(db).await {
            Ok(stored) => {
                let fresh = Snapshot::of(stored);
                *self.inner.write().expect("settings lock") = fresh.clone();
                fresh
            }
            Err(_) => cached,
        }
    }

    /// Sets the site's default storage quota (`None`: back to the configuration's), and
    /// records who did, in one transaction.
    pub async fn set_default_quota(&self, db: &PgPool, limit: Option<i64>, by: Allowed<'_>) -> AppResult<()> {
        if limit.is_some_and(|l| l < 0) {
            return Err(AppError::invalid("limit_bytes", "a number of bytes, 0 (no default quota) or more"));
        }
        let mut tx = by.begin(db).await?;
        sqlx::query!("select 1 as one from access_setting for update").fetch_one(&mut *tx).await?;
        let before = load(&mut *tx).await?;
        sqlx::query!("update access_setting set default_quota_bytes = $1, updated_at = now()", limit)
            .execute(&mut *tx)
            .await?;
        if before.default_quota != limit {
            let details = serde_json::json!({ "from": before.default_quota, "to": limit });
            crate::backend::audit::record(
                &mut tx,
                "quota.default.set",
                crate::backend::audit::Target::settings(),
                details,
            )
            .await?;
        }
        tx.commit().await?;
        *self.inner.write().expect("settings lock") = Snapshot::of(Stored { default_quota: limit, ..before });
        Ok(())
    }

    /// Switches read-only mode on or off (with its message), and records who did, in one
    /// transaction.
    pub async fn set_read_only(&self, db: &PgPool, mode: &ReadOnlyMode, by: Allowed<'_>) -> AppResult<()> {
        let message = mode.message.trim();
        if message.chars().count() > 500 {
            return Err(AppError::invalid("message", "must be at most 500 characters"));
        }
        if message.chars().any(char::is_control) {
            return Err(AppError::invalid("message", "one line of text, without control characters"));
        }
        let mut tx = by.begin(db).await?;
        sqlx::query!("select 1 as one from access_setting for update").fetch_one(&mut *tx).await?;
        let stored = load(&mut *tx).await?;
        let (before, before_message) = (stored.settings, stored.read_only_message.clone());
        sqlx::query!(
            "update access_setting set read_only = $1, read_only_message = $2, updated_at = now()",
            mode.enabled,
            message
        )
        .execute(&mut *tx)
        .await?;
        if before.read_only != mode.enabled || &*before_message != message {
            let action = if mode.enabled { "settings.read_only.on" } else { "settings.read_only.off" };
            let details = serde_json::json!({ "message": message });
            crate::backend::audit::record(&mut tx, action, crate::backend::audit::Target::settings(), details).await?;
        }
        tx.commit().await?;
        let settings = AccessSettings { read_only: mode.enabled, ..before };
        *self.inner.write().expect("settings lock") =
            Snapshot::of(Stored { settings, read_only_message: message.into(), ..stored });
        Ok(())
    }

    /// Stores new settings and, when they changed, records who changed what, in one
    /// transaction. Returns the previous settings.
    pub async fn set(&self, db: &PgPool, s: AccessSettings, by: Allowed<'_>) -> AppResult<AccessSettings> {
        let mut tx = by.begin(db).await?;
        // The row lock orders two administrators saving at once.
        sqlx::query!("select 1 as one from access_setting for update").fetch_one(&mut *tx).await?;
        let stored = load(&mut *tx).await?;
        let before = stored.settings;
        // Read-only mode is switched on its own (`set_read_only`), never by this form.
        let s = AccessSettings { read_only: before.read_only, ..s };
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
        *self.inner.write().expect("settings lock") = Snapshot::of(Stored { settings: s, ..stored });
        Ok(before)
    }
}

impl Snapshot {
    fn of(s: Stored) -> Self {
        Snapshot {
            settings: s.settings,
            read_only_message: s.read_only_message,
            default_quota: s.default_quota,
            at: Instant::now(),
        }
    }
}

async fn load<'e>(db: impl sqlx::PgExecutor<'e>) -> AppResult<Stored> {
    let r = sqlx::query!("select * from access_setting").fetch_one(db).await?;
    let settings = AccessSettings {
        push_policy: r.push_policy.parse().map_err(|e: String| {
            tracing::error!(error = %e, "bad push policy stored");
            AppError::Internal
        })?,
        delete_enabled: r.delete_enabled,
        contributors_may_delete: r.contributors_may_delete,
        users_may_create_teams: r.users_may_create_teams,
        users_may_create_namespaces: r.users_may_create_namespaces,
        users_may_change_visibility: r.users_may_change_visibility,
        read_only: r.read_only,
    };
    Ok(Stored { settings, read_only_message: r.read_only_message.into(), default_quota: r.default_quota_bytes })
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

/// Read-only mode as it is (anyone: every page's banner shows it).
pub async fn read_only(state: &AppState) -> ReadOnlyMode {
    state.access_settings.read_only(&state.db).await
}

/// The site's default storage quota as it applies, and where it comes from.
pub async fn default_quota(state: &AppState) -> crate::model::DefaultQuota {
    let (limit_bytes, from) = match state.access_settings.default_quota(&state.db).await {
        Some(0) => (None, "administrators"),
        Some(n) => (Some(n), "administrators"),
        None => (state.settings.default_quota_bytes, "configuration"),
    };
    crate::model::DefaultQuota { limit_bytes, from: from.into() }
}

/// Sets the site's default storage quota (administrators): bytes, `Some(0)` for none, `None`
/// for the configuration's.
pub async fn set_default_quota(
    state: &AppState,
    p: &Principal,
    limit: Option<i64>,
) -> AppResult<crate::model::DefaultQuota> {
    let allowed = p.allowed(crate::policy::can_administer)?;
    state.access_settings.set_default_quota(&state.db, limit, allowed).await?;
    Ok(default_quota(state).await)
}

/// Switches read-only mode (administrators).
pub async fn set_read_only(state: &AppState, p: &Principal, mode: ReadOnlyMode) -> AppResult<ReadOnlyMode> {
    let allowed = p.allowed(crate::policy::can_administer)?;
    state.access_settings.set_read_only(&state.db, &mode, allowed).await?;
    Ok(state.access_settings.read_only(&state.db).await)
}

//! The schema and what Portcullis keeps for itself: the embedded migrations, their status, and
//! the secrets it generates once for every replica. Owns the `app_secret` table.

use crate::backend::access::principal::Duty;
use sqlx::PgPool;

/// The schema migrations embedded in the binary.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Applies the schema migrations embedded in the binary.
pub async fn migrate(db: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(db).await
}

/// How the database's schema compares with this binary's migrations.
#[derive(Debug, Clone, Default)]
pub struct MigrationStatus {
    /// This binary's migrations the database has.
    pub applied: usize,
    /// This binary's migrations the database lacks ("0007 webhooks").
    pub missing: Vec<String>,
    /// Migrations the database has that this binary does not know (a newer version ran).
    pub unknown: usize,
}

/// Compares the database's applied migrations with this binary's, changing nothing.
pub async fn migration_status(db: &PgPool) -> Result<MigrationStatus, sqlx::Error> {
    let exists: bool = sqlx::query_scalar("select to_regclass('_sqlx_migrations') is not null").fetch_one(db).await?;
    let done: Vec<i64> = if exists {
        sqlx::query_scalar("select version from _sqlx_migrations where success").fetch_all(db).await?
    } else {
        Vec::new()
    };
    let ours: Vec<_> = MIGRATOR.iter().filter(|m| !m.migration_type.is_down_migration()).collect();
    let mut status = MigrationStatus::default();
    for m in &ours {
        if done.contains(&m.version) {
            status.applied += 1;
        } else {
            status.missing.push(format!("{:04} {}", m.version, m.description));
        }
    }
    status.unknown = done.iter().filter(|v| !ours.iter().any(|m| m.version == **v)).count();
    Ok(status)
}

/// A secret Portcullis generates for itself once and keeps in the database (shared by replicas).
pub async fn secret(db: &PgPool, name: &str) -> Result<String, crate::error::AppError> {
    use rand::RngCore as _;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let fresh = hex::encode(bytes);
    Ok(sqlx::query_scalar!(
        "with ins as (insert into app_secret (name, value) values ($1, $2) on conflict (name) do nothing returning value)
         select value as \"value!\" from ins union all select value from app_secret where name = $1 limit 1",
        name,
        fresh
    )
    .fetch_one(&mut *Duty::Setup.on(db).await?)
    .await?)
}

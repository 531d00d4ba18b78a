//! The `user` table.

use sqlx::PgPool;

use crate::error::{AppError, AppResult};
use crate::model::CurrentUser;

/// A user row as the backend needs it. Not `Serialize`: it carries the password hash.
#[derive(Clone)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub password_hash: Option<String>,
    pub is_admin: bool,
    pub is_enabled: bool,
    pub is_bot: bool,
    pub auth_epoch: i32,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("is_admin", &self.is_admin)
            .field("is_enabled", &self.is_enabled)
            .field("is_bot", &self.is_bot)
            .field("password_hash", &self.password_hash.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

impl User {
    pub fn to_current(&self) -> CurrentUser {
        CurrentUser {
            id: self.id,
            username: self.username.clone(),
            display_name: self.display_name.clone(),
            is_admin: self.is_admin,
        }
    }
}

pub struct NewUser<'a> {
    pub username: &'a str,
    pub password_hash: Option<&'a str>,
    pub is_admin: bool,
    pub is_bot: bool,
}

pub async fn find_by_username(db: &PgPool, username: &str) -> AppResult<Option<User>> {
    Ok(sqlx::query_as!(
        User,
        r#"select user_id as id, username, display_name, email, password_hash, is_admin, is_enabled,
                  is_bot, auth_epoch
           from "user" where username = $1"#,
        username
    )
    .fetch_optional(db)
    .await?)
}

pub async fn find_by_id(db: &PgPool, id: i64) -> AppResult<Option<User>> {
    Ok(sqlx::query_as!(
        User,
        r#"select user_id as id, username, display_name, email, password_hash, is_admin, is_enabled,
                  is_bot, auth_epoch
           from "user" where user_id = $1"#,
        id
    )
    .fetch_optional(db)
    .await?)
}

/// Inserts a user. With `first_user_admin`, the first account ever created becomes an
/// administrator; an advisory lock makes two simultaneous first sign-ups agree on who that is.
pub async fn insert(db: &PgPool, new: NewUser<'_>, first_user_admin: bool) -> AppResult<User> {
    let mut tx = db.begin().await?;
    sqlx::query!("select pg_advisory_xact_lock(hashtext('portcullis.user.insert'))").execute(&mut *tx).await?;
    let is_first =
        !sqlx::query_scalar!(r#"select exists(select 1 from "user") as "exists!""#).fetch_one(&mut *tx).await?;
    let is_admin = new.is_admin || (first_user_admin && is_first);
    let user = sqlx::query_as!(
        User,
        r#"insert into "user" (username, password_hash, is_admin, is_bot)
           values ($1, $2, $3, $4)
           returning user_id as id, username, display_name, email, password_hash, is_admin,
                     is_enabled, is_bot, auth_epoch"#,
        new.username,
        new.password_hash,
        is_admin,
        new.is_bot
    )
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(d) if d.constraint() == Some("user_username_key") => {
            AppError::invalid("username", "is already taken")
        }
        _ => e.into(),
    })?;
    tx.commit().await?;
    Ok(user)
}

/// Whether any account exists yet.
pub async fn any_exist(db: &PgPool) -> AppResult<bool> {
    Ok(sqlx::query_scalar!(r#"select exists(select 1 from "user") as "exists!""#).fetch_one(db).await?)
}

/// Replaces the password hash and bumps the auth epoch, which voids every other session.
/// Returns the new epoch.
pub async fn update_password(db: &PgPool, id: i64, password_hash: &str) -> AppResult<i32> {
    Ok(sqlx::query_scalar!(
        r#"update "user" set password_hash = $2, auth_epoch = auth_epoch + 1
           where user_id = $1 returning auth_epoch"#,
        id,
        password_hash
    )
    .fetch_one(db)
    .await?)
}

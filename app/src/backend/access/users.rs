//! The `user` table.

use sqlx::{PgConnection, PgPool};

use crate::backend::access::principal::{Allowed, Change, Duty, User};
use crate::backend::audit;
use crate::error::{AppError, AppResult, OnConstraint as _};

const EMAIL_TAKEN: &str = "is already used by another account";
use crate::model::{CurrentUser, Page, PageRequest, UserView};

impl User {
    pub fn to_current(&self) -> CurrentUser {
        CurrentUser {
            id: self.id,
            username: self.username.clone(),
            display_name: self.display_name.clone(),
            email: self.email.clone(),
            is_admin: self.is_admin,
        }
    }
}

#[derive(Default)]
pub struct NewUser<'a> {
    pub username: &'a str,
    pub password_hash: Option<&'a str>,
    pub is_admin: bool,
    pub is_bot: bool,
    pub display_name: Option<&'a str>,
    pub email: Option<&'a str>,
    /// `ldap` for a directory person's account; local otherwise.
    pub source: Option<&'a str>,
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

/// Inserts a user with their personal team and namespace (named after them, private).
/// With `first_user_admin`, the first account ever created becomes an administrator; an
/// advisory lock makes two simultaneous first sign-ups agree on who that is.
pub async fn insert(db: &PgPool, new: NewUser<'_>, first_user_admin: bool, origin: Origin<'_>) -> AppResult<User> {
    let mut tx = match origin {
        Origin::Admin(allowed) => allowed.begin(db).await?,
        Origin::System | Origin::Bootstrap => Duty::Setup.begin(db).await?,
        Origin::SignUp | Origin::Directory => Duty::SignIn.begin(db).await?,
    };
    sqlx::query!("select pg_advisory_xact_lock(hashtext('portcullis.user.insert'))").execute(&mut *tx).await?;
    let is_first =
        !sqlx::query_scalar!(r#"select exists(select 1 from "user") as "exists!""#).fetch_one(&mut *tx).await?;
    if matches!(origin, Origin::Bootstrap) && !is_first {
        // Checked under the lock: of two simultaneous bootstraps, one wins.
        return Err(AppError::forbidden("Portcullis already has users; bootstrap is only for the first one."));
    }
    let is_admin = new.is_admin || (first_user_admin && is_first);
    let taken = [
        ("user_username_key", AppError::invalid("username", "is already taken")),
        ("namespace_name_key", AppError::invalid("username", "is already taken")),
        ("user_email_key", AppError::invalid("email", EMAIL_TAKEN)),
    ];
    let user = sqlx::query_as!(
        User,
        r#"insert into "user" (username, password_hash, is_admin, is_bot, display_name, email, source)
           values ($1, $2, $3, $4, $5, $6, coalesce($7, 'local'))
           returning user_id as id, username, display_name, email, password_hash, is_admin,
                     is_enabled, is_bot, auth_epoch"#,
        new.username,
        new.password_hash,
        is_admin,
        new.is_bot,
        new.display_name.unwrap_or(""),
        new.email.filter(|e| !e.is_empty()),
        new.source
    )
    .fetch_one(&mut *tx)
    .await
    .on_constraint(&taken)?;
    crate::backend::org::shared::create_personal(&mut tx, user.id, &user.username).await.on_constraint(&taken)?;
    let details =
        serde_json::json!({ "admin": user.is_admin, "bot": user.is_bot, "source": new.source.unwrap_or("local") });
    let target = audit::Target::user(&user.username);
    match origin {
        Origin::SignUp => audit::record_as(&mut tx, Some(&user), "user.signup", target, details).await?,
        Origin::Directory => audit::record_as(&mut tx, Some(&user), "user.create", target, details).await?,
        Origin::Admin(_) | Origin::System | Origin::Bootstrap => {
            audit::record(&mut tx, "user.create", target, details).await?
        }
    }
    tx.commit().await?;
    Ok(user)
}

/// Who creates an account, for the activity log.
#[derive(Clone, Copy)]
pub enum Origin<'a> {
    /// The user signed up themself.
    SignUp,
    /// An administrator created it.
    Admin(Allowed<'a>),
    /// The command line.
    System,
    /// The API's bootstrap: refused unless it is the very first account.
    Bootstrap,
    /// The directory or an identity provider vouched for the person at their first sign-in.
    Directory,
}

/// Where account `id` comes from: `local` (made here) or `ldap` (the directory).
pub async fn source_of(db: &PgPool, id: i64) -> AppResult<Option<String>> {
    Ok(sqlx::query_scalar!(r#"select source from "user" where user_id = $1"#, id).fetch_optional(db).await?)
}

/// The account of a person the directory has just vouched for: made at their first sign-in
/// (with a personal namespace, like every account), its name and email brought up to date at
/// every one after. `None` when the name is a local account's: a directory person never takes
/// one over. An email address another account has is left out rather than failing the sign-in.
pub async fn from_directory(
    db: &PgPool,
    username: &str,
    display_name: &str,
    email: Option<&str>,
) -> AppResult<Option<User>> {
    if let Some(existing) = find_by_username(db, username).await? {
        if source_of(db, existing.id).await?.as_deref() != Some("ldap") {
            tracing::warn!(%username, "a directory person has the name of a local account; refused");
            return Ok(None);
        }
        follow_profile(db, &existing, display_name, email).await?;
        return find_by_id(db, existing.id).await;
    }
    Ok(Some(insert_vouched(db, username, display_name, email, "ldap").await?))
}

/// Makes the account of someone another system vouches for (`source`: the directory, an
/// identity provider), with no password here. An email address another account has is left
/// out rather than refusing the person.
pub async fn insert_vouched(
    db: &PgPool,
    username: &str,
    display_name: &str,
    email: Option<&str>,
    source: &str,
) -> AppResult<User> {
    let new = |email| NewUser {
        username,
        display_name: Some(display_name),
        email,
        source: Some(source),
        ..Default::default()
    };
    match insert(db, new(email), false, Origin::Directory).await {
        Err(AppError::Invalid { field, .. }) if field == "email" => {
            tracing::warn!(%username, %source, "the email address it gives is another account's; left out");
            insert(db, new(None), false, Origin::Directory).await
        }
        other => other,
    }
}

/// Brings `user`'s name and email to what the system that vouches for them says; an email
/// address another account has is not taken (the old one stays).
pub async fn follow_profile(db: &PgPool, user: &User, display_name: &str, email: Option<&str>) -> AppResult<()> {
    if user.display_name == display_name && user.email.as_deref() == email {
        return Ok(());
    }
    let mut conn = Duty::SignIn.on(db).await?;
    if let Err(AppError::Invalid { .. }) = update_profile(&mut conn, user.id, display_name, email).await {
        tracing::warn!(username = %user.username, "the email address given is another account's; kept the old one");
        update_profile(&mut conn, user.id, display_name, user.email.as_deref()).await?;
    }
    Ok(())
}

/// Whether any account exists yet.
pub async fn any_exist(db: &PgPool) -> AppResult<bool> {
    Ok(sqlx::query_scalar!(r#"select exists(select 1 from "user") as "exists!""#).fetch_one(db).await?)
}

/// Replaces the password hash and bumps the auth epoch, which voids every other session.
/// Returns the new epoch.
pub async fn update_password(db: &PgPool, allowed: Allowed<'_>, password_hash: &str) -> AppResult<i32> {
    let user = allowed.user();
    let mut tx = allowed.begin(db).await?;
    let epoch = replace_password(&mut tx, user.id, password_hash).await?;
    audit::record(&mut tx, "user.password", audit::Target::user(&user.username), serde_json::json!({})).await?;
    tx.commit().await?;
    Ok(epoch)
}

/// Sets user `id`'s password hash and bumps their auth epoch, which voids their sessions,
/// refresh tokens and reset links. Returns the new epoch.
pub async fn replace_password(conn: &mut Change<'_>, id: i64, password_hash: &str) -> AppResult<i32> {
    sqlx::query_scalar!(
        r#"update "user" set password_hash = $2, auth_epoch = auth_epoch + 1, updated_at = now()
           where user_id = $1 and source = 'local' returning auth_epoch"#,
        id,
        password_hash
    )
    .fetch_optional(&mut **conn)
    .await?
    // Never a password here for an account another system vouches for: it would outlive the
    // directory or provider dropping the person.
    .ok_or_else(|| AppError::Conflict(VOUCHED_PASSWORD.into()))
}

/// Why an account of the directory or of a provider gets no password here.
pub const VOUCHED_PASSWORD: &str =
    "This account signs in through the directory (LDAP) or an identity provider, which keeps its password.";

/// A page of users by name; `q` (when not empty) keeps those whose name, display name or
/// email contains it.
pub async fn list(db: &PgPool, q: &str, req: PageRequest) -> AppResult<Page<UserView>> {
    let total = sqlx::query_scalar!(
        r#"select count(*) as "n!" from "user"
           where $1 = '' or username ilike '%' || $1 || '%' or display_name ilike '%' || $1 || '%' or email ilike '%' || $1 || '%'"#,
        q
    )
    .fetch_one(db)
    .await?;
    let items = sqlx::query_as!(
        UserView,
        r#"select user_id as id, username, display_name, email, is_admin, is_enabled, is_bot, source, created_at as "created_at: _",
                  last_sign_in_at as "last_sign_in_at: _"
           from "user"
           where $1 = '' or username ilike '%' || $1 || '%' or display_name ilike '%' || $1 || '%' or email ilike '%' || $1 || '%'
           order by username limit $2 offset $3"#,
        q,
        req.limit(),
        req.offset()
    )
    .fetch_all(db)
    .await?;
    Ok(req.of(items, total))
}

/// Records that user `id` signed in to the web interface just now.
pub async fn signed_in(c: &mut Change<'_>, id: i64) -> AppResult<()> {
    sqlx::query!(r#"update "user" set last_sign_in_at = now() where user_id = $1"#, id).execute(&mut **c).await?;
    Ok(())
}

pub async fn view(db: &PgPool, id: i64) -> AppResult<Option<UserView>> {
    Ok(sqlx::query_as!(
        UserView,
        r#"select user_id as id, username, display_name, email, is_admin, is_enabled, is_bot, source, created_at as "created_at: _",
                  last_sign_in_at as "last_sign_in_at: _"
           from "user" where user_id = $1"#,
        id
    )
    .fetch_optional(db)
    .await?)
}

/// Enables or disables a user. Disabling bumps the auth epoch, ending their sessions.
pub async fn set_enabled(conn: &mut Change<'_>, id: i64, enabled: bool) -> AppResult<()> {
    sqlx::query!(
        r#"update "user" set is_enabled = $2, auth_epoch = auth_epoch + case when $2 then 0 else 1 end
           where user_id = $1"#,
        id,
        enabled
    )
    .execute(&mut **conn)
    .await?;
    Ok(())
}

/// Ends every session and docker refresh token of user `id` (bumps the auth epoch); returns
/// their username.
pub async fn end_sessions(conn: &mut Change<'_>, id: i64) -> AppResult<String> {
    Ok(sqlx::query_scalar!(
        r#"update "user" set auth_epoch = auth_epoch + 1 where user_id = $1 returning username"#,
        id
    )
    .fetch_one(&mut **conn)
    .await?)
}

/// Makes user `id` an administrator or not; `synced` when a directory group decides it (a
/// sync then takes back only what a sync gave, never what an administrator did by hand).
pub async fn set_admin(conn: &mut Change<'_>, id: i64, admin: bool, synced: bool) -> AppResult<()> {
    sqlx::query!(r#"update "user" set is_admin = $2, admin_synced = $2 and $3 where user_id = $1"#, id, admin, synced)
        .execute(&mut **conn)
        .await?;
    Ok(())
}

pub async fn update_profile(conn: &mut Change<'_>, id: i64, display_name: &str, email: Option<&str>) -> AppResult<()> {
    sqlx::query!(r#"update "user" set display_name = $2, email = $3 where user_id = $1"#, id, display_name, email)
        .execute(&mut **conn)
        .await
        .on_constraint(&[("user_email_key", AppError::invalid("email", EMAIL_TAKEN))])?;
    Ok(())
}

/// How many enabled administrators there are besides `id`: the last one may not be removed.
/// Every administrator's row is locked until the transaction ends, so two requests that
/// each remove a different one of the last two are decided one after the other.
pub async fn other_enabled_admins(conn: &mut PgConnection, id: i64) -> AppResult<i64> {
    let admins =
        sqlx::query_scalar!(r#"select user_id from "user" where is_admin and is_enabled order by user_id for update"#)
            .fetch_all(conn)
            .await?;
    Ok(admins.iter().filter(|a| **a != id).count() as i64)
}

/// Deletes a user with their personal team and namespace (the caller checked that it holds no
/// images).
pub async fn delete(conn: &mut Change<'_>, id: i64) -> AppResult<()> {
    crate::backend::org::shared::delete_personal(&mut *conn, id).await?;
    sqlx::query!(r#"delete from "user" where user_id = $1"#, id).execute(&mut **conn).await?;
    Ok(())
}

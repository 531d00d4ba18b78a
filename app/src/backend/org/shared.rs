//! The directory's rows as the other rooms need them: a new user's personal team and
//! namespace, their removal, the namespace a push or reconcile names, and the memberships a
//! group sync (`access::groups`) gives and takes. Depends on nothing
//! above it (only `audit`), so `access::users` and `images::store` can call it while
//! `namespaces` and `teams` call them.

use serde_json::json;
use sqlx::PgConnection;

use crate::backend::access::principal::Change;
use crate::backend::audit;
use crate::error::AppResult;
use crate::model::TeamRole;

/// Creates a user's personal team (they own it) and private namespace, both named after them.
/// A name clash is left as the database's unique violation, for the caller's `on_constraint`.
pub async fn create_personal(conn: &mut Change<'_>, user_id: i64, username: &str) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "with t as (insert into team (name, personal_user_id) values ($1, $2) returning team_id),
              m as (insert into team_member (team_id, user_id, role) select team_id, $2, 'owner' from t)
         insert into namespace (name, team_id) select $1, team_id from t",
        username,
        user_id
    )
    .execute(&mut **conn)
    .await?;
    Ok(())
}

/// Deletes a user's personal namespace (their personal team goes with the user).
pub async fn delete_personal(conn: &mut Change<'_>, user_id: i64) -> AppResult<()> {
    sqlx::query!(
        "delete from namespace where team_id in (select team_id from team where personal_user_id = $1)",
        user_id
    )
    .execute(&mut **conn)
    .await?;
    Ok(())
}

/// The id of the namespace named `name`.
pub async fn namespace_id(conn: &mut PgConnection, name: &str) -> AppResult<Option<i64>> {
    Ok(sqlx::query_scalar!("select namespace_id from namespace where name = $1", name).fetch_optional(conn).await?)
}

/// Creates the namespace `name` for images that arrived in it (private, in an administrator's
/// personal team): `pusher`'s when given and an enabled administrator, otherwise (`None`) the
/// first enabled administrator's. `None` when there is no such administrator.
pub async fn create_implicit_namespace(
    conn: &mut Change<'_>,
    name: &str,
    pusher: Option<&str>,
) -> AppResult<Option<i64>> {
    let team = sqlx::query_scalar!(
        r#"select t.team_id from team t join "user" u on u.user_id = t.personal_user_id
           where u.is_admin and u.is_enabled and ($1::text is null or u.username = $1)
           order by u.user_id limit 1"#,
        pusher
    )
    .fetch_optional(&mut **conn)
    .await?;
    let Some(team) = team else { return Ok(None) };
    let id = sqlx::query_scalar!(
        "insert into namespace (name, team_id, description) values ($1, $2, 'Created by a push to a namespace that did not exist.')
         on conflict (name) do update set name = excluded.name returning namespace_id",
        name,
        team
    )
    .fetch_one(&mut **conn)
    .await?;
    audit::record(
        conn,
        "namespace.create",
        audit::Target::namespace(name, id),
        json!({ "implicit": true, "pusher": pusher }),
    )
    .await?;
    Ok(Some(id))
}

/// Adds user `user_id` to team `team_id` as `role`, marked as given by a group sync (which may
/// take it back). Returns the team's name.
pub async fn add_synced_member(conn: &mut Change<'_>, team_id: i64, user_id: i64, role: TeamRole) -> AppResult<String> {
    Ok(sqlx::query_scalar!(
        "insert into team_member (team_id, user_id, role, synced) values ($1, $2, $3, true)
         returning (select name from team where team_id = $1)",
        team_id,
        user_id,
        role as TeamRole
    )
    .fetch_one(&mut **conn)
    .await?
    .unwrap_or_default())
}

/// Changes a synced membership to `role`, or (`None`) ends it.
pub async fn set_synced_role(
    conn: &mut Change<'_>,
    team_id: i64,
    user_id: i64,
    role: Option<TeamRole>,
) -> AppResult<()> {
    match role {
        Some(role) => {
            sqlx::query!(
                "update team_member set role = $3 where team_id = $1 and user_id = $2",
                team_id,
                user_id,
                role as TeamRole
            )
            .execute(&mut **conn)
            .await?
        }
        None => {
            sqlx::query!("delete from team_member where team_id = $1 and user_id = $2", team_id, user_id)
                .execute(&mut **conn)
                .await?
        }
    };
    Ok(())
}

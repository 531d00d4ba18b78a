//! Directory groups that become teams (and administrators): the mappings administrators
//! keep, and the sync that makes a directory person's memberships follow their groups.
//!
//! A mapping names a group by its DN or its name (first RDN value), without case, and gives
//! its members a team with a role, or the administrators' rights. At each directory sign-in:
//! - the person joins (or changes role in) each mapped team of their groups, at the highest
//!   role any of their groups gives; such memberships are marked `synced`;
//! - synced memberships no group of theirs gives any more are removed;
//! - memberships made by hand are never touched (the team page says which is which);
//! - an administrator group makes them an administrator, and leaving it takes that away again
//!   (but never from the last enabled administrator, nor from one made by hand).

use std::collections::HashMap;

use super::ldap::DirectoryGroup;
use super::principal::{Principal, User};
use super::users;
use crate::backend::audit::{self, Target};
use crate::backend::AppState;
use crate::error::{AppError, AppResult, OnConstraint as _};
use crate::model::{GroupMappingView, TeamRole};

/// Every mapping, by group then team (administrators).
pub async fn list(state: &AppState, p: &Principal) -> AppResult<Vec<GroupMappingView>> {
    p.allowed(crate::policy::can_administer)?;
    Ok(sqlx::query_as!(
        GroupMappingView,
        r#"select g.group_mapping_id as id, g.group_name, t.name as "team?", g.role as "role?: TeamRole", g.grants_admin,
                  g.created_at as "created_at: _"
           from group_mapping g left join team t using (team_id)
           order by lower(g.group_name), t.name nulls first"#
    )
    .fetch_all(&state.db)
    .await?)
}

/// Maps a group to a team with a role, or (with `team` empty) to the administrators.
pub async fn add(
    state: &AppState,
    p: &Principal,
    group: &str,
    team: &str,
    role: TeamRole,
    grants_admin: bool,
) -> AppResult<GroupMappingView> {
    let admin = p.allowed(crate::policy::can_administer)?.user();
    let group = group.trim();
    if group.is_empty() || group.chars().count() > 1024 {
        return Err(AppError::invalid("group", "give the group's DN or name (at most 1024 characters)"));
    }
    let team = team.trim().to_ascii_lowercase();
    let team_id = if team.is_empty() {
        if !grants_admin {
            return Err(AppError::invalid("team", "choose a team, or make the group's members administrators"));
        }
        None
    } else {
        let id = sqlx::query_scalar!("select team_id from team where name = $1 and personal_user_id is null", team)
            .fetch_optional(&state.db)
            .await?
            .ok_or_else(|| AppError::invalid("team", "no team has this name"))?;
        Some(id)
    };
    let mut tx = state.db.begin().await?;
    let id = sqlx::query_scalar!(
        "insert into group_mapping (group_name, team_id, role, grants_admin) values ($1, $2, $3, $4)
         returning group_mapping_id",
        group,
        team_id,
        team_id.map(|_| role) as Option<TeamRole>,
        grants_admin
    )
    .fetch_one(&mut *tx)
    .await
    .on_constraint(&[("group_mapping_key", AppError::invalid("group", "is already mapped to this team"))])?;
    let details = serde_json::json!({ "group": group, "team": team, "role": team_id.map(|_| role.as_str()), "admin": grants_admin });
    audit::record(
        &mut tx,
        Some(admin),
        "group_mapping.create",
        Target { kind: "group_mapping", name: group, namespace_id: None },
        details,
    )
    .await?;
    tx.commit().await?;
    list(state, p).await?.into_iter().find(|m| m.id == id).ok_or(AppError::Internal)
}

/// Removes a mapping; the memberships it made go at each member's next sign-in.
pub async fn delete(state: &AppState, p: &Principal, id: i64) -> AppResult<()> {
    let admin = p.allowed(crate::policy::can_administer)?.user();
    let mut tx = state.db.begin().await?;
    let group = sqlx::query_scalar!("delete from group_mapping where group_mapping_id = $1 returning group_name", id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| AppError::not_found("No such group mapping."))?;
    audit::record(
        &mut tx,
        Some(admin),
        "group_mapping.delete",
        Target { kind: "group_mapping", name: &group, namespace_id: None },
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// How people sign in here, for Admin → Authentication: the directory's and the mail server's
/// settings (no password), local passwords, and the group mappings.
pub async fn overview(state: &AppState, p: &Principal) -> AppResult<crate::model::AuthOverview> {
    let mappings = list(state, p).await?;
    let s = &state.settings;
    let pair = |k: &str, v: &str| (k.to_string(), if v.is_empty() { "—".to_string() } else { v.to_string() });
    let directory = s.ldap.as_ref().map(|l| {
        vec![
            pair("ldap_url", &l.url),
            pair("ldap_starttls", if l.starttls { "on" } else { "off" }),
            pair("ldap_ca_file", &l.ca_file),
            pair("ldap_bind_dn", if l.bind_dn.is_empty() { "(anonymous search)" } else { &l.bind_dn }),
            pair("ldap_user_base", &l.user_base),
            pair("ldap_user_filter", &l.user_filter),
            pair("ldap_group_base", if l.group_base.is_empty() { "(the memberOf attribute)" } else { &l.group_base }),
            pair("ldap_group_filter", &l.group_filter),
        ]
    });
    let mail = s.mail.as_ref().map(|m| {
        vec![
            pair("smtp_host", &format!("{}:{}", m.host, m.port)),
            pair("smtp_security", &format!("{:?}", m.security).to_lowercase()),
            pair("smtp_username", &m.username),
            pair("smtp_from", &m.from),
        ]
    });
    let providers = state.oidc.0.iter().map(|p| p.describe()).collect();
    Ok(crate::model::AuthOverview {
        directory,
        mail,
        providers,
        local_passwords: s.local_passwords,
        signup_enabled: s.signup_enabled,
        mappings,
    })
}

/// What the directory says of `username`, and which mappings their groups match
/// (administrators; no password is asked or checked).
pub async fn try_user(
    state: &AppState,
    p: &Principal,
    username: &str,
) -> AppResult<Option<crate::model::DirectoryLookup>> {
    let mappings = list(state, p).await?;
    let directory =
        state.directory.as_ref().ok_or_else(|| AppError::Conflict("No directory is configured (ldap_url).".into()))?;
    let found = directory.lookup(username.trim()).await.map_err(|e| AppError::Unavailable(e.to_string()))?;
    Ok(found.map(|u| crate::model::DirectoryLookup {
        groups: u
            .groups
            .iter()
            .map(|g| {
                let matched = mappings
                    .iter()
                    .filter(|m| matches(&m.group_name, std::slice::from_ref(g)))
                    .map(|m| match (&m.team, m.role) {
                        (Some(t), Some(r)) => format!("{t} ({})", r.as_str()),
                        _ => "administrators".to_string(),
                    })
                    .collect();
                (g.dn.clone(), matched)
            })
            .collect(),
        dn: u.dn,
        username: u.username,
        display_name: u.display_name,
        email: u.email,
    }))
}

/// What one pass over the directory's people did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SyncReport {
    /// Directory accounts looked up.
    pub people: u64,
    /// Disabled because the directory no longer has them (as the user filter sees it).
    pub disabled: u64,
}

/// Looks up every enabled directory account: one the directory no longer has (removed, or
/// filtered out as disabled) is disabled here, which ends its sessions and tokens too; the
/// others' teams follow their groups, as at a sign-in. Stops at the first directory error
/// (an outage disables no one).
pub async fn sync_all(state: &AppState) -> AppResult<SyncReport> {
    let Some(directory) = state.directory.clone() else { return Ok(SyncReport::default()) };
    let people =
        sqlx::query_scalar!(r#"select username from "user" where source = 'ldap' and is_enabled order by username"#)
            .fetch_all(&state.db)
            .await?;
    let mut report = SyncReport::default();
    for name in people {
        let found = directory.lookup(&name).await.map_err(|e| AppError::Unavailable(e.to_string()))?;
        let Some(user) = users::find_by_username(&state.db, &name).await? else { continue };
        report.people += 1;
        match found {
            Some(person) if person.username == name => {
                sync(state, user, &person.groups).await?;
            }
            _ => {
                let mut tx = state.db.begin().await?;
                sqlx::query!(
                    r#"update "user" set is_enabled = false, auth_epoch = auth_epoch + 1 where user_id = $1"#,
                    user.id
                )
                .execute(&mut *tx)
                .await?;
                let details = serde_json::json!({ "reason": "no longer in the directory" });
                audit::record(&mut tx, None, "user.disable", Target::user(&name), details).await?;
                tx.commit().await?;
                report.disabled += 1;
            }
        }
    }
    Ok(report)
}

/// Runs [`sync_all`] every `every` on one replica at a time (`ldap_sync_interval_secs`).
pub fn spawn_periodic(state: AppState, every: std::time::Duration) {
    if state.directory.is_none() || every.is_zero() {
        return;
    }
    crate::backend::jobs::periodically(
        "directory sync",
        "portcullis.directory_sync",
        state,
        every,
        |state| async move {
            let r = sync_all(&state).await?;
            if r.disabled > 0 {
                tracing::info!(?r, "directory sync disabled people it no longer has");
            }
            Ok(())
        },
    );
}

/// Whether a mapping's group is one of `groups` (by DN or name, without case).
fn matches(mapping: &str, groups: &[DirectoryGroup]) -> bool {
    groups.iter().any(|g| g.dn.eq_ignore_ascii_case(mapping) || g.name.eq_ignore_ascii_case(mapping))
}

/// Makes `user`'s synced memberships and administrator rights follow `groups`; returns the
/// user as they are after it.
pub async fn sync(state: &AppState, user: User, groups: &[DirectoryGroup]) -> AppResult<User> {
    let mappings =
        sqlx::query!(r#"select group_name, team_id, role as "role?: TeamRole", grants_admin from group_mapping"#)
            .fetch_all(&state.db)
            .await?;
    // The highest role each team gets from the person's groups.
    let mut wanted: HashMap<i64, TeamRole> = HashMap::new();
    let mut admin = false;
    for m in mappings.iter().filter(|m| matches(&m.group_name, groups)) {
        if let (Some(team), Some(role)) = (m.team_id, m.role) {
            let r = wanted.entry(team).or_insert(role);
            if role > *r {
                *r = role;
            }
        }
        admin |= m.grants_admin;
    }
    let mut tx = state.db.begin().await?;
    let current = sqlx::query!(
        r#"select m.team_id, t.name, m.role as "role: TeamRole", m.synced from team_member m join team t using (team_id)
           where m.user_id = $1 and t.personal_user_id is null"#,
        user.id
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut changed = false;
    for c in current.iter().filter(|c| c.synced && wanted.get(&c.team_id) != Some(&c.role)) {
        // A team keeps an owner: the last one stays, whatever the groups say.
        if c.role == TeamRole::Owner {
            match crate::backend::directory::teams::keep_an_owner(&mut tx, c.team_id, user.id).await {
                Err(AppError::Conflict(_)) => {
                    tracing::warn!(username = %user.username, team = %c.name, "kept as the team's last owner despite the directory groups");
                    continue;
                }
                other => other?,
            }
        }
        match wanted.get(&c.team_id) {
            Some(role) => {
                sqlx::query!(
                    "update team_member set role = $3 where team_id = $1 and user_id = $2",
                    c.team_id,
                    user.id,
                    *role as TeamRole
                )
                .execute(&mut *tx)
                .await?;
                let details = serde_json::json!({ "member": user.username, "from": c.role.as_str(), "to": role.as_str(), "synced": true });
                audit::record(&mut tx, None, "team.member.role", Target::team(&c.name), details).await?;
            }
            None => {
                sqlx::query!("delete from team_member where team_id = $1 and user_id = $2", c.team_id, user.id)
                    .execute(&mut *tx)
                    .await?;
                let details = serde_json::json!({ "member": user.username, "role": c.role.as_str(), "synced": true });
                audit::record(&mut tx, None, "team.member.remove", Target::team(&c.name), details).await?;
            }
        }
        changed = true;
    }
    for (team, role) in wanted.iter().filter(|(t, _)| !current.iter().any(|c| c.team_id == **t)) {
        let name = sqlx::query_scalar!(
            "insert into team_member (team_id, user_id, role, synced) values ($1, $2, $3, true)
             returning (select name from team where team_id = $1)",
            team,
            user.id,
            *role as TeamRole
        )
        .fetch_one(&mut *tx)
        .await?
        .unwrap_or_default();
        let details = serde_json::json!({ "member": user.username, "role": role.as_str(), "synced": true });
        audit::record(&mut tx, None, "team.member.add", Target::team(&name), details).await?;
        changed = true;
    }
    let synced_admin = sqlx::query_scalar!(r#"select admin_synced from "user" where user_id = $1"#, user.id)
        .fetch_one(&mut *tx)
        .await?;
    // Only a sync takes back what a sync gave, and never from the last enabled administrator.
    let demote = !admin && user.is_admin && synced_admin;
    if demote && users::other_enabled_admins(&mut tx, user.id).await? == 0 {
        tracing::warn!(username = %user.username, "left the administrators' group, but is the last administrator; kept");
    } else if demote || (admin && !user.is_admin) {
        users::set_admin(&mut tx, user.id, admin, true).await?;
        let action = if admin { "user.promote" } else { "user.demote" };
        audit::record(&mut tx, None, action, Target::user(&user.username), serde_json::json!({ "synced": true }))
            .await?;
        changed = true;
    }
    tx.commit().await?;
    if !changed {
        return Ok(user);
    }
    users::find_by_id(&state.db, user.id).await?.ok_or(AppError::Internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mapping_names_a_group_by_dn_or_name_without_case() {
        let groups = [DirectoryGroup { dn: "cn=Devs,ou=groups,dc=example,dc=org".into(), name: "Devs".into() }];
        assert!(matches("devs", &groups));
        assert!(matches("CN=devs,ou=groups,dc=example,dc=org", &groups));
        assert!(!matches("dev", &groups) && !matches("cn=devs", &groups));
    }
}

//! Directory groups that become teams (and administrators): the mappings administrators
//! keep, and the sync that makes a directory person's memberships follow their groups.
//!
//! A mapping names where its group comes from (its source: the directory, or one OpenID
//! Connect provider) and only that source's groups match it: a provider where anyone may make
//! a group called `admins` must not satisfy a mapping written for the directory's
//! `cn=admins,...`, nor one provider's groups another's. A directory group is named by its full
//! DN, or, when the administrator chose so, by its name (first RDN value: any group of that
//! name anywhere in the directory); a provider's by the value its groups claim carries. All
//! without case. A mapping made before sources existed is given the one source configured
//! (at start); with several it matches nothing until an administrator picks its source, and
//! Admin → Authentication flags it. It gives its members a team with a role, or the
//! administrators' rights. At each sign-in:
//! - the person joins (or changes role in) each mapped team of their groups, at the highest
//!   role any of their groups gives; such memberships are marked `synced`;
//! - synced memberships no group of theirs gives any more are removed;
//! - memberships made by hand are never touched (the team page says which is which);
//! - an administrator group makes them an administrator, and leaving it takes that away again
//!   (but never from the last enabled administrator, nor from one made by hand).

use std::collections::HashMap;

use super::ldap::DirectoryGroup;
use super::principal::{Duty, Principal, User};
use super::users;
use crate::backend::audit::{self, Target};
use crate::backend::org::shared;
use crate::backend::AppState;
use crate::error::{AppError, AppResult, OnConstraint as _};
use crate::model::{GroupMappingView, TeamRole};

/// The source of the directory's groups.
pub const DIRECTORY: &str = "ldap";

/// The source of a provider's groups.
pub fn provider_source(provider: &str) -> String {
    format!("oidc:{provider}")
}

/// The sources of groups configured here, as `(source, label)`.
pub fn sources(state: &AppState) -> Vec<(String, String)> {
    let mut all = Vec::new();
    if state.directory.is_some() {
        all.push((DIRECTORY.to_string(), "Directory (LDAP)".to_string()));
    }
    for provider in state.oidc.0.iter() {
        all.push((provider_source(&provider.settings.name), provider.settings.label().to_string()));
    }
    all
}

/// Every mapping, by group then team (administrators).
pub async fn list(state: &AppState, p: &Principal) -> AppResult<Vec<GroupMappingView>> {
    p.allowed(crate::policy::can_administer)?;
    let sources = sources(state);
    let rows = sqlx::query!(
        r#"select g.group_mapping_id as id, g.group_name, t.name as "team?", g.role as "role?: TeamRole", g.grants_admin,
                  g.source, g.match_by, g.created_at as "created_at: chrono::DateTime<chrono::Utc>"
           from group_mapping g left join team t using (team_id)
           order by lower(g.group_name), t.name nulls first"#
    )
    .fetch_all(&state.db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let source_label = r.source.as_ref().map(|s| {
                sources.iter().find(|(v, _)| v == s).map(|(_, label)| label.clone()).unwrap_or_else(|| {
                    match s.as_str() {
                        DIRECTORY => "Directory (LDAP), not configured now".to_string(),
                        other => format!("{other} (not configured now)"),
                    }
                })
            });
            GroupMappingView {
                id: r.id,
                group_name: r.group_name,
                team: r.team,
                role: r.role,
                grants_admin: r.grants_admin,
                source: r.source,
                source_label,
                match_by: r.match_by,
                created_at: r.created_at,
            }
        })
        .collect())
}

/// What a new mapping says.
#[derive(Debug, Clone)]
pub struct NewMapping {
    /// The group: a DN, a directory group's name, or a provider's groups claim value.
    pub group: String,
    /// The team, by name; empty when the group only makes administrators.
    pub team: String,
    pub role: TeamRole,
    pub grants_admin: bool,
    /// `ldap` or `oidc:<provider>`; `None`: the one source configured, if there is just one.
    pub source: Option<String>,
    /// For a directory group: `dn` (the default) or `name`.
    pub match_by: Option<String>,
}

/// Whether `text` reads as a DN (`attr=value` parts separated by commas).
fn looks_like_dn(text: &str) -> bool {
    text.split(',').all(|rdn| rdn.split_once('=').is_some_and(|(a, v)| !a.trim().is_empty() && !v.trim().is_empty()))
}

/// The source and way of matching a mapping may have here: the source named (one configured
/// here) or the only one; for the directory, by DN unless name matching is asked for (and a
/// DN that is not one is refused, rather than quietly matched by name).
fn checked_source(
    state: &AppState,
    group: &str,
    source: Option<&str>,
    match_by: Option<&str>,
) -> AppResult<(String, &'static str)> {
    let configured = sources(state);
    let source = match source.map(str::trim).filter(|s| !s.is_empty()) {
        // The directory may be mapped before it is configured (its groups are DNs, which no
        // provider sends); a provider must be one configured here.
        Some(s) if s == DIRECTORY || configured.iter().any(|(v, _)| v == s) => s.to_string(),
        Some(_) => return Err(AppError::invalid("source", "is not the directory nor a provider configured here")),
        None => match configured.as_slice() {
            [(only, _)] => only.clone(),
            [] => {
                return Err(AppError::invalid(
                    "source",
                    "no directory nor provider is configured here: such a mapping would match no one",
                ))
            }
            _ => {
                return Err(AppError::invalid(
                    "source",
                    "choose where the group comes from: the directory or a provider",
                ))
            }
        },
    };
    if source != DIRECTORY {
        return Ok((source, "value"));
    }
    match match_by.map(str::trim).filter(|m| !m.is_empty()).unwrap_or("dn") {
        "dn" if looks_like_dn(group) => Ok((source, "dn")),
        "dn" => Err(AppError::invalid(
            "group",
            "is not a DN: write the group's full DN (cn=…,ou=…,dc=…), or choose to match directory groups by name",
        )),
        "name" => Ok((source, "name")),
        _ => Err(AppError::invalid("match_by", "dn or name")),
    }
}

/// Maps a group to a team with a role, or (with `team` empty) to the administrators.
pub async fn add(state: &AppState, p: &Principal, new: NewMapping) -> AppResult<GroupMappingView> {
    let allowed = p.allowed(crate::policy::can_administer)?;
    let group = new.group.trim();
    if group.is_empty() || group.chars().count() > 1024 {
        return Err(AppError::invalid("group", "give the group's DN or name (at most 1024 characters)"));
    }
    let (source, match_by) = checked_source(state, group, new.source.as_deref(), new.match_by.as_deref())?;
    let team = new.team.trim().to_ascii_lowercase();
    let (role, grants_admin) = (new.role, new.grants_admin);
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
    let mut tx = allowed.begin(&state.db).await?;
    let id = sqlx::query_scalar!(
        "insert into group_mapping (group_name, team_id, role, grants_admin, source, match_by) values ($1, $2, $3, $4, $5, $6)
         returning group_mapping_id",
        group,
        team_id,
        team_id.map(|_| role) as Option<TeamRole>,
        grants_admin,
        source,
        match_by
    )
    .fetch_one(&mut *tx)
    .await
    .on_constraint(&[("group_mapping_key", AppError::invalid("group", "is already mapped to this team"))])?;
    let details = serde_json::json!({
        "group": group, "team": team, "role": team_id.map(|_| role.as_str()), "admin": grants_admin,
        "source": source, "match_by": match_by,
    });
    audit::record(
        &mut tx,
        "group_mapping.create",
        Target { kind: "group_mapping", name: group, namespace_id: None },
        details,
    )
    .await?;
    tx.commit().await?;
    list(state, p).await?.into_iter().find(|m| m.id == id).ok_or(AppError::Internal)
}

/// Sets where a mapping's group comes from (and, for the directory, how it is named): how an
/// administrator puts back to work a mapping made before mappings had sources.
pub async fn set_source(
    state: &AppState,
    p: &Principal,
    id: i64,
    source: &str,
    match_by: Option<&str>,
) -> AppResult<GroupMappingView> {
    let allowed = p.allowed(crate::policy::can_administer)?;
    let group = sqlx::query_scalar!("select group_name from group_mapping where group_mapping_id = $1", id)
        .fetch_optional(&state.db)
        .await?
        .ok_or_else(|| AppError::not_found("No such group mapping."))?;
    let (source, match_by) = checked_source(state, &group, Some(source), match_by)?;
    let mut tx = allowed.begin(&state.db).await?;
    sqlx::query!(
        "update group_mapping set source = $2, match_by = $3 where group_mapping_id = $1",
        id,
        source,
        match_by
    )
    .execute(&mut *tx)
    .await
    .on_constraint(&[(
        "group_mapping_key",
        AppError::invalid("source", "this group of this source is mapped to this team already"),
    )])?;
    let details = serde_json::json!({ "source": source, "match_by": match_by });
    audit::record(
        &mut tx,
        "group_mapping.source",
        Target { kind: "group_mapping", name: &group, namespace_id: None },
        details,
    )
    .await?;
    tx.commit().await?;
    list(state, p).await?.into_iter().find(|m| m.id == id).ok_or(AppError::Internal)
}

/// Gives the mappings made before mappings had sources the one source configured, when there
/// is exactly one (then it is clear whose groups they meant). With several, they stay without
/// (matching nothing) until an administrator picks; with none, there is nothing to match.
/// Run at start; returns how many were given a source.
pub async fn adopt_unsourced(state: &AppState) -> AppResult<u64> {
    let all = sources(state);
    let [(only, _)] = all.as_slice() else { return Ok(0) };
    let only = only.clone();
    let mut tx = Duty::Setup.begin(&state.db).await?;
    let names = sqlx::query_scalar!(
        "update group_mapping set source = $1, match_by = case when $1 = 'ldap' then match_by else 'value' end
         where source is null returning group_name",
        only
    )
    .fetch_all(&mut *tx)
    .await?;
    for name in &names {
        let details = serde_json::json!({ "source": only, "why": "the only source of groups configured" });
        let target = Target { kind: "group_mapping", name, namespace_id: None };
        audit::record(&mut tx, "group_mapping.source", target, details).await?;
    }
    tx.commit().await?;
    Ok(names.len() as u64)
}

/// Removes a mapping; the memberships it made go at each member's next sign-in.
pub async fn delete(state: &AppState, p: &Principal, id: i64) -> AppResult<()> {
    let allowed = p.allowed(crate::policy::can_administer)?;
    let mut tx = allowed.begin(&state.db).await?;
    let group = sqlx::query_scalar!("delete from group_mapping where group_mapping_id = $1 returning group_name", id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| AppError::not_found("No such group mapping."))?;
    audit::record(
        &mut tx,
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
    // The form offers the directory even before it is configured (mappings may be made first).
    let mut choices = sources(state);
    if state.directory.is_none() {
        choices.insert(0, (DIRECTORY.to_string(), "Directory (LDAP), not configured yet".to_string()));
    }
    Ok(crate::model::AuthOverview {
        sources: choices,
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
    let mappings: Vec<GroupMappingView> =
        list(state, p).await?.into_iter().filter(|m| m.source.as_deref() == Some(DIRECTORY)).collect();
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
                    .filter(|m| matches(DIRECTORY, &m.match_by, &m.group_name, std::slice::from_ref(g)))
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
                sync(state, user, DIRECTORY, &person.groups).await?;
            }
            _ => {
                let mut tx = Duty::DirectorySync.begin(&state.db).await?;
                users::set_enabled(&mut tx, user.id, false).await?;
                let details = serde_json::json!({ "reason": "no longer in the directory" });
                audit::record(&mut tx, "user.disable", Target::user(&name), details).await?;
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

/// A DN as compared: without case, and without the spaces allowed around `,` and `=`.
fn normal_dn(dn: &str) -> String {
    dn.split(',')
        .map(|rdn| match rdn.split_once('=') {
            Some((a, v)) => format!("{}={}", a.trim(), v.trim()),
            None => rdn.trim().to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
        .to_lowercase()
}

/// Whether a mapping of `source`, matching `match_by`, names one of `groups` (that source's
/// groups: the caller gives only those).
fn matches(source: &str, match_by: &str, mapping: &str, groups: &[DirectoryGroup]) -> bool {
    if source != DIRECTORY {
        return groups.iter().any(|g| g.dn.eq_ignore_ascii_case(mapping));
    }
    match match_by {
        "name" => groups.iter().any(|g| g.name.eq_ignore_ascii_case(mapping)),
        _ => {
            let wanted = normal_dn(mapping);
            groups.iter().any(|g| normal_dn(&g.dn) == wanted)
        }
    }
}

/// Makes `user`'s synced memberships and administrator rights follow `groups`, which `source`
/// (the directory, or a provider) says they are in: only that source's mappings count.
/// Returns the user as they are after it.
pub async fn sync(state: &AppState, user: User, source: &str, groups: &[DirectoryGroup]) -> AppResult<User> {
    let mappings = sqlx::query!(
        r#"select group_name, team_id, role as "role?: TeamRole", grants_admin, match_by from group_mapping
           where source = $1"#,
        source
    )
    .fetch_all(&state.db)
    .await?;
    // The highest role each team gets from the person's groups.
    let mut wanted: HashMap<i64, TeamRole> = HashMap::new();
    let mut admin = false;
    for m in mappings.iter().filter(|m| matches(source, &m.match_by, &m.group_name, groups)) {
        if let (Some(team), Some(role)) = (m.team_id, m.role) {
            let r = wanted.entry(team).or_insert(role);
            if role > *r {
                *r = role;
            }
        }
        admin |= m.grants_admin;
    }
    let mut tx = Duty::DirectorySync.begin(&state.db).await?;
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
            match crate::backend::org::teams::keep_an_owner(&mut tx, c.team_id, user.id).await {
                Err(AppError::Conflict(_)) => {
                    tracing::warn!(username = %user.username, team = %c.name, "kept as the team's last owner despite the directory groups");
                    continue;
                }
                other => other?,
            }
        }
        match wanted.get(&c.team_id) {
            Some(role) => {
                shared::set_synced_role(&mut tx, c.team_id, user.id, Some(*role)).await?;
                let details = serde_json::json!({ "member": user.username, "from": c.role.as_str(), "to": role.as_str(), "synced": true });
                audit::record(&mut tx, "team.member.role", Target::team(&c.name), details).await?;
            }
            None => {
                shared::set_synced_role(&mut tx, c.team_id, user.id, None).await?;
                let details = serde_json::json!({ "member": user.username, "role": c.role.as_str(), "synced": true });
                audit::record(&mut tx, "team.member.remove", Target::team(&c.name), details).await?;
            }
        }
        changed = true;
    }
    for (team, role) in wanted.iter().filter(|(t, _)| !current.iter().any(|c| c.team_id == **t)) {
        let name = shared::add_synced_member(&mut tx, *team, user.id, *role).await?;
        let details = serde_json::json!({ "member": user.username, "role": role.as_str(), "synced": true });
        audit::record(&mut tx, "team.member.add", Target::team(&name), details).await?;
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
        audit::record(&mut tx, action, Target::user(&user.username), serde_json::json!({ "synced": true })).await?;
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
    fn a_directory_mapping_names_a_group_by_dn_unless_told_by_name() {
        let groups = [DirectoryGroup { dn: "cn=Devs,ou=groups,dc=example,dc=org".into(), name: "Devs".into() }];
        assert!(matches(DIRECTORY, "dn", "CN=devs, ou=groups,dc=example,dc=org", &groups));
        assert!(!matches(DIRECTORY, "dn", "devs", &groups), "a bare name is no DN");
        assert!(!matches(DIRECTORY, "dn", "cn=devs,ou=other,dc=example,dc=org", &groups), "another OU");
        assert!(matches(DIRECTORY, "name", "devs", &groups), "by name, when chosen");
        assert!(!matches(DIRECTORY, "name", "dev", &groups) && !matches(DIRECTORY, "name", "cn=devs", &groups));
    }

    #[test]
    fn a_provider_mapping_names_a_value_of_the_groups_claim() {
        let groups = [DirectoryGroup { dn: "admins".into(), name: "admins".into() }];
        assert!(matches("oidc:gitlab", "value", "admins", &groups));
        assert!(!matches("oidc:gitlab", "value", "cn=admins,ou=groups,dc=example,dc=org", &groups));
    }

    #[test]
    fn dns_are_told_from_names() {
        assert!(looks_like_dn("cn=admins,ou=groups,dc=example,dc=org") && looks_like_dn("CN = x"));
        assert!(!looks_like_dn("admins") && !looks_like_dn("cn=admins,") && !looks_like_dn("=x"));
    }
}

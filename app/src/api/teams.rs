//! Teams and their members, for the pages.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::model::{NamespaceView, Page, TeamMemberView, TeamRole, TeamView};

#[cfg(feature = "ssr")]
use crate::api::form;
#[cfg(feature = "ssr")]
use crate::backend::org::{namespaces, teams, teams::TeamRef};

/// Everything the team page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamDetail {
    pub team: TeamView,
    pub members: Page<TeamMemberView>,
    pub namespaces: Page<NamespaceView>,
    /// Whether the viewer may add, remove and change members.
    pub can_manage: bool,
    /// Whether the viewer may create namespaces for this team.
    pub can_create_namespace: bool,
}

/// The team list and whether the viewer may create teams.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamList {
    pub teams: Page<TeamView>,
    pub can_create: bool,
}

#[server(endpoint = "teams/list", output = crate::api::Json)]
pub async fn list_teams(page: Option<u32>) -> Result<TeamList, AppError> {
    let (state, p) = form::principal().await?;
    let teams = teams::list(&state, &p, crate::model::PageRequest::new(page, None)).await?;
    let s = state.access_settings.get(&state.db).await;
    Ok(TeamList { teams, can_create: crate::policy::can_create_team(&p.actor(), &s).is_ok() })
}

#[server(endpoint = "teams/get", output = crate::api::Json)]
pub async fn get_team(name: String, page: Option<u32>, ns_page: Option<u32>) -> Result<TeamDetail, AppError> {
    let (state, p) = form::principal().await?;
    let team_ref = TeamRef::Name(name);
    let team = teams::get(&state, &p, &team_ref).await?;
    let members = teams::members(&state, &p, &team_ref, crate::model::PageRequest::new(page, None)).await?;
    let namespaces =
        namespaces::list_for_team(&state, &p, &team_ref, crate::model::PageRequest::new(ns_page, None)).await?;
    let s = state.access_settings.get(&state.db).await;
    let actor = p.actor();
    Ok(TeamDetail {
        can_manage: crate::policy::can_manage_team(&actor, team.role).is_ok(),
        can_create_namespace: crate::policy::can_create_namespace(&actor, team.role, &s).is_ok(),
        team,
        members,
        namespaces,
    })
}

#[server(endpoint = "teams/create", output = crate::api::Json)]
pub async fn create_team(name: String, description: Option<String>) -> Result<TeamView, AppError> {
    let result = async {
        let (state, p) = form::principal().await?;
        teams::create(&state, &p, &name, description.as_deref().unwrap_or("")).await
    }
    .await;
    let to = result.as_ref().map(|t| format!("/teams/{}", t.name)).ok();
    form::respond(result, to.as_deref())
}

#[server(endpoint = "teams/update", output = crate::api::Json)]
pub async fn update_team(team: String, description: String) -> Result<TeamView, AppError> {
    form::answer(None, |state, p| async move { teams::update(&state, &p, &TeamRef::Name(team), &description).await })
        .await
}

#[server(endpoint = "teams/delete", output = crate::api::Json)]
pub async fn delete_team(team: String) -> Result<(), AppError> {
    form::answer(Some("/teams"), |state, p| async move { teams::delete(&state, &p, &TeamRef::Name(team)).await }).await
}

#[server(endpoint = "teams/members/add", output = crate::api::Json)]
pub async fn add_member(team: String, username: String, role: TeamRole) -> Result<TeamMemberView, AppError> {
    form::answer(
        None,
        |state, p| async move { teams::add_member(&state, &p, &TeamRef::Name(team), &username, role).await },
    )
    .await
}

#[server(endpoint = "teams/members/role", output = crate::api::Json)]
pub async fn set_member_role(team: String, user_id: i64, role: TeamRole) -> Result<(), AppError> {
    form::answer(None, |state, p| async move { teams::set_role(&state, &p, &TeamRef::Name(team), user_id, role).await })
        .await
}

#[server(endpoint = "teams/members/remove", output = crate::api::Json)]
pub async fn remove_member(team: String, user_id: i64) -> Result<(), AppError> {
    form::answer(None, |state, p| async move { teams::remove_member(&state, &p, &TeamRef::Name(team), user_id).await })
        .await
}

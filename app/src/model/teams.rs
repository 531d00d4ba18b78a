//! Teams, their roles, and the namespaces they own; the site-wide push policy.

use serde::{Deserialize, Serialize};

use super::utc;

/// A member's role in a team, weakest first: the order of the variants matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(feature = "ssr", sqlx(type_name = "team_role", rename_all = "lowercase"))]
#[serde(rename_all = "lowercase")]
pub enum TeamRole {
    Viewer,
    Contributor,
    Owner,
}

impl TeamRole {
    pub const ALL: [TeamRole; 3] = [TeamRole::Viewer, TeamRole::Contributor, TeamRole::Owner];

    pub fn as_str(self) -> &'static str {
        match self {
            TeamRole::Viewer => "viewer",
            TeamRole::Contributor => "contributor",
            TeamRole::Owner => "owner",
        }
    }

    /// What the role allows, in a few words for the UI.
    pub fn describe(self) -> &'static str {
        match self {
            TeamRole::Viewer => "may pull",
            TeamRole::Contributor => "may pull and push",
            TeamRole::Owner => "may pull, push, delete and manage the team",
        }
    }
}

impl std::str::FromStr for TeamRole {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role {s:?}: expected owner, contributor or viewer"))
    }
}

/// Who may pull from a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(feature = "ssr", sqlx(type_name = "visibility", rename_all = "lowercase"))]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Members of the owning team only.
    Private,
    /// Any signed-in user.
    Protected,
    /// Anyone, even anonymous.
    Public,
}

impl Visibility {
    pub const ALL: [Visibility; 3] = [Visibility::Private, Visibility::Protected, Visibility::Public];

    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Private => "private",
            Visibility::Protected => "protected",
            Visibility::Public => "public",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Visibility::Private => "only members of the team may pull",
            Visibility::Protected => "any signed-in user may pull",
            Visibility::Public => "anyone may pull, even without signing in",
        }
    }
}

impl std::str::FromStr for Visibility {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("unknown visibility {s:?}: expected private, protected or public"))
    }
}

/// What the viewer may do in a namespace (the policy's answers), for pages to decide what to
/// offer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceAbilities {
    pub pull: bool,
    pub push: bool,
    pub delete: bool,
    pub change_visibility: bool,
    pub edit: bool,
    pub delete_namespace: bool,
    /// Manage its webhooks.
    #[serde(default)]
    pub webhooks: bool,
    /// Manage its cleanup policy.
    #[serde(default)]
    pub cleanup: bool,
}

/// Who may push, site-wide (Portus's `push_policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PushPolicy {
    /// Owners and contributors of a namespace's team (and administrators).
    AllowTeams,
    /// Users only to their personal namespace (and administrators anywhere).
    AllowPersonal,
    /// Administrators only.
    AdminOnly,
}

impl PushPolicy {
    pub const ALL: [PushPolicy; 3] = [PushPolicy::AllowTeams, PushPolicy::AllowPersonal, PushPolicy::AdminOnly];

    pub fn as_str(self) -> &'static str {
        match self {
            PushPolicy::AllowTeams => "allow-teams",
            PushPolicy::AllowPersonal => "allow-personal",
            PushPolicy::AdminOnly => "admin-only",
        }
    }
}

impl std::str::FromStr for PushPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown push policy {s:?}: expected allow-teams, allow-personal or admin-only"))
    }
}

/// A team, with the viewer's role in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamView {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub member_count: i64,
    pub namespace_count: i64,
    /// The viewer's role, if a member.
    pub role: Option<TeamRole>,
    #[serde(deserialize_with = "utc::deserialize")]
    pub created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamMemberView {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub is_bot: bool,
    pub role: TeamRole,
    #[serde(deserialize_with = "utc::deserialize")]
    pub since: chrono::DateTime<chrono::Utc>,
    /// Made by a directory group mapping (and kept in step with the group), not by hand.
    #[serde(default)]
    pub synced: bool,
}

/// A namespace as stored, with the viewer's role in its owning team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Namespace {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub visibility: Visibility,
    pub team_id: i64,
    /// The owning team's name; for a personal namespace, the user's name.
    pub team_name: String,
    pub is_personal: bool,
    #[serde(deserialize_with = "utc::deserialize")]
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// The viewer's role in the owning team, if a member.
    pub role: Option<TeamRole>,
}

/// A namespace, with what the viewer may do in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceView {
    #[serde(flatten)]
    pub namespace: Namespace,
    pub abilities: NamespaceAbilities,
}

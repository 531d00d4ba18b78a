//! Who may do what: the one place where access is decided.
//!
//! Pure functions over facts the caller gathered (the actor, the namespace and the actor's
//! role in the team that owns it, the site settings). The UI asks them what to offer, the
//! server functions and REST API ask them what to allow, and the token endpoint asks them
//! what to grant. Each rule is a guard clause with the reason it exists, in priority order,
//! in the style of Portus's `namespace_policy.rb`.

use serde::{Deserialize, Serialize};

use crate::model::{NamespaceAbilities, PushPolicy, TeamRole, Visibility};

/// The outcome of a check: allowed, or refused with a reason a user can read.
pub type Decision = Result<(), Denied>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Denied(pub &'static str);

impl std::fmt::Display for Denied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

fn deny(reason: &'static str) -> Decision {
    Err(Denied(reason))
}

/// Who is asking. `None` user means an anonymous visitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub user_id: Option<i64>,
    pub is_admin: bool,
    pub is_enabled: bool,
}

impl Actor {
    pub const ANONYMOUS: Actor = Actor { user_id: None, is_admin: false, is_enabled: true };

    pub fn user(user_id: i64, is_admin: bool, is_enabled: bool) -> Self {
        Self { user_id: Some(user_id), is_admin, is_enabled }
    }

    fn is_signed_in(&self) -> bool {
        self.user_id.is_some()
    }
}

/// What the policy needs to know about a namespace, from the actor's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceFacts {
    /// The global namespace holds repositories without a `/`.
    pub is_global: bool,
    /// A user's personal namespace (owned by their hidden personal team).
    pub is_personal: bool,
    pub visibility: Visibility,
    /// The actor's role in the team that owns the namespace, if a member.
    pub role: Option<TeamRole>,
}

impl crate::model::Namespace {
    /// What the policy needs to know about this (never the global) namespace.
    pub fn facts(&self) -> NamespaceFacts {
        NamespaceFacts { is_global: false, is_personal: self.is_personal, visibility: self.visibility, role: self.role }
    }
}

/// Site-wide switches, as in Portus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessSettings {
    pub push_policy: PushPolicy,
    pub delete_enabled: bool,
    pub contributors_may_delete: bool,
    pub users_may_create_teams: bool,
    pub users_may_create_namespaces: bool,
    pub users_may_change_visibility: bool,
    /// Read-only mode: pulls go on, pushes and deletes are refused (while the registry's
    /// garbage collection runs). Switched on its own (`set_read_only`), never by the form
    /// that saves the other settings.
    #[serde(default)]
    pub read_only: bool,
}

impl Default for AccessSettings {
    fn default() -> Self {
        Self {
            push_policy: PushPolicy::AllowTeams,
            delete_enabled: true,
            contributors_may_delete: false,
            users_may_create_teams: true,
            users_may_create_namespaces: true,
            users_may_change_visibility: true,
            read_only: false,
        }
    }
}

/// The facts of the global namespace (repositories without a `/`): public, nobody's.
pub const GLOBAL: NamespaceFacts =
    NamespaceFacts { is_global: true, is_personal: false, visibility: Visibility::Public, role: None };

/// Pull images from a namespace (also: see it and its repositories).
pub fn can_pull(actor: &Actor, ns: &NamespaceFacts, _s: &AccessSettings) -> Decision {
    if !actor.is_enabled {
        return deny("this account is disabled");
    }
    if ns.is_global || ns.visibility == Visibility::Public {
        return Ok(()); // anyone, even anonymous, may pull public images
    }
    if !actor.is_signed_in() {
        return deny("sign in to pull from this namespace");
    }
    if ns.visibility == Visibility::Protected {
        return Ok(()); // any signed-in user may pull protected images
    }
    if actor.is_admin {
        return Ok(()); // administrators see everything
    }
    if ns.role.is_some() {
        return Ok(()); // every member of the owning team may pull
    }
    deny("this namespace is private to its team")
}

/// Push images to a namespace.
pub fn can_push(actor: &Actor, ns: &NamespaceFacts, s: &AccessSettings) -> Decision {
    if !actor.is_enabled {
        return deny("this account is disabled");
    }
    if s.read_only {
        return deny(READ_ONLY);
    }
    if !actor.is_signed_in() {
        return deny("sign in to push");
    }
    if actor.is_admin {
        return Ok(()); // administrators may push anywhere
    }
    if ns.is_global {
        return deny("only administrators may push to the global namespace");
    }
    match s.push_policy {
        PushPolicy::AdminOnly => deny("only administrators may push on this registry"),
        PushPolicy::AllowPersonal if !ns.is_personal => deny("users may push only to their personal namespace"),
        _ => match ns.role {
            Some(TeamRole::Owner) | Some(TeamRole::Contributor) => Ok(()),
            Some(TeamRole::Viewer) => deny("viewers may pull but not push"),
            None => deny("only members of the owning team may push here"),
        },
    }
}

/// Delete images (tags, manifests, repositories) from a namespace.
pub fn can_delete(actor: &Actor, ns: &NamespaceFacts, s: &AccessSettings) -> Decision {
    if !actor.is_enabled {
        return deny("this account is disabled");
    }
    if s.read_only {
        return deny(READ_ONLY);
    }
    if !s.delete_enabled {
        return deny("deleting images is turned off on this registry");
    }
    if !actor.is_signed_in() {
        return deny("sign in to delete");
    }
    if actor.is_admin {
        return Ok(());
    }
    if ns.is_global {
        return deny("only administrators may delete from the global namespace");
    }
    match ns.role {
        Some(TeamRole::Owner) => Ok(()),
        Some(TeamRole::Contributor) if s.contributors_may_delete => Ok(()),
        Some(TeamRole::Contributor) => deny("contributors may not delete on this registry"),
        Some(TeamRole::Viewer) => deny("viewers may not delete"),
        None => deny("only the owning team may delete here"),
    }
}

/// Change a namespace's visibility.
pub fn can_change_visibility(actor: &Actor, ns: &NamespaceFacts, s: &AccessSettings) -> Decision {
    if !actor.is_enabled {
        return deny("this account is disabled");
    }
    if ns.is_global {
        return deny("the global namespace is always public");
    }
    if actor.is_admin {
        return Ok(());
    }
    if !s.users_may_change_visibility {
        return deny("only administrators may change visibility on this registry");
    }
    if ns.role == Some(TeamRole::Owner) {
        return Ok(());
    }
    deny("only owners of the team may change visibility")
}

/// Give a new namespace of a team (where the actor has `role`) a visibility other than
/// private: the same right as changing it afterwards.
pub fn can_choose_visibility(actor: &Actor, role: Option<TeamRole>, s: &AccessSettings) -> Decision {
    let new = NamespaceFacts { is_global: false, is_personal: false, visibility: Visibility::Private, role };
    can_change_visibility(actor, &new, s)
}

/// Edit a namespace's description (and, later, its repositories' descriptions).
pub fn can_edit_namespace(actor: &Actor, ns: &NamespaceFacts, _s: &AccessSettings) -> Decision {
    if !actor.is_enabled {
        return deny("this account is disabled");
    }
    if actor.is_admin {
        return Ok(());
    }
    if ns.is_global {
        return deny("only administrators may edit the global namespace");
    }
    match ns.role {
        Some(TeamRole::Owner) | Some(TeamRole::Contributor) => Ok(()),
        _ => deny("only owners and contributors of the team may edit this namespace"),
    }
}

/// Delete a whole namespace. Personal namespaces go away only with their user.
pub fn can_delete_namespace(actor: &Actor, ns: &NamespaceFacts) -> Decision {
    if !actor.is_enabled {
        return deny("this account is disabled");
    }
    if ns.is_global || ns.is_personal {
        return deny("the global and personal namespaces cannot be deleted");
    }
    if actor.is_admin || ns.role == Some(TeamRole::Owner) {
        return Ok(());
    }
    deny("only owners of the team may delete this namespace")
}

/// Manage a namespace's cleanup policy (it deletes images): owners of its team, and
/// administrators.
pub fn can_manage_cleanup(actor: &Actor, ns: &NamespaceFacts) -> Decision {
    can_manage_webhooks(actor, ns)
        .map_err(|_| Denied("only owners of the team may manage this namespace's cleanup policy"))
}

/// Manage a namespace's tag rules (immutable tags): owners of its team, and administrators.
pub fn can_manage_tag_rules(actor: &Actor, ns: &NamespaceFacts) -> Decision {
    can_manage_webhooks(actor, ns).map_err(|_| Denied("only owners of the team may manage this namespace's tag rules"))
}

/// Require signed images in a namespace, and choose the keys it trusts: its team's owners
/// and administrators, as for its tag rules.
pub fn can_manage_signature_policy(actor: &Actor, ns: &NamespaceFacts) -> Decision {
    can_manage_webhooks(actor, ns)
        .map_err(|_| Denied("only owners of the team may manage this namespace's signature policy"))
}

/// Push (create or move) or delete a tag that a protected tag rule covers, whose least role
/// for that action is `least` (`contributor`, `owner`, or `admin` for administrators only):
/// members of the namespace's team of at least that role, and administrators.
pub fn can_change_protected_tag(actor: &Actor, ns: &NamespaceFacts, least: &str) -> Decision {
    if !actor.is_enabled {
        return deny("this account is disabled");
    }
    if actor.is_admin {
        return Ok(());
    }
    let rank = |role: TeamRole| match role {
        TeamRole::Viewer => 0,
        TeamRole::Contributor => 1,
        TeamRole::Owner => 2,
    };
    let needed = match least {
        "contributor" => 1,
        "owner" => 2,
        _ => return deny("only administrators may change this tag"),
    };
    match ns.role {
        Some(role) if rank(role) >= needed => Ok(()),
        _ => deny("the tag's rule asks for a higher role in the namespace's team"),
    }
}

/// Open a repository's settings: those who may change something there (its description, its
/// images, or its own cleanup policy, which a repository of the global namespace has not).
pub fn can_change_repository(actor: &Actor, ns: &NamespaceFacts, s: &AccessSettings, in_namespace: bool) -> Decision {
    let any = can_edit_namespace(actor, ns, s).is_ok()
        || can_delete(actor, ns, s).is_ok()
        || (in_namespace && can_manage_cleanup(actor, ns).is_ok());
    if any {
        return Ok(());
    }
    deny("you may not change this repository")
}

/// See a namespace's activity (what happened there and who did it): signed-in people who may
/// pull from it. Visitors see none of it, even on a public namespace.
pub fn can_read_activity(actor: &Actor, ns: &NamespaceFacts, s: &AccessSettings) -> Decision {
    if !actor.is_signed_in() {
        return deny("sign in to see what happened here");
    }
    can_pull(actor, ns, s)
}

/// Read the details of a namespace's activity (who was added with which role, a webhook's
/// host, a cleanup policy's rules): those who may manage the namespace, owners of its team and
/// administrators. Everyone who may pull sees that something happened, and who did it.
pub fn can_read_activity_details(actor: &Actor, ns: &NamespaceFacts) -> Decision {
    can_manage_webhooks(actor, ns)
        .map_err(|_| Denied("only owners of the team see the details of this namespace's activity"))
}

/// Run a namespace's cleanup policy for real (a dry run only needs
/// [`can_manage_cleanup`]): it deletes images, so never while deleting is turned off.
pub fn can_run_cleanup(actor: &Actor, ns: &NamespaceFacts, s: &AccessSettings) -> Decision {
    if !actor.is_enabled {
        return deny("this account is disabled");
    }
    if s.read_only {
        return deny(READ_ONLY);
    }
    if !s.delete_enabled {
        return deny(CLEANUP_PAUSED);
    }
    can_manage_cleanup(actor, ns)
}

/// Why nothing is pushed or deleted now, administrators included: the registry's garbage
/// collection must not see a manifest arrive while it marks what is in use.
pub const READ_ONLY: &str = "the registry is read-only for maintenance: pulls go on, pushes and deletes wait";

/// Why no cleanup policy runs while deleting is turned off.
pub const CLEANUP_PAUSED: &str =
    "deleting images is turned off on this registry, so cleanup policies do not run (a dry run still shows what one would do)";

/// Manage a namespace's webhooks (their secrets sign what is sent in its name): owners of
/// its team, and administrators.
pub fn can_manage_webhooks(actor: &Actor, ns: &NamespaceFacts) -> Decision {
    if !actor.is_enabled {
        return deny("this account is disabled");
    }
    if actor.is_admin {
        return Ok(());
    }
    if ns.is_global {
        return deny("only administrators manage the global namespace's webhooks");
    }
    match ns.role {
        Some(TeamRole::Owner) => Ok(()),
        _ => deny("only owners of the team may manage this namespace's webhooks"),
    }
}

/// Create a namespace owned by a team in which the actor has `role`.
pub fn can_create_namespace(actor: &Actor, role: Option<TeamRole>, s: &AccessSettings) -> Decision {
    if !actor.is_enabled {
        return deny("this account is disabled");
    }
    if !actor.is_signed_in() {
        return deny("sign in to create namespaces");
    }
    if actor.is_admin {
        return Ok(());
    }
    if !s.users_may_create_namespaces {
        return deny("only administrators may create namespaces on this registry");
    }
    match role {
        Some(TeamRole::Owner) | Some(TeamRole::Contributor) => Ok(()),
        Some(TeamRole::Viewer) => deny("viewers may not create namespaces for the team"),
        None => deny("you can create namespaces only for teams you belong to"),
    }
}

/// Create a team (the actor becomes its owner).
pub fn can_create_team(actor: &Actor, s: &AccessSettings) -> Decision {
    if !actor.is_enabled {
        return deny("this account is disabled");
    }
    if !actor.is_signed_in() {
        return deny("sign in to create teams");
    }
    if actor.is_admin || s.users_may_create_teams {
        return Ok(());
    }
    deny("only administrators may create teams on this registry")
}

/// See a team, its members and its namespaces.
pub fn can_view_team(actor: &Actor, role: Option<TeamRole>) -> Decision {
    if !actor.is_enabled {
        return deny("this account is disabled");
    }
    if actor.is_admin || role.is_some() {
        return Ok(());
    }
    deny("only members of the team may see it")
}

/// Add, remove and change the role of members; edit or delete the team.
pub fn can_manage_team(actor: &Actor, role: Option<TeamRole>) -> Decision {
    if !actor.is_enabled {
        return deny("this account is disabled");
    }
    if actor.is_admin || role == Some(TeamRole::Owner) {
        return Ok(());
    }
    deny("only owners of the team may manage it")
}

/// Manage users: create, disable, promote, bot users, other users' tokens; see the activity log.
pub fn can_administer(actor: &Actor) -> Decision {
    if !actor.is_enabled {
        return deny("this account is disabled");
    }
    if actor.is_admin {
        return Ok(());
    }
    deny("only administrators may do this")
}

/// List, create and revoke the access tokens of user `owner_id`.
pub fn can_manage_tokens_of(actor: &Actor, owner_id: i64) -> Decision {
    can_manage_own_or_as_admin(actor, owner_id, "you may manage only your own access tokens")
}

/// See user `user_id`'s account: themself, or an administrator. (Callers answer a refusal
/// as "no such user", so that accounts cannot be discovered by their ids.)
pub fn can_see_user(actor: &Actor, user_id: i64) -> Decision {
    can_manage_own_or_as_admin(actor, user_id, "you may see only your own account")
}

/// Change user `user_id`: their display name and email (`admin_fields` false) themself or an
/// administrator; whether they are an administrator or enabled (`admin_fields`) only an
/// administrator.
pub fn can_change_user(actor: &Actor, user_id: i64, admin_fields: bool) -> Decision {
    if admin_fields {
        return can_administer(actor);
    }
    can_manage_own_or_as_admin(actor, user_id, "you may change only your own account")
}

fn can_manage_own_or_as_admin(actor: &Actor, user_id: i64, refusal: &'static str) -> Decision {
    if !actor.is_enabled {
        return deny("this account is disabled");
    }
    if actor.user_id == Some(user_id) || actor.is_admin {
        return Ok(());
    }
    deny(refusal)
}

/// Whether a password kept by Portcullis signs this user in: always, unless the site signs
/// people in through a directory or provider only (`local_passwords` off), where only
/// administrators keep one (to repair the site when the directory is down).
pub fn keeps_local_password(user_is_admin: bool, local_passwords: bool) -> bool {
    local_passwords || user_is_admin
}

/// What the actor may do in a namespace, for pages to decide what to offer.
pub fn namespace_abilities(actor: &Actor, ns: &NamespaceFacts, s: &AccessSettings) -> NamespaceAbilities {
    NamespaceAbilities {
        pull: can_pull(actor, ns, s).is_ok(),
        push: can_push(actor, ns, s).is_ok(),
        delete: can_delete(actor, ns, s).is_ok(),
        change_visibility: can_change_visibility(actor, ns, s).is_ok(),
        edit: can_edit_namespace(actor, ns, s).is_ok(),
        delete_namespace: can_delete_namespace(actor, ns).is_ok(),
        webhooks: can_manage_webhooks(actor, ns).is_ok(),
        cleanup: can_manage_cleanup(actor, ns).is_ok(),
    }
}

/// Which namespaces an actor may pull from, in a form a database query applies before it
/// sorts and pages: [`can_pull`] itself, asked once for every visibility as a member and as a
/// stranger (the only facts it depends on), so that the query and the rule cannot disagree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullFilter {
    /// Visibilities anyone in the actor's place may pull from, member or not.
    pub anyone: Vec<Visibility>,
    /// Visibilities the actor may pull from only as a member of the owning team.
    pub members: Vec<Visibility>,
    /// Whether the global namespace is pullable.
    pub global: bool,
}

pub fn pull_filter(actor: &Actor, s: &AccessSettings) -> PullFilter {
    let facts = |visibility, role| NamespaceFacts { is_global: false, is_personal: false, visibility, role };
    let mut f = PullFilter { anyone: Vec::new(), members: Vec::new(), global: can_pull(actor, &GLOBAL, s).is_ok() };
    for v in Visibility::ALL {
        if can_pull(actor, &facts(v, None), s).is_ok() {
            f.anyone.push(v);
        } else if can_pull(actor, &facts(v, Some(TeamRole::Viewer)), s).is_ok() {
            f.members.push(v);
        }
    }
    f
}

impl PullFilter {
    /// What the filter says of one namespace (the query's condition, in Rust).
    pub fn admits(&self, ns: &NamespaceFacts) -> bool {
        if ns.is_global {
            return self.global;
        }
        self.anyone.contains(&ns.visibility) || (ns.role.is_some() && self.members.contains(&ns.visibility))
    }
}

/// Whether an actor sees every team (`true`) or only those they belong to, in the same way:
/// [`can_view_team`] asked for a stranger.
pub fn sees_every_team(actor: &Actor) -> bool {
    can_view_team(actor, None).is_ok()
}

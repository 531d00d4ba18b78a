//! The access policy as a table: every kind of actor × every kind of namespace × every
//! setting that matters × every namespace action, checked against the expectations written
//! out below as plain who-may-what rules (Portus's policy specs, corrected where Portus was wrong).

use app::model::{PushPolicy, TeamRole, Visibility};
use app::policy::{self, AccessSettings, Actor, NamespaceFacts};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Anonymous,
    Disabled,
    Outsider,
    Viewer,
    Contributor,
    Owner,
    Admin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ns {
    Global,
    Personal(Visibility),
    Team(Visibility),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Pull,
    Push,
    Delete,
    ChangeVisibility,
    Edit,
    DeleteNamespace,
    RunCleanup,
    ReadActivity,
    /// Open a repository's settings: change its description, its images or its own cleanup.
    ChangeRepository,
}

const WHO: [Who; 7] =
    [Who::Anonymous, Who::Disabled, Who::Outsider, Who::Viewer, Who::Contributor, Who::Owner, Who::Admin];
const ACTIONS: [Action; 9] = [
    Action::Pull,
    Action::Push,
    Action::Delete,
    Action::ChangeVisibility,
    Action::Edit,
    Action::DeleteNamespace,
    Action::RunCleanup,
    Action::ReadActivity,
    Action::ChangeRepository,
];

fn namespaces() -> Vec<Ns> {
    let mut v = vec![Ns::Global];
    for vis in Visibility::ALL {
        v.push(Ns::Personal(vis));
        v.push(Ns::Team(vis));
    }
    v
}

fn settings() -> Vec<AccessSettings> {
    let mut v = Vec::new();
    for push_policy in PushPolicy::ALL {
        for delete_enabled in [false, true] {
            for contributors_may_delete in [false, true] {
                for users_may_change_visibility in [false, true] {
                    v.push(AccessSettings {
                        push_policy,
                        delete_enabled,
                        contributors_may_delete,
                        users_may_change_visibility,
                        ..AccessSettings::default()
                    });
                }
            }
        }
    }
    v
}

fn actor(who: Who) -> Actor {
    match who {
        Who::Anonymous => Actor::ANONYMOUS,
        Who::Disabled => Actor::user(1, false, false),
        Who::Admin => Actor::user(2, true, true),
        _ => Actor::user(3, false, true),
    }
}

fn facts(who: Who, ns: Ns) -> NamespaceFacts {
    let role = match who {
        Who::Viewer => Some(TeamRole::Viewer),
        Who::Contributor => Some(TeamRole::Contributor),
        // A disabled owner: membership must not help a disabled account.
        Who::Owner | Who::Disabled => Some(TeamRole::Owner),
        _ => None,
    };
    match ns {
        Ns::Global => {
            NamespaceFacts { is_global: true, is_personal: false, visibility: Visibility::Public, role: None }
        }
        Ns::Personal(visibility) => NamespaceFacts { is_global: false, is_personal: true, visibility, role },
        Ns::Team(visibility) => NamespaceFacts { is_global: false, is_personal: false, visibility, role },
    }
}

/// The expectations, one rule per line.
fn expected(who: Who, ns: Ns, s: &AccessSettings, action: Action) -> bool {
    use Who::*;
    let member = matches!(who, Viewer | Contributor | Owner);
    let writer = matches!(who, Contributor | Owner);
    let visibility = match ns {
        Ns::Global => Visibility::Public,
        Ns::Personal(v) | Ns::Team(v) => v,
    };
    if who == Disabled {
        return false; // a disabled account can do nothing at all
    }
    match action {
        Action::Pull => match visibility {
            Visibility::Public => true,                    // anyone, even anonymous
            Visibility::Protected => who != Anonymous,     // anyone signed in
            Visibility::Private => member || who == Admin, // the team, and admins
        },
        Action::Push => match (who, ns, s.push_policy) {
            (Admin, _, _) => true,
            (_, Ns::Global, _) => false,
            (_, _, PushPolicy::AdminOnly) => false,
            (_, Ns::Team(_), PushPolicy::AllowPersonal) => false,
            _ => writer,
        },
        Action::Delete => match who {
            _ if !s.delete_enabled => false,
            Admin => true,
            _ if ns == Ns::Global => false,
            Owner => true,
            Contributor => s.contributors_may_delete,
            _ => false,
        },
        Action::ChangeVisibility => match who {
            _ if ns == Ns::Global => false, // always public
            Admin => true,
            Owner => s.users_may_change_visibility,
            _ => false,
        },
        Action::Edit => match who {
            Admin => true,
            _ if ns == Ns::Global => false,
            _ => writer,
        },
        Action::DeleteNamespace => match ns {
            Ns::Global | Ns::Personal(_) => false, // they go away only with their user
            Ns::Team(_) => matches!(who, Owner | Admin),
        },
        Action::RunCleanup => match who {
            _ if !s.delete_enabled => false, // a cleanup deletes: not while deleting is off
            Admin => true,
            _ if ns == Ns::Global => false,
            _ => who == Owner,
        },
        Action::ReadActivity => match visibility {
            _ if who == Anonymous => false, // never for visitors, even when public
            Visibility::Public | Visibility::Protected => true, // anyone signed in
            Visibility::Private => member || who == Admin, // the team, and admins
        },
        Action::ChangeRepository => {
            expected(who, ns, s, Action::Edit)
                || expected(who, ns, s, Action::Delete)
                || (ns != Ns::Global && matches!(who, Owner | Admin)) // its own cleanup policy
        }
    }
}

fn actual(who: Who, ns: Ns, s: &AccessSettings, action: Action) -> bool {
    let (a, f) = (actor(who), facts(who, ns));
    match action {
        Action::Pull => policy::can_pull(&a, &f, s),
        Action::Push => policy::can_push(&a, &f, s),
        Action::Delete => policy::can_delete(&a, &f, s),
        Action::ChangeVisibility => policy::can_change_visibility(&a, &f, s),
        Action::Edit => policy::can_edit_namespace(&a, &f, s),
        Action::DeleteNamespace => policy::can_delete_namespace(&a, &f),
        Action::RunCleanup => policy::can_run_cleanup(&a, &f, s),
        Action::ReadActivity => policy::can_read_activity(&a, &f, s),
        Action::ChangeRepository => policy::can_change_repository(&a, &f, s, ns != Ns::Global),
    }
    .is_ok()
}

#[test]
fn namespace_actions_match_the_table() {
    let mut cases = 0;
    let mut wrong = Vec::new();
    for who in WHO {
        for ns in namespaces() {
            for s in settings() {
                for action in ACTIONS {
                    cases += 1;
                    let (want, got) = (expected(who, ns, &s, action), actual(who, ns, &s, action));
                    if want != got {
                        wrong.push(format!("{who:?} {action:?} {ns:?} {s:?}: expected {want}, got {got}"));
                    }
                }
            }
        }
    }
    println!("policy table: {cases} namespace cases checked");
    assert_eq!(cases, 7 * 7 * 24 * 9);
    assert!(wrong.is_empty(), "{} of {cases} cases disagree:\n{}", wrong.len(), wrong.join("\n"));
}

#[test]
fn refusals_explain_themselves() {
    let s = AccessSettings::default();
    let viewer = facts(Who::Viewer, Ns::Team(Visibility::Private));
    let err = policy::can_push(&actor(Who::Viewer), &viewer, &s).unwrap_err();
    assert_eq!(err.0, "viewers may pull but not push");
    let err = policy::can_pull(&Actor::ANONYMOUS, &viewer, &s).unwrap_err();
    assert_eq!(err.0, "sign in to pull from this namespace");
}

#[test]
fn team_and_site_actions_match_the_table() {
    let mut cases = 0;
    for who in WHO {
        let a = actor(who);
        let role = facts(who, Ns::Team(Visibility::Private)).role;
        for s in [
            AccessSettings::default(),
            AccessSettings {
                users_may_create_teams: false,
                users_may_create_namespaces: false,
                ..AccessSettings::default()
            },
        ] {
            let open = s.users_may_create_teams;
            let enabled_user = who != Who::Disabled && who != Who::Anonymous;
            cases += 4;
            assert_eq!(
                policy::can_create_team(&a, &s).is_ok(),
                enabled_user && (open || who == Who::Admin),
                "{who:?} create team {s:?}"
            );
            assert_eq!(
                policy::can_create_namespace(&a, role, &s).is_ok(),
                enabled_user && (who == Who::Admin || (open && matches!(who, Who::Contributor | Who::Owner))),
                "{who:?} create namespace {s:?}"
            );
            assert_eq!(
                policy::can_view_team(&a, role).is_ok(),
                who != Who::Disabled && (role.is_some() || who == Who::Admin),
                "{who:?} view team"
            );
            assert_eq!(
                policy::can_manage_team(&a, role).is_ok(),
                matches!(who, Who::Owner | Who::Admin),
                "{who:?} manage team"
            );
        }
        cases += 3;
        assert_eq!(policy::can_administer(&a).is_ok(), who == Who::Admin, "{who:?} administer");
        assert_eq!(
            policy::can_manage_tokens_of(&a, 3).is_ok(),
            a.is_enabled && (a.user_id == Some(3) || a.is_admin),
            "{who:?} own tokens"
        );
        assert_eq!(policy::can_manage_tokens_of(&a, 99).is_ok(), who == Who::Admin, "{who:?} someone else's tokens");
    }
    println!("policy table: {cases} team and site cases checked");
}

/// The token grant is the policy, action by action, over the same table, narrowed by the
/// access token's restrictions.
#[test]
fn token_grants_follow_the_table() {
    use app::grant::{grant, Known, Restriction};
    use app::scope::parse_scopes;
    let mut cases = 0;
    let restrictions = [
        None,
        Some(Restriction { namespace_ids: None, pull_only: true }),
        Some(Restriction { namespace_ids: Some(vec![7]), pull_only: false }),
        Some(Restriction { namespace_ids: Some(vec![8]), pull_only: false }),
    ];
    for who in WHO {
        for ns in namespaces() {
            for s in settings() {
                for r in &restrictions {
                    cases += 1;
                    let name = if ns == Ns::Global { "app".to_string() } else { "team/app".to_string() };
                    let requested =
                        parse_scopes([format!("repository:{name}:*").as_str()], app::scope::MAX_SCOPES).unwrap();
                    let known = Known { id: 7, facts: facts(who, ns) };
                    let got = grant(&actor(who), &requested, |n| (n == "team").then_some(known), &s, r.as_ref());
                    let in_scope = match r.as_ref().and_then(|r| r.namespace_ids.as_ref()) {
                        None => true,
                        Some(ids) => ns != Ns::Global && ids.contains(&7),
                    };
                    let pull_only = r.as_ref().is_some_and(|r| r.pull_only);
                    let want: Vec<&str> = [
                        ("pull", expected(who, ns, &s, Action::Pull)),
                        ("push", expected(who, ns, &s, Action::Push) && !pull_only),
                        ("delete", expected(who, ns, &s, Action::Delete) && !pull_only),
                    ]
                    .into_iter()
                    .filter(|(_, ok)| *ok && in_scope)
                    .map(|(a, _)| a)
                    .collect();
                    let got_actions: Vec<&str> =
                        got.iter().flat_map(|a| a.actions.iter().map(String::as_str)).collect();
                    assert_eq!(got_actions, want, "{who:?} {ns:?} {s:?} {r:?}");
                    assert!(got.iter().all(|a| a.kind == "repository" && a.name == name));
                }
            }
        }
    }
    println!("policy table: {cases} token grant cases checked");
}

#[test]
fn unknown_namespaces_are_for_administrators_only() {
    use app::grant::grant;
    use app::scope::parse_scopes;
    let requested = parse_scopes(["repository:nowhere/app:pull,push"], app::scope::MAX_SCOPES).unwrap();
    let s = AccessSettings::default();
    assert!(grant(&actor(Who::Owner), &requested, |_| None, &s, None).is_empty());
    assert!(grant(&Actor::ANONYMOUS, &requested, |_| None, &s, None).is_empty());
    let admin = grant(&actor(Who::Admin), &requested, |_| None, &s, None);
    assert_eq!(admin[0].actions, vec!["pull", "push"]);
}

/// The filters lists apply in SQL agree with the rules, case by case.
#[test]
fn list_filters_agree_with_the_rules() {
    use app::model::TeamRole;
    use app::policy::{can_pull, can_view_team, pull_filter, sees_every_team};
    let actors = [
        Actor::ANONYMOUS,
        Actor::user(1, false, true),
        Actor::user(1, true, true),
        Actor::user(1, false, false),
        Actor::user(1, true, false),
    ];
    let mut cases = 0;
    for a in actors {
        for s in settings() {
            let f = pull_filter(&a, &s);
            for v in Visibility::ALL {
                for role in [None, Some(TeamRole::Viewer), Some(TeamRole::Contributor), Some(TeamRole::Owner)] {
                    for (is_global, is_personal) in [(false, false), (false, true), (true, false)] {
                        let ns = NamespaceFacts { is_global, is_personal, visibility: v, role };
                        assert_eq!(f.admits(&ns), can_pull(&a, &ns, &s).is_ok(), "{a:?} {ns:?} {s:?}");
                        cases += 1;
                    }
                }
            }
            for role in [None, Some(TeamRole::Viewer), Some(TeamRole::Owner)] {
                assert_eq!(
                    sees_every_team(&a) || role.is_some() && a.is_enabled,
                    can_view_team(&a, role).is_ok(),
                    "{a:?} {role:?}"
                );
            }
        }
    }
    println!("policy table: {cases} list filter cases checked");
}

/// The decisions about accounts, as a table: every kind of actor against their own account and
/// someone else's.
#[test]
fn accounts_are_seen_and_changed_by_themselves_or_administrators() {
    use app::policy::{can_change_user, can_manage_tokens_of, can_see_user, keeps_local_password};
    const ME: i64 = 1;
    const OTHER: i64 = 2;
    // (actor, may see/change/manage the tokens of their own, of another's, may change admin fields)
    let table = [
        (Actor::ANONYMOUS, false, false, false),
        (Actor::user(ME, false, true), true, false, false),
        (Actor::user(ME, false, false), false, false, false),
        (Actor::user(ME, true, true), true, true, true),
        (Actor::user(ME, true, false), false, false, false),
    ];
    for (a, own, others, admin_fields) in table {
        assert_eq!(can_see_user(&a, ME).is_ok(), own, "{a:?} sees their own");
        assert_eq!(can_see_user(&a, OTHER).is_ok(), others, "{a:?} sees another's");
        assert_eq!(can_change_user(&a, ME, false).is_ok(), own, "{a:?} changes their own name");
        assert_eq!(can_change_user(&a, OTHER, false).is_ok(), others, "{a:?} changes another's name");
        for whose in [ME, OTHER] {
            assert_eq!(can_change_user(&a, whose, true).is_ok(), admin_fields, "{a:?} promotes or disables {whose}");
        }
        assert_eq!(can_manage_tokens_of(&a, ME).is_ok(), own, "{a:?} manages their own tokens");
        assert_eq!(can_manage_tokens_of(&a, OTHER).is_ok(), others, "{a:?} manages another's tokens");
    }
    // Local passwords: everyone's, or (directory or provider sign-in only) administrators'.
    for (is_admin, local, keeps) in
        [(false, true, true), (true, true, true), (false, false, false), (true, false, true)]
    {
        assert_eq!(keeps_local_password(is_admin, local), keeps, "admin {is_admin}, local passwords {local}");
    }
}

#[test]
fn a_protected_tag_is_changed_by_the_least_role_its_rule_names_and_up() {
    use app::policy::can_change_protected_tag;
    let facts = |role: Option<TeamRole>| NamespaceFacts {
        is_global: false,
        is_personal: false,
        visibility: Visibility::Private,
        role,
    };
    let member = Actor::user(1, false, true);
    let admin = Actor::user(2, true, true);
    let disabled_admin = Actor::user(3, true, false);
    // (role in the team, least role of the rule, may change the tag)
    let table = [
        (None, "contributor", false),
        (Some(TeamRole::Viewer), "contributor", false),
        (Some(TeamRole::Contributor), "contributor", true),
        (Some(TeamRole::Contributor), "owner", false),
        (Some(TeamRole::Owner), "owner", true),
        (Some(TeamRole::Owner), "admin", false),
    ];
    for (role, least, may) in table {
        assert_eq!(can_change_protected_tag(&member, &facts(role), least).is_ok(), may, "{role:?} under {least}");
        assert!(can_change_protected_tag(&admin, &facts(role), least).is_ok(), "an administrator under {least}");
        assert!(can_change_protected_tag(&disabled_admin, &facts(role), least).is_err(), "a disabled account");
    }
}

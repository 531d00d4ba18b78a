//! What a token grants: the requested resources intersected with what the policy allows,
//! per resource, narrowed further by the restrictions of the access token used. A partial or
//! empty grant is still a grant; the registry refuses what is missing.

use serde::{Deserialize, Serialize};

use crate::model::Visibility;
use crate::policy::{self, AccessSettings, Actor, NamespaceFacts};
use crate::scope::{Action, RepositoryName, Resource};

/// One entry of the token's `access` claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Access {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
}

/// The restrictions of an access token: the one type for them, at every door.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Restriction {
    /// Only these namespaces (by id); `None` for all.
    pub namespace_ids: Option<Vec<i64>>,
    pub pull_only: bool,
}

impl Restriction {
    /// Whether it restricts anything at all. A restricted credential is read-only outside the
    /// registry and never acts as an administrator.
    pub fn is_restricted(&self) -> bool {
        self.pull_only || self.namespace_ids.is_some()
    }

    /// Whether a namespace (`None`: the global one) is within reach.
    pub fn reaches(&self, namespace_id: Option<i64>) -> bool {
        match &self.namespace_ids {
            None => true,
            Some(ids) => namespace_id.is_some_and(|id| ids.contains(&id)),
        }
    }
}

/// A namespace as the grant needs it: its id (for token restrictions) and the facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Known {
    pub id: i64,
    pub facts: NamespaceFacts,
}

/// What a namespace that does not exist looks like to the policy: private, nobody's member,
/// so that only administrators may use it (their pushes create it).
const UNKNOWN: NamespaceFacts =
    NamespaceFacts { is_global: false, is_personal: false, visibility: Visibility::Private, role: None };

/// Computes the grant for `actor` (from `access::Principal::actor`, which already took
/// administrator powers away from a restricted credential). `lookup(namespace)` gives what is
/// known of a namespace by name.
pub fn grant(
    actor: &Actor,
    requested: &[Resource],
    lookup: impl Fn(&str) -> Option<Known>,
    s: &AccessSettings,
    restriction: Option<&Restriction>,
) -> Vec<Access> {
    let mut out = Vec::new();
    for r in requested {
        match r {
            Resource::Catalog => {
                // Listing every repository is for administrators (never a restricted credential).
                if policy::can_administer(actor).is_ok() {
                    out.push(Access { kind: "registry".into(), name: "catalog".into(), actions: vec!["*".into()] });
                }
            }
            Resource::Repository { name, actions } => {
                let Some(parsed) = RepositoryName::parse(name) else { continue };
                let (id, facts) = match parsed.namespace() {
                    None => (None, crate::policy::GLOBAL),
                    Some(ns) => match lookup(ns) {
                        Some(k) => (Some(k.id), k.facts),
                        None => (None, UNKNOWN),
                    },
                };
                if restriction.is_some_and(|r| !r.reaches(id)) {
                    continue;
                }
                let pull_only = restriction.is_some_and(|r| r.pull_only);
                let granted: Vec<String> = actions
                    .iter()
                    .filter(|a| {
                        let decision = match a {
                            Action::Pull => policy::can_pull(actor, &facts, s),
                            Action::Push if pull_only => Err(policy::Denied("this token may only pull")),
                            Action::Push => policy::can_push(actor, &facts, s),
                            Action::Delete if pull_only => Err(policy::Denied("this token may only pull")),
                            Action::Delete => policy::can_delete(actor, &facts, s),
                        };
                        decision.is_ok()
                    })
                    .map(|a| a.as_str().to_string())
                    .collect();
                if !granted.is_empty() {
                    out.push(Access { kind: "repository".into(), name: name.clone(), actions: granted });
                }
            }
        }
    }
    out
}

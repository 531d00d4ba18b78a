//! What people are organised into: teams and their members, namespaces and their
//! visibility, and the site's access settings. Owns the `team`, `team_member`, `namespace` and
//! `access_setting` tables; every list here is filtered by the policy in its query.
//!
//! May call: `access` (the principal), `audit`.

pub mod namespaces;
pub mod settings;
pub mod teams;

//! What people are organised into: teams and their members, namespaces and their
//! visibility, and the site's access settings. Owns the `team`, `team_member`, `namespace` and
//! `access_setting` tables; every list here is filtered by the policy in its query.
//!
//! May call: `access` (the principal, users), `images::store::before_removing` (a namespace's
//! removal, which must not leave images behind), `audit`. Never `registry`.

pub mod namespaces;
pub mod settings;
pub mod teams;

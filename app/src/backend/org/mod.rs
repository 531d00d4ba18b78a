//! The organisation: what people are organised into (teams and their members, namespaces and
//! their visibility) and the site's access settings. (The directory, LDAP, is `access::ldap`.)
//! Owns the `team`, `team_member`, `namespace` and
//! `access_setting` tables: every write to them and every lookup of their rows is here
//! (`shared` holds the ones other rooms call: a user's personal team and namespace, the
//! namespace an image arrives in). Other rooms' read queries may join these tables to show a
//! name or to filter; they never write them. Every list here is filtered by the policy in its
//! query.
//!
//! May call: `access` (the principal, users), `images::store::before_removing` (a namespace's
//! removal, which must not leave images behind), `audit`. Never `registry`. `shared` calls only
//! `audit`, so that `access::users` and `images::store` may call it without a cycle.

pub mod namespaces;
pub mod settings;
pub mod shared;
pub mod teams;

//! Who is asking, and whether they may: the principal every door builds (sessions, passwords,
//! access and refresh tokens all end as one [`principal::Principal`], whose `actor()` is what
//! the policy judges), sign-in with its throttle, password hashing, the directory (LDAP) and
//! OpenID Connect sign-ins, and group mappings. Owns the `user`, `access_token`,
//! `login_failure`, `password_reset`, `oidc_identity` and `group_mapping` tables.
//!
//! May call: `org` (a token's namespaces by name; `org::shared` for a user's
//! personal team and namespace), `images::store::before_removing` (a
//! user's removal, which must not leave images behind), `audit`. Never `registry`.

pub mod access_tokens;
pub mod accounts;
pub mod connections;
pub mod groups;
pub mod ldap;
pub mod login;
pub mod oidc;
pub mod password;
pub mod principal;
pub mod recovery;
pub mod session;
pub mod throttle;
pub mod users;

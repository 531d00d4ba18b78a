//! The manifest gate: the rules a registry token cannot carry, because a token names a
//! repository and never a tag. Every push ends with a manifest PUT and every delete is a
//! manifest DELETE, so Portcullis serves those paths (`server/src/gate.rs`) and asks here
//! before it forwards them to the registry; every pull starts with a manifest GET, which
//! the signature policy checks. Owns the `tag_rule`, `namespace_quota`, `namespace_blob`,
//! `namespace_usage`, `signature_policy`, `trusted_key`, `gate_push` and `referrer` tables.
//!
//! [`rules`] manages a namespace's tag rules (immutable and protected tags); [`quota`] its
//! storage quota and usage; [`signing`] its signature policy and trusted keys; [`referrers`]
//! the OCI 1.1 referrers API, which the registry does not serve; [`check`] decides a PUT or DELETE at the gate and records each
//! refusal.
//!
//! May call: `access` (who acts), `org` (the namespace a rule is set on, the actor's role in
//! it), `registry` (what a tag points at now), `webhooks` (quota warnings), `audit`.

pub mod check;
pub mod quota;
pub mod referrers;
pub mod rules;
pub mod signing;

pub use check::{may_delete, may_put, Refusal};

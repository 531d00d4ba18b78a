//! What is in the registry: the image store (repositories, manifests, tags), browsing it, the
//! registry's notifications and reconcile, each tag's history, and cleanup policies. Owns the
//! `repository`, `manifest`, `tag`, `tag_event`, `registry_event`, `registry_event_count`,
//! `sync_run`, `cleanup_policy` and `cleanup_run` tables.
//!
//! May call: `access`, `directory` (`org::shared` for the namespace an image arrives
//! in), `registry` (the client), `audit`, `gate` (cleanup keeps immutable tags; a tag page
//! says which rules and what quota apply; reconcile recounts the quotas' usage).

pub mod browse;
pub mod cleanup;
pub mod cron;
pub mod events;
pub mod history;
pub mod life;
pub mod manage;
pub mod reconcile;
pub mod store;

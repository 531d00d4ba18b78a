//! What is in the registry: the image store (repositories, manifests, tags), browsing it, the
//! registry's notifications and reconcile, and each tag's history. Owns the `repository`,
//! `manifest`, `tag`, `tag_event`, `registry_event` and `sync_run` tables.
//!
//! May call: `access`, `directory` (`directory::store` for the namespace an image arrives
//! in), `registry` (the client), `audit`.

pub mod browse;
pub mod cleanup;
pub mod cron;
pub mod events;
pub mod history;
pub mod reconcile;
pub mod store;

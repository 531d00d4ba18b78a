//! Server-side domain code: everything that touches the database, secrets or the network.
//! Each room (a folder, or a file at this level) names in its module doc the tables it owns,
//! in backticks in a sentence that starts "Owns the": only that room writes them
//! (app/tests/table_owners.rs).
//! Compiled only with the `ssr` feature; server functions and HTTP handlers call into it.

pub mod access;
pub mod audit;
pub mod gate;
pub mod images;
pub mod jobs;
pub mod mail;
pub mod maintenance;
pub mod org;
pub mod registry;
pub mod webhooks;

mod client_ip;
mod database;
mod input;
mod redacted;
pub mod sealed;
mod settings;
mod state;
pub mod together;

pub use client_ip::{client_ip, ClientIp, ProxyNet};
pub use database::{migrate, migration_status, secret, MigrationStatus};
pub use input::{bounded_query, validate_description, without_nul, MAX_DESCRIPTION_LEN};
pub use redacted::Secret;
pub use settings::Settings;
pub use state::AppState;

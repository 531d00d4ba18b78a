//! Portcullis and the registry: the token endpoint's service (credentials to a signed JWT),
//! the signing keys and their CA, the in-memory caches that keep the token endpoint fast and
//! their invalidation across replicas, and the HTTP client Portcullis uses to read the registry.
//! Owns the `signing_key` and `refresh_token` tables.
//!
//! A `docker login` runs: `server/src/token.rs` (the route) → [`token_service::issue`]
//! (credentials, grant) → [`jwt::sign`] (the claims) → [`keys::Signer::sign`].
//!
//! May call: `access`, `directory`.

pub mod cache;
pub mod client;
pub mod jwt;
pub mod keys;
pub mod token_service;

//! Portcullis: the application shared by the server and the browser.
//!
//! - [`model`]: wasm-safe shared types and validated names.
//! - [`error`]: the error type that crosses the server-function boundary.
//! - [`api`]: `#[server]` functions, thin adapters over [`backend`].
//! - [`ui`]: pages and components.
//! - `backend` (server only): database access, password hashing, sessions.

#![recursion_limit = "256"]

pub mod api;
pub mod error;
pub mod grant;
pub mod model;
pub mod policy;
pub mod scope;
pub mod ui;

#[cfg(feature = "ssr")]
pub mod backend;

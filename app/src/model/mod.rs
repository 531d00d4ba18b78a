//! Types shared by the server and the browser: validated names and the views of
//! records that pages render. Nothing here touches the database or holds a secret.
//!
//! One file per subject: [`names`] (validation), [`accounts`], [`teams`] (and namespaces),
//! [`images`], [`activity`], [`webhooks`], [`cleanup`], [`rules`] (the gate's), [`paging`], and [`utc`] (times as
//! the pages read them). Everything is re-exported here: `crate::model::TeamView`.

mod accounts;
mod activity;
mod cleanup;
mod images;
mod names;
mod paging;
mod rules;
mod teams;
pub mod utc;
mod webhooks;

pub use accounts::*;
pub use activity::*;
pub use cleanup::*;
pub use images::*;
pub use names::*;
pub use paging::*;
pub use rules::*;
pub use teams::*;
pub use webhooks::*;

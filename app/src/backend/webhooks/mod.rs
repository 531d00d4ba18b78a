//! Outbound webhooks: what happens to a namespace's images, told to other systems (CI, chat),
//! signed so that they can tell it came from here. Owns the `webhook` and `webhook_delivery`
//! tables.
//!
//! An event is queued in the same transaction that records it ([`enqueue`]), so nothing is
//! told that did not happen and nothing that happened is lost. Workers on any replica claim
//! due deliveries with `FOR UPDATE SKIP LOCKED` (and a lease), send them with a timeout, and
//! retry failures with exponential back-off for a bounded time. A receiver that is slow or
//! down costs only its own deliveries: the inbox and the token endpoint never wait on it.
//!
//! Each delivery is signed: `X-Portcullis-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of
//! "<t>.<body>" under the webhook's secret>`. Targets on loopback, private or link-local
//! addresses are refused unless `webhook_allow_private`, checked on the address the name
//! resolves to when sending (and the connection is made to that very address), redirects
//! not followed.
//!
//! May call: `access` (the principal), `directory` (the namespace and its facts), `registry`
//! (the key ring, which holds the `sealed` encryption of secrets), `audit`.
//!
//! The room's files: `hooks` (a webhook's life: creating, listing, turning off, deleting, its
//! deliveries, a test and a redelivery), `targets` (where a webhook may point: the URL, its
//! address and headers), `outbox` (what happened, queued for the webhooks that asked), and
//! `delivery` (the worker that signs, sends and retries, and the pruning of old deliveries).

mod delivery;
mod hooks;
mod outbox;
mod targets;

pub use delivery::{prune, run_due, signature, spawn_worker};
pub use hooks::{
    create, delete, deliveries, get, list, list_all_namespaces, redeliver, send_test, set_enabled, update,
};
pub use outbox::{enqueue, enqueue_cleanup, enqueue_quota, CleanupEvent, ImageEvent, QuotaEvent};
pub use targets::is_internal;

/// The events a webhook may ask for.
pub const EVENTS: [&str; 5] = ["push", "delete", "pull", "cleanup", "quota"];
/// The payload formats.
pub const FORMATS: [&str; 2] = ["portcullis", "cloudevents"];

/// What a new webhook is to be.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct NewWebhook {
    pub name: String,
    pub url: String,
    pub events: Vec<String>,
    #[serde(default)]
    pub format: Option<String>,
    /// Custom headers (name, value): a receiver's own token, for instance.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The signing secret; one is generated when none is given.
    #[serde(default)]
    pub secret: Option<String>,
}

//! Outbound webhooks and their deliveries.

use serde::{Deserialize, Serialize};

use super::utc;

/// An outbound webhook as its owners see it: its secret and its headers' values never leave
/// the server after creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookView {
    pub id: i64,
    /// The namespace whose images it reports; `None`: every namespace (site-wide).
    pub namespace: Option<String>,
    pub name: String,
    pub url: String,
    /// Of `push`, `delete`, `pull`, `cleanup`.
    pub events: Vec<String>,
    /// `portcullis` (JSON close to Harbor's) or `cloudevents` (CloudEvents 1.0, structured).
    pub format: String,
    /// The names of the custom headers it sends.
    pub header_names: Vec<String>,
    pub enabled: bool,
    #[serde(deserialize_with = "utc::deserialize")]
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Its newest delivery, if any.
    pub last_delivery: Option<WebhookDelivery>,
}

/// One delivery of an event to a webhook, and how it went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookDelivery {
    pub id: i64,
    pub webhook_id: i64,
    /// `push`, `delete`, `pull` or `test`.
    pub event: String,
    /// `pending` (queued or waiting for a retry), `delivered` or `failed` (gave up).
    pub state: String,
    pub attempts: i32,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub response_ms: Option<i32>,
    /// The start of the receiver's answer (at most 2 kB).
    pub response_body: Option<String>,
    #[serde(deserialize_with = "utc::deserialize")]
    pub created_at: chrono::DateTime<chrono::Utc>,
    #[serde(deserialize_with = "utc::deserialize")]
    pub next_attempt_at: chrono::DateTime<chrono::Utc>,
    #[serde(default, deserialize_with = "utc::deserialize_option")]
    pub delivered_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The event as it is sent (the body, before signing).
    #[serde(default)]
    pub payload: serde_json::Value,
}

impl WebhookDelivery {
    /// Whether it did not reach its receiver: gave up, or waits for another try.
    pub fn is_failing(&self) -> bool {
        self.state == "failed" || (self.state == "pending" && self.attempts > 0)
    }
}

/// A webhook just created, with its secret: shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedWebhook {
    pub webhook: WebhookView,
    pub secret: String,
}

//! The activity log, as its page and export show it.

use serde::{Deserialize, Serialize};

use super::utc;

/// One entry of the activity log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEventView {
    pub id: i64,
    #[serde(deserialize_with = "utc::deserialize")]
    pub at: chrono::DateTime<chrono::Utc>,
    pub actor: String,
    pub action: String,
    pub target_kind: String,
    pub target_name: String,
    pub namespace: Option<String>,
    pub details: serde_json::Value,
}

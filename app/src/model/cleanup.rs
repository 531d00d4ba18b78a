//! Cleanup policies, their runs and their decisions.

use serde::{Deserialize, Serialize};

use super::utc;

/// What a cleanup policy keeps; every other tag it covers is deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanupRules {
    /// Keep the N most recently pushed tags it covers.
    pub keep_last: Option<i32>,
    /// Keep tags pushed or pulled within D days.
    pub keep_days: Option<i32>,
    /// Tags it covers (a regular expression); the others are always kept.
    #[serde(default = "CleanupRules::everything")]
    pub include_pattern: String,
    /// Tags always kept (a regular expression; empty: none).
    #[serde(default)]
    pub keep_pattern: String,
    /// When it runs by itself: a cron schedule in UTC (`0 3 * * 0`, `@daily`); empty: only on
    /// demand.
    #[serde(default)]
    pub schedule: String,
    /// Delete images no tag points at any more (earlier images of moved tags, which "Put
    /// back" could otherwise restore).
    #[serde(default)]
    pub delete_untagged: bool,
    #[serde(default = "CleanupRules::on")]
    pub enabled: bool,
}

impl CleanupRules {
    fn everything() -> String {
        ".*".into()
    }
    fn on() -> bool {
        true
    }
}

/// A cleanup policy as stored: a namespace's, or one repository's (which wins).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanupPolicyView {
    pub id: i64,
    pub namespace: String,
    pub repository: Option<String>,
    #[serde(flatten)]
    pub rules: CleanupRules,
    #[serde(default, deserialize_with = "utc::deserialize_option")]
    pub last_run_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The newest run that deleted (not a dry run), if any.
    #[serde(default)]
    pub last_run: Option<CleanupRunSummary>,
    /// Why the policy does not run now, when it does not (deleting is turned off).
    #[serde(default)]
    pub paused: Option<String>,
}

/// What a cleanup run did, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanupRunSummary {
    /// `schedule` or `on demand`.
    pub trigger: String,
    #[serde(deserialize_with = "utc::deserialize")]
    pub at: chrono::DateTime<chrono::Utc>,
    pub deleted: i32,
    pub kept: i32,
    pub skipped: i32,
    pub bytes_freed: i64,
    pub error: Option<String>,
}

/// What a cleanup decides for one tag, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanupDecision {
    pub repository: String,
    /// Empty for an untagged image.
    pub tag: String,
    pub digest: String,
    /// `delete`, `keep`, or `skip` (the policy would delete it, but it cannot go alone).
    pub action: String,
    /// The rule that keeps it, or why it is skipped or deleted.
    pub reason: String,
}

/// What a cleanup did, or (a dry run) would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanupReport {
    pub dry_run: bool,
    pub decisions: Vec<CleanupDecision>,
    pub deleted: i32,
    pub kept: i32,
    pub skipped: i32,
    /// The compressed size of the deleted images (their space is reclaimed by the registry's
    /// garbage collection, less what other images share).
    pub bytes_freed: i64,
    pub errors: Vec<String>,
}

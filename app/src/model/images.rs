//! Repositories, tags and images as the pages show them, their history, and the catalog
//! reconcile and event inbox as administrators see them.

use serde::{Deserialize, Serialize};

use super::{utc, NamespaceAbilities, Page};

/// A repository as lists show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositoryView {
    pub id: i64,
    /// The full path: `alice/hello`, or `hello` in the global namespace.
    pub name: String,
    /// The namespace; `None` for the global namespace.
    pub namespace: Option<String>,
    pub description: String,
    pub tag_count: i64,
    #[serde(default, deserialize_with = "utc::deserialize_option")]
    pub last_push_at: Option<chrono::DateTime<chrono::Utc>>,
    pub last_pushed_by: Option<String>,
    /// Compressed size of the most recently pushed tag's image.
    pub size: Option<i64>,
    #[serde(deserialize_with = "utc::deserialize")]
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// A repository as its pages head it (tags, history, settings): what it is and what the
/// viewer may do with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositoryHead {
    /// The full path: `alice/hello`, or `hello` in the global namespace.
    pub name: String,
    /// The namespace; `None` for the global namespace.
    pub namespace: Option<String>,
    pub description: String,
    pub tag_count: i64,
    /// What the viewer may do here.
    pub abilities: RepositoryAbilities,
}

/// What the viewer may do with a repository (the policy's answers for its namespace), for
/// pages to decide what to offer: the repository's share of [`NamespaceAbilities`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositoryAbilities {
    pub push: bool,
    pub delete: bool,
    /// Change its description.
    pub edit: bool,
    /// Set its own cleanup policy (a repository of the global namespace has none).
    pub cleanup: bool,
}

impl From<NamespaceAbilities> for RepositoryAbilities {
    fn from(n: NamespaceAbilities) -> Self {
        Self { push: n.push, delete: n.delete, edit: n.edit, cleanup: n.cleanup }
    }
}

impl RepositoryHead {
    /// Whether its settings page has anything the viewer may change (the page to offer; the
    /// server decides with `policy::can_change_repository`).
    pub fn has_settings(&self) -> bool {
        self.abilities.edit || self.abilities.delete || self.abilities.cleanup
    }
}

/// A tag as the repository page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagView {
    pub id: i64,
    pub name: String,
    pub digest: String,
    pub media_type: Option<String>,
    pub size: Option<i64>,
    /// `os/architecture[/variant]` of each platform.
    pub platforms: Vec<String>,
    #[serde(default, deserialize_with = "utc::deserialize_option")]
    pub created: Option<chrono::DateTime<chrono::Utc>>,
    pub pushed_by: Option<String>,
    #[serde(deserialize_with = "utc::deserialize")]
    pub pushed_at: chrono::DateTime<chrono::Utc>,
    #[serde(default, deserialize_with = "utc::deserialize_option")]
    pub last_pulled_at: Option<chrono::DateTime<chrono::Utc>>,
    pub labels: Vec<(String, String)>,
    /// Other tags of the repository pointing at the same digest (the first 20 by name).
    pub shared_with: Vec<String>,
    /// How many other tags point at the same digest (all of them, not only those named).
    pub shared_total: i64,
    /// Tags of multi-platform images that include this image as one of their platforms:
    /// deleting it breaks them.
    pub in_indexes: Vec<String>,
    pub signed: bool,
}

/// What an image runs, from its config (every field optional in an image).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImageConfig {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    pub exposed_ports: Vec<String>,
    pub stop_signal: Option<String>,
    pub history: Vec<BuildStep>,
}

/// One step of an image's build history; the steps that made a layer carry its size.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BuildStep {
    pub created: Option<String>,
    pub created_by: Option<String>,
    pub comment: Option<String>,
    pub empty_layer: bool,
    pub layer_size: Option<i64>,
}

/// Everything the tag page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagDetail {
    pub repository: String,
    pub tag: TagView,
    /// The manifest (or index) as the registry serves it, indented for reading.
    pub manifest_json: Option<String>,
    /// What the image runs; `None` for an index (see its platforms) or an image recorded
    /// before configs were read.
    pub config: Option<ImageConfig>,
    pub annotations: Vec<(String, String)>,
    /// `[{mediaType, digest, size}]` of an image; empty for an index.
    pub layers: Vec<(String, String, i64)>,
    pub config_digest: Option<String>,
    /// For an index: (platform, digest, size).
    pub index_entries: Vec<(String, String, Option<i64>)>,
    /// Why part of this image's metadata was not read (over a size limit), if it was not.
    pub incomplete_reason: Option<String>,
    /// Whether the viewer may delete the tag. (Flat, not `RepositoryAbilities`: the REST API
    /// publishes this type, and these two names are in its contract.)
    pub can_delete: bool,
    /// Whether the viewer may push here, and so put an earlier image back under the tag.
    pub can_push: bool,
    pub registry_host: String,
    /// The tag's moves, newest first (at most [`HISTORY_SHOWN`]).
    pub history: Vec<TagMove>,
    /// What applies to it: tag rules, cleanup, signature, quota.
    pub life: crate::model::TagLife,
}

/// How many moves the tag and repository pages show.
pub const HISTORY_SHOWN: i64 = 20;

/// One move of a tag: pushed to a digest, moved to another, deleted, or put back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagMove {
    pub id: i64,
    pub tag: String,
    /// What the tag pointed at afterwards; `None`: it was deleted.
    pub digest: Option<String>,
    /// What it pointed at before; `None`: it was new.
    pub previous_digest: Option<String>,
    /// Who, when known (a push's verified user, the user who deleted or restored).
    pub actor: Option<String>,
    /// How it was learnt: `push`, `delete`, `reconcile` or `restore`.
    pub source: String,
    #[serde(deserialize_with = "utc::deserialize")]
    pub at: chrono::DateTime<chrono::Utc>,
}

/// The repository page: a page of its tags under its head, and the registry's host (for the
/// pull commands).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositoryTagsView {
    pub head: RepositoryHead,
    pub tags: Page<TagView>,
    pub registry_host: String,
}

/// A repository's latest tag moves, deleted tags included, newest first, under its head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositoryHistoryView {
    pub head: RepositoryHead,
    pub moves: Vec<TagMove>,
}

impl TagMove {
    /// The move in words, without the time: "pushed by carol", "deleted", "put back by alice".
    pub fn describe(&self) -> String {
        let what = match (self.source.as_str(), &self.digest) {
            ("cleanup", None) => "deleted by the cleanup policy",
            (_, None) => "deleted",
            ("restore", _) => "put back",
            ("reconcile", _) => "found in the registry",
            (_, Some(_)) if self.previous_digest.is_some() => "moved",
            _ => "pushed",
        };
        match &self.actor {
            Some(who) => format!("{what} by {who}"),
            None => what.to_string(),
        }
    }
}

/// Human size: `12.3 MB`.
pub fn human_size(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// The short form of a digest: the first 12 hex characters.
pub fn short_digest(digest: &str) -> &str {
    let hex = digest.split_once(':').map(|(_, h)| h).unwrap_or(digest);
    &hex[..hex.len().min(12)]
}

/// What one run of the catalog reconcile did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconcileReport {
    pub repositories: i32,
    pub tags_added: i32,
    pub tags_updated: i32,
    pub tags_removed: i32,
    pub repositories_removed: i32,
    /// Repositories that could not be read (the rest were reconciled), or why the run failed.
    pub error: Option<String>,
}

/// One recorded run of the catalog reconcile: when, why, and its report (all zeros while it
/// is still running).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconcileRunView {
    pub id: i64,
    #[serde(deserialize_with = "utc::deserialize")]
    pub started_at: chrono::DateTime<chrono::Utc>,
    #[serde(default, deserialize_with = "utc::deserialize_option")]
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
    pub trigger: String,
    #[serde(flatten)]
    pub report: ReconcileReport,
}

/// The state of the registry-event inbox.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxStats {
    /// Stored and not yet applied.
    pub pending: i64,
    /// Processed since the start, by outcome (the events themselves are pruned).
    pub applied: i64,
    pub skipped: i64,
    pub failed: i64,
    /// Days processed events are kept.
    pub retention_days: u32,
    /// (time, action, repository, reason) of the latest skipped or failed events.
    pub recent_skips: Vec<(chrono::DateTime<chrono::Utc>, String, String, String)>,
}

#[cfg(test)]
mod display_tests {
    use super::*;

    #[test]
    fn sizes_and_digests_read_well() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(12_345_678), "12.3 MB");
        assert_eq!(short_digest("sha256:0123456789abcdef0123"), "0123456789ab");
    }

    #[test]
    fn times_read_back_as_chrono_writes_them() {
        let t = chrono::DateTime::parse_from_rfc3339("2026-12-02T20:30:05.123456Z").unwrap().to_utc();
        for (written, want) in [
            (serde_json::to_string(&t).unwrap(), Some(t)),
            ("\"2026-12-02T21:30:05.123456+01:00\"".into(), Some(t)),
            ("\"2026-12-02T20:30:05Z\"".into(), Some(t - chrono::Duration::microseconds(123_456))),
            ("\"2026-12-02T20:30:05.1234567891Z\"".into(), None),
            ("\"2026-02-30T20:30:05Z\"".into(), None),
            ("\"2026-12-02T20:30:05\"".into(), None),
            ("\"2026-12-02T20:30:+5Z\"".into(), None),
        ] {
            let read = utc::deserialize(&mut serde_json::Deserializer::from_str(&written)).ok();
            assert_eq!(read, want, "{written}");
        }
        let none: Option<chrono::DateTime<chrono::Utc>> =
            utc::deserialize_option(&mut serde_json::Deserializer::from_str("null")).unwrap();
        assert_eq!(none, None);
    }
}

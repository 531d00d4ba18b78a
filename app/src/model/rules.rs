//! Tag rules: what the manifest gate holds a namespace's tags to.

use serde::{Deserialize, Serialize};

use super::utc;

/// A tag rule as pages and the API show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagRuleView {
    pub id: i64,
    pub namespace: String,
    /// The repositories of the namespace it covers: a glob on the path after the namespace
    /// (`app`, `tools/*`), `*` for all.
    pub repositories: String,
    /// The tags it covers: a glob (`v*`, `release-*`, `prod`).
    pub tags: String,
    /// `immutable`: a tag it covers never moves and is never deleted once it exists.
    /// `protected`: only members of at least `push_role` may push (create or move) a tag it
    /// covers, and of at least `delete_role` delete one.
    pub kind: String,
    /// For a protected rule: `contributor`, `owner` or `admin` (administrators only).
    #[serde(default)]
    pub push_role: Option<String>,
    #[serde(default)]
    pub delete_role: Option<String>,
    pub created_by: String,
    #[serde(deserialize_with = "utc::deserialize")]
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// A new tag rule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagRuleInput {
    /// Empty or `*`: every repository of the namespace.
    #[serde(default)]
    pub repositories: String,
    pub tags: String,
    /// `immutable` (the default) or `protected`.
    #[serde(default)]
    pub kind: String,
    /// For a protected rule: the least role that may push, and delete (`owner` by default).
    #[serde(default)]
    pub push_role: String,
    #[serde(default)]
    pub delete_role: String,
}

/// Who a protected rule's least role means, for people: "contributors and owners".
pub fn role_reach(role: &str) -> &'static str {
    match role {
        "contributor" => "contributors, owners and administrators",
        "owner" => "owners of the team and administrators",
        _ => "administrators",
    }
}

/// Whether `text` matches `glob`, where `*` stands for any run of characters (`/` included)
/// and `?` for one; everything else stands for itself.
pub fn glob_matches(glob: &str, text: &str) -> bool {
    let (g, t): (Vec<char>, Vec<char>) = (glob.chars().collect(), text.chars().collect());
    // The classic two-pointer walk, with one star to fall back to: linear in practice.
    let (mut gi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if gi < g.len() && (g[gi] == '?' || g[gi] == t[ti]) {
            gi += 1;
            ti += 1;
        } else if gi < g.len() && g[gi] == '*' {
            star = Some(gi);
            mark = ti;
            gi += 1;
        } else if let Some(s) = star {
            gi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    g[gi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::glob_matches;

    #[test]
    fn globs_match_whole_names() {
        assert!(glob_matches("v*", "v1.2.0"));
        assert!(glob_matches("v*", "v"));
        assert!(!glob_matches("v*", "dev"));
        assert!(glob_matches("prod", "prod"));
        assert!(!glob_matches("prod", "prod2"));
        assert!(!glob_matches("prod", "preprod"));
        assert!(glob_matches("*", "anything/at/all"));
        assert!(glob_matches("release-*-final", "release-1.0-final"));
        assert!(!glob_matches("release-*-final", "release-1.0-final2"));
        assert!(glob_matches("v?.*", "v1.0"));
        assert!(!glob_matches("v?.*", "v10.0"));
        assert!(glob_matches("tools/*", "tools/lint"));
        assert!(!glob_matches("tools/*", "tool/lint"));
        assert!(glob_matches("**", ""));
    }
}

/// Read-only mode, as the settings page and the API show and set it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadOnlyMode {
    /// On: pulls go on, every push and delete is refused (administrators' too).
    pub enabled: bool,
    /// What the banner on every page says, and what a refused client is told (at most 500
    /// characters; empty: a plain "read-only for maintenance").
    #[serde(default)]
    pub message: String,
}

impl ReadOnlyMode {
    /// What a refused client (and the banner) says.
    pub fn said(&self) -> String {
        let why = self.message.trim();
        if why.is_empty() {
            "The registry is read-only for maintenance: pulls go on, pushes and deletes wait.".into()
        } else {
            format!("The registry is read-only: {why} (pulls go on, pushes and deletes wait)")
        }
    }
}

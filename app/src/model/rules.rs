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

impl TagRuleView {
    /// How a rule reads for people: "Immutable", "Protected: owners push, administrators delete".
    pub fn describe(&self) -> String {
        let who = |role: &Option<String>| match role.as_deref() {
            Some("contributor") => "contributors",
            Some("owner") => "owners",
            _ => "administrators",
        };
        match self.kind.as_str() {
            "protected" => format!("Protected: {} push, {} delete", who(&self.push_role), who(&self.delete_role)),
            _ => "Immutable".to_string(),
        }
    }
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

/// A namespace's storage: what it uses and what it may.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaView {
    pub namespace: String,
    /// The bytes of the distinct blobs (layers and configs) its images refer to; a layer
    /// shared by two images counts once.
    pub used_bytes: i64,
    /// At most this many bytes, if there is a limit.
    pub limit_bytes: Option<i64>,
    /// Where the limit comes from: `namespace` (its own), `site` (the site-wide default) or
    /// `none`.
    pub limit_source: String,
}

impl QuotaView {
    /// How much of the limit is used, in percent (0 without a limit).
    pub fn percent(&self) -> i64 {
        match self.limit_bytes {
            Some(0) => 100,
            Some(l) => ((self.used_bytes as i128 * 100) / l as i128).min(i64::MAX as i128) as i64,
            None => 0,
        }
    }
}

/// The storage quota of a namespace without one of its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultQuota {
    /// At most this many bytes, if there is a default.
    pub limit_bytes: Option<i64>,
    /// Who set it: `administrators` (Admin → Settings) or `configuration` (the
    /// `default_quota_bytes` key, until administrators set one).
    pub from: String,
}

/// A size as people type it: `50 GB`, `500MB`, `1.5 GiB`, `1048576` (bytes); powers of 1000
/// for kB, MB, GB, TB and of 1024 for KiB, MiB, GiB, TiB. `None` when it is not one.
pub fn parse_size(text: &str) -> Option<i64> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = (t[..split].trim(), t[split..].trim().to_ascii_lowercase());
    if number.is_empty() || number.matches('.').count() > 1 {
        return None;
    }
    let factor: f64 = match unit.as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "t" | "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let bytes = number.parse::<f64>().ok()? * factor;
    (0.0..9.0e18).contains(&bytes).then_some(bytes.round() as i64)
}

#[cfg(test)]
mod size_tests {
    use super::parse_size;

    #[test]
    fn sizes_are_read_as_people_type_them() {
        assert_eq!(parse_size("1048576"), Some(1_048_576));
        assert_eq!(parse_size("50 GB"), Some(50_000_000_000));
        assert_eq!(parse_size("500mb"), Some(500_000_000));
        assert_eq!(parse_size("1.5 GiB"), Some(1_610_612_736));
        assert_eq!(parse_size(" 2 TB "), Some(2_000_000_000_000));
        assert_eq!(parse_size("0"), Some(0));
        for bad in ["", "GB", "-1 GB", "1.2.3", "12 parsecs", "1e3", "99999999999 TB"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
    }
}

/// Everything that applies to one tag, together: the tag rules that cover it, what its
/// cleanup policy does with it, its signature, and its namespace's storage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagLife {
    /// The namespace's tag rules that cover this tag (immutable or protected).
    pub rules: Vec<TagRuleView>,
    /// What the cleanup policy over its repository does with it, if one does.
    pub cleanup: Option<CleanupVerdict>,
    /// Its cosign signature, verified against its namespace's trusted keys.
    pub signature: SignatureState,
    /// Its namespace's storage (`None` in the global namespace).
    pub quota: Option<QuotaView>,
    /// What refers to its manifest (OCI 1.1 referrers): signatures, SBOMs, attestations.
    #[serde(default)]
    pub attached: Vec<AttachedArtifact>,
}

/// An artifact attached to an image (a referrer of its manifest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachedArtifact {
    pub digest: String,
    pub artifact_type: String,
    /// `signature`, `SBOM`, `attestation` or `artifact`.
    pub kind: String,
}

/// What a manifest's cosign signature (the `sha256-<digest>.sig` tag) comes to, checked
/// against its namespace's trusted keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureState {
    /// `signed` (verified by a trusted key), `invalid` (a signature is attached but none
    /// verifies), `unverified` (one is attached, and the namespace trusts no key to check it
    /// with), `unsigned`, or `unknown` (it could not be checked now).
    pub state: String,
    /// The trusted key that verified it.
    #[serde(default)]
    pub key: Option<String>,
    /// Why it is not signed (for `invalid`).
    #[serde(default)]
    pub reason: Option<String>,
}

impl SignatureState {
    /// How it reads for people: "Signed by ci-key", "Signature invalid: …", "Unsigned".
    pub fn said(&self) -> String {
        match (self.state.as_str(), &self.key, &self.reason) {
            ("signed", Some(key), _) => format!("Signed by {key}."),
            ("invalid", _, Some(why)) => format!("Signature invalid: {why}."),
            ("unknown", ..) => "Its signature cannot be checked now.".into(),
            ("unverified", ..) => {
                "A cosign signature is attached, but the namespace trusts no key to verify it with.".into()
            }
            _ => "Unsigned: no cosign signature is attached.".into(),
        }
    }
}

/// A public key a namespace trusts to sign its images.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedKeyView {
    pub id: i64,
    pub name: String,
    /// SHA-256 of the key (its DER), hex.
    pub fingerprint: String,
    pub added_by: String,
    #[serde(deserialize_with = "utc::deserialize")]
    pub added_at: chrono::DateTime<chrono::Utc>,
}

/// A namespace's signature policy: whether every image pulled from it must be signed, and the
/// keys it trusts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignaturePolicyView {
    pub namespace: String,
    /// Whether a pull of an image without a signature that verifies is refused.
    pub required: bool,
    pub keys: Vec<TrustedKeyView>,
    /// How long the pusher of an image may pull it unsigned (seconds), so CI can sign it.
    pub grace_seconds: i64,
}

/// A cleanup policy's decision on one tag, as its dry run would give it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanupVerdict {
    /// Whose policy: `namespace acme` or `repository acme/app`.
    pub policy: String,
    /// Whether it runs on its schedule (a disabled policy runs only when asked).
    pub enabled: bool,
    pub schedule: String,
    /// `keep`, `delete`, `skip`, or `unknown` (a repository too large to work it out here).
    pub action: String,
    /// The rule that keeps it, or why it would go or stay.
    pub reason: String,
}

//! Types shared by the server and the browser: validated names and the views of
//! records that pages render. Nothing here touches the database or holds a secret.

use serde::{Deserialize, Serialize};

/// Why a name was refused. The message is shown next to the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("must be between {min} and {max} characters")]
    Length { min: usize, max: usize },
    #[error(
        "may contain only lowercase letters, digits and single '.', '_' or '-' between them, \
         and must start and end with a letter or digit"
    )]
    Grammar,
    #[error("is reserved")]
    Reserved,
}

/// Names Portcullis itself uses where a user's name would go: the subject of its own registry
/// calls, the actor of changes no person made, and visitors. Nobody may take them.
pub const RESERVED_NAMES: [&str; 3] = ["portcullis", "system", "anonymous"];

/// The registry's path-component grammar: `[a-z0-9]+(?:[._-][a-z0-9]+)*`.
pub fn is_path_component(s: &str) -> bool {
    let bytes = s.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let sep = |b: u8| matches!(b, b'.' | b'_' | b'-');
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    // Every separator must sit between two alphanumerics.
    bytes.windows(2).all(|w| !sep(w[0]) || alnum(w[1])) && bytes.iter().all(|&b| alnum(b) || sep(b))
}

/// Checks a user (or namespace, or team) name: the path-component grammar, 2 to 64 characters.
pub fn validate_username(name: &str) -> Result<(), NameError> {
    const MIN: usize = 2;
    const MAX: usize = 64;
    if !(MIN..=MAX).contains(&name.len()) {
        return Err(NameError::Length { min: MIN, max: MAX });
    }
    if !is_path_component(name) {
        return Err(NameError::Grammar);
    }
    if RESERVED_NAMES.contains(&name) {
        return Err(NameError::Reserved);
    }
    Ok(())
}

/// Minimum password length (OWASP ASVS 2.1.1).
pub const MIN_PASSWORD_LEN: usize = 8;
/// Maximum password length: long enough for passphrases, short enough to bound argon2 input.
pub const MAX_PASSWORD_LEN: usize = 256;

pub fn validate_password(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_LEN {
        return Err(format!("must be at least {MIN_PASSWORD_LEN} characters"));
    }
    if n > MAX_PASSWORD_LEN {
        return Err(format!("must be at most {MAX_PASSWORD_LEN} characters"));
    }
    Ok(())
}

/// A member's role in a team, weakest first: the order of the variants matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(feature = "ssr", sqlx(type_name = "team_role", rename_all = "lowercase"))]
#[serde(rename_all = "lowercase")]
pub enum TeamRole {
    Viewer,
    Contributor,
    Owner,
}

impl TeamRole {
    pub const ALL: [TeamRole; 3] = [TeamRole::Viewer, TeamRole::Contributor, TeamRole::Owner];

    pub fn as_str(self) -> &'static str {
        match self {
            TeamRole::Viewer => "viewer",
            TeamRole::Contributor => "contributor",
            TeamRole::Owner => "owner",
        }
    }

    /// What the role allows, in a few words for the UI.
    pub fn describe(self) -> &'static str {
        match self {
            TeamRole::Viewer => "may pull",
            TeamRole::Contributor => "may pull and push",
            TeamRole::Owner => "may pull, push, delete and manage the team",
        }
    }
}

impl std::str::FromStr for TeamRole {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role {s:?}: expected owner, contributor or viewer"))
    }
}

/// Who may pull from a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(feature = "ssr", sqlx(type_name = "visibility", rename_all = "lowercase"))]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Members of the owning team only.
    Private,
    /// Any signed-in user.
    Protected,
    /// Anyone, even anonymous.
    Public,
}

impl Visibility {
    pub const ALL: [Visibility; 3] = [Visibility::Private, Visibility::Protected, Visibility::Public];

    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Private => "private",
            Visibility::Protected => "protected",
            Visibility::Public => "public",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Visibility::Private => "only members of the team may pull",
            Visibility::Protected => "any signed-in user may pull",
            Visibility::Public => "anyone may pull, even without signing in",
        }
    }
}

impl std::str::FromStr for Visibility {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("unknown visibility {s:?}: expected private, protected or public"))
    }
}

/// What the viewer may do in a namespace (the policy's answers), for pages to decide what to
/// offer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceAbilities {
    pub pull: bool,
    pub push: bool,
    pub delete: bool,
    pub change_visibility: bool,
    pub edit: bool,
    pub delete_namespace: bool,
    /// Manage its webhooks.
    #[serde(default)]
    pub webhooks: bool,
    /// Manage its cleanup policy.
    #[serde(default)]
    pub cleanup: bool,
}

/// Who may push, site-wide (Portus's `push_policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PushPolicy {
    /// Owners and contributors of a namespace's team (and administrators).
    AllowTeams,
    /// Users only to their personal namespace (and administrators anywhere).
    AllowPersonal,
    /// Administrators only.
    AdminOnly,
}

impl PushPolicy {
    pub const ALL: [PushPolicy; 3] = [PushPolicy::AllowTeams, PushPolicy::AllowPersonal, PushPolicy::AdminOnly];

    pub fn as_str(self) -> &'static str {
        match self {
            PushPolicy::AllowTeams => "allow-teams",
            PushPolicy::AllowPersonal => "allow-personal",
            PushPolicy::AdminOnly => "admin-only",
        }
    }
}

impl std::str::FromStr for PushPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown push policy {s:?}: expected allow-teams, allow-personal or admin-only"))
    }
}

/// The signed-in user as pages see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentUser {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub is_admin: bool,
}

/// How long a password reset link works, in minutes.
pub const PASSWORD_RESET_MINUTES: i32 = 60;

/// What the forgotten-password page says when no mail can be sent.
pub const NO_RESET_MAIL: &str =
    "Password reset by email is not set up on this Portcullis. Ask an administrator to set a new password for you.";

/// What the public pages need to know about the instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteInfo {
    pub signup_enabled: bool,
    /// Whether users can get a password reset link by email (SMTP is configured).
    pub password_reset_by_email: bool,
    /// `host:port` of the registry, for `docker login` / `docker pull` lines.
    pub registry_host: String,
    /// The OpenID Connect providers people may sign in through.
    pub providers: Vec<SignInProvider>,
}

/// An OpenID Connect provider, as the sign-in page's button shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInProvider {
    /// In the button's address: `/login/oidc/<name>`.
    pub name: String,
    pub label: String,
}

/// A first sign-in through a provider that waits for the person to choose a username.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingSignIn {
    /// The provider's label.
    pub provider: String,
    /// A free name to offer (empty when none came to mind).
    pub suggestion: String,
    /// The name the provider gave, which cannot be used here.
    pub claimed_name: String,
    pub display_name: String,
    pub email: Option<String>,
}

/// What the sign-in page says after a provider did not sign someone in (`/login?sso=<code>`).
pub fn sso_failure(code: &str) -> Option<&'static str> {
    match code {
        "denied" => Some("The sign-in was cancelled at the provider. Try again, or sign in another way."),
        "unavailable" => Some("The sign-in provider does not answer. Try again in a while, or ask an administrator."),
        "failed" => Some("The provider could not sign you in. Try again, or ask an administrator."),
        _ => None,
    }
}

/// A user as administrators (and the user themself) see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub is_admin: bool,
    pub is_enabled: bool,
    pub is_bot: bool,
    /// `local` (made here) or `ldap` (made at the first sign-in through the directory).
    pub source: String,
    #[serde(deserialize_with = "utc::deserialize")]
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// A team, with the viewer's role in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamView {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub member_count: i64,
    pub namespace_count: i64,
    /// The viewer's role, if a member.
    pub role: Option<TeamRole>,
    #[serde(deserialize_with = "utc::deserialize")]
    pub created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamMemberView {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub is_bot: bool,
    pub role: TeamRole,
    #[serde(deserialize_with = "utc::deserialize")]
    pub since: chrono::DateTime<chrono::Utc>,
    /// Made by a directory group mapping (and kept in step with the group), not by hand.
    #[serde(default)]
    pub synced: bool,
}

/// A directory group mapped to a team with a role, or to the administrators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMappingView {
    pub id: i64,
    /// The group's DN or name, as the administrator wrote it.
    pub group_name: String,
    pub team: Option<String>,
    pub role: Option<TeamRole>,
    pub grants_admin: bool,
    /// Where the group comes from: `ldap` (the directory) or `oidc:<provider>`. `None`: a
    /// mapping made before mappings had sources, with several configured; it matches nothing
    /// until an administrator picks its source.
    #[serde(default)]
    pub source: Option<String>,
    /// The source as people call it (the provider's label).
    #[serde(default)]
    pub source_label: Option<String>,
    /// How the group is named: `dn` or `name` (directory groups), `value` (a provider's).
    #[serde(default)]
    pub match_by: String,
    #[serde(deserialize_with = "utc::deserialize")]
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// What Admin → Authentication shows: how people sign in here (never a secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthOverview {
    /// `(setting, value)` of the directory, when one is configured.
    pub directory: Option<Vec<(String, String)>>,
    /// `(setting, value)` of the mail server, when one is configured.
    pub mail: Option<Vec<(String, String)>>,
    pub local_passwords: bool,
    pub signup_enabled: bool,
    /// Each OpenID Connect provider: its label and `(setting, value)` pairs.
    pub providers: Vec<(String, Vec<(String, String)>)>,
    /// Where mapped groups may come from here: `(source, label)`.
    #[serde(default)]
    pub sources: Vec<(String, String)>,
    pub mappings: Vec<GroupMappingView>,
}

/// What the directory says of a person (Admin → Authentication, "try a user").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryLookup {
    pub dn: String,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    /// `(group DN, the mappings it matches, described)`.
    pub groups: Vec<(String, Vec<String>)>,
}

/// A namespace as stored, with the viewer's role in its owning team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Namespace {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub visibility: Visibility,
    pub team_id: i64,
    /// The owning team's name; for a personal namespace, the user's name.
    pub team_name: String,
    pub is_personal: bool,
    #[serde(deserialize_with = "utc::deserialize")]
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// The viewer's role in the owning team, if a member.
    pub role: Option<TeamRole>,
}

/// A namespace, with what the viewer may do in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceView {
    #[serde(flatten)]
    pub namespace: Namespace,
    pub abilities: NamespaceAbilities,
}

/// An access token as listed: never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenView {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    /// The first characters of the secret, to recognise it.
    pub prefix: String,
    /// Restricted to these namespaces; empty means every namespace the user may use.
    pub namespaces: Vec<String>,
    pub pull_only: bool,
    #[serde(default, deserialize_with = "utc::deserialize_option")]
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default, deserialize_with = "utc::deserialize_option")]
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(deserialize_with = "utc::deserialize")]
    pub created_at: chrono::DateTime<chrono::Utc>,
    #[serde(default, deserialize_with = "utc::deserialize_option")]
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl AccessTokenView {
    pub fn is_active(&self, now: chrono::DateTime<chrono::Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| e > now)
    }
}

/// A freshly created token: the only time its secret is shown.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedToken {
    pub token: AccessTokenView,
    pub secret: String,
}

impl std::fmt::Debug for CreatedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedToken").field("token", &self.token).field("secret", &"[redacted]").finish()
    }
}

/// A refresh token (a client's `docker login` identity token) as the account page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshTokenView {
    pub id: i64,
    pub client_id: String,
    pub prefix: String,
    #[serde(deserialize_with = "utc::deserialize")]
    pub created_at: chrono::DateTime<chrono::Utc>,
    #[serde(default, deserialize_with = "utc::deserialize_option")]
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Not revoked, and issued under the current password.
    pub active: bool,
}

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
    pub can_push: bool,
    pub can_delete: bool,
    /// Whether the viewer may change its description.
    pub can_edit: bool,
    /// Whether the viewer may set this repository's own cleanup policy.
    pub can_manage_cleanup: bool,
}

impl RepositoryHead {
    /// Whether its settings page has anything the viewer may change.
    pub fn has_settings(&self) -> bool {
        self.can_edit || self.can_delete || self.can_manage_cleanup
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
    pub can_delete: bool,
    /// Whether the viewer may push here, and so put an earlier image back under the tag.
    pub can_push: bool,
    pub registry_host: String,
    /// The tag's moves, newest first (at most [`HISTORY_SHOWN`]).
    pub history: Vec<TagMove>,
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

/// Times in the JSON the pages read (RFC 3339, as chrono writes them), parsed by hand:
/// chrono's own parser is its general format machinery, which would be most of what reading a
/// time adds to a page's code.
pub mod utc {
    use chrono::{DateTime, NaiveDate, Utc};
    use serde::{Deserialize, Deserializer};
    use std::borrow::Cow;

    /// `2026-12-02T20:30:05.123456Z`, or with an offset (`+01:00`); fractions up to nanoseconds.
    pub fn parse(s: &str) -> Option<DateTime<Utc>> {
        let b = s.as_bytes();
        let num = |from: usize, len: usize| -> Option<i64> {
            let d = b.get(from..from + len)?;
            d.iter().all(u8::is_ascii_digit).then(|| d.iter().fold(0, |n, c| n * 10 + i64::from(c - b'0')))
        };
        let sep = |at: usize, any: &[u8]| b.get(at).is_some_and(|c| any.contains(c));
        if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt ") && sep(13, b":") && sep(16, b":")) {
            return None;
        }
        let date = NaiveDate::from_ymd_opt(num(0, 4)? as i32, num(5, 2)? as u32, num(8, 2)? as u32)?;
        let (mut at, mut nanos) = (19, 0);
        if sep(19, b".") {
            let digits = b[20..].iter().take_while(|c| c.is_ascii_digit()).count();
            if digits == 0 || digits > 9 {
                return None;
            }
            nanos = num(20, digits)? * 10_i64.pow(9 - digits as u32);
            at = 20 + digits;
        }
        let time = date.and_hms_nano_opt(num(11, 2)? as u32, num(14, 2)? as u32, num(17, 2)? as u32, nanos as u32)?;
        let offset = match b.get(at..)? {
            b"Z" | b"z" => 0,
            [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
                let minutes = num(at + 1, 2)? * 60 + num(at + 4, 2)?;
                if *sign == b'-' {
                    -minutes
                } else {
                    minutes
                }
            }
            _ => return None,
        };
        Some(time.and_utc() - chrono::Duration::minutes(offset))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = Cow::<str>::deserialize(d)?;
        parse(&s).ok_or_else(|| serde::de::Error::custom(format!("not an RFC 3339 time: {s}")))
    }

    pub fn deserialize_option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        match Option::<Cow<str>>::deserialize(d)? {
            None => Ok(None),
            Some(s) => {
                parse(&s).map(Some).ok_or_else(|| serde::de::Error::custom(format!("not an RFC 3339 time: {s}")))
            }
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

/// The longest search text accepted (search, list filters).
pub const MAX_QUERY_LEN: usize = 100;

/// Which page of a list to show: 1-based, at most [`PageRequest::MAX_PER_PAGE`] items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRequest {
    pub page: u32,
    pub per_page: u32,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self { page: 1, per_page: Self::DEFAULT_PER_PAGE }
    }
}

impl PageRequest {
    pub const DEFAULT_PER_PAGE: u32 = 50;
    pub const MAX_PER_PAGE: u32 = 100;

    /// The page asked for, within bounds: page 1 and the default size when not given.
    pub fn new(page: Option<u32>, per_page: Option<u32>) -> Self {
        Self {
            page: page.unwrap_or(1).max(1),
            per_page: per_page.unwrap_or(Self::DEFAULT_PER_PAGE).clamp(1, Self::MAX_PER_PAGE),
        }
    }

    pub fn limit(&self) -> i64 {
        i64::from(self.per_page)
    }

    pub fn offset(&self) -> i64 {
        i64::from(self.page.saturating_sub(1)) * i64::from(self.per_page)
    }

    /// The page of `items` in a list of `total`.
    pub fn of<T>(&self, items: Vec<T>, total: i64) -> Page<T> {
        Page { items, page: self.page, per_page: self.per_page, total: total.max(0) as u64 }
    }
}

/// A page of results and where it sits in the whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub page: u32,
    pub per_page: u32,
    pub total: u64,
}

/// A stretch of a long, growing list read newest first (the activity log): no page numbers,
/// which would make page 10,000 a scan past the 500,000 entries before it, but where the
/// next stretch starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feed<T> {
    pub items: Vec<T>,
    /// The entry this stretch is older than; `None`: it starts at the newest.
    pub before: Option<i64>,
    /// Where the next, older stretch starts (`before=`); `None`: this is the oldest.
    pub next_before: Option<i64>,
}

impl<T> Page<T> {
    pub fn pages(&self) -> u32 {
        (self.total.div_ceil(self.per_page.max(1) as u64)).max(1) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_the_path_component_grammar() {
        for ok in ["al", "alice", "a1", "bob.smith", "bob_smith", "bob-smith", "a.b-c_d", "0day"] {
            assert_eq!(validate_username(ok), Ok(()), "{ok} should be accepted");
        }
        for bad in [
            "Alice", "al ice", "-alice", "alice-", ".alice", "alice.", "al..ice", "al-.ice", "al__ice", "ålice",
            "al/ice", "al:ice", "alice!", "",
        ] {
            assert!(validate_username(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn username_length_is_bounded() {
        assert_eq!(validate_username("a"), Err(NameError::Length { min: 2, max: 64 }));
        for reserved in RESERVED_NAMES {
            assert_eq!(validate_username(reserved), Err(NameError::Reserved), "{reserved}");
        }
        assert_eq!(validate_username(&"a".repeat(64)), Ok(()));
        assert_eq!(validate_username(&"a".repeat(65)), Err(NameError::Length { min: 2, max: 64 }));
    }

    #[test]
    fn grammar_error_explains_the_rule() {
        let msg = validate_username("Bob").unwrap_err().to_string();
        assert!(msg.contains("lowercase"), "{msg}");
    }

    #[test]
    fn passwords_have_bounds() {
        assert!(validate_password("short").is_err());
        assert!(validate_password("long enough").is_ok());
        assert!(validate_password(&"x".repeat(257)).is_err());
    }
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
}

/// A webhook just created, with its secret: shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedWebhook {
    pub webhook: WebhookView,
    pub secret: String,
}

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

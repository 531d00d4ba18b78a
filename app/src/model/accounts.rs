//! Accounts and how people sign in: users, the signed-in user, sign-in providers, group
//! mappings, access tokens and docker logins (refresh tokens).

use serde::{Deserialize, Serialize};

use super::{utc, TeamRole};

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
    /// In read-only mode: what the banner on every page says.
    #[serde(default)]
    pub read_only: Option<String>,
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
    /// The last sign-in to the web interface (never: none).
    #[serde(default, deserialize_with = "utc::deserialize_option")]
    pub last_sign_in_at: Option<chrono::DateTime<chrono::Utc>>,
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

/// Whether a service Portcullis depends on answers (Admin → Authentication, "Test
/// connections").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionStatus {
    /// "Directory (LDAP)", "Mail server (SMTP)", "Sign-in provider <name>".
    pub service: String,
    pub address: String,
    pub ok: bool,
    /// "Answers.", or what is wrong and what to check, for people.
    pub message: String,
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
    /// Its owner's username, for the `docker login` line shown with it.
    #[serde(default)]
    pub username: String,
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

/// A plain form post (no JavaScript) the server refused, carried in the session to the page
/// it goes back to: the error for the form's server function at `path` (as the
/// `ServerFnUrlError` encoding would have put it in the address) and what was typed, without
/// anything secret (see [`FormFlash::keeps`]). The address stays clean, and the form keeps its
/// values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormFlash {
    pub path: String,
    pub error: String,
    pub fields: Vec<(String, String)>,
}

impl FormFlash {
    /// The session key it travels under.
    pub const KEY: &'static str = "form_flash";

    /// Whether a field is given back: never passwords, secrets, tokens or header values.
    pub fn keeps(name: &str) -> bool {
        !["password", "secret", "token", "value", "key"].iter().any(|s| name.contains(s))
    }

    /// What was typed into the field `name`.
    pub fn value(&self, name: &str) -> Option<String> {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }
}

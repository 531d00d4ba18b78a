//! Signing in through OpenID Connect providers: the authorization code flow with PKCE, the ID
//! token verified against the provider's published keys, accounts made just in time and
//! linked to the provider's subject, groups that become teams, and a periodic check that the
//! provider still knows each person.
//!
//! The flow, per sign-in:
//! 1. [`Provider::begin`] makes the provider's authorization URL with a fresh `state`, `nonce`
//!    and PKCE verifier; the caller keeps them in the browser's session ([`Attempt`]).
//! 2. The provider sends the browser back with `code` and `state`. [`Provider::finish`]
//!    checks the state against the session's, exchanges the code (with the verifier), verifies
//!    the ID token (signature by a key of the provider's JWKS, issuer, audience, expiry, nonce)
//!    and reads the claims (the ID token's, completed by the userinfo endpoint's).
//! 3. [`sign_in`] finds the account linked to `(provider, subject)`, or makes one whose name
//!    comes from the configured claim; when that name is taken or not a valid registry name,
//!    the person chooses one ([`create_chosen`]).
//!
//! `docker login` never sees the provider: people create access tokens on their account page,
//! which live as long as the account is enabled, not as long as an ID token. What the
//! provider says later is checked with its refresh token ([`check_all`]): a refusal
//! (`invalid_grant`: the person is gone or was disabled there) revokes every token and ends
//! every session of theirs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreErrorResponseType, CoreIdToken, CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse as _,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError, Scope,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::ldap::DirectoryGroup;
use super::principal::User;
use super::users;
use crate::backend::audit::{self, Target};
use crate::backend::{AppState, Secret};
use crate::error::{AppError, AppResult};

/// One provider as configured.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcSettings {
    /// Short name, in URLs (`/login/oidc/<name>`) and in the accounts it makes.
    pub name: String,
    /// What the sign-in button says ("Sign in with <label>"); the name when empty.
    #[serde(default)]
    pub label: String,
    /// The issuer URL; its `/.well-known/openid-configuration` describes the rest.
    pub issuer: String,
    pub client_id: String,
    #[serde(default)]
    pub client_secret: Secret,
    /// Scopes asked for besides `openid`. With `offline_access` the provider gives a refresh
    /// token, with which Portcullis checks that it still knows each person.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// The claim that names the account at its first sign-in.
    #[serde(default = "default_username_claim")]
    pub username_claim: String,
    /// The claim listing the person's groups (mapped to teams like directory groups); none
    /// when empty.
    #[serde(default)]
    pub groups_claim: String,
    /// PEM file of the CA that signed the provider's certificate, when not a public one.
    #[serde(default)]
    pub ca_file: String,
}

fn default_scopes() -> Vec<String> {
    ["profile", "email", "offline_access"].map(String::from).to_vec()
}

fn default_username_claim() -> String {
    "preferred_username".into()
}

impl OidcSettings {
    pub fn label(&self) -> &str {
        if self.label.is_empty() {
            &self.name
        } else {
            &self.label
        }
    }

    /// Refuses what cannot work: a name unfit for URLs, an issuer that is not a URL.
    pub fn validate(&self) -> Result<(), String> {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 32
            && self.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !name_ok {
            return Err(format!("provider name {:?}: 1-32 lowercase letters, digits or '-'", self.name));
        }
        IssuerUrl::new(self.issuer.clone()).map_err(|e| format!("provider {}: issuer: {e}", self.name))?;
        if self.client_id.is_empty() {
            return Err(format!("provider {}: client_id is empty", self.name));
        }
        Ok(())
    }
}

/// The provider's discovery document and keys are fetched again after this long (and at once
/// when a token is signed by a key they do not have).
const METADATA_TTL: Duration = Duration::from_secs(600);
/// How long a sign-in may take at the provider.
pub const ATTEMPT_TTL_SECS: i64 = 600;
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// A configured provider, with its discovery document once fetched.
pub struct Provider {
    pub settings: OidcSettings,
    redirect: RedirectUrl,
    http: reqwest::Client,
    metadata: tokio::sync::Mutex<Option<(CoreProviderMetadata, Instant)>>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider").field("settings", &self.settings).finish_non_exhaustive()
    }
}

/// A sign-in under way: what the browser's session keeps between leaving for the provider and
/// coming back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attempt {
    pub provider: String,
    state: String,
    nonce: String,
    verifier: String,
    started: i64,
    /// Where to go once signed in.
    pub next: String,
}

/// Where the session keeps an [`Attempt`].
pub const ATTEMPT_KEY: &str = "oidc_attempt";
/// Where the session keeps a [`Pending`] sign-in.
pub const PENDING_KEY: &str = "oidc_pending";

/// A first sign-in waiting for the person to choose a username.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pending {
    pub identity: Identity,
    pub suggestion: String,
    pub next: String,
    pub started: i64,
}

impl Pending {
    pub fn new(identity: Identity, suggestion: String, next: String) -> Self {
        Self { identity, suggestion, next, started: now() }
    }
    /// Whether the person still may finish (as long as a sign-in may take at the provider).
    pub fn is_fresh(&self) -> bool {
        now() - self.started <= ATTEMPT_TTL_SECS
    }
}

/// Who the provider says signed in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Identity {
    pub provider: String,
    pub subject: String,
    /// The username claim's value, as the provider sent it.
    pub claimed_name: String,
    pub display_name: String,
    pub email: Option<String>,
    pub groups: Vec<String>,
    /// The provider's refresh token, sealed ([`crate::backend::registry::keys::KeyCrypt`]).
    sealed_refresh_token: Option<String>,
}

/// Why a sign-in through a provider failed.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The provider could not be reached or answered nonsense.
    #[error("the provider is unavailable: {0}")]
    Unavailable(String),
    /// What came back does not prove who signed in (state, code, ID token).
    #[error("the sign-in was refused: {0}")]
    Refused(String),
}

impl From<OidcError> for AppError {
    fn from(e: OidcError) -> Self {
        match e {
            OidcError::Unavailable(_) => AppError::Unavailable(
                "The sign-in provider does not answer; try again in a while, or ask an administrator.".into(),
            ),
            OidcError::Refused(_) => AppError::unauthorized("The sign-in could not be verified; start again."),
        }
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> OidcError {
    OidcError::Unavailable(format!("{what}: {e}"))
}

impl Provider {
    /// A provider whose callback is `<public_url>/login/oidc/<name>/callback`.
    pub fn new(settings: OidcSettings, public_url: &str) -> Result<Self, String> {
        settings.validate()?;
        let redirect = RedirectUrl::new(callback_url(public_url, &settings.name))
            .map_err(|e| format!("provider {}: callback URL: {e}", settings.name))?;
        // No redirects: a provider's endpoints answer directly (and following them would let a
        // hostile document send requests elsewhere).
        let mut http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).timeout(HTTP_TIMEOUT);
        if !settings.ca_file.is_empty() {
            let pem = std::fs::read(&settings.ca_file)
                .map_err(|e| format!("provider {}: ca_file {}: {e}", settings.name, settings.ca_file))?;
            let cert = reqwest::Certificate::from_pem(&pem)
                .map_err(|e| format!("provider {}: ca_file {}: {e}", settings.name, settings.ca_file))?;
            http = http.add_root_certificate(cert);
        }
        let http = http.build().map_err(|e| format!("provider {}: HTTP client: {e}", settings.name))?;
        Ok(Self { settings, redirect, http, metadata: tokio::sync::Mutex::new(None) })
    }

    /// The label and settings for Admin → Authentication (never the client secret), with
    /// the redirect URI to register at the provider.
    pub fn describe(&self) -> (String, Vec<(String, String)>) {
        let o = &self.settings;
        let pair = |k: &str, v: &str| (k.to_string(), if v.is_empty() { "—".to_string() } else { v.to_string() });
        let pairs = vec![
            pair("name", &o.name),
            pair("issuer", &o.issuer),
            pair("client_id", &o.client_id),
            pair("client_secret", if o.client_secret.is_empty() { "(none: a public client)" } else { "(set)" }),
            pair("scopes", &format!("openid {}", o.scopes.join(" "))),
            pair("username_claim", &o.username_claim),
            pair("groups_claim", &o.groups_claim),
            pair("redirect URI", self.redirect.as_str()),
        ];
        (o.label().to_string(), pairs)
    }

    /// The discovery document (with the provider's keys), fetched again when stale or `fresh`.
    async fn metadata(&self, fresh: bool) -> Result<CoreProviderMetadata, OidcError> {
        let mut slot = self.metadata.lock().await;
        if let Some((m, at)) = slot.as_ref() {
            if !fresh && at.elapsed() < METADATA_TTL {
                return Ok(m.clone());
            }
        }
        let issuer = IssuerUrl::new(self.settings.issuer.clone()).map_err(|e| unavailable("issuer", e))?;
        let m = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| unavailable("discovery", error_chain(&e)))?;
        *slot = Some((m.clone(), Instant::now()));
        Ok(m)
    }

    async fn client(
        &self,
        fresh: bool,
    ) -> Result<
        (
            CoreClient<
                openidconnect::EndpointSet,
                openidconnect::EndpointNotSet,
                openidconnect::EndpointNotSet,
                openidconnect::EndpointNotSet,
                openidconnect::EndpointMaybeSet,
                openidconnect::EndpointMaybeSet,
            >,
            CoreProviderMetadata,
        ),
        OidcError,
    > {
        let m = self.metadata(fresh).await?;
        let secret =
            Some(&self.settings.client_secret).filter(|s| !s.is_empty()).map(|s| ClientSecret::new(s.expose().into()));
        let client =
            CoreClient::from_provider_metadata(m.clone(), ClientId::new(self.settings.client_id.clone()), secret)
                .set_redirect_uri(self.redirect.clone());
        Ok((client, m))
    }

    /// Where to send the browser, and what its session must keep until it comes back.
    pub async fn begin(&self, next: &str) -> Result<(String, Attempt), OidcError> {
        let (client, _) = self.client(false).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .set_pkce_challenge(challenge);
        for scope in &self.settings.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        if self.settings.scopes.iter().any(|s| s == "offline_access") {
            // Providers give offline access (a refresh token) only with the person's consent.
            request = request.add_prompt(openidconnect::core::CoreAuthPrompt::Consent);
        }
        let (url, state, nonce) = request.url();
        let attempt = Attempt {
            provider: self.settings.name.clone(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            verifier: verifier.secret().clone(),
            started: now(),
            next: next.to_string(),
        };
        Ok((url.to_string(), attempt))
    }

    /// Completes a sign-in: `attempt` is what the session kept, `code` and `state` what the
    /// provider sent back.
    pub async fn finish(
        &self,
        state: &AppState,
        attempt: Attempt,
        code: &str,
        returned_state: &str,
    ) -> Result<Identity, OidcError> {
        use subtle_eq as eq;
        if attempt.provider != self.settings.name || !eq(attempt.state.as_bytes(), returned_state.as_bytes()) {
            return Err(OidcError::Refused("the state is not the one this browser was sent with".into()));
        }
        if now() - attempt.started > ATTEMPT_TTL_SECS {
            return Err(OidcError::Refused("the sign-in took too long".into()));
        }
        let (client, metadata) = self.client(false).await?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| unavailable("token endpoint", e))?
            .set_pkce_verifier(PkceCodeVerifier::new(attempt.verifier))
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(r) => OidcError::Refused(format!("code exchange: {r}")),
                other => unavailable("token endpoint", error_chain(&other)),
            })?;
        let id_token = response
            .extra_fields()
            .id_token()
            .ok_or_else(|| OidcError::Refused("the provider sent no ID token".into()))?;
        let claims = self
            .claims(&metadata, &id_token.to_string(), Some(&attempt.nonce), response.access_token().secret())
            .await?;
        let subject = claims.get("sub").and_then(Value::as_str).unwrap_or_default().to_string();
        let sealed_refresh_token = match response.refresh_token() {
            Some(t) => Some(state.keys.crypt().seal(t.secret()).map_err(|_| unavailable("sealing", "refresh token"))?),
            None => None,
        };
        Ok(self.identity(subject, &claims, sealed_refresh_token))
    }

    fn identity(&self, subject: String, claims: &Map<String, Value>, sealed_refresh_token: Option<String>) -> Identity {
        let text = |k: &str| claims.get(k).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
        let claimed_name = text(&self.settings.username_claim).or(text("preferred_username")).unwrap_or("").to_string();
        let display_name = text("name").unwrap_or(&claimed_name).chars().take(200).collect();
        // An address the provider says it did not verify is not taken (it could be anyone's).
        // Only JSON `true` is a verified address: a missing claim, `false` or the string "false"
        // is not.
        let verified = claims.get("email_verified") == Some(&Value::Bool(true));
        let email = text("email").filter(|e| verified && e.contains('@') && e.len() <= 254).map(str::to_string);
        let groups = match claims.get(&self.settings.groups_claim) {
            _ if self.settings.groups_claim.is_empty() => Vec::new(),
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).map(str::to_string).collect(),
            Some(Value::String(one)) => vec![one.clone()],
            _ => Vec::new(),
        };
        Identity {
            provider: self.settings.name.clone(),
            subject,
            claimed_name,
            display_name,
            email,
            groups,
            sealed_refresh_token,
        }
    }

    /// Verifies an ID token (signature by one of the provider's keys, issuer, audience,
    /// expiry, nonce) and returns all its claims. A token signed by a key the cached document
    /// lacks makes it fetch the document once more (the provider may have rotated its keys).
    pub async fn verify(&self, raw: &str, nonce: &str) -> Result<Map<String, Value>, OidcError> {
        self.verify_with(raw, Some(nonce)).await
    }

    /// [`Self::verify`]; without a nonce for the ID token of a refresh (which answers no
    /// authorization request of ours).
    async fn verify_with(&self, raw: &str, nonce: Option<&str>) -> Result<Map<String, Value>, OidcError> {
        let token: CoreIdToken = raw.parse().map_err(|e| OidcError::Refused(format!("ID token: {e}")))?;
        let nonce = nonce.map(|n| Nonce::new(n.to_string()));
        for fresh in [false, true] {
            let (client, _) = self.client(fresh).await?;
            let verifier = client.id_token_verifier();
            let verified = match &nonce {
                Some(n) => token.claims(&verifier, n).map(|_| ()),
                None => token.claims(&verifier, |_: Option<&Nonce>| Ok(())).map(|_| ()),
            };
            match verified {
                Ok(()) => return Ok(payload(raw)),
                Err(openidconnect::ClaimsVerificationError::SignatureVerification(e)) if !fresh => {
                    tracing::info!(provider = %self.settings.name, error = %e, "ID token signature not verified; fetching the provider's keys again");
                }
                Err(e) => return Err(OidcError::Refused(format!("ID token: {e}"))),
            }
        }
        unreachable!("the second pass returns")
    }

    /// The claims of a verified ID token, completed by the userinfo endpoint's (when it
    /// speaks of the same subject).
    async fn claims(
        &self,
        metadata: &CoreProviderMetadata,
        id_token: &str,
        nonce: Option<&str>,
        access_token: &str,
    ) -> Result<Map<String, Value>, OidcError> {
        let mut claims = self.verify_with(id_token, nonce).await?;
        if let Some(url) = metadata.userinfo_endpoint() {
            let info = self.userinfo(url.as_str(), access_token).await?;
            if info.get("sub") != claims.get("sub") {
                return Err(OidcError::Refused("the userinfo endpoint speaks of someone else".into()));
            }
            // The ID token's claims win: they are signed.
            for (k, v) in info {
                claims.entry(k).or_insert(v);
            }
        }
        Ok(claims)
    }

    async fn userinfo(&self, url: &str, access_token: &str) -> Result<Map<String, Value>, OidcError> {
        let response = self
            .http
            .get(url)
            .bearer_auth(access_token)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| unavailable("userinfo", error_chain(&e)))?;
        if !response.status().is_success() {
            return Err(unavailable("userinfo", response.status()));
        }
        let body = response.bytes().await.map_err(|e| unavailable("userinfo", e))?;
        if body.len() > 256 * 1024 {
            return Err(unavailable("userinfo", "answer too large"));
        }
        serde_json::from_slice(&body).map_err(|e| unavailable("userinfo (not a JSON object)", e))
    }

    /// Asks the provider, with the person's refresh token, whether it still knows them.
    /// `Ok(Some(..))`: yes, with the refresh token to keep (a new one if it rotated them) and
    /// what it now says of them (when its answer carries an ID token that verifies);
    /// `Ok(None)`: no, it refused the token; `Err`: it could not be asked.
    async fn still_knows(&self, refresh_token: &str) -> Result<Option<Refreshed>, OidcError> {
        let (client, metadata) = self.client(false).await?;
        let token = RefreshToken::new(refresh_token.to_string());
        let response = client
            .exchange_refresh_token(&token)
            .map_err(|e| unavailable("token endpoint", e))?
            .request_async(&self.http)
            .await;
        let response = match response {
            Ok(r) => r,
            Err(RequestTokenError::ServerResponse(r))
                if matches!(
                    r.error(),
                    CoreErrorResponseType::InvalidGrant | CoreErrorResponseType::UnauthorizedClient
                ) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(unavailable("refresh", error_chain(&e))),
        };
        let claims = match response.extra_fields().id_token() {
            Some(id_token) => {
                match self.claims(&metadata, &id_token.to_string(), None, response.access_token().secret()).await {
                    Ok(claims) => Some(claims),
                    Err(e) => {
                        tracing::warn!(provider = %self.settings.name, error = %e, "a refreshed ID token was not used");
                        None
                    }
                }
            }
            None => None,
        };
        let refresh_token =
            response.refresh_token().map(|t| t.secret().clone()).unwrap_or_else(|| refresh_token.to_string());
        Ok(Some(Refreshed { refresh_token, claims }))
    }

    /// Fetches the discovery document now (the doctor's and Admin → Authentication's check).
    pub async fn check(&self) -> Result<(), OidcError> {
        self.metadata(true).await.map(|_| ())
    }
}

/// What a refresh brought back.
struct Refreshed {
    refresh_token: String,
    claims: Option<Map<String, Value>>,
}

/// Constant-time equality of two byte strings (the state is a secret until it is used).
fn subtle_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The claims of a compact JWS whose signature was verified.
fn payload(raw: &str) -> Map<String, Value> {
    use base64::Engine as _;
    raw.split('.')
        .nth(1)
        .and_then(|p| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p.trim_end_matches('=')).ok())
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

pub fn callback_url(public_url: &str, name: &str) -> String {
    format!("{}/login/oidc/{name}/callback", public_url.trim_end_matches('/'))
}

/// The configured providers.
#[derive(Debug, Clone, Default)]
pub struct Providers(pub Arc<Vec<Provider>>);

impl Providers {
    pub fn new(settings: &[OidcSettings], public_url: &str) -> Result<Self, String> {
        let mut list = Vec::new();
        for s in settings {
            if list.iter().any(|p: &Provider| p.settings.name == s.name) {
                return Err(format!("two providers are named {:?}", s.name));
            }
            list.push(Provider::new(s.clone(), public_url)?);
        }
        Ok(Self(Arc::new(list)))
    }

    pub fn get(&self, name: &str) -> Option<&Provider> {
        self.0.iter().find(|p| p.settings.name == name)
    }

    /// `(name, label)` of each, for the sign-in page's buttons.
    pub fn buttons(&self) -> Vec<(String, String)> {
        self.0.iter().map(|p| (p.settings.name.clone(), p.settings.label().to_string())).collect()
    }
}

/// A registry-valid username made from what a provider calls the person: lowercase, the
/// domain of an email address left out, other characters become separators, separators not
/// doubled nor at the ends. `None` when nothing valid is left.
pub fn username_from_claim(claim: &str) -> Option<String> {
    let local = claim.split('@').next().unwrap_or("");
    let mut name = String::new();
    for c in local.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            name.push(c);
        } else if matches!(c, '.' | '_' | '-') {
            if name.ends_with(['.', '_', '-']) || name.is_empty() {
                continue;
            }
            name.push(c);
        } else if !name.is_empty() && !name.ends_with(['.', '_', '-']) {
            name.push('-');
        }
    }
    name.truncate(64);
    let name = name.trim_end_matches(['.', '_', '-']).to_string();
    crate::model::validate_username(&name).is_ok().then_some(name)
}

/// What signing in through a provider comes to.
pub enum Outcome {
    /// The account (found or made), groups synced.
    SignedIn(User),
    /// No account yet, and the claimed name cannot be used: the person chooses one.
    ChooseUsername { suggestion: String },
}

/// Finds or makes the account of `identity` and brings it up to date (name, email, groups,
/// refresh token).
pub async fn sign_in(state: &AppState, identity: &Identity) -> AppResult<Outcome> {
    let linked = sqlx::query_scalar!(
        "select user_id from oidc_identity where provider = $1 and subject = $2",
        identity.provider,
        identity.subject
    )
    .fetch_optional(&state.db)
    .await?;
    if let Some(id) = linked {
        let user = users::find_by_id(&state.db, id).await?.ok_or(AppError::Internal)?;
        return Ok(Outcome::SignedIn(signed_in(state, user, identity).await?));
    }
    let Some(name) = username_from_claim(&identity.claimed_name) else {
        return Ok(Outcome::ChooseUsername { suggestion: String::new() });
    };
    match create(state, identity, &name).await {
        Ok(user) => Ok(Outcome::SignedIn(user)),
        Err(AppError::Invalid { field, .. }) if field == "username" => {
            let suggestion = format!("{name}-{}", identity.provider);
            let free = username_from_claim(&suggestion).filter(|s| *s == suggestion).is_some()
                && users::find_by_username(&state.db, &suggestion).await?.is_none();
            Ok(Outcome::ChooseUsername { suggestion: if free { suggestion } else { String::new() } })
        }
        Err(e) => Err(e),
    }
}

/// Makes the account of `identity` under the name the person chose.
pub async fn create_chosen(state: &AppState, identity: &Identity, username: &str) -> AppResult<User> {
    let username = username.trim().to_ascii_lowercase();
    crate::model::validate_username(&username).map_err(|e| AppError::invalid("username", e))?;
    create(state, identity, &username).await
}

async fn create(state: &AppState, identity: &Identity, username: &str) -> AppResult<User> {
    let user =
        users::insert_vouched(&state.db, username, &identity.display_name, identity.email.as_deref(), "oidc").await?;
    let inserted = sqlx::query!(
        "insert into oidc_identity (provider, subject, user_id) values ($1, $2, $3) on conflict do nothing",
        identity.provider,
        identity.subject,
        user.id
    )
    .execute(&state.db)
    .await?;
    if inserted.rows_affected() == 0 {
        // The same person finished two sign-ins at once: keep the first account.
        let mut conn = state.db.acquire().await?;
        users::delete(&mut conn, user.id).await?;
        return Err(AppError::Conflict("This sign-in already made an account; sign in again.".into()));
    }
    signed_in(state, user, identity).await
}

/// Records a sign-in of a linked account and brings it up to date.
async fn signed_in(state: &AppState, user: User, identity: &Identity) -> AppResult<User> {
    sqlx::query!(
        "update oidc_identity set signed_in_at = now(), checked_at = now(),
                refresh_token = coalesce($3, refresh_token)
         where provider = $1 and subject = $2",
        identity.provider,
        identity.subject,
        identity.sealed_refresh_token
    )
    .execute(&state.db)
    .await?;
    if !user.is_enabled {
        return Err(AppError::forbidden("This account is disabled here. Ask an administrator."));
    }
    follow(state, user, identity).await
}

/// Makes an account follow what its provider says: name, email, groups (teams and
/// administrators, through the group mappings).
async fn follow(state: &AppState, user: User, identity: &Identity) -> AppResult<User> {
    users::follow_profile(&state.db, &user, &identity.display_name, identity.email.as_deref()).await?;
    let user = users::find_by_id(&state.db, user.id).await?.ok_or(AppError::Internal)?;
    let groups: Vec<DirectoryGroup> =
        identity.groups.iter().map(|g| DirectoryGroup { dn: g.clone(), name: g.clone() }).collect();
    super::groups::sync(state, user, &super::groups::provider_source(&identity.provider), &groups).await
}

/// What one round of [`check_all`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CheckReport {
    /// People the provider still knows.
    pub known: usize,
    /// People it no longer knows: their tokens and sessions are gone.
    pub signed_out: usize,
    /// People it could not be asked about (it was down).
    pub failed: usize,
}

/// Asks each provider, person by person, whether it still knows them (by their refresh
/// token). Those it refuses lose every access token, docker login and session here.
pub async fn check_all(state: &AppState) -> AppResult<CheckReport> {
    let rows = sqlx::query!(
        r#"select provider, subject, user_id, refresh_token as "refresh_token!" from oidc_identity
           where refresh_token is not null order by checked_at nulls first"#
    )
    .fetch_all(&state.db)
    .await?;
    let mut report = CheckReport::default();
    // A provider that fails once is not asked again this round: with it down, every person
    // would wait out a timeout.
    let mut down: Vec<String> = Vec::new();
    for row in rows {
        let Some(provider) = state.oidc.get(&row.provider) else { continue };
        if down.contains(&row.provider) {
            report.failed += 1;
            continue;
        }
        let Ok(token) = state.keys.crypt().open(&row.refresh_token) else {
            tracing::warn!(provider = %row.provider, "a refresh token cannot be read (was keys_encryption_key changed?)");
            report.failed += 1;
            continue;
        };
        match provider.still_knows(&token).await {
            Ok(Some(refreshed)) => {
                let new = refreshed.refresh_token;
                let sealed = if new == token { row.refresh_token.clone() } else { state.keys.crypt().seal(&new)? };
                sqlx::query!(
                    "update oidc_identity set refresh_token = $3, checked_at = now() where provider = $1 and subject = $2",
                    row.provider,
                    row.subject,
                    sealed
                )
                .execute(&state.db)
                .await?;
                // Between sign-ins too, name, email and teams follow what the provider says.
                let claims = refreshed.claims.filter(|c| c.get("sub").and_then(Value::as_str) == Some(&row.subject));
                if let Some(identity) = claims.map(|c| provider.identity(row.subject.clone(), &c, None)) {
                    if let Some(user) = users::find_by_id(&state.db, row.user_id).await?.filter(|u| u.is_enabled) {
                        follow(state, user, &identity).await?;
                    }
                }
                report.known += 1;
            }
            Ok(None) => {
                sign_out_everywhere(state, row.user_id, &row.provider, &row.subject).await?;
                report.signed_out += 1;
            }
            Err(e) => {
                tracing::warn!(provider = %row.provider, error = %e, "could not ask the provider about its people; trying again next time");
                down.push(row.provider.clone());
                report.failed += 1;
            }
        }
    }
    Ok(report)
}

/// The provider no longer knows this person: revokes their access tokens, and bumps their
/// auth epoch (which ends their sessions and docker logins). Their next sign-in through the
/// provider, if it lets them, starts afresh.
async fn sign_out_everywhere(state: &AppState, user_id: i64, provider: &str, subject: &str) -> AppResult<()> {
    let mut tx = state.db.begin().await?;
    sqlx::query!(
        "update oidc_identity set refresh_token = null, checked_at = now() where provider = $1 and subject = $2",
        provider,
        subject
    )
    .execute(&mut *tx)
    .await?;
    let revoked = super::access_tokens::revoke_all(&mut tx, user_id).await?;
    let username = super::users::end_sessions(&mut tx, user_id).await?;
    tracing::info!(%username, %provider, revoked, "the provider no longer knows this person: signed out everywhere");
    audit::record(
        &mut tx,
        None,
        "user.signed_out",
        Target::user(&username),
        serde_json::json!({ "provider": provider, "reason": "the provider refused their refresh token", "tokens_revoked": revoked }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Runs [`check_all`] every `every` on one replica at a time (`oidc_check_interval_secs`).
pub fn spawn_periodic(state: AppState, every: Duration) {
    if state.oidc.0.is_empty() || every.is_zero() {
        return;
    }
    crate::backend::jobs::periodically(
        "identity provider check",
        "portcullis.oidc_check",
        state,
        every,
        |state| async move {
            let r = check_all(&state).await?;
            if r.signed_out > 0 || r.failed > 0 {
                tracing::info!(?r, "checked the identity providers' people");
            }
            Ok(())
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claimed_names_become_registry_names() {
        for (claim, name) in [
            ("alice", Some("alice")),
            ("Alice.Smith@corp.example", Some("alice.smith")),
            ("José Núñez", Some("jos-n-ez")),
            ("--x--y__", Some("x-y")),
            ("a", None),
            ("", None),
            ("@corp", None),
            ("Ops Team (EU)", Some("ops-team-eu")),
        ] {
            assert_eq!(username_from_claim(claim).as_deref(), name, "{claim}");
        }
        let long = "x".repeat(100);
        assert_eq!(username_from_claim(&long).map(|n| n.len()), Some(64));
    }

    #[test]
    fn state_comparison_is_exact() {
        assert!(subtle_eq(b"abc", b"abc"));
        assert!(!subtle_eq(b"abc", b"abd"));
        assert!(!subtle_eq(b"abc", b"abcd"));
    }

    #[test]
    fn only_a_json_true_verifies_an_email_address() {
        let settings: OidcSettings = serde_json::from_value(serde_json::json!({
            "name": "corp", "issuer": "https://sso.example", "client_id": "c", "client_secret": "s",
        }))
        .unwrap();
        let provider = Provider::new(settings, "https://portcullis.example").unwrap();
        let email = |verified: Option<Value>| {
            let mut claims = serde_json::json!({ "preferred_username": "olivia", "email": "olivia@example.org" });
            if let Some(v) = verified {
                claims["email_verified"] = v;
            }
            provider.identity("sub".into(), claims.as_object().unwrap(), None).email
        };
        assert_eq!(email(Some(Value::Bool(true))).as_deref(), Some("olivia@example.org"));
        for unverified in [None, Some(Value::Bool(false)), Some("false".into()), Some("true".into()), Some(1.into())] {
            assert_eq!(email(unverified.clone()), None, "{unverified:?}");
        }
    }

    #[test]
    fn a_verified_token_yields_its_claims() {
        let raw = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4IiwiZ3JvdXBzIjpbImEiXX0.";
        let claims = payload(raw);
        assert_eq!(claims["sub"], "x");
        assert_eq!(claims["groups"][0], "a");
        assert!(payload("garbage").is_empty());
    }
}

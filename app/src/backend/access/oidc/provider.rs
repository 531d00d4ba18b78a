//! The protocol with one provider: discovery (cached, re-read for an unknown key), the
//! authorization code flow with PKCE, state and nonce, the ID token's checks, userinfo, and
//! refreshing.

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

use crate::backend::AppState;
use crate::error::AppError;

use super::*;

/// The provider's discovery document and keys are fetched again after this long (and at once
/// when a token is signed by a key they do not have).
const METADATA_TTL: Duration = Duration::from_secs(600);
/// How long a sign-in may take at the provider.
pub const ATTEMPT_TTL_SECS: i64 = 600;
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// A configured provider, with its discovery document once fetched.
pub struct Provider {
    pub settings: OidcSettings,
    pub(super) redirect: RedirectUrl,
    pub(super) http: reqwest::Client,
    pub(super) metadata: tokio::sync::Mutex<Option<(CoreProviderMetadata, Instant)>>,
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
    pub(super) state: String,
    pub(super) nonce: String,
    pub(super) verifier: String,
    pub(super) started: i64,
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
    pub(super) sealed_refresh_token: Option<String>,
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

    pub(super) fn identity(
        &self,
        subject: String,
        claims: &Map<String, Value>,
        sealed_refresh_token: Option<String>,
    ) -> Identity {
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
    pub(super) async fn still_knows(&self, refresh_token: &str) -> Result<Option<Refreshed>, OidcError> {
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
pub(super) struct Refreshed {
    pub(super) refresh_token: String,
    pub(super) claims: Option<Map<String, Value>>,
}

/// Constant-time equality of two byte strings (the state is a secret until it is used).
fn subtle_eq(a: &[u8], b: &[u8]) -> bool {
    subtle::ConstantTimeEq::ct_eq(a, b).into()
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

#[cfg(test)]
mod tests {
    use super::*;

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

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
//!
//! Its files: `provider` (the protocol with one provider), `accounts` (accounts made and
//! followed), `check` (the periodic check).

use openidconnect::IssuerUrl;
use serde::Deserialize;

use crate::backend::Secret;

mod accounts;
mod check;
mod provider;

pub use accounts::{create_chosen, sign_in, username_from_claim, Outcome};
pub use check::{check_all, spawn_periodic, CheckReport};
pub use provider::*;

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

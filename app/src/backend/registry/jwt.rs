//! What a registry token says and the one place it is signed: issuer, audience (the
//! registry's service), lifetime and the granted access, for clients' tokens and for
//! Portcullis's own calls to the registry. The key comes from [`super::keys`].

use chrono::{DateTime, Utc};
use rand::RngCore as _;
use serde::Serialize;

use crate::backend::AppState;
use crate::error::AppResult;
use crate::grant::Access;

/// What every registry token carries besides its access: `iss`, `aud` and lifetime.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    /// The registry's service name: the JWT `aud`.
    pub service: String,
    /// The JWT `iss`.
    pub issuer: String,
    /// Token lifetime in seconds (never below 60).
    pub expires_in: i64,
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self { service: "portcullis-registry".into(), issuer: "portcullis".into(), expires_in: 300 }
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: i64,
    nbf: i64,
    iat: i64,
    jti: String,
    access: &'a [Access],
}

/// A registry token for `subject` granting `access`, issued `now`, with the configured issuer,
/// service (audience) and lifetime: the one place the claims are written, for clients' tokens
/// and for Portcullis's own calls to the registry.
pub async fn sign(state: &AppState, subject: &str, access: &[Access], now: DateTime<Utc>) -> AppResult<String> {
    let cfg = &state.settings.token;
    let iat = now.timestamp();
    let mut jti = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut jti);
    let claims = Claims {
        iss: &cfg.issuer,
        sub: subject,
        aud: &cfg.service,
        exp: iat + cfg.expires_in,
        nbf: iat,
        iat,
        jti: hex::encode(jti),
        access,
    };
    state.keys.current(&state.db).await.sign(&claims)
}

/// What a registry token that [`verify`] accepted says: who acts, and what it grants.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Verified {
    pub sub: String,
    #[serde(default)]
    pub access: Vec<Access>,
    pub exp: i64,
}

impl Verified {
    /// Whether it grants `action` on repository `name` (`*` grants every action).
    pub fn allows(&self, name: &str, action: &str) -> bool {
        self.access
            .iter()
            .any(|a| a.kind == "repository" && a.name == name && a.actions.iter().any(|x| x == action || x == "*"))
    }
}

/// How far the clocks of the replicas that sign and the one that checks may drift apart.
const LEEWAY_SECS: u64 = 60;

/// Checks a registry token as the registry does: signed by one of Portcullis's signing keys
/// (by its `kid`, whose certificate has not ended), with the configured issuer and audience,
/// and within its lifetime. `None` for anything else, forged or expired alike.
pub async fn verify(state: &AppState, raw: &str) -> AppResult<Option<Verified>> {
    let Ok(header) = jsonwebtoken::decode_header(raw) else { return Ok(None) };
    let Some(kid) = header.kid else { return Ok(None) };
    let Some(verifier) = state.keys.verifier(&state.db, &kid).await? else { return Ok(None) };
    if header.alg != verifier.alg {
        return Ok(None);
    }
    let cfg = &state.settings.token;
    let mut validation = jsonwebtoken::Validation::new(verifier.alg);
    validation.leeway = LEEWAY_SECS;
    validation.validate_nbf = true;
    validation.set_audience(&[cfg.service.as_str()]);
    validation.set_issuer(&[cfg.issuer.as_str()]);
    validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
    Ok(jsonwebtoken::decode::<Verified>(raw, &verifier.key, &validation).ok().map(|d| d.claims))
}

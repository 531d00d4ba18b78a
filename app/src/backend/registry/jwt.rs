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

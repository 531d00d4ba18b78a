//! Token signing keys, kept in PostgreSQL so that every replica signs with the same key.
//!
//! A private certificate authority (generated once) certifies each signing key. Tokens carry
//! the signing key's libtrust `kid` and its certificate in `x5c`; the registry trusts the CA
//! (its `rootcertbundle`, which holds only CA certificates), so rotating the signing key needs
//! no change on the registry: the new certificate chains to the same root.
//!
//! Signing keys are short-lived: each signs for `key_rotation` and its certificate ends a
//! margin (the token lifetime and half an hour) later, so a retired key, even a stolen one,
//! is worthless once its last token has expired. The registry checks the chain's dates on
//! every token. Replacing the CA itself (`rotate-ca`) needs a registry restart: a staged CA is
//! published first, then takes over.
//!
//! With a `keys_encryption_key`, private keys are stored encrypted (AES-256-GCM).
//!
//! Its files: `pki` (the CA and signing keys, certificates, key ids), `store` (the keys in
//! PostgreSQL and their rotation), `signer` (the active key and the crypto provider). Secrets
//! at rest are `backend::sealed`.

use std::time::Duration;

mod pki;
mod signer;
mod store;

pub use crate::backend::sealed::KeyCrypt;
pub use pki::libtrust_kid;
pub use signer::{KeyRing, Signer, Verifier};
pub use store::{ensure, inspect, CaRotation, KeysReport};

/// Which algorithm new signing keys use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
pub enum KeyAlgorithm {
    /// ECDSA P-256: ~28 µs a signature, the default.
    ES256,
    /// RSA-2048: ~24 times slower to sign, for registries that need it.
    RS256,
}

impl KeyAlgorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ES256 => "ES256",
            Self::RS256 => "RS256",
        }
    }
}

impl std::str::FromStr for KeyAlgorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().as_str() {
            "ES256" => Ok(Self::ES256),
            "RS256" => Ok(Self::RS256),
            _ => Err(format!("unknown token algorithm {s:?}: expected ES256 or RS256")),
        }
    }
}

/// How keys are kept: the algorithm of new signing keys, how long each signs, the token
/// lifetime (a retired key's certificate outlives its last token), and the encryption of
/// private keys at rest.
#[derive(Clone)]
pub struct KeyPolicy {
    pub alg: KeyAlgorithm,
    pub rotation: Duration,
    pub token_lifetime: Duration,
    pub crypt: KeyCrypt,
}

impl KeyPolicy {
    /// What a certificate lasts beyond its key's turn: the last token it signed, and time
    /// for the hourly check to replace it.
    fn margin(&self) -> Duration {
        self.token_lifetime + Duration::from_secs(30 * 60)
    }
}

//! Secrets at rest: AES-256-GCM under a key derived from `keys_encryption_key`, for the
//! signing keys (`registry`), webhook secrets and headers (`webhooks`) and providers' refresh
//! tokens (`access::oidc`). Without the setting they are stored in clear.

use std::sync::Arc;

use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::error::{AppError, AppResult};

/// Encryption of private keys at rest: AES-256-GCM under a key derived from the configured
/// secret. `None` stores them in clear.
#[derive(Clone, Default)]
pub struct KeyCrypt(Option<Arc<aws_lc_rs::aead::LessSafeKey>>);

impl std::fmt::Debug for KeyCrypt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "KeyCrypt([redacted])" } else { "KeyCrypt(none)" })
    }
}

pub(crate) const SEALED: &str = "aes256gcm:";

impl KeyCrypt {
    pub fn new(secret: Option<&str>) -> Self {
        use aws_lc_rs::aead::{LessSafeKey, UnboundKey, AES_256_GCM};
        Self(secret.filter(|s| !s.is_empty()).map(|s| {
            let mut h = Sha256::new();
            h.update(b"portcullis keys encryption v1\0");
            h.update(s.as_bytes());
            let key = UnboundKey::new(&AES_256_GCM, &h.finalize()).expect("a 32-byte key fits AES-256");
            Arc::new(LessSafeKey::new(key))
        }))
    }

    /// The form a secret is stored in: encrypted when a secret is set, else as given.
    pub(crate) fn seal(&self, pem: &str) -> AppResult<String> {
        use aws_lc_rs::aead::{Aad, Nonce};
        use rand::RngCore as _;
        let Some(key) = &self.0 else { return Ok(pem.to_string()) };
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let mut data = pem.as_bytes().to_vec();
        key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(SEALED), &mut data).map_err(
            |e| {
                tracing::error!("cannot seal a secret: {e}");
                AppError::Internal
            },
        )?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(format!("{SEALED}{}", base64::engine::general_purpose::STANDARD.encode(out)))
    }

    /// A stored secret, in clear.
    pub(crate) fn open(&self, stored: &str) -> AppResult<String> {
        self.try_open(stored).map_err(|why| {
            tracing::error!("cannot read the signing keys: {why}");
            AppError::Internal
        })
    }

    /// A stored private key, in clear, or why it cannot be read.
    pub(crate) fn try_open(&self, stored: &str) -> Result<String, &'static str> {
        use aws_lc_rs::aead::{Aad, Nonce};
        let Some(sealed) = stored.strip_prefix(SEALED) else { return Ok(stored.to_string()) };
        let Some(key) = &self.0 else {
            return Err("they are encrypted and no keys_encryption_key is set");
        };
        let data = base64::engine::general_purpose::STANDARD.decode(sealed).map_err(|_| "damaged")?;
        if data.len() < 12 {
            return Err("damaged");
        }
        let (nonce, rest) = data.split_at(12);
        let mut rest = rest.to_vec();
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| "damaged")?;
        let plain = key
            .open_in_place(nonce, Aad::from(SEALED), &mut rest)
            .map_err(|_| "the keys_encryption_key is not the one they were encrypted with")?;
        String::from_utf8(plain.to_vec()).map_err(|_| "damaged")
    }

    /// Whether a secret is set (keys are then stored encrypted).
    pub fn is_set(&self) -> bool {
        self.0.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_keys_are_sealed_and_opened_with_the_same_secret_only() {
        let crypt = KeyCrypt::new(Some("correct secret"));
        let sealed = crypt.seal("-----BEGIN PRIVATE KEY-----\nabc\n").unwrap();
        assert!(sealed.starts_with(SEALED) && !sealed.contains("abc"), "{sealed}");
        assert_ne!(crypt.seal("same").unwrap(), crypt.seal("same").unwrap(), "a fresh nonce each time");
        assert_eq!(crypt.open(&sealed).unwrap(), "-----BEGIN PRIVATE KEY-----\nabc\n");
        assert!(KeyCrypt::new(Some("wrong secret")).open(&sealed).is_err());
        assert!(KeyCrypt::new(None).open(&sealed).is_err(), "sealed keys need the secret");
        assert_eq!(KeyCrypt::new(None).seal("clear").unwrap(), "clear");
        assert_eq!(crypt.open("clear pem").unwrap(), "clear pem", "keys stored before encryption still read");
        assert!(!format!("{crypt:?}").contains("secret"));
    }
}

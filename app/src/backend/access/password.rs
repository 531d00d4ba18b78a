//! argon2id password hashing with OWASP parameters, run on tokio's blocking pool.
//!
//! A hash takes ~15 ms of one core. Running it on the async workers would stall every other
//! request, and running unboundedly many on the blocking pool would let a burst of logins
//! take every core; a semaphore bounds how many run at once.

use std::sync::Arc;

use argon2::{
    password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString},
    Algorithm, Argon2, Params, Version,
};
use tokio::sync::Semaphore;

use crate::error::{AppError, AppResult};

/// OWASP Password Storage Cheat Sheet: argon2id, m = 19 MiB, t = 2, p = 1.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("static argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// How many hashes may run at once: one per core.
pub fn default_concurrency() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)
}

#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
    /// Verified against when the user does not exist, so that an unknown user costs as
    /// much time as a wrong password and timing does not reveal which it was.
    dummy: Arc<str>,
}

impl Hasher {
    pub fn new(concurrency: usize) -> Self {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let dummy = argon2()
            .hash_password(b"portcullis-dummy-password", &salt)
            .expect("hashing a constant cannot fail")
            .to_string();
        Self { permits: Arc::new(Semaphore::new(concurrency.max(1))), dummy: dummy.into() }
    }

    async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> AppResult<T> {
        let waiting = metrics::gauge!("portcullis_argon2_waiting");
        waiting.increment(1.0);
        let permit = self.permits.acquire().await;
        waiting.decrement(1.0);
        let _permit = permit.map_err(|_| AppError::Internal)?;
        let running = metrics::gauge!("portcullis_argon2_running");
        running.increment(1.0);
        let result = tokio::task::spawn_blocking(f).await;
        running.decrement(1.0);
        result.map_err(|e| {
            tracing::error!(error = %e, "password hashing task failed");
            AppError::Internal
        })
    }

    /// Hashes a new password into a PHC string.
    pub async fn hash(&self, password: String) -> AppResult<String> {
        self.run(move || {
            let salt = SaltString::generate(&mut rand::rngs::OsRng);
            argon2().hash_password(password.as_bytes(), &salt).map(|h| h.to_string())
        })
        .await?
        .map_err(|e| {
            tracing::error!(error = %e, "argon2 hash failed");
            AppError::Internal
        })
    }

    /// Verifies `password` against `hash`; with no hash (unknown user, bot user) it spends
    /// the same time on a dummy hash and answers `false`.
    pub async fn verify(&self, password: String, hash: Option<String>) -> AppResult<bool> {
        let (target, real) = match hash {
            Some(h) => (h, true),
            None => (self.dummy.to_string(), false),
        };
        let ok = self
            .run(move || {
                PasswordHash::new(&target)
                    .map(|parsed| argon2().verify_password(password.as_bytes(), &parsed).is_ok())
                    .unwrap_or(false)
            })
            .await?;
        Ok(ok && real)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_then_verify_round_trips() {
        let hasher = Hasher::new(2);
        let hash = hasher.hash("correct horse battery staple".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(hasher.verify("correct horse battery staple".into(), Some(hash.clone())).await.unwrap());
        assert!(!hasher.verify("wrong horse".into(), Some(hash)).await.unwrap());
    }

    #[tokio::test]
    async fn missing_hash_never_verifies() {
        let hasher = Hasher::new(1);
        assert!(!hasher.verify("portcullis-dummy-password".into(), None).await.unwrap());
    }

    #[tokio::test]
    async fn hashes_are_salted() {
        let hasher = Hasher::new(2);
        let a = hasher.hash("same".into()).await.unwrap();
        let b = hasher.hash("same".into()).await.unwrap();
        assert_ne!(a, b);
    }

    #[tokio::test]
    async fn garbage_hash_is_a_mismatch_not_a_crash() {
        let hasher = Hasher::new(1);
        assert!(!hasher.verify("x".into(), Some("not a phc string".into())).await.unwrap());
    }
}

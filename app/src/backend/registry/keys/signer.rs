//! Signing: the active key, reloaded across replicas, and a jsonwebtoken crypto provider that
//! keeps parsed keys instead of parsing a PEM for every token.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use sqlx::PgPool;

use crate::error::{AppError, AppResult};

use super::*;

use super::pki::*;
use super::store::*;

/// jsonwebtoken asks its crypto provider for a signer on every `encode`, and the stock
/// provider parses the PKCS#8 key (and checks its public half) each time: about half the cost
/// of a signature. This provider keeps each parsed key and hands out signers that share it;
/// everything else is the stock aws-lc provider.
mod parsed_keys {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, Once};

    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{EcdsaKeyPair, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PKCS1_SHA256};
    use jsonwebtoken::crypto::{aws_lc::DEFAULT_PROVIDER, CryptoProvider, JwtSigner};
    use jsonwebtoken::{Algorithm, EncodingKey};

    enum Parsed {
        Ec(EcdsaKeyPair),
        Rsa(RsaKeyPair),
    }

    struct SharedSigner {
        alg: Algorithm,
        key: Arc<Parsed>,
    }

    impl signature::Signer<Vec<u8>> for SharedSigner {
        fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, signature::Error> {
            let rng = SystemRandom::new();
            match &*self.key {
                Parsed::Ec(k) => k.sign(&rng, msg).map(|s| s.as_ref().to_vec()).map_err(signature::Error::from_source),
                Parsed::Rsa(k) => {
                    let mut sig = vec![0; k.public_modulus_len()];
                    k.sign(&RSA_PKCS1_SHA256, &rng, msg, &mut sig).map_err(signature::Error::from_source)?;
                    Ok(sig)
                }
            }
        }
    }

    impl JwtSigner for SharedSigner {
        fn algorithm(&self) -> Algorithm {
            self.alg
        }
    }

    /// Parsed keys by algorithm and key bytes.
    type ParsedKeys = HashMap<(Algorithm, Vec<u8>), Arc<Parsed>>;
    static KEYS: Mutex<Option<ParsedKeys>> = Mutex::new(None);

    fn signer(alg: &Algorithm, key: &EncodingKey) -> jsonwebtoken::errors::Result<Box<dyn JwtSigner>> {
        if !matches!(alg, Algorithm::ES256 | Algorithm::RS256) {
            return (DEFAULT_PROVIDER.signer_factory)(alg, key);
        }
        let mut keys = KEYS.lock().expect("parsed keys lock");
        let keys = keys.get_or_insert_with(HashMap::new);
        let id = (*alg, key.inner().to_vec());
        let parsed = match keys.get(&id) {
            Some(p) => p.clone(),
            None => {
                let parsed = match alg {
                    Algorithm::ES256 => {
                        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, key.inner()).map(Parsed::Ec).ok()
                    }
                    _ => RsaKeyPair::from_der(key.inner()).map(Parsed::Rsa).ok(),
                };
                // A key aws-lc cannot parse this way: let the stock provider report why.
                let Some(parsed) = parsed else { return (DEFAULT_PROVIDER.signer_factory)(alg, key) };
                let parsed = Arc::new(parsed);
                keys.insert(id, parsed.clone());
                parsed
            }
        };
        Ok(Box::new(SharedSigner { alg: *alg, key: parsed }))
    }

    static PROVIDER: CryptoProvider = CryptoProvider {
        signer_factory: signer,
        verifier_factory: DEFAULT_PROVIDER.verifier_factory,
        // JWK helpers are not used by Portcullis.
        jwk_utils: jsonwebtoken::crypto::JwkUtils::new_unimplemented(),
    };

    /// Makes jsonwebtoken use the provider (once per process).
    pub fn install() {
        static ONCE: Once = Once::new();
        ONCE.call_once(|| {
            let _ = PROVIDER.install_default();
        });
    }
}

/// The key tokens are signed with, ready to use.
pub struct Signer {
    pub kid: String,
    alg: Algorithm,
    x5c: Vec<String>,
    key: EncodingKey,
}

impl Signer {
    /// A JWT of `claims`, with `kid` and `x5c` in its header.
    pub fn sign<T: serde::Serialize>(&self, claims: &T) -> AppResult<String> {
        let mut header = Header::new(self.alg);
        header.typ = Some("JWT".into());
        header.kid = Some(self.kid.clone());
        header.x5c = Some(self.x5c.clone());
        jsonwebtoken::encode(&header, claims, &self.key).map_err(|e| {
            tracing::error!(error = %e, "signing a token failed");
            AppError::Internal
        })
    }
}

impl Signer {
    /// A signer with a fresh key and CA that exist only in memory (benchmarks, tests).
    pub fn ephemeral(alg: KeyAlgorithm) -> AppResult<Self> {
        let ca = generate_ca()?;
        let k = generate_signing_key(&ca.private_key_pem, alg, Duration::from_secs(3600))?;
        let (alg, key) = match alg {
            KeyAlgorithm::RS256 => (Algorithm::RS256, EncodingKey::from_rsa_pem(k.private_key_pem.as_bytes())),
            KeyAlgorithm::ES256 => (Algorithm::ES256, EncodingKey::from_ec_pem(k.private_key_pem.as_bytes())),
        };
        parsed_keys::install();
        Ok(Signer { kid: k.kid, alg, x5c: vec![pem_to_der_base64(&k.certificate_pem)], key: key.map_err(pki_error)? })
    }
}

pub(super) async fn load_signer(db: &PgPool, crypt: &KeyCrypt) -> AppResult<Signer> {
    let row = sqlx::query!(
        "select alg, kid, private_key_pem, certificate_pem from signing_key
         where kind = 'signing' and retired_at is null order by signing_key_id desc limit 1"
    )
    .fetch_optional(db)
    .await?
    .ok_or_else(|| {
        tracing::error!("no signing key: keys::ensure was not called");
        AppError::Internal
    })?;
    let pem = crypt.open(&row.private_key_pem)?;
    let (alg, key) = match row.alg.as_str() {
        "RS256" => (Algorithm::RS256, EncodingKey::from_rsa_pem(pem.as_bytes())),
        _ => (Algorithm::ES256, EncodingKey::from_ec_pem(pem.as_bytes())),
    };
    let key = key.map_err(pki_error)?;
    parsed_keys::install();
    Ok(Signer { kid: row.kid, alg, x5c: vec![pem_to_der_base64(&row.certificate_pem)], key })
}

/// The current signer, shared by requests and reloaded from PostgreSQL every few seconds, so
/// a rotation made by another process (or replica) takes effect everywhere. It also carries
/// the key policy, for the operations on keys.
#[derive(Clone)]
pub struct KeyRing {
    inner: Arc<RwLock<(Arc<Signer>, Instant)>>,
    policy: KeyPolicy,
    /// The public keys that check tokens, by key id: every signing key whose certificate has
    /// not ended (a retired key's last tokens are still good, as the registry finds them).
    verifiers: Arc<RwLock<std::collections::HashMap<String, Option<Arc<Verifier>>>>>,
}

/// A public key that checks the tokens of one signing key.
pub struct Verifier {
    pub alg: Algorithm,
    pub key: jsonwebtoken::DecodingKey,
    /// When its certificate ends: no token it signed is good after.
    pub not_after: chrono::DateTime<chrono::Utc>,
}

/// How many keys the ring remembers before it forgets them all (keys rotate daily).
const VERIFIERS_KEPT: usize = 256;

async fn load_verifier(db: &PgPool, crypt: &KeyCrypt, kid: &str) -> AppResult<Option<Verifier>> {
    let row = sqlx::query!(
        r#"select alg, private_key_pem, not_after as "not_after: chrono::DateTime<chrono::Utc>" from signing_key
           where kind = 'signing' and kid = $1 and not_after > now()"#,
        kid
    )
    .fetch_optional(db)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let pem = crypt.open(&row.private_key_pem)?;
    let public = rcgen::KeyPair::from_pem(&pem).map_err(pki_error)?.public_key_pem();
    let (alg, key) = match row.alg.as_str() {
        "RS256" => (Algorithm::RS256, jsonwebtoken::DecodingKey::from_rsa_pem(public.as_bytes())),
        _ => (Algorithm::ES256, jsonwebtoken::DecodingKey::from_ec_pem(public.as_bytes())),
    };
    Ok(Some(Verifier { alg, key: key.map_err(pki_error)?, not_after: row.not_after }))
}

const RELOAD_EVERY: Duration = Duration::from_secs(10);

impl KeyRing {
    pub async fn load(db: &PgPool, policy: KeyPolicy) -> AppResult<Self> {
        ensure(db, &policy).await?;
        let signer = load_signer(db, &policy.crypt).await?;
        Ok(Self { inner: Arc::new(RwLock::new((Arc::new(signer), Instant::now()))), policy, verifiers: Arc::default() })
    }

    /// The public key of signing key `kid`, when it is one of ours and its certificate has not
    /// ended. Looked up in PostgreSQL once per key id (a key another replica made is found).
    pub async fn verifier(&self, db: &PgPool, kid: &str) -> AppResult<Option<Arc<Verifier>>> {
        if kid.is_empty() || kid.len() > 128 {
            return Ok(None);
        }
        if let Some(known) = self.verifiers.read().expect("verifier lock").get(kid) {
            return Ok(known.clone().filter(|v| v.not_after > chrono::Utc::now()));
        }
        let found = load_verifier(db, &self.policy.crypt, kid).await?.map(Arc::new);
        let mut verifiers = self.verifiers.write().expect("verifier lock");
        if verifiers.len() >= VERIFIERS_KEPT {
            verifiers.clear();
        }
        // An unknown id is not remembered: another replica may make that key a moment later.
        if found.is_some() {
            verifiers.insert(kid.to_string(), found.clone());
        }
        Ok(found)
    }

    /// Loads the current signer from PostgreSQL now (after a rotation in this process).
    pub async fn reload(&self, db: &PgPool) -> AppResult<()> {
        let fresh = Arc::new(load_signer(db, &self.policy.crypt).await?);
        *self.inner.write().expect("key ring lock") = (fresh, Instant::now());
        Ok(())
    }

    /// Replaces the signing key when it has had its turn (see [`ensure`]).
    pub async fn renew(&self, db: &PgPool) -> AppResult<()> {
        ensure(db, &self.policy).await?;
        self.reload(db).await
    }

    /// Replaces the signing key now; returns the new key id.
    pub async fn rotate(&self, db: &PgPool) -> AppResult<String> {
        let kid = rotate(db, &self.policy).await?;
        self.reload(db).await?;
        Ok(kid)
    }

    /// Stages a new CA, or finishes the change to the staged one (see `rotate_ca`).
    pub async fn rotate_ca(&self, db: &PgPool, finish: bool) -> AppResult<CaRotation> {
        let done = rotate_ca(db, &self.policy, finish).await?;
        self.reload(db).await?;
        Ok(done)
    }

    /// How secrets are kept at rest (the keys', and webhooks' secrets).
    pub fn crypt(&self) -> &KeyCrypt {
        &self.policy.crypt
    }

    /// The registry's `rootcertbundle`.
    pub async fn bundle(&self, db: &PgPool) -> AppResult<String> {
        bundle_pem(db, &self.policy).await
    }

    /// The signer to use now.
    pub async fn current(&self, db: &PgPool) -> Arc<Signer> {
        let (signer, at) = {
            let guard = self.inner.read().expect("key ring lock");
            (guard.0.clone(), guard.1)
        };
        if at.elapsed() < RELOAD_EVERY {
            return signer;
        }
        // Mark as fresh first so that only one request reloads.
        self.inner.write().expect("key ring lock").1 = Instant::now();
        match load_signer(db, &self.policy.crypt).await {
            Ok(fresh) if fresh.kid != signer.kid => {
                let fresh = Arc::new(fresh);
                self.inner.write().expect("key ring lock").0 = fresh.clone();
                fresh
            }
            _ => signer,
        }
    }
}

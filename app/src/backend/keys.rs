//! Token signing keys, kept in PostgreSQL so that every replica signs with the same key.
//!
//! A private certificate authority (generated once) certifies each signing key. Tokens carry
//! the signing key's libtrust `kid` and its certificate in `x5c`; the registry trusts the CA
//! (its `rootcertbundle`), so rotating the signing key needs no change on the registry: the
//! new certificate chains to the same root. The bundle also lists the signing certificates
//! themselves (for registries that look keys up by `kid`), old ones until their last token
//! has expired.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, RsaKeySize, PKCS_ECDSA_P256_SHA256, PKCS_RSA_SHA256,
};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::error::{AppError, AppResult};

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

/// The libtrust key id of a public key: base32 of the first 240 bits of the SHA-256 of its
/// DER SubjectPublicKeyInfo, in 12 groups of 4 characters joined by `:`.
pub fn libtrust_kid(spki_der: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let digest = Sha256::digest(spki_der);
    let bytes = &digest[..30];
    let mut out = String::with_capacity(59);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            if !out.is_empty() && out.len() % 5 == 4 {
                out.push(':');
            }
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    out
}

fn pki_error(e: impl std::fmt::Display) -> AppError {
    tracing::error!(error = %e, "generating keys or certificates failed");
    AppError::Internal
}

fn ca_params() -> AppResult<CertificateParams> {
    let mut p = CertificateParams::new(Vec::<String>::new()).map_err(pki_error)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "Portcullis token CA");
    dn.push(DnType::OrganizationName, "Portcullis");
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::CrlSign];
    Ok(p)
}

fn years_from_now(years: i32) -> time::OffsetDateTime {
    use chrono::Datelike;
    let now = chrono::Utc::now();
    date_time_ymd(now.year() + years, now.month() as u8, now.day().min(28) as u8)
}

fn yesterday() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc() - time::Duration::days(1)
}

/// Validity of a signing certificate; a key is rotated automatically a month before it ends.
const SIGNING_CERT_YEARS: i32 = 2;

struct NewKey {
    kind: &'static str,
    alg: KeyAlgorithm,
    kid: String,
    private_key_pem: String,
    certificate_pem: String,
    not_after: chrono::DateTime<chrono::Utc>,
}

fn generate_ca() -> AppResult<NewKey> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(pki_error)?;
    let mut params = ca_params()?;
    params.not_before = yesterday();
    params.not_after = years_from_now(20);
    let not_after = to_chrono(params.not_after);
    let cert = params.self_signed(&key).map_err(pki_error)?;
    Ok(NewKey {
        kind: "ca",
        alg: KeyAlgorithm::ES256,
        kid: libtrust_kid(&rcgen::PublicKeyData::subject_public_key_info(&key)),
        private_key_pem: key.serialize_pem(),
        certificate_pem: cert.pem(),
        not_after,
    })
}

fn to_chrono(t: time::OffsetDateTime) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(t.unix_timestamp(), 0).unwrap_or_default()
}

fn generate_signing_key(ca_key_pem: &str, alg: KeyAlgorithm) -> AppResult<NewKey> {
    let ca_key = KeyPair::from_pem(ca_key_pem).map_err(pki_error)?;
    let issuer = Issuer::new(ca_params()?, ca_key);
    let key = match alg {
        KeyAlgorithm::ES256 => KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256),
        KeyAlgorithm::RS256 => KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_2048),
    }
    .map_err(pki_error)?;
    let kid = libtrust_kid(&rcgen::PublicKeyData::subject_public_key_info(&key));
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(pki_error)?;
    params.distinguished_name.push(DnType::CommonName, format!("Portcullis token signer {kid}"));
    params.distinguished_name.push(DnType::OrganizationName, "Portcullis");
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.not_before = yesterday();
    params.not_after = years_from_now(SIGNING_CERT_YEARS);
    let not_after = to_chrono(params.not_after);
    let cert = params.signed_by(&key, &issuer).map_err(pki_error)?;
    Ok(NewKey {
        kind: "signing",
        alg,
        kid,
        private_key_pem: key.serialize_pem(),
        certificate_pem: cert.pem(),
        not_after,
    })
}

async fn insert(conn: &mut sqlx::PgConnection, k: &NewKey) -> AppResult<()> {
    sqlx::query!(
        "insert into signing_key (kind, alg, kid, private_key_pem, certificate_pem, not_after)
         values ($1, $2, $3, $4, $5, $6)",
        k.kind,
        k.alg.as_str(),
        k.kid,
        k.private_key_pem,
        k.certificate_pem,
        k.not_after as _
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Makes sure a CA and a current signing key exist (generating them at the first start, when
/// the signing certificate is about to expire, or when the configured algorithm changed: the
/// old key stays published until its last token has expired). Safe to call from several replicas.
pub async fn ensure(db: &PgPool, alg: KeyAlgorithm) -> AppResult<()> {
    let mut tx = db.begin().await?;
    sqlx::query!("select pg_advisory_xact_lock(hashtext('portcullis.keys'))").execute(&mut *tx).await?;
    let ca = sqlx::query_scalar!(
        "select private_key_pem from signing_key where kind = 'ca' order by signing_key_id desc limit 1"
    )
    .fetch_optional(&mut *tx)
    .await?;
    let ca_key = match ca {
        Some(k) => k,
        None => {
            let ca = tokio::task::spawn_blocking(generate_ca).await.map_err(pki_error)??;
            insert(&mut tx, &ca).await?;
            ca.private_key_pem
        }
    };
    let fresh = sqlx::query_scalar!(
        r#"select exists(select 1 from signing_key where kind = 'signing' and retired_at is null and alg = $1
                         and not_after > now() + interval '30 days') as "fresh!""#,
        alg.as_str()
    )
    .fetch_one(&mut *tx)
    .await?;
    if !fresh {
        rotate_in(&mut tx, &ca_key, alg).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn rotate_in(tx: &mut sqlx::PgConnection, ca_key: &str, alg: KeyAlgorithm) -> AppResult<String> {
    let ca_key = ca_key.to_string();
    let key = tokio::task::spawn_blocking(move || generate_signing_key(&ca_key, alg)).await.map_err(pki_error)??;
    sqlx::query!("update signing_key set retired_at = now() where kind = 'signing' and retired_at is null")
        .execute(&mut *tx)
        .await?;
    insert(tx, &key).await?;
    Ok(key.kid)
}

/// Replaces the signing key. Tokens signed by the old one stay valid until they expire (its
/// certificate still chains to the CA the registry trusts). Returns the new key id.
pub async fn rotate(db: &PgPool, alg: KeyAlgorithm) -> AppResult<String> {
    ensure(db, alg).await?;
    let mut tx = db.begin().await?;
    sqlx::query!("select pg_advisory_xact_lock(hashtext('portcullis.keys'))").execute(&mut *tx).await?;
    let ca_key = sqlx::query_scalar!(
        "select private_key_pem from signing_key where kind = 'ca' order by signing_key_id desc limit 1"
    )
    .fetch_one(&mut *tx)
    .await?;
    let kid = rotate_in(&mut tx, &ca_key, alg).await?;
    tx.commit().await?;
    Ok(kid)
}

/// The certificates the registry must trust (its `rootcertbundle`): the CA, and the signing
/// certificates still in use or retired less than `max_token_secs` (plus leeway) ago.
pub async fn bundle_pem(db: &PgPool, max_token_secs: i64) -> AppResult<String> {
    let certs = sqlx::query_scalar!(
        "select certificate_pem from signing_key
         where kind = 'ca' or retired_at is null or retired_at > now() - make_interval(secs => $1)
         order by kind, signing_key_id",
        (max_token_secs + 120) as f64
    )
    .fetch_all(db)
    .await?;
    Ok(certs.concat())
}

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
        let k = generate_signing_key(&ca.private_key_pem, alg)?;
        let (alg, key) = match alg {
            KeyAlgorithm::RS256 => (Algorithm::RS256, EncodingKey::from_rsa_pem(k.private_key_pem.as_bytes())),
            KeyAlgorithm::ES256 => (Algorithm::ES256, EncodingKey::from_ec_pem(k.private_key_pem.as_bytes())),
        };
        parsed_keys::install();
        Ok(Signer { kid: k.kid, alg, x5c: vec![pem_to_der_base64(&k.certificate_pem)], key: key.map_err(pki_error)? })
    }
}

fn pem_to_der_base64(pem: &str) -> String {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    // Already base64 of the DER: normalise by decoding and encoding again.
    let der = base64::engine::general_purpose::STANDARD.decode(body.trim()).unwrap_or_default();
    base64::engine::general_purpose::STANDARD.encode(der)
}

async fn load_signer(db: &PgPool) -> AppResult<Signer> {
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
    let (alg, key) = match row.alg.as_str() {
        "RS256" => (Algorithm::RS256, EncodingKey::from_rsa_pem(row.private_key_pem.as_bytes())),
        _ => (Algorithm::ES256, EncodingKey::from_ec_pem(row.private_key_pem.as_bytes())),
    };
    let key = key.map_err(pki_error)?;
    parsed_keys::install();
    Ok(Signer { kid: row.kid, alg, x5c: vec![pem_to_der_base64(&row.certificate_pem)], key })
}

/// The current signer, shared by requests and reloaded from PostgreSQL every few seconds, so
/// a rotation made by another process (or replica) takes effect everywhere.
#[derive(Clone)]
pub struct KeyRing {
    inner: Arc<RwLock<(Arc<Signer>, Instant)>>,
}

const RELOAD_EVERY: Duration = Duration::from_secs(10);

impl KeyRing {
    pub async fn load(db: &PgPool, alg: KeyAlgorithm) -> AppResult<Self> {
        ensure(db, alg).await?;
        let signer = load_signer(db).await?;
        Ok(Self { inner: Arc::new(RwLock::new((Arc::new(signer), Instant::now()))) })
    }

    /// Loads the current signer from PostgreSQL now (after a rotation in this process).
    pub async fn reload(&self, db: &PgPool) -> AppResult<()> {
        let fresh = Arc::new(load_signer(db).await?);
        *self.inner.write().expect("key ring lock") = (fresh, Instant::now());
        Ok(())
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
        match load_signer(db).await {
            Ok(fresh) if fresh.kid != signer.kid => {
                let fresh = Arc::new(fresh);
                self.inner.write().expect("key ring lock").0 = fresh.clone();
                fresh
            }
            _ => signer,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libtrust_kid_has_the_registry_shape() {
        let kid = libtrust_kid(b"any public key");
        assert_eq!(kid.len(), 59);
        let groups: Vec<&str> = kid.split(':').collect();
        assert_eq!(groups.len(), 12);
        assert!(groups
            .iter()
            .all(|g| g.len() == 4 && g.bytes().all(|c| c.is_ascii_uppercase() || (b'2'..=b'7').contains(&c))));
    }

    #[test]
    fn libtrust_kid_matches_a_known_value() {
        // SHA-256("") truncated to 30 bytes, in base32, as Python's base64.b32encode computes it.
        assert_eq!(libtrust_kid(b""), "4OYM:IQUY:7QOB:JGX3:6TEJ:S35Z:EQT2:4QPE:MSNZ:GTFE:SWMR:W6CS");
    }

    #[test]
    fn signing_keys_chain_to_the_ca() {
        for alg in [KeyAlgorithm::ES256, KeyAlgorithm::RS256] {
            let ca = generate_ca().unwrap();
            let leaf = generate_signing_key(&ca.private_key_pem, alg).unwrap();
            assert!(leaf.certificate_pem.starts_with("-----BEGIN CERTIFICATE-----"));
            assert_ne!(leaf.kid, ca.kid);
            let key = match alg {
                KeyAlgorithm::ES256 => EncodingKey::from_ec_pem(leaf.private_key_pem.as_bytes()),
                KeyAlgorithm::RS256 => EncodingKey::from_rsa_pem(leaf.private_key_pem.as_bytes()),
            };
            assert!(key.is_ok(), "{alg:?}");
        }
    }
}

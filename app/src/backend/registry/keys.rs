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

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use chrono::{DateTime, Utc};
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

fn generate_signing_key(ca_key_pem: &str, alg: KeyAlgorithm, valid_for: Duration) -> AppResult<NewKey> {
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
    let now = time::OffsetDateTime::now_utc();
    // An hour back for clocks that are a little behind.
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::seconds(i64::try_from(valid_for.as_secs()).unwrap_or(i64::MAX / 2));
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

/// Encryption of private keys at rest: AES-256-GCM under a key derived from the configured
/// secret. `None` stores them in clear.
#[derive(Clone, Default)]
pub struct KeyCrypt(Option<Arc<aws_lc_rs::aead::LessSafeKey>>);

impl std::fmt::Debug for KeyCrypt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "KeyCrypt([redacted])" } else { "KeyCrypt(none)" })
    }
}

const SEALED: &str = "aes256gcm:";

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
        key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(SEALED), &mut data)
            .map_err(pki_error)?;
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
    fn try_open(&self, stored: &str) -> Result<String, &'static str> {
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

/// The keys in use as `portcullis doctor` reports them, read without changing anything.
#[derive(Debug, Clone, Default)]
pub struct KeysReport {
    /// Keys in use stored encrypted, and stored in clear.
    pub sealed: usize,
    pub clear: usize,
    /// Why the first key that cannot be read with the configured secret cannot be.
    pub unreadable: Option<&'static str>,
    /// When the certificate of the key that signs now ends (none yet: the first start makes it).
    pub signing_not_after: Option<DateTime<Utc>>,
    /// When the CA's certificate ends.
    pub ca_not_after: Option<DateTime<Utc>>,
}

/// Reads the keys in use (the CA and signing keys not retired) and tries to open each with
/// `crypt`; changes nothing, unlike [`ensure`].
pub async fn inspect(db: &PgPool, crypt: &KeyCrypt) -> AppResult<KeysReport> {
    let rows = sqlx::query!(
        r#"select kind, pending, private_key_pem, not_after as "not_after: DateTime<Utc>"
           from signing_key where retired_at is null order by signing_key_id"#
    )
    .fetch_all(db)
    .await?;
    let mut report = KeysReport::default();
    for row in rows {
        if row.private_key_pem.starts_with(SEALED) {
            report.sealed += 1;
        } else {
            report.clear += 1;
        }
        if let Err(why) = crypt.try_open(&row.private_key_pem) {
            report.unreadable.get_or_insert(why);
        }
        match (row.kind.as_str(), row.pending) {
            ("signing", _) => report.signing_not_after = Some(row.not_after),
            ("ca", false) => report.ca_not_after = Some(row.not_after),
            _ => {}
        }
    }
    Ok(report)
}

async fn insert(conn: &mut sqlx::PgConnection, k: &NewKey, crypt: &KeyCrypt, pending: bool) -> AppResult<()> {
    sqlx::query!(
        "insert into signing_key (kind, alg, kid, private_key_pem, certificate_pem, not_after, pending)
         values ($1, $2, $3, $4, $5, $6, $7)",
        k.kind,
        k.alg.as_str(),
        k.kid,
        crypt.seal(&k.private_key_pem)?,
        k.certificate_pem,
        k.not_after as _,
        pending
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Serialises key changes across processes and replicas.
async fn lock(tx: &mut sqlx::PgConnection) -> AppResult<()> {
    sqlx::query!("select pg_advisory_xact_lock(hashtext('portcullis.keys'))").execute(tx).await?;
    Ok(())
}

/// The private key of the CA in use (not a staged one), in clear.
async fn active_ca_key(tx: &mut sqlx::PgConnection, crypt: &KeyCrypt) -> AppResult<Option<String>> {
    let stored = sqlx::query_scalar!(
        "select private_key_pem from signing_key where kind = 'ca' and not pending and retired_at is null
         order by signing_key_id desc limit 1"
    )
    .fetch_optional(&mut *tx)
    .await?;
    stored.map(|k| crypt.open(&k)).transpose()
}

/// Makes sure a CA and a current signing key exist: at the first start, when the signing key
/// has had its turn, or when the configured algorithm changed (the old key stays valid until
/// its certificate ends). Private keys stored in clear are encrypted when a key is set. Safe
/// to call from several replicas; the maintenance job calls it every few minutes.
pub async fn ensure(db: &PgPool, policy: &KeyPolicy) -> AppResult<()> {
    let mut tx = db.begin().await?;
    lock(&mut tx).await?;
    if policy.crypt.0.is_some() {
        let clear = sqlx::query!(
            "select signing_key_id, private_key_pem from signing_key where private_key_pem not like 'aes256gcm:%'"
        )
        .fetch_all(&mut *tx)
        .await?;
        for row in clear {
            sqlx::query!(
                "update signing_key set private_key_pem = $2 where signing_key_id = $1",
                row.signing_key_id,
                policy.crypt.seal(&row.private_key_pem)?
            )
            .execute(&mut *tx)
            .await?;
        }
    }
    let ca_key = match active_ca_key(&mut tx, &policy.crypt).await? {
        Some(k) => k,
        None => {
            let ca = tokio::task::spawn_blocking(generate_ca).await.map_err(pki_error)??;
            insert(&mut tx, &ca, &policy.crypt, false).await?;
            ca.private_key_pem
        }
    };
    let fresh = sqlx::query_scalar!(
        r#"select exists(select 1 from signing_key where kind = 'signing' and retired_at is null and alg = $1
                         and not_after > now() + make_interval(secs => $2)) as "fresh!""#,
        policy.alg.as_str(),
        policy.margin().as_secs_f64()
    )
    .fetch_one(&mut *tx)
    .await?;
    if !fresh {
        rotate_in(&mut tx, &ca_key, policy).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn rotate_in(tx: &mut sqlx::PgConnection, ca_key: &str, policy: &KeyPolicy) -> AppResult<String> {
    let ca_key = ca_key.to_string();
    let (alg, valid_for) = (policy.alg, policy.rotation + policy.margin());
    let key = tokio::task::spawn_blocking(move || generate_signing_key(&ca_key, alg, valid_for))
        .await
        .map_err(pki_error)??;
    sqlx::query!("update signing_key set retired_at = now() where kind = 'signing' and retired_at is null")
        .execute(&mut *tx)
        .await?;
    insert(tx, &key, &policy.crypt, false).await?;
    // Keys whose certificates have ended are of no use to anyone any more.
    sqlx::query!("delete from signing_key where kind = 'signing' and retired_at is not null and not_after < now()")
        .execute(&mut *tx)
        .await?;
    Ok(key.kid)
}

/// Replaces the signing key. Tokens signed by the old one stay valid until they expire (its
/// certificate still chains to the CA the registry trusts). Returns the new key id.
async fn rotate(db: &PgPool, policy: &KeyPolicy) -> AppResult<String> {
    ensure(db, policy).await?;
    let mut tx = db.begin().await?;
    lock(&mut tx).await?;
    let ca_key = active_ca_key(&mut tx, &policy.crypt).await?.ok_or(AppError::Internal)?;
    let kid = rotate_in(&mut tx, &ca_key, policy).await?;
    tx.commit().await?;
    Ok(kid)
}

/// What `rotate-ca` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaRotation {
    /// A new CA is published (in the bundle) but not used yet: restart the registry with the
    /// new bundle, then finish.
    Staged { kid: String },
    /// The staged CA signs from now on; the old one is retired.
    Finished { kid: String },
}

/// Stages a new CA, or, with `finish`, makes the staged one the CA in use: the signing key is
/// replaced by one it certifies, and the old CA is retired (it leaves the bundle once the
/// tokens signed under it have expired).
async fn rotate_ca(db: &PgPool, policy: &KeyPolicy, finish: bool) -> AppResult<CaRotation> {
    ensure(db, policy).await?;
    let mut tx = db.begin().await?;
    lock(&mut tx).await?;
    let staged = sqlx::query!(
        "select signing_key_id, kid, private_key_pem from signing_key where kind = 'ca' and pending
         order by signing_key_id desc limit 1"
    )
    .fetch_optional(&mut *tx)
    .await?;
    let result = match (staged, finish) {
        (Some(ca), true) => {
            sqlx::query!(
                "update signing_key set retired_at = now() where kind = 'ca' and not pending and retired_at is null"
            )
            .execute(&mut *tx)
            .await?;
            sqlx::query!("update signing_key set pending = false where signing_key_id = $1", ca.signing_key_id)
                .execute(&mut *tx)
                .await?;
            let key = policy.crypt.open(&ca.private_key_pem)?;
            rotate_in(&mut tx, &key, policy).await?;
            CaRotation::Finished { kid: ca.kid }
        }
        (None, true) => {
            return Err(AppError::Conflict("No CA is staged: run `portcullis keys rotate-ca` first.".into()));
        }
        (Some(ca), false) => CaRotation::Staged { kid: ca.kid },
        (None, false) => {
            let ca = tokio::task::spawn_blocking(generate_ca).await.map_err(pki_error)??;
            insert(&mut tx, &ca, &policy.crypt, true).await?;
            CaRotation::Staged { kid: ca.kid }
        }
    };
    tx.commit().await?;
    Ok(result)
}

/// The certificates the registry must trust (its `rootcertbundle`): the CA in use, a staged
/// one, and a retired one until the tokens signed under it have expired. Only CAs: a signing
/// key is trusted through its certificate (`x5c`), whose dates the registry checks, never by
/// its `kid` alone, which would outlive the certificate.
async fn bundle_pem(db: &PgPool, policy: &KeyPolicy) -> AppResult<String> {
    let certs = sqlx::query_scalar!(
        "select certificate_pem from signing_key
         where kind = 'ca' and (retired_at is null or retired_at > now() - make_interval(secs => $1))
         order by signing_key_id",
        policy.margin().as_secs_f64()
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
        let k = generate_signing_key(&ca.private_key_pem, alg, Duration::from_secs(3600))?;
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

async fn load_signer(db: &PgPool, crypt: &KeyCrypt) -> AppResult<Signer> {
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
}

const RELOAD_EVERY: Duration = Duration::from_secs(10);

impl KeyRing {
    pub async fn load(db: &PgPool, policy: KeyPolicy) -> AppResult<Self> {
        ensure(db, &policy).await?;
        let signer = load_signer(db, &policy.crypt).await?;
        Ok(Self { inner: Arc::new(RwLock::new((Arc::new(signer), Instant::now()))), policy })
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

    #[test]
    fn signing_keys_chain_to_the_ca() {
        for alg in [KeyAlgorithm::ES256, KeyAlgorithm::RS256] {
            let ca = generate_ca().unwrap();
            let leaf = generate_signing_key(&ca.private_key_pem, alg, Duration::from_secs(3600)).unwrap();
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

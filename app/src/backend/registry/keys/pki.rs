//! The keys' PKI: the private CA, signing keys and their certificates, libtrust key ids.

use std::time::Duration;

use base64::Engine as _;
use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, RsaKeySize, PKCS_ECDSA_P256_SHA256, PKCS_RSA_SHA256,
};
use sha2::{Digest, Sha256};

use crate::error::{AppError, AppResult};

use super::*;

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

pub(super) fn pki_error(e: impl std::fmt::Display) -> AppError {
    tracing::error!(error = %e, "generating keys or certificates failed");
    AppError::Internal
}

pub(super) fn ca_params() -> AppResult<CertificateParams> {
    let mut p = CertificateParams::new(Vec::<String>::new()).map_err(pki_error)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "Portcullis token CA");
    dn.push(DnType::OrganizationName, "Portcullis");
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::CrlSign];
    Ok(p)
}

pub(super) fn years_from_now(years: i32) -> time::OffsetDateTime {
    use chrono::Datelike;
    let now = chrono::Utc::now();
    date_time_ymd(now.year() + years, now.month() as u8, now.day().min(28) as u8)
}

pub(super) fn yesterday() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc() - time::Duration::days(1)
}

pub(super) struct NewKey {
    pub(super) kind: &'static str,
    pub(super) alg: KeyAlgorithm,
    pub(super) kid: String,
    pub(super) private_key_pem: String,
    pub(super) certificate_pem: String,
    pub(super) not_after: chrono::DateTime<chrono::Utc>,
}

pub(super) fn generate_ca() -> AppResult<NewKey> {
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

pub(super) fn to_chrono(t: time::OffsetDateTime) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(t.unix_timestamp(), 0).unwrap_or_default()
}

pub(super) fn generate_signing_key(ca_key_pem: &str, alg: KeyAlgorithm, valid_for: Duration) -> AppResult<NewKey> {
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

pub(super) fn pem_to_der_base64(pem: &str) -> String {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    // Already base64 of the DER: normalise by decoding and encoding again.
    let der = base64::engine::general_purpose::STANDARD.decode(body.trim()).unwrap_or_default();
    base64::engine::general_purpose::STANDARD.encode(der)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::EncodingKey;

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

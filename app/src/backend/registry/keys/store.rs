//! The keys in PostgreSQL: reading them for `doctor`, the first CA and signing key, rotation
//! of the signing key and of the CA, and the bundle the registry trusts.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::backend::access::principal::{Change, Duty};
use crate::error::{AppError, AppResult};

use super::*;

use super::pki::*;
use crate::backend::sealed::SEALED;

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

pub(super) async fn insert(conn: &mut Change<'_>, k: &NewKey, crypt: &KeyCrypt, pending: bool) -> AppResult<()> {
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
    .execute(&mut **conn)
    .await?;
    Ok(())
}

/// Serialises key changes across processes and replicas.
pub(super) async fn lock(tx: &mut sqlx::PgConnection) -> AppResult<()> {
    sqlx::query!("select pg_advisory_xact_lock(hashtext('portcullis.keys'))").execute(tx).await?;
    Ok(())
}

/// The private key of the CA in use (not a staged one), in clear.
pub(super) async fn active_ca_key(tx: &mut sqlx::PgConnection, crypt: &KeyCrypt) -> AppResult<Option<String>> {
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
    let mut tx = Duty::Keys.begin(db).await?;
    lock(&mut tx).await?;
    if policy.crypt.is_set() {
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

pub(super) async fn rotate_in(tx: &mut Change<'_>, ca_key: &str, policy: &KeyPolicy) -> AppResult<String> {
    let ca_key = ca_key.to_string();
    let (alg, valid_for) = (policy.alg, policy.rotation + policy.margin());
    let key = tokio::task::spawn_blocking(move || generate_signing_key(&ca_key, alg, valid_for))
        .await
        .map_err(pki_error)??;
    sqlx::query!("update signing_key set retired_at = now() where kind = 'signing' and retired_at is null")
        .execute(&mut **tx)
        .await?;
    insert(tx, &key, &policy.crypt, false).await?;
    // Keys whose certificates have ended are of no use to anyone any more.
    sqlx::query!("delete from signing_key where kind = 'signing' and retired_at is not null and not_after < now()")
        .execute(&mut **tx)
        .await?;
    Ok(key.kid)
}

/// Replaces the signing key. Tokens signed by the old one stay valid until they expire (its
/// certificate still chains to the CA the registry trusts). Returns the new key id.
pub(super) async fn rotate(db: &PgPool, policy: &KeyPolicy) -> AppResult<String> {
    ensure(db, policy).await?;
    let mut tx = Duty::Keys.begin(db).await?;
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
pub(super) async fn rotate_ca(db: &PgPool, policy: &KeyPolicy, finish: bool) -> AppResult<CaRotation> {
    ensure(db, policy).await?;
    let mut tx = Duty::Keys.begin(db).await?;
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
pub(super) async fn bundle_pem(db: &PgPool, policy: &KeyPolicy) -> AppResult<String> {
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

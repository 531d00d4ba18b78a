//! A managed PostgreSQL requires TLS: a cluster of the test's own that accepts only TLS
//! connections (`hostssl` alone in its pg_hba.conf), with a certificate from a CA the test
//! makes. Portcullis connects with `sslmode=verify-full` and that CA as `database_ca_file`;
//! the wrong CA and a connection without TLS are refused with errors that say so.

use crate::common;

use std::path::Path;

use common::cluster::Cluster;

/// Keys PostgreSQL reads must belong to the user it runs as (`postgres` when the tests run as
/// root, see deploy/local/pg.sh) and be private.
fn hand_to_postgres(path: &Path) {
    std::process::Command::new("chmod").arg("0600").arg(path).status().unwrap();
    if common::is_root() {
        std::process::Command::new("chown").arg("postgres").arg(path).status().unwrap();
    }
}

fn config(url: &str, ca_file: &Path) -> server::Config {
    let mut c = server::Config::defaults();
    c.database_url = server::config::Secret::new(url.to_string());
    c.database_ca_file = ca_file.display().to_string();
    c.database_acquire_timeout_secs = 3;
    c
}

/// The whole chain of an error, as `portcullis` prints it.
fn chain(e: &anyhow::Error) -> String {
    format!("{e:#}")
}

#[tokio::test]
async fn portcullis_reaches_a_postgresql_that_requires_tls_and_checks_whom_it_reaches() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pg");
    std::fs::create_dir_all(&dir).unwrap();
    let (ca, chain_pem, key) = common::pki::test_pki();
    let (other_ca, _, _) = common::pki::test_pki();
    for (name, text) in [("server.crt", &chain_pem), ("server.key", &key)] {
        std::fs::write(dir.join(name), text).unwrap();
        hand_to_postgres(&dir.join(name));
    }
    std::fs::write(dir.join("pg_hba.conf"), "local all all trust\nhostssl all all 127.0.0.1/32 trust\n").unwrap();
    hand_to_postgres(&dir.join("pg_hba.conf"));
    let (ca_file, wrong_ca) = (tmp.path().join("ca.pem"), tmp.path().join("other-ca.pem"));
    std::fs::write(&ca_file, &ca).unwrap();
    std::fs::write(&wrong_ca, &other_ca).unwrap();
    let d = dir.display();
    let cluster = Cluster::start(
        &dir,
        &format!(
            "-c ssl=on -c ssl_cert_file={d}/server.crt -c ssl_key_file={d}/server.key -c hba_file={d}/pg_hba.conf"
        ),
    )
    .await;
    let url = |mode: &str| format!("{}?sslmode={mode}", cluster.url);

    let db = server::connect(&config(&url("verify-full"), &ca_file)).await.expect("verify-full with the right CA");
    let encrypted: bool =
        sqlx::query_scalar("select ssl from pg_stat_ssl where pid = pg_backend_pid()").fetch_one(&db).await.unwrap();
    assert!(encrypted, "the connection is encrypted");
    server::migrate(&db).await.expect("migrations run over TLS");
    db.close().await;

    let refused = server::connect(&config(&url("verify-full"), &wrong_ca)).await.expect_err("another CA");
    let why = chain(&refused);
    assert!(why.contains("cannot connect to PostgreSQL at 127.0.0.1"), "{why}");
    assert!(why.to_lowercase().contains("certificate") || why.contains("UnknownIssuer"), "{why}");

    let plain = server::connect(&config(&url("disable"), &ca_file)).await.expect_err("no TLS");
    let why = chain(&plain);
    assert!(why.contains("no encryption") || why.contains("pg_hba.conf"), "{why}");

    // `require` encrypts without checking whom it reaches, like libpq.
    let required = server::connect(&config(&url("require"), Path::new(""))).await.expect("sslmode=require");
    required.close().await;
}

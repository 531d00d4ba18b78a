//! A PostgreSQL cluster of a test's own (deploy/local/pg.sh with its own directory), for
//! tests that stop, crash or reconfigure it without disturbing the others.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use sqlx::postgres::PgPoolOptions;

/// Starts the test's own cluster. A start that fails is tried again, on a newly chosen port
/// when `may_move` (a port taken between being chosen and being bound); the last failure shows
/// the server log.
pub fn start_pg(dir: &Path, may_move: bool) {
    start_pg_with(dir, may_move, "")
}

pub fn start_pg_with(dir: &Path, may_move: bool, options: &str) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/local/pg.sh");
    for attempt in 1..=3 {
        // A port below Linux's ephemeral range (32768 and up), different at each attempt:
        // there, an outgoing connection of another test can hold a port that looks free.
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let port = 20_000 + (nanos / 1_000 + std::process::id() * 7 + attempt * 1_013) % 10_000;
        let out = Command::new(&script)
            .arg("start")
            .env("PORTCULLIS_PG_DIR", dir)
            .env("PORTCULLIS_PG_OPTIONS", options)
            .env("PORTCULLIS_PG_PORT", port.to_string())
            .output()
            .expect("pg.sh runs");
        if out.status.success() {
            return;
        }
        let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
        assert!(attempt < 3, "pg.sh start: {}\n{log}", String::from_utf8_lossy(&out.stderr));
        if may_move {
            let _ = std::fs::remove_file(dir.join("port"));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The test's own cluster, with a `portcullis` database; stopped when this goes.
pub struct Cluster<'a> {
    pub dir: &'a Path,
    pub url: String,
}

impl<'a> Cluster<'a> {
    pub async fn start(dir: &'a Path, options: &str) -> Cluster<'a> {
        start_pg_with(dir, true, options);
        let cluster = Cluster { dir, url: pg(dir, &["url", "portcullis"]) };
        let admin = PgPoolOptions::new().max_connections(1).connect(&pg(dir, &["url", "postgres"])).await.unwrap();
        sqlx::query("create database portcullis").execute(&admin).await.unwrap();
        admin.close().await;
        cluster
    }
}

impl Drop for Cluster<'_> {
    fn drop(&mut self) {
        let _ = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/local/pg.sh"))
            .arg("stop")
            .env("PORTCULLIS_PG_DIR", self.dir)
            .output();
    }
}

pub fn pg(dir: &Path, args: &[&str]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/local/pg.sh");
    let out = Command::new(script).args(args).env("PORTCULLIS_PG_DIR", dir).output().expect("pg.sh runs");
    assert!(out.status.success(), "pg.sh {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

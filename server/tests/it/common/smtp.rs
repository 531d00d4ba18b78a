//! A real SMTP server for the recovery tests: Python's aiosmtpd on 127.0.0.1, requiring
//! STARTTLS with a certificate of the test's own CA, storing what it receives in a maildir.

use std::path::PathBuf;
use std::time::Duration;

use super::*;

/// Where setup.sh's Python (with aiosmtpd) is.
pub fn python() -> PathBuf {
    let cache = std::env::var("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache"));
    let path = cache.join("portcullis/tools/venv/bin/python");
    assert!(path.exists(), "the tools' Python is not installed: run deploy/local/setup.sh (make test does)");
    path
}

/// aiosmtpd, requiring STARTTLS, storing mail in `dir/mail`.
pub struct Smtp {
    pub port: u16,
    pub dir: tempfile::TempDir,
    pub ca_file: PathBuf,
    pub child: tokio::process::Child,
}

impl Smtp {
    pub async fn start() -> Smtp {
        let dir = tempfile::tempdir().unwrap();
        let (ca, chain, key) = super::pki::test_pki();
        let (ca_file, cert_file, key_file) =
            (dir.path().join("ca.pem"), dir.path().join("cert.pem"), dir.path().join("key.pem"));
        std::fs::write(&ca_file, ca).unwrap();
        std::fs::write(&cert_file, chain).unwrap();
        std::fs::write(&key_file, key).unwrap();
        let port = free_port();
        let child = tokio::process::Command::new(python())
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg("--tlscert")
            .arg(&cert_file)
            .arg("--tlskey")
            .arg(&key_file)
            .arg(dir.path().join("mail"))
            .kill_on_drop(true)
            .spawn()
            .expect("aiosmtpd starts");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return Smtp { port, dir, ca_file, child };
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("aiosmtpd did not listen on {port}");
    }

    /// The messages received so far, oldest first.
    pub fn messages(&self) -> Vec<String> {
        let new = self.dir.path().join("mail/new");
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(&new)
            .map(|d| d.filter_map(|e| e.ok()).map(|e| (e.metadata().unwrap().modified().unwrap(), e.path())).collect())
            .unwrap_or_default();
        files.sort();
        files.into_iter().map(|(_, p)| std::fs::read_to_string(p).unwrap()).collect()
    }

    /// Waits for the `n`th message (1-based) and returns it.
    pub async fn nth(&self, n: usize) -> String {
        for _ in 0..100 {
            if let Some(m) = self.messages().get(n - 1) {
                return m.clone();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("message {n} never arrived (got {})", self.messages().len());
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// The reset link's token in a message (7-bit or quoted-printable).
pub fn token_in(message: &str) -> String {
    let text = message.replace("=\r\n", "").replace("=\n", "").replace("=3D", "=");
    let start =
        text.find("reset-password?token=").expect("the message has a reset link") + "reset-password?token=".len();
    text[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-').collect()
}

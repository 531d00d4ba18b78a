//! A real OpenID Connect provider for the identity tests: npm's `oidc-provider` on 127.0.0.1
//! with the test's client, people and signing key.

use std::process::Stdio;
use std::time::Duration;

use app::backend::access::oidc::{self, OidcSettings};
use serde_json::json;
use tokio::io::AsyncBufReadExt as _;

use super::*;

pub const CLIENT_ID: &str = "portcullis";
pub const CLIENT_SECRET: &str = "the client secret of portcullis at the provider";

/// A running provider, stopped when dropped.
pub struct OpenIdProvider {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub child: tokio::process::Child,
}

/// The provider's people: login → claims.
pub fn accounts() -> serde_json::Value {
    json!({
        "olivia": { "preferred_username": "Olivia.Ops@example.org", "name": "Olivia Ops",
                    "email": "olivia@example.org", "email_verified": true, "groups": ["developers", "everyone"] },
        "carol": { "preferred_username": "carol", "name": "Carol Elsewhere", "email": "carol@corp.example",
                   "email_verified": false, "groups": ["everyone"] },
    })
}

impl OpenIdProvider {
    /// Starts a provider on `port` whose one client sends people back to `portcullis`.
    pub async fn start(port: u16, portcullis: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        std::fs::write(dir.path().join("key.pem"), key.serialize_pem()).unwrap();
        let config = json!({
            "port": port,
            "keyFile": dir.path().join("key.pem"),
            "accounts": accounts(),
            "clients": [{
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uris": [oidc::callback_url(portcullis, "corp")],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "id_token_signed_response_alg": "ES256",
            }],
        });
        std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
        let mut child = node_script("oidc-provider.mjs")
            .arg(dir.path().join("config.json"))
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.path().join("provider.log")).unwrap())
            .spawn()
            .expect("node runs (oidc-provider is installed by deploy/local/setup.sh)");
        let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let ready = tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await;
        assert!(
            matches!(&ready, Ok(Ok(Some(l))) if l.starts_with("ready ")),
            "the provider did not start: {ready:?} {}",
            std::fs::read_to_string(dir.path().join("provider.log")).unwrap_or_default()
        );
        // Keep reading its output so that it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self { dir, port, child }
    }

    pub fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn key_pem(&self) -> Vec<u8> {
        std::fs::read(self.dir.path().join("key.pem")).unwrap()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("provider.log")).unwrap_or_default()
    }

    /// The provider now puts `id` in `groups`.
    pub async fn set_groups(&self, id: &str, groups: &str) {
        let url = format!("{}/_test/groups/{id}?groups={groups}", self.issuer());
        assert_eq!(reqwest::Client::new().post(url).send().await.unwrap().status(), 204);
    }

    /// The provider forgets `id` (removed from the directory behind it).
    pub async fn forget(&self, id: &str) {
        let r = reqwest::Client::new().post(format!("{}/_test/forget/{id}", self.issuer())).send().await.unwrap();
        assert_eq!(r.status(), 204);
    }
}

impl Drop for OpenIdProvider {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// Portcullis's settings for a provider at `port` (known before the provider starts: the
/// provider needs Portcullis's address for its client, Portcullis needs the provider's).
pub fn settings(port: u16) -> OidcSettings {
    serde_json::from_value(json!({
        "name": "corp",
        "label": "Corp SSO",
        "issuer": format!("http://127.0.0.1:{port}"),
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "scopes": ["profile", "email", "groups", "offline_access"],
        "groups_claim": "groups",
    }))
    .unwrap()
}

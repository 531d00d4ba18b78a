//! Signing in with a directory password (LDAP, through ldap3).
//!
//! A user is found by a search (bound as the service account, or anonymously), then the
//! password is checked by binding as that user's entry. An empty password is refused before
//! anything is sent: to an LDAP server a bind with a name and no password is an
//! "unauthenticated bind" that succeeds (the hole Portus had). The first successful sign-in
//! creates the local account (just in time); every sign-in updates its name and email from the
//! directory.
//!
//! Connections are opened per sign-in and closed after it: sign-ins through the directory are
//! rare (the token endpoint remembers a checked password for `password_cache_secs`), and a
//! pooled connection bound as one user must never serve another.

use std::sync::Arc;
use std::time::Duration;

use ldap3::{ldap_escape, Ldap, LdapConnAsync, LdapConnSettings, Scope, SearchEntry};

use super::super::Secret;

/// Where the directory is and how people are found in it.
#[derive(Debug, Clone)]
pub struct LdapSettings {
    /// `ldap://host:389` (with `starttls`, encrypted) or `ldaps://host:636`.
    pub url: String,
    /// Upgrade an `ldap://` connection with StartTLS (refused if the server cannot).
    pub starttls: bool,
    /// PEM file of the CA that signed the directory's certificate; empty for the system's.
    pub ca_file: String,
    /// The service account that searches; empty to search anonymously.
    pub bind_dn: String,
    pub bind_password: Secret,
    /// Where people are searched (the whole subtree).
    pub user_base: String,
    /// The search, with `{username}` where the (escaped) name goes.
    pub user_filter: String,
    pub username_attribute: String,
    pub display_name_attribute: String,
    pub email_attribute: String,
    /// Where groups are searched; empty: the person's `memberOf` attribute names them.
    pub group_base: String,
    /// The search for a person's groups: `{dn}` stands for their (escaped) DN, `{username}`
    /// for their name.
    pub group_filter: String,
    /// For connecting and for each operation.
    pub timeout: Duration,
}

/// A person as the directory describes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryUser {
    pub dn: String,
    /// The username attribute's value, lowercased.
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    /// The groups the person is in.
    pub groups: Vec<DirectoryGroup>,
}

/// A group of the directory: its DN and its name (the value of its first RDN, `cn` mostly).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryGroup {
    pub dn: String,
    pub name: String,
}

impl DirectoryGroup {
    fn from_dn(dn: String) -> Self {
        let name = dn.split(',').next().and_then(|rdn| rdn.split_once('=')).map(|(_, v)| v.trim().to_string());
        Self { name: name.unwrap_or_default(), dn }
    }
}

/// Why the directory gave no answer (as opposed to "no such user or wrong password").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    #[error("the directory cannot be reached: {0}")]
    Unreachable(String),
    #[error("the directory refused the search: {0}")]
    Refused(String),
}

/// The configured directory.
pub struct Directory {
    settings: LdapSettings,
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory").field("url", &self.settings.url).finish_non_exhaustive()
    }
}

impl Directory {
    /// Checks the settings (URL, CA file) without connecting.
    pub fn new(settings: LdapSettings) -> Result<Self, String> {
        let url = url::Url::parse(&settings.url).map_err(|e| format!("ldap_url {:?}: {e}", settings.url))?;
        match url.scheme() {
            "ldap" | "ldaps" => {}
            other => return Err(format!("ldap_url must be ldap:// or ldaps://, not {other}://")),
        }
        if settings.starttls && url.scheme() == "ldaps" {
            return Err("ldap_starttls is for ldap:// URLs; ldaps:// is encrypted already".into());
        }
        if !settings.user_filter.contains("{username}") {
            return Err("ldap_user_filter must contain {username}".into());
        }
        let tls = if settings.ca_file.is_empty() {
            None
        } else {
            use rustls::pki_types::{pem::PemObject, CertificateDer};
            let mut roots = rustls::RootCertStore::empty();
            let certs = CertificateDer::pem_file_iter(&settings.ca_file)
                .map_err(|e| format!("cannot read ldap_ca_file {}: {e}", settings.ca_file))?;
            for cert in certs {
                let cert = cert.map_err(|e| format!("ldap_ca_file {}: {e}", settings.ca_file))?;
                roots.add(cert).map_err(|e| format!("ldap_ca_file {}: {e}", settings.ca_file))?;
            }
            if roots.is_empty() {
                return Err(format!("ldap_ca_file {} holds no certificate", settings.ca_file));
            }
            let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| format!("TLS for the directory: {e}"))?
                .with_root_certificates(roots)
                .with_no_client_auth();
            Some(Arc::new(config))
        };
        Ok(Self { settings, tls })
    }

    async fn connect(&self) -> Result<Ldap, DirectoryError> {
        let s = &self.settings;
        let mut conn = LdapConnSettings::new().set_conn_timeout(s.timeout).set_starttls(s.starttls);
        if let Some(tls) = &self.tls {
            conn = conn.set_config(tls.clone());
        }
        let (driver, mut ldap) =
            LdapConnAsync::with_settings(conn, &s.url).await.map_err(|e| DirectoryError::Unreachable(e.to_string()))?;
        ldap3::drive!(driver);
        ldap.with_timeout(s.timeout);
        Ok(ldap)
    }

    /// The entry of `username`: `None` when there is none, or more than one.
    async fn find(&self, ldap: &mut Ldap, username: &str) -> Result<Option<DirectoryUser>, DirectoryError> {
        let s = &self.settings;
        if !s.bind_dn.is_empty() {
            ldap.simple_bind(&s.bind_dn, s.bind_password.expose())
                .await
                .and_then(|r| r.success())
                .map_err(|e| DirectoryError::Refused(format!("the service account's bind failed: {e}")))?;
        }
        let filter = s.user_filter.replace("{username}", &ldap_escape(username));
        let member_of = "memberOf".to_string();
        let attrs = [&s.username_attribute, &s.display_name_attribute, &s.email_attribute, &member_of];
        let (entries, _) = ldap
            .with_timeout(s.timeout)
            .search(&s.user_base, Scope::Subtree, &filter, attrs)
            .await
            .map_err(|e| DirectoryError::Unreachable(e.to_string()))?
            .success()
            .map_err(|e| DirectoryError::Refused(e.to_string()))?;
        if entries.len() > 1 {
            tracing::warn!(%username, found = entries.len(), "the directory has several entries for one name; none is used");
            return Ok(None);
        }
        let Some(entry) = entries.into_iter().next() else { return Ok(None) };
        let entry = SearchEntry::construct(entry);
        let first = |name: &str| {
            entry.attrs.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).and_then(|(_, v)| v.first().cloned())
        };
        let Some(found) = first(&s.username_attribute) else {
            tracing::warn!(dn = %entry.dn, attribute = %s.username_attribute, "a directory entry has no username attribute");
            return Ok(None);
        };
        let username = found.to_lowercase();
        let groups = if s.group_base.is_empty() {
            let all = entry.attrs.iter().find(|(k, _)| k.eq_ignore_ascii_case("memberOf")).map(|(_, v)| v.clone());
            all.unwrap_or_default().into_iter().map(DirectoryGroup::from_dn).collect()
        } else {
            let filter = s
                .group_filter
                .replace("{dn}", &ldap_escape(entry.dn.as_str()))
                .replace("{username}", &ldap_escape(username.as_str()));
            let (entries, _) = ldap
                .search(&s.group_base, Scope::Subtree, &filter, ["cn"])
                .await
                .map_err(|e| DirectoryError::Unreachable(e.to_string()))?
                .success()
                .map_err(|e| DirectoryError::Refused(format!("the group search: {e}")))?;
            entries.into_iter().map(|e| DirectoryGroup::from_dn(SearchEntry::construct(e).dn)).collect()
        };
        Ok(Some(DirectoryUser {
            username,
            display_name: first(&s.display_name_attribute).unwrap_or_default(),
            email: first(&s.email_attribute).filter(|e| !e.is_empty()),
            dn: entry.dn,
            groups,
        }))
    }

    /// What the directory says of `username`, without their password (Admin → Authentication's
    /// "try a user"): `None` when the search finds no one.
    pub async fn lookup(&self, username: &str) -> Result<Option<DirectoryUser>, DirectoryError> {
        let mut ldap = self.connect().await?;
        let result = self.find(&mut ldap, &username.to_lowercase()).await;
        let _ = ldap.unbind().await;
        result
    }

    /// Checks `username`'s directory password. `Ok(None)`: no such person (as the filter
    /// sees them: a disabled one is filtered out) or a wrong password.
    pub async fn authenticate(&self, username: &str, password: &str) -> Result<Option<DirectoryUser>, DirectoryError> {
        if password.is_empty() || username.is_empty() {
            return Ok(None);
        }
        let mut ldap = self.connect().await?;
        let result = async {
            let Some(user) = self.find(&mut ldap, username).await? else { return Ok(None) };
            let bind =
                ldap.simple_bind(&user.dn, password).await.map_err(|e| DirectoryError::Unreachable(e.to_string()))?;
            match bind.rc {
                0 => Ok(Some(user)),
                // invalidCredentials, and inappropriateAuthentication (no password stored).
                49 | 48 => Ok(None),
                rc => Err(DirectoryError::Refused(format!("binding as {} answered {rc}: {}", user.dn, bind.text))),
            }
        }
        .await;
        let _ = ldap.unbind().await;
        result
    }

    /// Whether the directory answers and the service account can search (for `doctor`).
    pub async fn check(&self) -> Result<(), DirectoryError> {
        let mut ldap = self.connect().await?;
        let result = self.find(&mut ldap, "portcullis-connection-check").await.map(|_| ());
        let _ = ldap.unbind().await;
        result
    }
}

//! Email through SMTP (lettre): what Portcullis sends are password reset links.
//!
//! Configured by `smtp_host` and its neighbours; without a host nothing is ever sent, and the
//! pages that would send say to ask an administrator instead.

use std::time::Duration;

use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::Secret;
use crate::error::{AppError, AppResult};

/// How the connection to the SMTP server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS, which must succeed (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a relay on the same host or network.
    None,
}

impl std::str::FromStr for SmtpSecurity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "starttls" => Ok(Self::Starttls),
            "tls" => Ok(Self::Tls),
            "none" => Ok(Self::None),
            other => Err(format!("unknown SMTP security {other:?}: starttls, tls or none")),
        }
    }
}

/// Where and how mail is sent.
#[derive(Debug, Clone)]
pub struct MailSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    /// Empty: no authentication.
    pub username: String,
    pub password: Secret,
    /// The sender, `Portcullis <registry@example.com>` or a bare address.
    pub from: String,
    /// PEM file of a CA to trust besides the usual public ones (a company's own relay).
    pub ca_file: String,
    pub timeout: Duration,
}

/// Sends mail; built once at start from [`MailSettings`].
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("from", &self.from.to_string()).finish_non_exhaustive()
    }
}

impl Mailer {
    /// Checks the settings (sender address, CA file) and builds the transport; connects only
    /// when something is sent.
    pub fn new(s: &MailSettings) -> Result<Self, String> {
        let from: Mailbox = s.from.parse().map_err(|e| format!("smtp_from {:?} is not an address: {e}", s.from))?;
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(s.host.as_str())
            .port(s.port)
            .timeout(Some(s.timeout));
        if s.security != SmtpSecurity::None {
            let mut params = TlsParameters::builder(s.host.clone());
            if !s.ca_file.is_empty() {
                let pem =
                    std::fs::read(&s.ca_file).map_err(|e| format!("cannot read smtp_ca_file {}: {e}", s.ca_file))?;
                let cert = Certificate::from_pem(&pem).map_err(|e| format!("smtp_ca_file {}: {e}", s.ca_file))?;
                params = params.add_root_certificate(cert);
            }
            let params = params.build_rustls().map_err(|e| format!("SMTP TLS settings: {e}"))?;
            builder = builder.tls(match s.security {
                SmtpSecurity::Tls => Tls::Wrapper(params),
                _ => Tls::Required(params),
            });
        }
        if !s.username.is_empty() {
            builder = builder.credentials(Credentials::new(s.username.clone(), s.password.expose().to_string()));
        }
        Ok(Self { transport: builder.build(), from })
    }

    /// Whether the server answers (and takes the credentials): for `portcullis doctor`.
    pub async fn check(&self) -> Result<(), String> {
        match self.transport.test_connection().await {
            Ok(true) => Ok(()),
            Ok(false) => Err("the server did not answer NOOP".into()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Sends a plain-text message to one address.
    pub async fn send(&self, to: &str, subject: &str, body: String) -> AppResult<()> {
        let to: Mailbox =
            to.parse().map_err(|_| AppError::invalid("email", "is not an address mail can be sent to"))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| {
                tracing::error!(error = %e, "building a message");
                AppError::Internal
            })?;
        self.transport.send(message).await.map_err(|e| {
            tracing::warn!(error = %e, "sending mail failed");
            AppError::Transport(format!("the mail server did not take the message: {e}"))
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> MailSettings {
        MailSettings {
            host: "127.0.0.1".into(),
            port: 2525,
            security: SmtpSecurity::None,
            username: String::new(),
            password: Secret::new(String::new()),
            from: "Portcullis <registry@example.com>".into(),
            ca_file: String::new(),
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn settings_are_checked_when_the_mailer_is_built() {
        assert!(Mailer::new(&settings()).is_ok());
        assert!(Mailer::new(&MailSettings { from: "not an address".into(), ..settings() }).is_err());
        let missing = MailSettings { security: SmtpSecurity::Tls, ca_file: "/nonexistent/ca.pem".into(), ..settings() };
        assert!(Mailer::new(&missing).unwrap_err().contains("smtp_ca_file"));
        assert_eq!("STARTTLS".parse::<SmtpSecurity>(), Ok(SmtpSecurity::Starttls));
        assert!("ssl".parse::<SmtpSecurity>().is_err());
    }
}

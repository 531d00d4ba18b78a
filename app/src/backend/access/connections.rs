//! Admin → Authentication's "Test connections": whether the directory, the mail server and
//! each OpenID Connect provider answer now, said in words an administrator can act on (the
//! same checks as `portcullis doctor`).

use std::future::Future;
use std::time::Duration;

use crate::backend::access::principal::Principal;
use crate::backend::AppState;
use crate::error::AppResult;
use crate::model::ConnectionStatus;
use crate::policy;

/// How long one service may take to answer before it counts as down.
const PATIENCE: Duration = Duration::from_secs(10);

/// Tries every configured service (administrators).
pub async fn check(state: &AppState, p: &Principal) -> AppResult<Vec<ConnectionStatus>> {
    p.allowed(policy::can_administer)?;
    let mut out = Vec::new();
    if let (Some(directory), Some(ldap)) = (&state.directory, &state.settings.ldap) {
        let tried = directory.check();
        out.push(status("Directory (LDAP)", &ldap.url, async { tried.await.map_err(|e| e.to_string()) }).await);
    }
    if let (Some(mailer), Some(mail)) = (&state.mailer, &state.settings.mail) {
        out.push(status("Mail server (SMTP)", &format!("{}:{}", mail.host, mail.port), mailer.check()).await);
    }
    for provider in state.oidc.0.iter() {
        let service = format!("Sign-in provider {}", provider.settings.name);
        let tried = provider.check();
        out.push(status(&service, &provider.settings.issuer, async { tried.await.map_err(|e| e.to_string()) }).await);
    }
    Ok(out)
}

async fn status(service: &str, address: &str, tried: impl Future<Output = Result<(), String>>) -> ConnectionStatus {
    let result = match tokio::time::timeout(PATIENCE, tried).await {
        Ok(r) => r,
        Err(_) => Err("timed out".to_string()),
    };
    let (ok, message) = match result {
        Ok(()) => (true, "Answers.".to_string()),
        Err(raw) => {
            tracing::warn!(service, address, error = %raw, "a connection test failed");
            (false, for_people(address, &raw))
        }
    };
    ConnectionStatus { service: service.into(), address: address.into(), ok, message }
}

/// A failed check as an administrator can act on it; the raw error follows where it helps.
pub fn for_people(address: &str, raw: &str) -> String {
    let r = raw.to_ascii_lowercase();
    if r.contains("connection refused") {
        format!("Nothing answers at {address} (connection refused): is the server running, and are the host and port right?")
    } else if r.contains("timed out") || r.contains("timeout") || r.contains("deadline") {
        format!(
            "No answer from {address} within {} seconds: is a firewall in the way, or is the address wrong?",
            PATIENCE.as_secs()
        )
    } else if r.contains("failed to lookup") || r.contains("dns") || r.contains("name or service not known") {
        format!("The host name in {address} does not resolve: check its spelling.")
    } else if r.contains("certificate") || r.contains("tls") || r.contains("handshake") {
        format!("The secure connection to {address} failed, so check the CA file and whether the server expects TLS ({raw}).")
    } else if r.contains("invalidcredentials") || r.contains("invalid credentials") || r.contains("535") {
        format!("{address} answers, but refuses the configured account and password.")
    } else {
        format!("{address} did not answer as expected: {raw}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_as_what_to_do() {
        let a = "ldap://127.0.0.1:1";
        assert!(for_people(a, "I/O error: Connection refused (os error 111)").starts_with("Nothing answers at ldap://"));
        assert!(for_people(a, "timed out").contains("firewall"));
        assert!(for_people(a, "failed to lookup address information").contains("does not resolve"));
        assert!(for_people(a, "invalid peer certificate: UnknownIssuer").contains("CA file"));
        assert!(for_people(a, "bind answered rc=49 invalidCredentials").contains("refuses the configured account"));
        assert!(for_people(a, "something odd").contains("something odd"));
    }
}

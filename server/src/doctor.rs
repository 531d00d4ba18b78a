//! `portcullis doctor`: what is wrong with an installation, each failure with its fix.
//!
//! It reads the same configuration as `serve` and checks, in order: the database and its
//! schema, the keys' encryption and the signing certificate, the registry and its token
//! settings, a token signed here, the registry's notifications (a test pull whose event must
//! reach the inbox) and the clock. Nothing is changed, except that the test pull is recorded
//! in the inbox like any pull Portcullis makes (skipped). A check that needs one that failed
//! is skipped. The exit code is 1 when any check failed.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use app::backend::images::events;
use app::backend::registry::keys::{self, KeyCrypt};
use chrono::{DateTime, Utc};
use reqwest::header;
use sqlx::PgPool;

use crate::config::Config;

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Fail,
    Skipped,
}

/// One line of the report.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
    /// What to do, in one sentence (failures only).
    pub fix: Option<String>,
}

fn ok(name: &'static str, detail: impl Into<String>) -> Check {
    Check { name, status: Status::Ok, detail: detail.into(), fix: None }
}

fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
    Check { name, status: Status::Fail, detail: detail.into(), fix: Some(fix.into()) }
}

fn skipped(name: &'static str, because: &str) -> Check {
    Check { name, status: Status::Skipped, detail: format!("needs {because}"), fix: None }
}

/// The report as printed: a line a check, a failure's fix on the line after it.
pub fn render(checks: &[Check]) -> String {
    let mut out = String::new();
    for c in checks {
        let status = match c.status {
            Status::Ok => "ok",
            Status::Fail => "FAIL",
            Status::Skipped => "skip",
        };
        let _ = writeln!(out, "{status:<5} {}: {}", c.name, c.detail);
        if let Some(fix) = &c.fix {
            let _ = writeln!(out, "      fix: {fix}");
        }
    }
    let failed = checks.iter().filter(|c| c.status == Status::Fail).count();
    if failed == 0 {
        out.push_str("Everything checked is in order.\n");
    } else {
        let _ = writeln!(out, "{failed} of {} checks failed.", checks.len());
    }
    out
}

/// How far the clocks may differ: tokens carry their issue time, and the registry checks it.
const MAX_SKEW: Duration = Duration::from_secs(30);
/// How long the test pull's notification may take (the registry retries every 3 seconds).
const NOTIFICATION_WAIT: Duration = Duration::from_secs(15);
/// Events waiting longer than this mean no event worker runs.
const STUCK_AFTER: f64 = 300.0;

/// Runs every check; `true` when none failed.
pub async fn run(config: &Config) -> anyhow::Result<bool> {
    let checks = checks(config).await;
    print!("{}", render(&checks));
    Ok(checks.iter().all(|c| c.status != Status::Fail))
}

pub async fn checks(config: &Config) -> Vec<Check> {
    let mut checks = Vec::new();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client with default settings");

    // The database, its schema and the keys kept in it.
    let db = match crate::connect(config).await {
        Ok(db) => {
            checks.push(ok("database", "reachable"));
            Some(db)
        }
        Err(e) => {
            checks.push(fail(
                "database",
                format!("{e:#}"),
                "set database_url (PORTCULLIS_DATABASE_URL) to a PostgreSQL this host reaches, with sslmode and \
                 database_ca_file as its server requires",
            ));
            None
        }
    };
    let migrated = match &db {
        Some(db) => {
            let check = migrations(db).await;
            let passed = check.status == Status::Ok;
            checks.push(check);
            passed
        }
        None => {
            checks.push(skipped("migrations", "the database"));
            false
        }
    };
    let keys_ok = match (&db, migrated) {
        (Some(db), true) => {
            let (key, cert, usable) = keys_checks(db, config).await;
            checks.extend([key, cert]);
            usable
        }
        _ => {
            checks.push(skipped("encryption key", "a migrated database"));
            checks.push(skipped("signing certificate", "a migrated database"));
            false
        }
    };

    // The registry, as Portcullis reaches it.
    let base = config.registry_url.trim_end_matches('/').to_string();
    let challenge = http.get(format!("{base}/v2/")).send().await;
    let (reachable, registry_date) = match challenge {
        Ok(res) => {
            let date = res
                .headers()
                .get(header::DATE)
                .and_then(|d| d.to_str().ok())
                .and_then(|d| DateTime::parse_from_rfc2822(d).ok())
                .map(|d| (d.with_timezone(&Utc), Utc::now()));
            checks.push(ok("registry", format!("answers at {base} ({})", res.status())));
            checks.push(realm_check(config, &res));
            (true, date)
        }
        Err(e) => {
            checks.push(fail(
                "registry",
                format!("{base} does not answer: {}", error_chain(&e)),
                "set registry_url (PORTCULLIS_REGISTRY_URL) to the registry's address as Portcullis reaches it, and \
                 make sure the registry runs",
            ));
            checks.push(skipped("registry auth", "the registry"));
            (false, None)
        }
    };

    checks.push(gate_check(config, &http).await);

    // A token signed here, and a test pull's notification.
    let state = match (&db, keys_ok, reachable) {
        (Some(db), true, true) => match crate::state(db.clone(), config).await {
            Ok(state) => Some(state),
            Err(e) => {
                checks.push(fail("registry token", format!("{e:#}"), "see the checks above"));
                None
            }
        },
        _ => None,
    };
    match &state {
        Some(state) => {
            let token = token_check(state, &http, &base).await;
            let accepted = token.status == Status::Ok;
            checks.push(token);
            if accepted {
                checks.push(notifications_check(state, config, &http, &base).await);
            } else {
                checks.push(skipped("notifications", "a token the registry accepts"));
            }
        }
        None => {
            if !checks.iter().any(|c| c.name == "registry token") {
                checks.push(skipped("registry token", "the database, the keys and the registry"));
            }
            checks.push(skipped("notifications", "the database, the keys and the registry"));
        }
    }

    // The directory and the mail server, when configured.
    let settings = config.app_settings();
    if let Some(ldap) = settings.ldap {
        checks.push(directory_check(ldap).await);
    }
    if let Some(mail) = settings.mail {
        checks.push(mail_check(&mail).await);
    }
    for provider in settings.oidc {
        checks.push(provider_check(provider, &settings.public_url).await);
    }

    checks.push(match registry_date {
        Some((theirs, ours)) => clock_check(theirs, ours),
        None if reachable => fail(
            "clock",
            "the registry's answer has no Date header",
            "make sure registry_url reaches the registry itself, not a proxy that drops its headers",
        ),
        None => skipped("clock", "the registry"),
    });
    if let Some(db) = db {
        db.close().await;
    }
    checks
}

/// Clients' manifest requests reach Portcullis's gate, not the registry itself: a registry
/// reached around the gate holds none of the tag rules.
async fn gate_check(config: &Config, http: &reqwest::Client) -> Check {
    let scheme = if config.is_https() { "https" } else { "http" };
    let host = config.registry_host.trim_end_matches('/');
    let url = format!("{scheme}://{host}/v2/portcullis-doctor/manifests/probe");
    match http.get(&url).send().await {
        Ok(res) if res.headers().contains_key(crate::gate::MARK) => {
            ok("gate", format!("clients' manifest requests to {host} go through Portcullis"))
        }
        Ok(res) => fail(
            "gate",
            format!(
                "{url} answered {} without Portcullis's gate: clients of {host} reach the registry around it, and \
                 no tag rule holds for them",
                res.status()
            ),
            "send /v2/<name>/manifests/<reference> to Portcullis (deploy/nginx/portcullis.conf.template, the \
             portcullis-gate Ingress), or serve registry_host with gate_listen, and let only Portcullis reach the \
             registry",
        ),
        Err(e) => skipped("gate", &format!("a route from here to {host}, where clients push ({})", error_chain(&e))),
    }
}

/// The directory answers, and the service account (or an anonymous search) may search.
pub async fn directory_check(ldap: app::backend::access::ldap::LdapSettings) -> Check {
    let url = ldap.url.clone();
    let directory = match app::backend::access::ldap::Directory::new(ldap) {
        Ok(d) => d,
        Err(e) => return fail("directory", e, "fix the ldap_* setting named"),
    };
    match directory.check().await {
        Ok(()) => ok("directory", format!("{url} answers and may be searched")),
        Err(e) => fail(
            "directory",
            e.to_string(),
            "check ldap_url, ldap_starttls and ldap_ca_file (TLS), ldap_bind_dn and ldap_bind_password (the \
             service account), and ldap_user_base",
        ),
    }
}

/// An OpenID Connect provider publishes its discovery document and keys.
pub async fn provider_check(settings: app::backend::access::oidc::OidcSettings, public_url: &str) -> Check {
    const NAME: &str = "identity provider";
    let (label, issuer) = (settings.name.clone(), settings.issuer.clone());
    let provider = match app::backend::access::oidc::Provider::new(settings, public_url) {
        Ok(p) => p,
        Err(e) => return fail(NAME, e, "fix the oidc_providers entry named"),
    };
    match provider.check().await {
        Ok(()) => ok(NAME, format!("{label}: {issuer} publishes its discovery document and keys")),
        Err(e) => fail(
            NAME,
            format!("{label}: {e}"),
            "check the issuer URL (its /.well-known/openid-configuration must answer) and ca_file",
        ),
    }
}

/// The SMTP server answers (and accepts the credentials, when some are set).
pub async fn mail_check(mail: &app::backend::mail::MailSettings) -> Check {
    let mailer = match app::backend::mail::Mailer::new(mail) {
        Ok(m) => m,
        Err(e) => return fail("mail", e, "fix the smtp_* setting named"),
    };
    match mailer.check().await {
        Ok(()) => ok("mail", format!("{}:{} answers", mail.host, mail.port)),
        Err(e) => fail(
            "mail",
            e,
            "check smtp_host, smtp_port and smtp_security (starttls on 587, tls on 465), smtp_ca_file, and the \
             credentials",
        ),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let _ = write!(text, ": {s}");
        source = s.source();
    }
    text
}

async fn migrations(db: &PgPool) -> Check {
    const FIX: &str = "run `portcullis migrate` (or start `portcullis serve`, which migrates) with this version";
    match app::backend::migration_status(db).await {
        Ok(s) if s.missing.is_empty() && s.unknown == 0 => {
            ok("migrations", format!("the schema is up to date ({} migrations)", s.applied))
        }
        Ok(s) if s.missing.is_empty() => fail(
            "migrations",
            format!("the database has {} migrations this version does not know: a newer version ran", s.unknown),
            "run the newest version of Portcullis on every replica",
        ),
        Ok(s) => fail(
            "migrations",
            format!(
                "{} of {} migrations are not applied (first: {})",
                s.missing.len(),
                s.applied + s.missing.len(),
                s.missing[0]
            ),
            FIX,
        ),
        Err(e) => fail("migrations", format!("cannot read the applied migrations: {e}"), FIX),
    }
}

/// The encryption key's and the signing certificate's checks, and whether a token can be
/// signed without changing the keys (building the server's state would otherwise renew or
/// encrypt them).
async fn keys_checks(db: &PgPool, config: &Config) -> (Check, Check, bool) {
    let crypt = KeyCrypt::new(Some(config.keys_encryption_key.expose()));
    let report = match keys::inspect(db, &crypt).await {
        Ok(r) => r,
        Err(e) => {
            let why = format!("cannot read the signing keys: {e}");
            let key = fail("encryption key", why, "see the database checks");
            return (key, skipped("signing certificate", "the keys"), false);
        }
    };
    let key = if let Some(why) = report.unreadable {
        fail(
            "encryption key",
            format!("the stored signing keys cannot be read: {why}"),
            "set keys_encryption_key (PORTCULLIS_KEYS_ENCRYPTION_KEY) to the secret the keys were stored with, the same \
             on every replica",
        )
    } else if !crypt.is_set() {
        fail(
            "encryption key",
            format!("no keys_encryption_key is set: {} private keys are stored in clear", report.clear),
            "set keys_encryption_key (PORTCULLIS_KEYS_ENCRYPTION_KEY) to a long random secret on every replica (keep a \
             copy apart from the database backups); the keys are encrypted at the next start",
        )
    } else if report.clear > 0 {
        fail(
            "encryption key",
            format!("{} private keys are still stored in clear", report.clear),
            "start `portcullis serve` with this keys_encryption_key: it encrypts them",
        )
    } else {
        ok("encryption key", format!("set; the {} keys in use open with it", report.sealed))
    };
    let now = Utc::now();
    let margin = chrono::Duration::seconds(config.token_expires_in.max(60));
    let cert = match (report.signing_not_after, report.ca_not_after) {
        (None, _) | (_, None) => fail(
            "signing certificate",
            "there is no signing key yet",
            "start `portcullis serve` once: it makes the CA and the first signing key",
        ),
        (Some(leaf), _) if leaf <= now + margin => fail(
            "signing certificate",
            if leaf <= now {
                format!("the signing certificate ended {} ago", human(now - leaf))
            } else {
                format!("the signing certificate ends in {}, before the tokens it signs", human(leaf - now))
            },
            "make sure a `portcullis serve` runs (it renews the key every key_rotation_hours), or run `portcullis keys \
             rotate`",
        ),
        (_, Some(ca)) if ca <= now + chrono::Duration::days(30) => fail(
            "signing certificate",
            format!("the CA certificate ends in {}", human(ca - now)),
            "change the CA: `portcullis keys rotate-ca`, restart the registry with the new bundle, then `portcullis \
             keys rotate-ca --finish`",
        ),
        (Some(leaf), Some(ca)) => ok(
            "signing certificate",
            format!("the signing certificate ends in {}, the CA's in {}", human(leaf - now), human(ca - now)),
        ),
    };
    let usable = report.unreadable.is_none() && cert.status == Status::Ok && !(crypt.is_set() && report.clear > 0);
    (key, cert, usable)
}

/// A duration as people read it: "3 days", "5 hours", "12 minutes", "40 seconds".
fn human(d: chrono::Duration) -> String {
    let s = d.num_seconds().abs();
    match s {
        s if s >= 2 * 86_400 => format!("{} days", s / 86_400),
        s if s >= 2 * 3_600 => format!("{} hours", s / 3_600),
        s if s >= 2 * 60 => format!("{} minutes", s / 60),
        s => format!("{s} seconds"),
    }
}

/// The value of `key="…"` in a `WWW-Authenticate: Bearer …` challenge.
fn challenge_param<'a>(challenge: &'a str, key: &str) -> Option<&'a str> {
    let rest = challenge.strip_prefix("Bearer ")?;
    rest.split(',').find_map(|part| {
        let (k, v) = part.trim().split_once('=')?;
        (k == key).then(|| v.trim_matches('"'))
    })
}

fn realm_check(config: &Config, res: &reqwest::Response) -> Check {
    const FIX: &str = "write the registry's configuration again with `portcullis registry-config` (with this \
                       configuration's public_url and token_service) and restart the registry";
    let expected_realm = format!("{}/v2/token", config.public_url.trim_end_matches('/'));
    let Some(challenge) = res.headers().get(header::WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()) else {
        return fail("registry auth", format!("the registry let an anonymous client in ({})", res.status()), FIX);
    };
    let (realm, service) = (challenge_param(challenge, "realm"), challenge_param(challenge, "service"));
    if realm != Some(expected_realm.as_str()) {
        return fail(
            "registry auth",
            format!(
                "the registry sends clients to realm {:?}, not {expected_realm:?} (public_url)",
                realm.unwrap_or("")
            ),
            FIX,
        );
    }
    if service != Some(config.token_service.as_str()) {
        return fail(
            "registry auth",
            format!(
                "the registry's service is {:?}, not {:?} (token_service)",
                service.unwrap_or(""),
                config.token_service
            ),
            FIX,
        );
    }
    ok("registry auth", format!("realm {expected_realm}, service {}", config.token_service))
}

async fn token_check(state: &app::backend::AppState, http: &reqwest::Client, base: &str) -> Check {
    const FIX: &str =
        "give the registry the bundle Portcullis signs with (`portcullis registry-config`, or `portcullis \
                       keys bundle`) and the same issuer as token_issuer, then restart it";
    let catalog = app::grant::Access { kind: "registry".into(), name: "catalog".into(), actions: vec!["*".into()] };
    let token = match state.registry.bearer(state, vec![catalog]).await {
        Ok(t) => t,
        Err(e) => return fail("registry token", format!("cannot sign a token: {e}"), FIX),
    };
    match http.get(format!("{base}/v2/_catalog?n=1")).bearer_auth(token).send().await {
        Ok(res) if res.status().is_success() => {
            ok("registry token", "the registry accepts the tokens Portcullis signs")
        }
        Ok(res) => {
            fail("registry token", format!("the registry refused a token Portcullis signed ({})", res.status()), FIX)
        }
        Err(e) => fail("registry token", format!("the registry did not answer: {}", error_chain(&e)), FIX),
    }
}

async fn notifications_check(
    state: &app::backend::AppState,
    config: &Config,
    http: &reqwest::Client,
    base: &str,
) -> Check {
    let fix = format!(
        "make the registry's notifications endpoint {} with the shared secret (`portcullis registry-config` writes \
         both), make sure that address reaches a running `portcullis serve`, and restart the registry",
        config.events_url()
    );
    let gauges = match app::backend::images::events::inbox_gauges(state).await {
        Ok(g) => g,
        Err(e) => return fail("notifications", format!("cannot read the inbox: {e}"), fix),
    };
    if gauges.lag_seconds > STUCK_AFTER {
        return fail(
            "notifications",
            format!(
                "{} events wait to be applied, the oldest for {}",
                gauges.pending,
                human(chrono::Duration::seconds(gauges.lag_seconds as i64))
            ),
            "make sure a `portcullis serve` runs: its event worker applies them (Admin → Registry shows why one fails)",
        );
    }
    let last = match gauges.last_received_at {
        Some(at) => format!("the last event arrived {} ago", human(Utc::now() - at)),
        None => "no event has arrived yet".to_string(),
    };
    // A test delivery: Portcullis pulls a manifest, and the registry must report the pull.
    let Some((repo, tag)) = some_tag(state, http, base).await else {
        return ok("notifications", format!("{last}; the registry holds no image to test a delivery with"));
    };
    let before = match events::newest(&state.db).await {
        Ok(id) => id,
        Err(e) => return fail("notifications", format!("cannot read the inbox: {e}"), fix),
    };
    if let Err(e) = state.registry.manifest(state, &repo, &tag).await {
        return fail("notifications", format!("a test pull of {repo}:{tag} failed: {e}"), fix);
    }
    let started = Instant::now();
    while started.elapsed() < NOTIFICATION_WAIT {
        let arrived = events::arrived_since(&state.db, before, &repo).await;
        if arrived.unwrap_or(false) {
            return ok(
                "notifications",
                format!("a test pull of {repo}:{tag} reached the inbox in {:.1} s", started.elapsed().as_secs_f64()),
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    fail(
        "notifications",
        format!("a test pull of {repo}:{tag} sent no notification within {} s ({last})", NOTIFICATION_WAIT.as_secs()),
        fix,
    )
}

/// A repository and one of its tags, for the test pull.
async fn some_tag(state: &app::backend::AppState, http: &reqwest::Client, base: &str) -> Option<(String, String)> {
    let (repos, _) = state.registry.catalog_page(state, None, 20).await.ok()?;
    for repo in repos {
        let access = app::backend::registry::client::RegistryClient::repo_access(&repo, &["pull"]);
        let token = state.registry.bearer(state, access).await.ok()?;
        let res = http.get(format!("{base}/v2/{repo}/tags/list?n=1")).bearer_auth(token).send().await.ok()?;
        let body: serde_json::Value = res.json().await.ok()?;
        if let Some(tag) = body["tags"].as_array().and_then(|t| t.first()).and_then(|t| t.as_str()) {
            return Some((repo, tag.to_string()));
        }
    }
    None
}

/// Compares the registry's `Date` with this host's time when the answer came.
fn clock_check(registry: DateTime<Utc>, ours: DateTime<Utc>) -> Check {
    let skew = ours - registry;
    // The Date header has whole seconds.
    let shown = format!("{:+} s against the registry's clock", skew.num_seconds());
    if skew.abs() > chrono::Duration::from_std(MAX_SKEW).expect("a small duration") {
        fail(
            "clock",
            format!(
                "this host's clock is {} {} the registry's",
                human(skew),
                if skew > chrono::Duration::zero() { "ahead of" } else { "behind" }
            ),
            "run time synchronisation (NTP, chrony) on this host and the registry's: tokens carry their issue time",
        )
    } else {
        ok("clock", shown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bearer_challenge_is_read() {
        let c = r#"Bearer realm="https://r.example/v2/token",service="portcullis-registry",scope="x""#;
        assert_eq!(challenge_param(c, "realm"), Some("https://r.example/v2/token"));
        assert_eq!(challenge_param(c, "service"), Some("portcullis-registry"));
        assert_eq!(challenge_param(c, "issuer"), None);
        assert_eq!(challenge_param("Basic realm=\"x\"", "realm"), None);
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(human(chrono::Duration::seconds(40)), "40 seconds");
        assert_eq!(human(chrono::Duration::minutes(12)), "12 minutes");
        assert_eq!(human(chrono::Duration::hours(-5)), "5 hours");
        assert_eq!(human(chrono::Duration::days(3)), "3 days");
    }

    #[test]
    fn the_report_counts_failures_and_gives_each_its_fix() {
        let text = render(&[ok("database", "reachable"), fail("clock", "ahead", "run NTP"), skipped("x", "y")]);
        assert!(text.contains("ok    database: reachable\n"), "{text}");
        assert!(text.contains("FAIL  clock: ahead\n      fix: run NTP\n"), "{text}");
        assert!(text.contains("skip  x: needs y\n"), "{text}");
        assert!(text.ends_with("1 of 3 checks failed.\n"), "{text}");
    }
}

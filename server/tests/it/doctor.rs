//! `portcullis doctor` against a real installation (PostgreSQL, the registry, Portcullis
//! serving): it passes a healthy one, and each thing broken in turn gets its own failing line
//! with a fix, and exit code 1.

use crate::common;

use tokio::process::Command;

use common::stack::{oci_image, Options, Stack};
use common::*;

const KEYS_SECRET: &str = "doctor test keys secret";

/// A stack whose keys are encrypted, as in production.
async fn stack_with(db: &sqlx::PgPool, options: Options) -> Stack {
    Stack::start_full(db, |c| c.keys_encryption_key = server::config::Secret::new(KEYS_SECRET), options).await
}

/// The doctor's report: its standard output and whether it exited 0.
struct Report {
    text: String,
    healthy: bool,
}

impl Report {
    /// The line of check `name`.
    fn line(&self, name: &str) -> &str {
        let prefix = format!(" {name}: ");
        self.text.lines().find(|l| l.contains(&prefix)).unwrap_or_else(|| panic!("no {name} line in:\n{}", self.text))
    }

    fn passed(&self, name: &str) -> &str {
        let line = self.line(name);
        assert!(line.starts_with("ok "), "{name} should pass:\n{}", self.text);
        line
    }

    fn failed(&self, name: &str) -> &str {
        let line = self.line(name);
        assert!(line.starts_with("FAIL "), "{name} should fail:\n{}", self.text);
        assert!(!self.healthy, "a failure exits 1:\n{}", self.text);
        let fix = self.text.lines().skip_while(|l| *l != line).nth(1).unwrap_or("");
        assert!(fix.trim_start().starts_with("fix: "), "a failure says its fix:\n{}", self.text);
        line
    }
}

/// Runs `portcullis doctor` with the stack's settings, `changes` on top (`None` removes one),
/// under `faketime` when `clock` is given. Awaited, not waited for: the stack's Portcullis
/// serves on this test's runtime, and must answer the registry meanwhile.
async fn doctor(stack: &Stack, db: &sqlx::PgPool, changes: &[(&str, Option<&str>)], clock: Option<&str>) -> Report {
    let mut settings: Vec<(String, String)> = vec![
        ("PORTCULLIS_DATABASE_URL".into(), database_url(db)),
        ("PORTCULLIS_PUBLIC_URL".into(), stack.url.clone()),
        ("PORTCULLIS_REGISTRY_URL".into(), format!("http://{}", stack.registry_direct)),
        ("PORTCULLIS_REGISTRY_HOST".into(), stack.registry.clone()),
        ("PORTCULLIS_KEYS_ENCRYPTION_KEY".into(), KEYS_SECRET.into()),
    ];
    for (key, value) in changes {
        settings.retain(|(k, _)| k != key);
        if let Some(v) = value {
            settings.push((key.to_string(), v.to_string()));
        }
    }
    let binary = env!("CARGO_BIN_EXE_portcullis");
    let mut command = match clock {
        Some(offset) => {
            let mut c = Command::new("faketime");
            // Only the wall clock moves: timeouts keep counting real time.
            c.env("FAKETIME_DONT_FAKE_MONOTONIC", "1").args(["-f", offset, binary]);
            c
        }
        None => Command::new(binary),
    };
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("PORTCULLIS_") || k == "DATABASE_URL") {
        command.env_remove(key);
    }
    let out = command.arg("doctor").envs(settings).output().await.expect("portcullis doctor runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.code().is_some_and(|c| c <= 1), "exit 0 or 1, never a crash: {out:?}");
    Report { text, healthy: out.status.success() }
}

/// A stack with alice's image pushed (the notification check pulls it).
async fn installation(options: Options) -> (Stack, sqlx::PgPool) {
    let db = fresh_db().await;
    let stack = stack_with(&db, options).await;
    let world = stack.replica_world().await;
    let alice = world.person("alice").await;
    let image = oci_image(stack.dir.path(), "doctor", &[]);
    stack.push(&image, &format!("alice:{}", alice.password), "alice/app:1").await.expect_ok("alice pushing");
    if !options.without_notifications {
        stack.wait_for_tag(&alice, "alice/app", "1").await;
    }
    (stack, db)
}

#[tokio::test]
async fn a_healthy_installation_passes_and_each_setting_broken_in_turn_fails_its_own_line() {
    let (stack, db) = installation(Options::default()).await;

    let report = doctor(&stack, &db, &[], None).await;
    assert!(report.healthy, "{}", report.text);
    for name in ["database", "migrations", "encryption key", "signing certificate", "registry", "registry auth", "gate"]
    {
        report.passed(name);
    }
    report.passed("registry token");
    assert!(report.passed("notifications").contains("a test pull of alice/app:1 reached the inbox"), "{}", report.text);
    report.passed("clock");
    assert!(report.text.ends_with("Everything checked is in order.\n"));
    // Clients sent to the registry itself, around the gate.
    let report = doctor(&stack, &db, &[("PORTCULLIS_REGISTRY_HOST", Some(&stack.registry_direct))], None).await;
    assert!(report.failed("gate").contains("without Portcullis's gate"), "{}", report.text);

    let unreachable = format!("postgres://portcullis@127.0.0.1:{}/nothing", free_port());
    let report = doctor(&stack, &db, &[("PORTCULLIS_DATABASE_URL", Some(&unreachable))], None).await;
    assert!(report.failed("database").contains("cannot connect to PostgreSQL"), "{}", report.text);
    assert!(report.line("migrations").starts_with("skip "));
    report.passed("registry");

    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let report = doctor(&stack, &db, &[("PORTCULLIS_REGISTRY_URL", Some(&nowhere))], None).await;
    assert!(report.failed("registry").contains("does not answer"), "{}", report.text);
    report.passed("database");
    assert!(report.line("registry token").starts_with("skip "));

    let report = doctor(&stack, &db, &[("PORTCULLIS_PUBLIC_URL", Some("https://elsewhere.example"))], None).await;
    assert!(report.failed("registry auth").contains("not \"https://elsewhere.example/v2/token\""), "{}", report.text);

    let report = doctor(&stack, &db, &[("PORTCULLIS_TOKEN_SERVICE", Some("another-registry"))], None).await;
    assert!(report.failed("registry auth").contains("not \"another-registry\""), "{}", report.text);
    assert!(report.failed("registry token").contains("refused"), "a token for another service is refused");

    let report = doctor(&stack, &db, &[("PORTCULLIS_KEYS_ENCRYPTION_KEY", None)], None).await;
    assert!(report.failed("encryption key").contains("cannot be read"), "{}", report.text);
    let report = doctor(&stack, &db, &[("PORTCULLIS_KEYS_ENCRYPTION_KEY", Some("not the secret"))], None).await;
    assert!(report.failed("encryption key").contains("not the one they were encrypted with"), "{}", report.text);
    report.passed("database");

    // A real clock ahead: five minutes is skew; two days also outlives the signing key.
    let report = doctor(&stack, &db, &[], Some("+5m")).await;
    assert!(report.failed("clock").contains("ahead of the registry's"), "{}", report.text);
    report.passed("signing certificate");
    let report = doctor(&stack, &db, &[], Some("+2d")).await;
    assert!(report.failed("signing certificate").contains("ended"), "{}", report.text);
}

#[tokio::test]
async fn a_registry_that_sends_no_notifications_fails_the_test_delivery() {
    let (stack, db) = installation(Options { without_notifications: true, ..Default::default() }).await;
    let report = doctor(&stack, &db, &[], None).await;
    let line = report.failed("notifications");
    assert!(line.contains("sent no notification"), "{}", report.text);
    report.passed("registry token");
}

#[tokio::test]
async fn a_registry_with_an_old_bundle_refuses_the_tokens_and_doctor_says_so() {
    let (stack, db) = installation(Options::default()).await;
    // A new CA, finished, while the registry still trusts only the old one.
    stack.state.keys.rotate_ca(&db, false).await.unwrap();
    stack.state.keys.rotate_ca(&db, true).await.unwrap();
    let report = doctor(&stack, &db, &[], None).await;
    assert!(report.failed("registry token").contains("refused a token"), "{}", report.text);
    assert!(report.line("notifications").starts_with("skip "));
}

#[tokio::test]
async fn a_database_never_migrated_is_reported_with_the_command_that_fixes_it() {
    use sqlx::{Connection as _, Executor as _};
    let (stack, db) = installation(Options::default()).await;
    let empty = format!("pct_empty_{}", std::process::id());
    let mut admin = sqlx::PgConnection::connect(&std::env::var("DATABASE_URL").unwrap()).await.unwrap();
    admin.execute(format!("create database {empty}").as_str()).await.unwrap();
    let mut url = database_url(&db);
    url.replace_range(url.rfind('/').unwrap() + 1.., &empty);
    let report = doctor(&stack, &db, &[("PORTCULLIS_DATABASE_URL", Some(&url))], None).await;
    let line = report.failed("migrations");
    assert!(line.contains("are not applied (first: 0001"), "{}", report.text);
    assert!(report.text.contains("portcullis migrate"));
    assert!(report.line("encryption key").starts_with("skip "));
    admin.execute(format!("drop database {empty}").as_str()).await.unwrap();
}

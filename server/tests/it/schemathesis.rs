//! The REST API fuzzed against its own OpenAPI document by schemathesis (from PyPI, installed
//! by `deploy/local/setup.sh`): valid and invalid requests to every operation, as an
//! administrator, checking that nothing answers 5xx and every answer keeps to the document
//! (its status codes, content types, headers and schemas). Bounded in examples and time.

use crate::common;

use common::stack::Stack;
use common::*;

/// Where schemathesis is: `SCHEMATHESIS` (set by `make test`), else where setup.sh puts it.
fn schemathesis() -> std::path::PathBuf {
    if let Ok(p) = std::env::var("SCHEMATHESIS") {
        return p.into();
    }
    let cache = std::env::var("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::path::PathBuf::from(std::env::var("HOME").unwrap()).join(".cache"));
    let path = cache.join("portcullis/tools/venv/bin/schemathesis");
    assert!(path.exists(), "schemathesis is not installed: run deploy/local/setup.sh (make test does)");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_keeps_to_its_document_under_fuzzing() {
    let db = fresh_db().await;
    let stack = Stack::start(&db).await;
    let world = stack.world();
    let root = world.root().await;
    // Something for the operations to find: a user with a token, a team, a namespace.
    let alice = world.person("alice").await;
    alice.create_team("acme").await;
    alice.create_namespace("acme", "acme").await;
    let report = stack.dir.path().join("schemathesis");
    let out = tokio::process::Command::new(schemathesis())
        .arg("run")
        .arg(format!("{}/api/openapi.json", stack.url))
        .args(["--header", &format!("Authorization: Bearer {}", root.token)])
        // The token it authenticates with must survive its own fuzzing.
        .args(["--exclude-path", "/api/v1/users/application_tokens/{id}"])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_headers_conformance,response_schema_conformance,negative_data_rejection",
        ])
        .args(["--max-examples", "25", "--max-time", "60", "--workers", "1", "--seed", "7"])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--suppress-health-check", "all"])
        .arg("--report-dir")
        .arg(&report)
        // Its caches (.schemathesis, .hypothesis) go with the test's directory.
        .current_dir(stack.dir.path())
        .env("HOME", stack.dir.path())
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .env("NO_COLOR", "1")
        .output()
        .await
        .expect("schemathesis runs");
    let text = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "schemathesis found problems:\n{text}");
    assert!(text.contains("passed"), "schemathesis ran no test:\n{text}");
}

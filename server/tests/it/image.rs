//! The container image (`Containerfile`, built by `make image`), run with Debian's podman on
//! the test's own PostgreSQL: it writes the registry's configuration, serves pages, the
//! site's assets and tokens for a real skopeo push and pull (with its refused twin), receives
//! the registry's notifications, and passes its own health check.
//!
//! `make test` builds the image first and names it in `PORTCULLIS_TEST_IMAGE`; a plain
//! `cargo test` without it skips this file with a note.

use crate::common;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use common::stack::{oci_image, skopeo_in as skopeo};
use common::*;
use serde_json::{json, Value};

/// podman as it works on machines without a container engine or systemd (TOOLCHAIN notes):
/// vfs storage, runc, cgroupfs, and no default ulimits to set.
fn podman(dir: &Path, args: &[&str]) -> Output {
    let conf = dir.join("containers.conf");
    if !conf.exists() {
        std::fs::write(&conf, "[containers]\ndefault_ulimits = []\n").unwrap();
    }
    std::process::Command::new("podman")
        .env("CONTAINERS_CONF", &conf)
        .args(["--storage-driver", "vfs", "--runtime", "runc", "--cgroup-manager", "cgroupfs"])
        .args(args)
        .output()
        .expect("podman is installed (deploy/local/setup.sh)")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// The container, removed when the test ends however it ends.
struct Container<'a> {
    dir: &'a Path,
    name: String,
}

impl Drop for Container<'_> {
    fn drop(&mut self) {
        let _ = podman(self.dir, &["rm", "--force", "--time", "2", &self.name]);
    }
}

/// The JSON answer to a request.
async fn json_of(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn the_image_serves_a_push_and_a_pull_with_pages_and_its_health_check() {
    let Ok(image) = std::env::var("PORTCULLIS_TEST_IMAGE") else {
        eprintln!("skipped: PORTCULLIS_TEST_IMAGE names no image (make test builds one)");
        return;
    };
    let db = fresh_db().await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // The image runs as uid 65532; the registry's configuration is written here for it.
    let config_dir = dir.join("registry");
    std::fs::create_dir_all(&config_dir).unwrap();
    std::process::Command::new("chmod").arg("0777").arg(&config_dir).status().unwrap();
    let (port, registry_port) = (free_port(), free_port());
    let base = format!("http://127.0.0.1:{port}");
    let registry = format!("127.0.0.1:{registry_port}");
    let settings = [
        format!("PORTCULLIS_DATABASE_URL={}", database_url(&db)),
        format!("PORTCULLIS_LISTEN=127.0.0.1:{port}"),
        format!("PORTCULLIS_PUBLIC_URL={base}"),
        format!("PORTCULLIS_REGISTRY_LISTEN={registry}"),
        format!("PORTCULLIS_REGISTRY_HOST={registry}"),
        format!("PORTCULLIS_REGISTRY_URL=http://{registry}"),
        "PORTCULLIS_KEYS_ENCRYPTION_KEY=image test key".to_string(),
    ];
    let env: Vec<String> = settings.iter().flat_map(|s| ["--env".to_string(), s.clone()]).collect();
    let env: Vec<&str> = env.iter().map(String::as_str).collect();
    let volume = format!("{0}:{0}", config_dir.display());

    // The registry's configuration, written by the image (the same paths inside and out).
    let out = config_dir.display().to_string();
    let mut args = vec!["run", "--rm", "--network", "host", "--ulimit", "host", "--volume", &volume];
    args.extend(&env);
    args.extend([image.as_str(), "registry-config", "--out", &out, "--storage", &out]);
    let written = podman(dir, &args);
    assert!(written.status.success(), "registry-config in the image: {}", text(&written));
    let log = std::fs::File::create(dir.join("registry.log")).unwrap();
    let _registry = tokio::process::Command::new("docker-registry")
        .arg("serve")
        .arg(config_dir.join("config.yml"))
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("docker-registry is installed");

    let name = format!("portcullis-test-{port}");
    let mut args = vec!["run", "--detach", "--name", &name, "--network", "host", "--ulimit", "host"];
    args.extend(&env);
    args.push(image.as_str());
    let started = podman(dir, &args);
    assert!(started.status.success(), "the image starts: {}", text(&started));
    let container = Container { dir, name };
    let http = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..150 {
        if http.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status() == 200) {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let logs = || text(&podman(dir, &["logs", &container.name]));
    assert!(ready, "the container became ready: {}", logs());
    let health = podman(dir, &["healthcheck", "run", &container.name]);
    assert!(health.status.success(), "the image's own health check passes: {}", text(&health));

    // Pages and the site's assets come from the image.
    let page = http.get(format!("{base}/login")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Sign in to Portcullis"), "{html}");
    // The wasm the page asks for (its name is compiled into the server) is the one the image
    // has: otherwise pages render but never hydrate.
    let at = html.find(".wasm").expect("the page names its wasm");
    let wasm_path = &html[html[..at].rfind("/pkg/").expect("under /pkg/")..at + 5];
    let wasm = http.get(format!("{base}{wasm_path}")).send().await.unwrap();
    assert_eq!(wasm.status(), 200, "the site's wasm {wasm_path} is in the image");
    assert_eq!(wasm.headers()["content-type"], "application/wasm", "{wasm_path}");
    // Its name carries its hash (the image has hash.txt beside the server), so browsers keep it.
    assert_eq!(wasm.headers()["cache-control"], "public, max-age=31536000, immutable", "{wasm_path}");
    // So does the stylesheet's, and the page names the one the image has.
    let at = html.find(".css\"").expect("the page links its stylesheet");
    let css_path = &html[html[..at].rfind("/pkg/").expect("under /pkg/")..at + 4];
    let css = http.get(format!("{base}{css_path}")).send().await.unwrap();
    assert_eq!(css.status(), 200, "the site's stylesheet {css_path} is in the image");
    assert_eq!(css.headers()["cache-control"], "public, max-age=31536000, immutable", "{css_path}");

    // People, through the REST API of the container.
    let boot = json_of(http.post(format!("{base}/api/v1/users/bootstrap")).json(&json!({
        "username": "root",
        "password": "root password 1"
    })))
    .await;
    let root = boot["token"]["secret"].as_str().expect("the first administrator's token").to_string();
    for name in ["alice", "bob"] {
        let made = http
            .post(format!("{base}/api/v1/users"))
            .bearer_auth(&root)
            .json(&json!({"username": name, "password": format!("{name} password 1")}))
            .send()
            .await
            .unwrap();
        assert_eq!(made.status(), 201);
    }

    let layout = oci_image(dir, "from the image", &[]);
    let src = format!("oci:{}:1.0", layout.display());
    let dst = format!("docker://{registry}/alice/app:1");
    skopeo(dir, &["copy", "--dest-tls-verify=false", "--dest-creds", "bob:bob password 1", &src, &dst])
        .await
        .expect_refused("bob pushing to alice's namespace");
    skopeo(dir, &["copy", "--dest-tls-verify=false", "--dest-creds", "alice:alice password 1", &src, &dst])
        .await
        .expect_ok("alice pushing to her own");
    let pulled = format!("oci:{}:pulled", dir.join("pulled").display());
    skopeo(dir, &["copy", "--src-tls-verify=false", "--src-creds", "alice:alice password 1", &dst, &pulled])
        .await
        .expect_ok("alice pulling it back");

    // The registry's notification reached the container: the tag shows up.
    let mut seen = false;
    for _ in 0..150 {
        let repos = json_of(http.get(format!("{base}/api/v1/repositories")).bearer_auth(&root)).await;
        if repos.as_array().is_some_and(|a| a.iter().any(|r| r["name"] == "alice/app")) {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(seen, "the push arrived as an event: {}", logs());
}

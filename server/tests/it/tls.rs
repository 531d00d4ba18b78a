//! Portcullis and its registry behind a real TLS proxy: Debian's nginx runs the shipped
//! `deploy/nginx/portcullis.conf.template` on one https origin, with a certificate from a CA
//! the test makes. skopeo and the HTTP client verify TLS with that CA (never
//! `--tls-verify=false`); a push, a pull, a refresh-token login and the UI all work through
//! it, and the registry's notifications reach Portcullis on the inside (`internal_url`).

use crate::common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::stack::{oci_image, Options, Stack};
use common::*;

/// The stack behind nginx.
struct Proxied {
    stack: Stack,
    world: World,
    _nginx: tokio::process::Child,
    /// `127.0.0.1:port`: what users type in `docker login`.
    host: String,
    /// A directory holding the test CA as `ca.crt`, for skopeo's `--cert-dir`.
    certs: PathBuf,
    /// An HTTP client that trusts the test CA only.
    http: reqwest::Client,
}

impl Proxied {
    fn origin(&self) -> String {
        format!("https://{}", self.host)
    }

    fn image(&self, repo_tag: &str) -> String {
        format!("docker://{}/{repo_tag}", self.host)
    }

    async fn push(&self, who: &Person, repo_tag: &str) -> common::stack::Skopeo {
        let image = oci_image(self.stack.dir.path(), repo_tag, &[]);
        let src = format!("oci:{}:1.0", image.display());
        let certs = self.certs.display().to_string();
        self.stack
            .skopeo(&["copy", "--dest-cert-dir", &certs, "--dest-creds", &who.creds(), &src, &self.image(repo_tag)])
            .await
    }
}

fn nginx_binary() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("nginx"))
        .find(|p| p.exists());
    on_path.unwrap_or_else(|| PathBuf::from("/usr/sbin/nginx"))
}

/// The shipped template with its variables filled, as the nginx image's entrypoint does.
fn site_config(dir: &Path, listen: u16, portcullis: &str, registry: &str) -> String {
    let template = include_str!("../../../deploy/nginx/portcullis.conf.template");
    let filled = [
        ("${PORTCULLIS_HOSTNAME}", "127.0.0.1".to_string()),
        ("${NGINX_LISTEN}", format!("127.0.0.1:{listen}")),
        ("${TLS_CERT}", dir.join("server.crt").display().to_string()),
        ("${TLS_KEY}", dir.join("server.key").display().to_string()),
        ("${PORTCULLIS_UPSTREAM}", portcullis.to_string()),
        ("${REGISTRY_UPSTREAM}", registry.to_string()),
    ]
    .iter()
    .fold(template.to_string(), |text, (var, value)| text.replace(var, value));
    let body = filled.lines().filter(|l| !l.trim_start().starts_with('#')).collect::<Vec<_>>().join("\n");
    assert!(!body.contains("${"), "every variable of the template is filled:\n{body}");
    filled
}

async fn start() -> Proxied {
    let port = free_port();
    let host = format!("127.0.0.1:{port}");
    let db = fresh_db().await;
    let stack = Stack::start_full(
        &db,
        |c| {
            c.internal_url = format!("http://{}", c.listen);
            c.public_url = format!("https://{host}");
            c.registry_host = host.clone();
            c.trusted_proxies = "127.0.0.1".parse().unwrap();
        },
        Options::default(),
    )
    .await;

    let dir = stack.dir.path().join("nginx");
    let certs = dir.join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    let (ca, chain, key) = common::pki::test_pki();
    std::fs::write(certs.join("ca.crt"), &ca).unwrap();
    std::fs::write(dir.join("server.crt"), chain).unwrap();
    std::fs::write(dir.join("server.key"), key).unwrap();
    let portcullis = stack.url.trim_start_matches("http://").to_string();
    // nginx sends the manifests to Portcullis and the rest of /v2/ to the registry itself.
    std::fs::write(dir.join("portcullis.conf"), site_config(&dir, port, &portcullis, &stack.registry_direct)).unwrap();
    let d = dir.display();
    let user = if is_root() { "user root;\n" } else { "" };
    std::fs::write(
        dir.join("nginx.conf"),
        format!(
            "{user}daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{}}\n\
             http {{\n  access_log {d}/access.log;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  \
             fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  \
             include {d}/portcullis.conf;\n}}\n"
        ),
    )
    .unwrap();
    let nginx = tokio::process::Command::new(nginx_binary())
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .arg("-e")
        .arg(dir.join("error.log"))
        .kill_on_drop(true)
        .spawn()
        .expect("nginx is installed (deploy/local/setup.sh)");

    let http = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes()).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for _ in 0..100 {
        if http.get(format!("https://{host}/healthz")).send().await.is_ok_and(|r| r.status() == 200) {
            let world = stack.replica_world().await;
            return Proxied { stack, world, _nginx: nginx, host, certs, http };
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("nginx did not come up: {}", std::fs::read_to_string(dir.join("error.log")).unwrap_or_default());
}

#[tokio::test]
async fn a_push_and_a_pull_go_through_the_proxy_verified_with_the_test_ca() {
    let p = start().await;
    let alice = p.world.person("alice").await;
    p.push(&alice, "alice/app:1").await.expect_ok("a push through the TLS proxy");
    // The registry's notification reached Portcullis on the inside.
    let tag = p.stack.wait_for_tag(&alice, "alice/app", "1").await;
    let out = p.stack.dir.path().join("pulled");
    let dst = format!("oci:{}:pulled", out.display());
    let certs = p.certs.display().to_string();
    p.stack
        .skopeo(&["copy", "--src-cert-dir", &certs, "--src-creds", &alice.creds(), &p.image("alice/app:1"), &dst])
        .await
        .expect_ok("a pull through the TLS proxy");
    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["digest"], tag.digest.as_str(), "the pulled image is the pushed one");

    // nginx sends the manifests to Portcullis's gate: a tag rule holds on this path too.
    let ns = alice.namespace("alice").await.namespace.id;
    let r = alice.post(&format!("/api/v1/namespaces/{ns}/tag_rules"), serde_json::json!({ "tags": "1" })).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let other = oci_image(p.stack.dir.path(), "another image", &[]);
    let src = format!("oci:{}:1.0", other.display());
    let moved = p
        .stack
        .skopeo(&["copy", "--dest-cert-dir", &certs, "--dest-creds", &alice.creds(), &src, &p.image("alice/app:1")])
        .await;
    moved.expect_refused("moving an immutable tag through the TLS proxy");
    assert!(moved.stderr.contains("immutable"), "{}", moved.stderr);
}

#[tokio::test]
async fn a_client_without_the_ca_is_refused_and_bob_may_not_push_to_alice() {
    let p = start().await;
    let (alice, bob) = (p.world.person("alice").await, p.world.person("bob").await);
    let image = oci_image(p.stack.dir.path(), "x", &[]);
    let src = format!("oci:{}:1.0", image.display());
    // Its own empty certificate directory: only the system's CAs, which do not know ours.
    let empty = p.stack.dir.path().join("no-certs");
    std::fs::create_dir_all(&empty).unwrap();
    let untrusting = p
        .stack
        .skopeo(&[
            "copy",
            "--dest-cert-dir",
            &empty.display().to_string(),
            "--dest-creds",
            &alice.creds(),
            &src,
            &p.image("alice/app:1"),
        ])
        .await;
    assert!(!untrusting.ok, "TLS is verified");
    assert!(untrusting.stderr.contains("certificate"), "{}", untrusting.stderr);
    p.push(&bob, "alice/app:1").await.expect_refused("bob pushing to alice's namespace through the proxy");
    p.push(&alice, "alice/app:1").await.expect_ok("alice pushing to her own");
}

#[tokio::test]
async fn the_registry_sends_clients_to_the_https_token_endpoint_and_the_inbox_and_metrics_are_not_reachable_from_outside(
) {
    let p = start().await;
    let challenge = p.http.get(format!("{}/v2/", p.origin())).send().await.unwrap();
    assert_eq!(challenge.status(), 401);
    let header = challenge.headers()["www-authenticate"].to_str().unwrap().to_string();
    assert!(header.contains(&format!("realm=\"{}/v2/token\"", p.origin())), "{header}");
    let inbox = p.http.post(format!("{}/v2/webhooks/events", p.origin())).body("{}").send().await.unwrap();
    assert_eq!(inbox.status(), 404, "notifications come from the inside only");
    let metrics = p.http.get(format!("{}/metrics", p.origin())).send().await.unwrap();
    assert_eq!(metrics.status(), 404, "metrics are scraped on the inside only");
}

#[tokio::test]
async fn a_refresh_token_login_works_through_the_proxy() {
    let p = start().await;
    let alice = p.world.person("alice").await;
    let token = |form: Vec<(&'static str, String)>| {
        let (http, url) = (p.http.clone(), format!("{}/v2/token", p.origin()));
        async move { http.post(url).form(&form).send().await.unwrap() }
    };
    let login = token(vec![
        ("grant_type", "password".into()),
        ("username", alice.name.clone()),
        ("password", alice.password.clone()),
        ("service", "portcullis-registry".into()),
        ("client_id", "docker".into()),
        ("access_type", "offline".into()),
    ])
    .await;
    assert_eq!(login.status(), 200);
    let refresh = login.json::<serde_json::Value>().await.unwrap()["refresh_token"].as_str().unwrap().to_string();
    let renewed = token(vec![
        ("grant_type", "refresh_token".into()),
        ("refresh_token", refresh),
        ("service", "portcullis-registry".into()),
        ("client_id", "docker".into()),
        ("scope", "repository:alice/app:push,pull".into()),
    ])
    .await;
    assert_eq!(renewed.status(), 200);
    let access = renewed.json::<serde_json::Value>().await.unwrap()["access_token"].as_str().unwrap().to_string();
    let claims = common::stack::claims(&access);
    assert_eq!(claims["access"][0]["actions"], serde_json::json!(["pull", "push"]), "{claims}");
    // Its refused twin: a refresh token that is not one.
    let forged = token(vec![
        ("grant_type", "refresh_token".into()),
        ("refresh_token", "pcrt_forged".into()),
        ("service", "portcullis-registry".into()),
        ("client_id", "docker".into()),
    ])
    .await;
    assert_eq!(forged.status(), 401);
}

#[tokio::test]
async fn the_ui_signs_in_over_https_with_a_secure_cookie_and_refuses_cross_site_posts() {
    let p = start().await;
    let alice = p.world.person("alice").await;
    let page = p.http.get(format!("{}/login", p.origin())).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let form = [("username", alice.name.clone()), ("password", alice.password.clone())];
    let sign_in = |origin: String| {
        let (http, url, form) = (p.http.clone(), format!("{}/api/login", p.origin()), form.clone());
        async move {
            http.post(url).header("origin", origin).header("accept", "text/html").form(&form).send().await.unwrap()
        }
    };
    let forged = sign_in("https://evil.example".into()).await;
    assert_eq!(forged.status(), 403, "a cross-site post is refused");
    let signed_in = sign_in(p.origin()).await;
    assert!(signed_in.status().is_redirection(), "{}", signed_in.status());
    let cookie = signed_in
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with(server::SESSION_COOKIE))
        .expect("a session cookie");
    let attributes: Vec<String> = cookie.split(';').map(|a| a.trim().to_ascii_lowercase()).collect();
    assert!(attributes.contains(&"secure".into()) && attributes.contains(&"httponly".into()), "{cookie}");
    let pair = cookie.split(';').next().unwrap().to_string();
    let home = p.http.get(format!("{}/", p.origin())).header("cookie", pair).send().await.unwrap();
    assert_eq!(home.status(), 200);
    assert!(home.text().await.unwrap().contains("Welcome, alice"), "the dashboard, signed in");
}

//! A real registry (Debian's docker-registry, CNCF Distribution 2.8) configured against a
//! Portcullis served on a random port, and skopeo to talk to it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use app::backend::AppState;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use super::free_port;

/// How the registry of a stack is set up.
#[derive(Clone, Copy)]
pub struct Options {
    /// Leave the registry's notifications out (images pushed "while notifications were off").
    pub without_notifications: bool,
    /// Clients reach the registry through Portcullis's gate (single-address mode, as
    /// `make run` has it): `registry` is the gate's address, `registry_direct` the registry's.
    pub through_gate: bool,
}

impl Default for Options {
    /// Through the gate, as `make run` and the shipped set-ups have it.
    fn default() -> Self {
        Self { without_notifications: false, through_gate: true }
    }
}

pub struct Stack {
    /// `http://127.0.0.1:<port>` of Portcullis.
    pub url: String,
    /// `127.0.0.1:<port>` clients use as the registry: the registry's own, or the gate's.
    pub registry: String,
    /// `127.0.0.1:<port>` of the registry itself.
    pub registry_direct: String,
    pub state: AppState,
    pub dir: tempfile::TempDir,
    /// The settings the stack's Portcullis runs with.
    pub config: server::Config,
    registry_process: tokio::process::Child,
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.registry_process.start_kill();
    }
}

impl Stack {
    pub async fn start(db: &PgPool) -> Stack {
        Self::start_with(db, |_| {}).await
    }

    pub async fn start_with(db: &PgPool, tweak: impl FnOnce(&mut server::Config)) -> Stack {
        Self::start_full(db, tweak, Options::default()).await
    }

    pub async fn start_full(db: &PgPool, tweak: impl FnOnce(&mut server::Config), options: Options) -> Stack {
        server::init_tracing(server::config::LogFormat::Text);
        server::migrate(db).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // The gate's port is taken before the registry's is chosen: a port chosen free and let
        // go could otherwise be handed to the gate, which would then forward to itself.
        let gate_listener = match options.through_gate {
            true => Some(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()),
            false => None,
        };
        let registry_port = free_port();
        let mut config = server::Config::defaults();
        config.public_url = format!("http://{addr}");
        config.listen = addr;
        config.registry_listen = format!("127.0.0.1:{registry_port}");
        config.registry_host = config.registry_listen.clone();
        if let Some(l) = &gate_listener {
            config.gate_listen = l.local_addr().unwrap().to_string();
            config.registry_host = config.gate_listen.clone();
        }
        tweak(&mut config);

        config.registry_url = format!("http://{}", config.registry_listen);
        let state = server::state(db.clone(), &config).await.unwrap();
        app::backend::registry::cache::spawn_listener(state.db.clone());
        app::backend::images::events::spawn_worker(state.clone(), state.registry.clone());
        app::backend::webhooks::spawn_worker(state.clone());
        let app = server::router(state.clone(), &config);
        tokio::spawn(async move {
            axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await.unwrap();
        });
        if let Some(l) = gate_listener {
            let gate = server::gate::listener_router(
                server::gate::Gate::new(state.clone(), &config),
                std::sync::Arc::new(config.trusted_proxies.0.clone()),
            );
            tokio::spawn(async move {
                axum::serve(l, gate.into_make_service_with_connect_info::<SocketAddr>()).await.unwrap();
            });
        }

        let dir = tempfile::tempdir().unwrap();
        let layout = server::registry_config::RegistryLayout {
            listen: &config.registry_listen,
            storage: &dir.path().join("data"),
        };
        server::registry_config::write_config(&state, &config, &dir.path().join("registry"), layout).await.unwrap();
        if options.without_notifications {
            let path = dir.path().join("registry/config.yml");
            let yaml = std::fs::read_to_string(&path).unwrap();
            std::fs::write(&path, &yaml[..yaml.find("notifications:").unwrap()]).unwrap();
        }
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let registry_process = tokio::process::Command::new("docker-registry")
            .arg("serve")
            .arg(dir.path().join("registry/config.yml"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("docker-registry is installed (deploy/local/setup.sh)");
        let stack = Stack {
            url: format!("http://{addr}"),
            registry: if options.through_gate { config.gate_listen.clone() } else { config.registry_listen.clone() },
            registry_direct: config.registry_listen.clone(),
            state,
            dir,
            config: config.clone(),
            registry_process,
        };
        stack.wait_for_registry().await;
        stack
    }

    /// Stops the registry and starts it again with the bundle Portcullis publishes now (the
    /// registry reads its rootcertbundle only at start).
    pub async fn restart_registry(&mut self) {
        let _ = self.registry_process.kill().await;
        let bundle = self.state.keys.bundle(&self.state.db).await.unwrap();
        std::fs::write(self.dir.path().join("registry/rootcertbundle.pem"), bundle).unwrap();
        let log = std::fs::OpenOptions::new().append(true).open(self.dir.path().join("registry.log")).unwrap();
        self.registry_process = tokio::process::Command::new("docker-registry")
            .arg("serve")
            .arg(self.dir.path().join("registry/config.yml"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        self.wait_for_registry().await;
    }

    /// Runs the registry's garbage collection while the registry is stopped (the window the
    /// docs/features.md asks for), then starts it again. Returns what garbage-collect printed.
    pub async fn collect_garbage(&mut self) -> std::process::Output {
        let _ = self.registry_process.kill().await;
        let out = tokio::process::Command::new("docker-registry")
            .arg("garbage-collect")
            .arg(self.dir.path().join("registry/config.yml"))
            .output()
            .await
            .expect("docker-registry runs");
        self.restart_registry().await;
        out
    }

    async fn wait_for_registry(&self) {
        let client = reqwest::Client::new();
        for _ in 0..100 {
            if let Ok(r) = client.get(format!("http://{}/v2/", self.registry_direct)).send().await {
                assert_eq!(r.status(), 401, "the registry must ask for a token");
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "the registry did not start: {}",
            std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
        );
    }

    /// The settings another replica of this stack has: the stack's own (the same keys, the
    /// same registry).
    fn replica_config(&self) -> server::Config {
        self.config.clone()
    }

    /// The people of this stack, calling the API through a router over the stack's own state.
    pub fn world(&self) -> super::World {
        super::World::on(self.state.db.clone(), server::router(self.state.clone(), &self.replica_config()))
    }

    /// The people of this stack, calling the API through a router over a state of its own on
    /// the stack's database, as another replica would.
    pub async fn replica_world(&self) -> super::World {
        let app = server::app(self.state.db.clone(), &self.replica_config()).await.unwrap();
        super::World::on(self.state.db.clone(), app)
    }

    /// A registry token for `scopes`, as `who` with their password.
    pub async fn registry_token(&self, who: &super::Person, scopes: &[&str]) -> String {
        let r = self.token(Some((&who.name, &who.password)), scopes).await;
        assert_eq!(r.status(), 200, "a registry token for {}", who.name);
        r.json::<serde_json::Value>().await.unwrap()["token"].as_str().unwrap().to_string()
    }

    pub fn registry_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Runs skopeo with the given arguments in the stack's directory (see [`skopeo_in`]).
    pub async fn skopeo(&self, args: &[&str]) -> Skopeo {
        skopeo_in(self.dir.path(), args).await
    }

    pub fn image_ref(&self, repo_and_tag: &str) -> String {
        format!("docker://{}/{repo_and_tag}", self.registry)
    }

    /// Pushes the test image to `repo:tag` with `creds` (`user:secret`).
    pub async fn push(&self, image: &Path, creds: &str, repo_tag: &str) -> Skopeo {
        self.push_with(image, creds, repo_tag, &[]).await
    }

    /// Pushes with extra skopeo copy flags (`--format v2s2`, `--all`).
    pub async fn push_with(&self, image: &Path, creds: &str, repo_tag: &str, flags: &[&str]) -> Skopeo {
        let src = format!("oci:{}:1.0", image.display());
        let dst = self.image_ref(repo_tag);
        let mut args = vec!["copy", "--dest-tls-verify=false", "--dest-creds", creds];
        args.extend_from_slice(flags);
        args.push(&src);
        args.push(&dst);
        self.skopeo(&args).await
    }

    /// Waits (up to 15 s) until `check` holds, for effects of asynchronous events.
    pub async fn eventually<F, Fut>(&self, what: &str, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        for _ in 0..150 {
            if check().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{what} never happened; registry log:\n{}", self.registry_log());
    }

    /// The tag `repo:tag` as `who` sees it through the API, once it has arrived (the
    /// registry's event was applied; within 15 s).
    pub async fn wait_for_tag(&self, who: &super::Person, repo: &str, tag: &str) -> app::model::TagView {
        for _ in 0..150 {
            if let Some(t) = who.find_tag(repo, tag).await {
                return t;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{repo}:{tag} never appeared; registry log:\n{}", self.registry_log());
    }

    /// Reads an image's manifest (needs pull), with `creds` or anonymously (`None`).
    pub async fn inspect(&self, creds: Option<&str>, repo_tag: &str) -> Skopeo {
        let r = self.image_ref(repo_tag);
        match creds {
            Some(c) => self.skopeo(&["inspect", "--raw", "--tls-verify=false", "--creds", c, &r]).await,
            None => self.skopeo(&["inspect", "--raw", "--tls-verify=false", "--no-creds", &r]).await,
        }
    }

    /// Pulls an image into a fresh OCI layout.
    pub async fn pull(&self, creds: &str, repo_tag: &str) -> Skopeo {
        let out = self.dir.path().join(format!("pulled-{}", rand_suffix()));
        let dst = format!("oci:{}:pulled", out.display());
        self.skopeo(&["copy", "--src-tls-verify=false", "--src-creds", creds, &self.image_ref(repo_tag), &dst]).await
    }

    pub async fn delete(&self, creds: &str, repo_tag: &str) -> Skopeo {
        self.skopeo(&["delete", "--tls-verify=false", "--creds", creds, &self.image_ref(repo_tag)]).await
    }

    pub async fn list_tags(&self, creds: &str, repo: &str) -> Skopeo {
        self.skopeo(&["list-tags", "--tls-verify=false", "--creds", creds, &self.image_ref(repo)]).await
    }

    /// A token from our token endpoint, as a client would get it.
    pub async fn token(&self, basic: Option<(&str, &str)>, scopes: &[&str]) -> reqwest::Response {
        let mut url = format!("{}/v2/token?service=portcullis-registry", self.url);
        for s in scopes {
            url.push_str(&format!("&scope={}", app::ui::urlencode(s)));
        }
        let mut req = reqwest::Client::new().get(url);
        if let Some((u, p)) = basic {
            req = req.basic_auth(u, Some(p));
        }
        req.send().await.unwrap()
    }

    /// Calls the registry's HTTP API with a bearer token.
    pub async fn registry_get(&self, path: &str, token: &str) -> reqwest::Response {
        reqwest::Client::new()
            .get(format!("http://{}{path}", self.registry))
            .bearer_auth(token)
            .header("Accept", "application/vnd.oci.image.manifest.v1+json")
            .send()
            .await
            .unwrap()
    }
}

/// Pushes an OCI layout's image with the registry's HTTP API and a bearer token (while
/// PostgreSQL is down no new token can be had, so this does not go through a login).
pub async fn push_layout(registry: &str, token: &str, layout: &Path, repo: &str, tag: &str) {
    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let manifest_digest = index["manifests"][0]["digest"].as_str().unwrap().to_string();
    let blob = |d: &str| std::fs::read(layout.join("blobs/sha256").join(d.trim_start_matches("sha256:"))).unwrap();
    let manifest_bytes = blob(&manifest_digest);
    let manifest: serde_json::Value = serde_json::from_slice(&manifest_bytes).unwrap();
    let mut blobs = vec![blob(manifest["config"]["digest"].as_str().unwrap())];
    blobs.extend(manifest["layers"].as_array().unwrap().iter().map(|l| blob(l["digest"].as_str().unwrap())));
    push_raw(registry, token, repo, tag, &blobs, &manifest_bytes).await;
}

/// Uploads blobs and puts a manifest, byte for byte, with the registry's HTTP API.
pub async fn push_raw(registry: &str, token: &str, repo: &str, tag: &str, blobs: &[Vec<u8>], manifest: &[u8]) {
    upload_blobs(registry, token, repo, blobs).await;
    let http = reqwest::Client::new();
    let put = http
        .put(format!("http://{registry}/v2/{repo}/manifests/{tag}"))
        .bearer_auth(token)
        .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201, "putting the manifest: {}", put.text().await.unwrap_or_default());
}

/// Uploads blobs (monolithic uploads) with the registry's HTTP API.
pub async fn upload_blobs(registry: &str, token: &str, repo: &str, blobs: &[Vec<u8>]) {
    let http = reqwest::Client::new();
    for bytes in blobs {
        let digest = format!("sha256:{}", sha256(bytes));
        let start =
            http.post(format!("http://{registry}/v2/{repo}/blobs/uploads/")).bearer_auth(token).send().await.unwrap();
        assert_eq!(start.status(), 202, "starting an upload");
        let location = start.headers()["location"].to_str().unwrap().to_string();
        let url = if location.starts_with("http") { location } else { format!("http://{registry}{location}") };
        let sep = if url.contains('?') { '&' } else { '?' };
        let put =
            http.put(format!("{url}{sep}digest={digest}")).bearer_auth(token).body(bytes.clone()).send().await.unwrap();
        assert_eq!(put.status(), 201, "uploading {digest}");
    }
}

/// The digest of some bytes, as the registry names blobs.
pub fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", sha256(bytes))
}

/// A one-file layer (an uncompressed tar), for images built by hand.
pub fn layer(content: &str) -> Vec<u8> {
    tar_with("hello.txt", content.as_bytes())
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// Runs skopeo with the given arguments, with `dir` as its home and a policy there that
/// accepts any image, away from the user's own auth files.
pub async fn skopeo_in(dir: &Path, args: &[&str]) -> Skopeo {
    let policy = dir.join("policy.json");
    if !policy.exists() {
        std::fs::write(&policy, r#"{"default":[{"type":"insecureAcceptAnything"}]}"#).unwrap();
    }
    let out = tokio::process::Command::new("skopeo")
        .arg("--policy")
        .arg(&policy)
        .args(args)
        .env("REGISTRY_AUTH_FILE", dir.join("no-auth.json"))
        .env("XDG_RUNTIME_DIR", dir)
        .env("HOME", dir)
        .output()
        .await
        .expect("skopeo is installed (deploy/local/setup.sh)");
    Skopeo {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[derive(Debug)]
pub struct Skopeo {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Skopeo {
    #[track_caller]
    pub fn expect_ok(&self, what: &str) -> &Self {
        assert!(self.ok, "{what} should succeed: {}", self.stderr);
        self
    }
    #[track_caller]
    pub fn expect_refused(&self, what: &str) -> &Self {
        assert!(!self.ok, "{what} should be refused, but succeeded: {}", self.stdout);
        let e = self.stderr.to_lowercase();
        assert!(
            e.contains("denied")
                || e.contains("unauthorized")
                || e.contains("authentication required")
                || e.contains("insufficient_scope")
                || e.contains("not found")
                || e.contains("401")
                || e.contains("403"),
            "{what} failed, but not for lack of access: {}",
            self.stderr
        );
        self
    }
}

impl Skopeo {
    #[track_caller]
    pub fn expect_missing(&self, what: &str) -> &Self {
        assert!(
            !self.ok && self.stderr.contains("manifest unknown"),
            "{what} should be gone: {} {}",
            self.stdout,
            self.stderr
        );
        self
    }
}

fn sha256(b: &[u8]) -> String {
    hex(&Sha256::digest(b))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A one-file tar archive (ustar), the layer of the test image.
fn tar_with(name: &str, content: &[u8]) -> Vec<u8> {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    let octal = |dst: &mut [u8], v: u64| {
        let s = format!("{:0width$o}\0", v, width = dst.len() - 1);
        dst.copy_from_slice(s.as_bytes());
    };
    octal(&mut h[100..108], 0o644);
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], content.len() as u64);
    octal(&mut h[136..148], 1_700_000_000);
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| b as u32).sum();
    let s = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(s.as_bytes());
    let mut out = h.to_vec();
    out.extend_from_slice(content);
    out.resize(out.len().div_ceil(512) * 512 + 1024, 0);
    out
}

/// Writes an OCI image layout with one image tagged `1.0` (amd64/linux) and the given labels;
/// `content` makes images differ. Returns the layout directory.
pub fn oci_image(dir: &Path, content: &str, labels: &[(&str, &str)]) -> PathBuf {
    let root = dir.join(format!("image-{}", rand_suffix()));
    let blobs = root.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| -> (String, usize) {
        let d = sha256(bytes);
        std::fs::write(blobs.join(&d), bytes).unwrap();
        (format!("sha256:{d}"), bytes.len())
    };
    let layer = tar_with("hello.txt", content.as_bytes());
    let (layer_digest, layer_size) = put(&layer);
    let labels: serde_json::Map<String, serde_json::Value> =
        labels.iter().map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string()))).collect();
    let config = serde_json::json!({
        "created": "2026-11-27T12:00:00Z",
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Labels": labels, "Cmd": ["cat", "/hello.txt"], "Env": ["GREETING=hello"],
            "ExposedPorts": { "8080/tcp": {} }, "WorkingDir": "/",
        },
        "rootfs": { "type": "layers", "diff_ids": [layer_digest] },
        "history": [
            { "created": "2026-11-27T12:00:00Z", "created_by": "COPY hello.txt / # buildkit" },
            { "created": "2026-11-27T12:00:00Z", "created_by": "CMD [\"cat\" \"/hello.txt\"]", "empty_layer": true },
        ],
    });
    let (config_digest, config_size) = put(config.to_string().as_bytes());
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size },
        "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer_size }],
    });
    let (manifest_digest, manifest_size) = put(manifest.to_string().as_bytes());
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest_size,
            "annotations": { "org.opencontainers.image.ref.name": "1.0" },
        }],
    });
    std::fs::write(root.join("index.json"), index.to_string()).unwrap();
    std::fs::write(root.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    root
}

/// Writes an OCI layout whose tag `1.0` is an image index of one image per platform
/// (`(os, architecture)`), each labelled with its platform.
pub fn oci_index_image(dir: &Path, platforms: &[(&str, &str)]) -> PathBuf {
    let root = dir.join(format!("index-{}", rand_suffix()));
    let blobs = root.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| -> (String, usize) {
        let d = sha256(bytes);
        std::fs::write(blobs.join(&d), bytes).unwrap();
        (format!("sha256:{d}"), bytes.len())
    };
    let mut entries = Vec::new();
    for (os, arch) in platforms {
        let layer = tar_with("hello.txt", format!("hello from {os}/{arch}").as_bytes());
        let (layer_digest, layer_size) = put(&layer);
        let config = serde_json::json!({
            "created": "2026-11-27T12:00:00Z", "architecture": arch, "os": os,
            "config": { "Labels": { "org.example.platform": format!("{os}/{arch}") } },
            "rootfs": { "type": "layers", "diff_ids": [layer_digest] },
        });
        let (config_digest, config_size) = put(config.to_string().as_bytes());
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size },
            "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer_size }],
        });
        let (digest, size) = put(manifest.to_string().as_bytes());
        entries.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": size,
            "platform": { "os": os, "architecture": arch },
        }));
    }
    let index = serde_json::json!({ "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries });
    let (index_digest, index_size) = put(index.to_string().as_bytes());
    let top = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.index.v1+json", "digest": index_digest, "size": index_size,
            "annotations": { "org.opencontainers.image.ref.name": "1.0" },
        }],
    });
    std::fs::write(root.join("index.json"), top.to_string()).unwrap();
    std::fs::write(root.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    root
}

/// The claims of a JWT (not verified: the registry does that).
pub fn claims(jwt: &str) -> serde_json::Value {
    use base64::Engine as _;
    let part = jwt.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

pub fn jwt_header(jwt: &str) -> serde_json::Value {
    use base64::Engine as _;
    let part = jwt.split('.').next().expect("a JWT");
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

//! Reconcile benchmark (not a test): seeds REPOS repositories × TAGS tags into a registry
//! through its HTTP API, then times, in the same run, a bare concurrent walk of the same
//! registry endpoints (catalog, tags, HEAD + GET of every manifest, GET of every config) and
//! Portcullis's reconcile of all of it into an empty database.
//! Run by deploy/bench/images-bench.sh, which starts PostgreSQL and the registry.

use std::time::Instant;

use app::backend::registry::client::{RegistryClient, MANIFEST_ACCEPT};
use app::backend::AppState;
use clap::Parser;
use futures_util::{stream, StreamExt};
use sha2::{Digest, Sha256};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 2000)]
    repos: usize,
    #[arg(long, default_value_t = 5)]
    tags: usize,
    #[command(flatten)]
    settings: server::config::ConfigArgs,
}

fn digest(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(b)))
}

async fn seed(state: &AppState, http: &reqwest::Client, repo: String, tags: usize) {
    let reg = state.registry.base().to_string();
    let token = state.registry.bearer(state, RegistryClient::repo_access(&repo, &["pull", "push"])).await.unwrap();
    let layer = format!("layer of {repo}").into_bytes();
    let config = serde_json::json!({"architecture": "amd64", "os": "linux", "config": {"Labels": {"bench": repo}},
        "rootfs": {"type": "layers", "diff_ids": [digest(&layer)]}})
    .to_string()
    .into_bytes();
    for blob in [&layer, &config] {
        let start = http.post(format!("{reg}/v2/{repo}/blobs/uploads/")).bearer_auth(&token).send().await.unwrap();
        let loc = start.headers()["location"].to_str().unwrap().to_string();
        let url = if loc.starts_with("http") { loc } else { format!("{reg}{loc}") };
        let sep = if url.contains('?') { '&' } else { '?' };
        let r = http
            .put(format!("{url}{sep}digest={}", digest(blob)))
            .bearer_auth(&token)
            .body(blob.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    for t in 0..tags {
        let manifest = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(&config), "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest(&layer), "size": layer.len()}],
            "annotations": {"tag": t.to_string()}});
        let r = http
            .put(format!("{reg}/v2/{repo}/manifests/v{t}"))
            .bearer_auth(&token)
            .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
            .body(manifest.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
}

/// What reconcile reads, without writing anything: the floor reconcile is compared against.
async fn bare_walk(state: &AppState, http: &reqwest::Client) -> usize {
    let reg = state.registry.base().to_string();
    let repos = state.registry.catalog(state).await.unwrap();
    let fetched = stream::iter(repos.into_iter().map(|repo| {
        let (state, http, reg) = (state.clone(), http.clone(), reg.clone());
        async move {
            let token = state.registry.bearer(&state, RegistryClient::repo_access(&repo, &["pull"])).await.unwrap();
            let tags: serde_json::Value = http
                .get(format!("{reg}/v2/{repo}/tags/list"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let mut n = 0;
            for tag in tags["tags"].as_array().cloned().unwrap_or_default() {
                let tag = tag.as_str().unwrap();
                let url = format!("{reg}/v2/{repo}/manifests/{tag}");
                http.head(&url).header("Accept", MANIFEST_ACCEPT).bearer_auth(&token).send().await.unwrap();
                let m: serde_json::Value = http
                    .get(&url)
                    .header("Accept", MANIFEST_ACCEPT)
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                let config = m["config"]["digest"].as_str().unwrap();
                http.get(format!("{reg}/v2/{repo}/blobs/{config}"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap();
                n += 1;
            }
            n
        }
    }))
    .buffer_unordered(8)
    .collect::<Vec<usize>>()
    .await;
    fetched.into_iter().sum()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = server::Config::load(None, args.settings)?;
    let db = server::connect(&config).await?;
    server::migrate(&db).await?;
    let state = server::state(db.clone(), &config).await?;
    let http = reqwest::Client::new();
    // Reconcile places new namespaces with an administrator's team: make sure one exists.
    if !app::backend::access::users::any_exist(&db).await.map_err(|e| anyhow::anyhow!("{e}"))? {
        let root = app::backend::access::accounts::AccountRequest {
            username: "root".into(),
            password: Some("root password 1".into()),
            is_admin: true,
            ..Default::default()
        };
        app::backend::access::accounts::create_account(&state, root, app::backend::access::users::Origin::System)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }

    let have = state.registry.catalog(&state).await?.len();
    if have < args.repos {
        let t = Instant::now();
        let jobs = (have..args.repos).map(|i| seed(&state, &http, format!("bench/r{i:05}"), args.tags));
        stream::iter(jobs).buffer_unordered(16).collect::<Vec<()>>().await;
        println!(
            "seeded {} repositories × {} tags in {:.1} s",
            args.repos - have,
            args.tags,
            t.elapsed().as_secs_f64()
        );
    }

    let t = Instant::now();
    let manifests = bare_walk(&state, &http).await;
    let bare = t.elapsed().as_secs_f64();
    println!("bare concurrent walk: {manifests} manifests in {bare:.2} s");

    sqlx::query("truncate repository cascade").execute(&db).await?;
    let t = Instant::now();
    let report = app::backend::images::reconcile::reconcile(&state, "benchmark")
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .expect("no other reconcile");
    let reconcile = t.elapsed().as_secs_f64();
    println!(
        "reconcile into an empty database: {} repositories, {} tags in {reconcile:.2} s",
        report.repositories, report.tags_added
    );
    println!("ratio reconcile / bare walk: {:.2}", reconcile / bare);

    // Nothing changed since: the second run reads the catalog, the tag lists and one HEAD a
    // tag, and fetches no manifest it already has.
    let t = Instant::now();
    let again = app::backend::images::reconcile::reconcile(&state, "benchmark")
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .expect("no other reconcile");
    let second = t.elapsed().as_secs_f64();
    println!(
        "second reconcile of the unchanged registry: {} tags added, {} moved, {} removed in {second:.2} s",
        again.tags_added, again.tags_updated, again.tags_removed
    );
    println!("ratio second run / first run: {:.2}", second / reconcile);
    Ok(())
}

//! Three `portcullis serve` replicas on one PostgreSQL behind Debian's haproxy, running the
//! shipped `deploy/haproxy/haproxy.cfg`, with a real registry whose token realm and
//! notifications go through the balancer. The access policy holds, a browser session outlives
//! the replica that made it, a burst of pushes survives a replica killed midway with no event
//! lost, and the event worker and reconcile run on one replica at a time.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::replica::Replica;
use common::stack::{oci_image, skopeo_in};
use common::*;
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _};

const KEYS_SECRET: &str = "balancer test keys secret";

struct Cluster {
    db: PgPool,
    dir: tempfile::TempDir,
    /// `http://127.0.0.1:<port>` of haproxy: the public URL.
    lb: String,
    /// `127.0.0.1:<port>` of the registry.
    registry: String,
    /// `127.0.0.1:<port>` of haproxy's registry frontend: manifests to the replicas' gate,
    /// the rest to the registry.
    gate: String,
    replicas: Vec<Replica>,
    root_token: String,
    haproxy: tokio::process::Child,
    registry_process: tokio::process::Child,
}

/// A user made with `portcullis admin create-user`: name, password and id.
struct User {
    name: String,
    password: String,
    id: i64,
}

impl User {
    fn creds(&self) -> String {
        format!("{}:{}", self.name, self.password)
    }
}

/// The shipped haproxy configuration with this test's addresses.
fn haproxy_config(lb_port: u16, gate: &str, registry: &str, replicas: &[Replica]) -> String {
    let mut text = include_str!("../../../deploy/haproxy/haproxy.cfg").to_string();
    let mut swap = |from: &str, to: &str| {
        assert!(text.contains(from), "the shipped haproxy.cfg has {from}");
        text = text.replace(from, to);
    };
    swap("bind :8080", &format!("bind 127.0.0.1:{lb_port}"));
    swap("bind :5000", &format!("bind {gate}"));
    swap("server registry registry:5000", &format!("server registry {registry}"));
    for (i, r) in replicas.iter().enumerate() {
        swap(&format!("portcullis{}:3000", i + 1), r.base.trim_start_matches("http://"));
    }
    text
}

/// `portcullis <args>` with the cluster's settings, as an operator runs it.
fn cli(settings: &[(String, String)], args: &[&str], stdin: Option<&str>) -> String {
    use std::io::Write as _;
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"));
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("PORTCULLIS_")) {
        command.env_remove(key);
    }
    let mut child = command
        .args(args)
        .envs(settings.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the portcullis binary runs");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "portcullis {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

impl Cluster {
    async fn start() -> Cluster {
        let db = fresh_db().await;
        let dir = tempfile::tempdir().unwrap();
        let (lb_port, registry_port, gate_port) = (free_port(), free_port(), free_port());
        let gate = format!("127.0.0.1:{gate_port}");
        let lb = format!("http://127.0.0.1:{lb_port}");
        let registry = format!("127.0.0.1:{registry_port}");
        let settings: Vec<(String, String)> = [
            ("PORTCULLIS_DATABASE_URL", database_url(&db)),
            ("PORTCULLIS_PUBLIC_URL", lb.clone()),
            // The registry's notifications go through the balancer too.
            ("PORTCULLIS_INTERNAL_URL", lb.clone()),
            ("PORTCULLIS_REGISTRY_URL", format!("http://{registry}")),
            ("PORTCULLIS_REGISTRY_HOST", registry.clone()),
            ("PORTCULLIS_REGISTRY_LISTEN", registry.clone()),
            ("PORTCULLIS_KEYS_ENCRYPTION_KEY", KEYS_SECRET.into()),
            ("PORTCULLIS_TRUSTED_PROXIES", "127.0.0.1".into()),
            // Reconcile every second, so that replicas compete for it all the time.
            ("PORTCULLIS_SYNC_INTERVAL_SECS", "1".into()),
            ("PORTCULLIS_LOG_FORMAT", "json".into()),
            // The singleton jobs' starts and ends, for the test that they never overlap.
            ("RUST_LOG", "info,portcullis::jobs=debug".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();

        let registry_dir = dir.path().join("registry");
        let storage = dir.path().join("data");
        cli(
            &settings,
            &["registry-config", "--out", registry_dir.to_str().unwrap(), "--storage", storage.to_str().unwrap()],
            None,
        );
        cli(&settings, &["admin", "create-user", "root", "--admin", "--password-stdin"], Some("root password 1\n"));
        let root_token = cli(&settings, &["admin", "create-token", "root", "--name", "balancer test"], None);
        let root_token = root_token.split_whitespace().find(|w| w.starts_with("pcat_")).expect("a token").to_string();

        let borrowed: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut replicas = Vec::new();
        for i in 0..3 {
            let log = dir.path().join(format!("replica{i}.log"));
            replicas.push(Replica::start(&borrowed, Some(&log)).await);
        }

        let cfg = dir.path().join("haproxy.cfg");
        std::fs::write(&cfg, haproxy_config(lb_port, &gate, &registry, &replicas)).unwrap();
        let haproxy_log = std::fs::File::create(dir.path().join("haproxy.log")).unwrap();
        let haproxy = tokio::process::Command::new("haproxy")
            .args(["-db", "-f", cfg.to_str().unwrap()])
            .stdout(haproxy_log.try_clone().unwrap())
            .stderr(haproxy_log)
            .kill_on_drop(true)
            .spawn()
            .expect("haproxy is installed (deploy/local/setup.sh)");
        let registry_log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let registry_process = tokio::process::Command::new("docker-registry")
            .arg("serve")
            .arg(registry_dir.join("config.yml"))
            .stdout(registry_log.try_clone().unwrap())
            .stderr(registry_log)
            .kill_on_drop(true)
            .spawn()
            .expect("docker-registry is installed");
        let cluster = Cluster { db, dir, lb, registry, gate, replicas, root_token, haproxy, registry_process };
        cluster
            .wait_until("haproxy serves /readyz", |c| async move { c.status(&format!("{}/readyz", c.lb)).await == 200 })
            .await;
        cluster
            .wait_until("the registry answers", |c| async move {
                c.status(&format!("http://{}/v2/", c.registry)).await == 401
            })
            .await;
        cluster
    }

    async fn status(&self, url: &str) -> u16 {
        reqwest::get(url).await.map(|r| r.status().as_u16()).unwrap_or(0)
    }

    /// Waits up to 30 seconds for `check`.
    async fn wait_until<'a, F, Fut>(&'a self, what: &str, check: F)
    where
        F: Fn(&'a Cluster) -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !check(self).await {
            assert!(Instant::now() < deadline, "timed out waiting until {what}\n{}", self.logs());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn logs(&self) -> String {
        let read = |name: &str| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        let tail = |text: String| {
            text.lines().rev().take(20).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n")
        };
        format!("haproxy:\n{}\nregistry:\n{}", tail(read("haproxy.log")), tail(read("registry.log")))
    }

    /// A user made with the command line, with their personal namespace.
    fn user(&self, name: &str) -> User {
        let password = format!("{name} password 1");
        let settings = [
            ("PORTCULLIS_DATABASE_URL".to_string(), database_url(&self.db)),
            ("PORTCULLIS_KEYS_ENCRYPTION_KEY".to_string(), KEYS_SECRET.to_string()),
        ];
        let out = cli(&settings, &["admin", "create-user", name, "--password-stdin"], Some(&format!("{password}\n")));
        let view: Value = serde_json::from_str(&out).unwrap();
        User { name: name.into(), password, id: view["id"].as_i64().unwrap() }
    }

    fn image_ref(&self, repo_tag: &str) -> String {
        format!("docker://{}/{repo_tag}", self.registry)
    }

    async fn skopeo(&self, args: &[&str]) -> common::stack::Skopeo {
        skopeo_in(self.dir.path(), args).await
    }

    /// Pushes `image` (an OCI layout) as `creds`: skopeo asks the balancer for its tokens.
    async fn push(&self, image: &Path, creds: &str, repo_tag: &str) -> common::stack::Skopeo {
        let src = format!("oci:{}:1.0", image.display());
        self.skopeo(&["copy", "--dest-tls-verify=false", "--dest-creds", creds, &src, &self.image_ref(repo_tag)]).await
    }

    async fn pull(&self, creds: &str, repo_tag: &str) -> common::stack::Skopeo {
        let dest = format!("oci:{}:pulled", self.dir.path().join(format!("pulled-{}", free_port())).display());
        self.skopeo(&["copy", "--src-tls-verify=false", "--src-creds", creds, &self.image_ref(repo_tag), &dest]).await
    }

    /// Whether `replica` issues a token for a password.
    async fn password_works(replica: &Replica, user: &User) -> bool {
        let url = format!("{}/v2/token?service=portcullis-registry", replica.base);
        let res = reqwest::Client::new().get(url).basic_auth(&user.name, Some(&user.password)).send().await.unwrap();
        res.status().is_success()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.haproxy.start_kill();
        let _ = self.registry_process.start_kill();
    }
}

#[tokio::test]
async fn the_policy_holds_a_session_outlives_its_replica_and_a_change_reaches_every_replica() {
    let mut cluster = Cluster::start().await;
    let (alice, bob) = (cluster.user("alice"), cluster.user("bob"));
    let image = oci_image(cluster.dir.path(), "balanced", &[]);

    // The policy's core cases, every token through the balancer.
    cluster.push(&image, &alice.creds(), "alice/app:1").await.expect_ok("alice pushing to her own namespace");
    cluster.push(&image, &bob.creds(), "alice/app:2").await.expect_refused("bob pushing to alice's namespace");
    cluster.pull(&bob.creds(), "alice/app:1").await.expect_refused("bob pulling alice's private image");
    cluster.pull(&alice.creds(), "alice/app:1").await.expect_ok("alice pulling her own image");

    // A browser (Debian's Chromium, driven by Playwright) signs in through the balancer; the
    // replicas then take turns serving its session, and one of them is killed meanwhile.
    let mut browser = node_script("sign-in-through.js")
        .args([&cluster.lb, &alice.name, &alice.password])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node runs (Playwright is installed by deploy/local/setup.sh)");
    let mut lines = tokio::io::BufReader::new(browser.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(90), lines.next_line()).await;
    assert!(
        matches!(&first, Ok(Ok(Some(l))) if l == "signed in"),
        "the browser did not sign in: {first:?}\n{}",
        cluster.logs()
    );
    // The replica that may have made the session dies; the balancer sends it elsewhere.
    cluster.replicas[0].kill();
    let mut stdin = browser.stdin.take().unwrap();
    stdin.write_all(b"go\n").await.unwrap();
    let rest = tokio::time::timeout(Duration::from_secs(90), lines.next_line()).await;
    let status = tokio::time::timeout(Duration::from_secs(30), browser.wait()).await.unwrap().unwrap();
    let mut errors = String::new();
    browser.stderr.take().unwrap().read_to_string(&mut errors).await.unwrap();
    assert!(
        status.success() && matches!(&rest, Ok(Ok(Some(l))) if l == "still signed in"),
        "the session did not outlive the replica: {rest:?} {errors}\n{}",
        cluster.logs()
    );
    cluster.replicas[0].restart().await;

    // An administrator disables bob through one replica; the others refuse him within seconds,
    // even the one that remembered his password a moment ago.
    assert!(Cluster::password_works(&cluster.replicas[2], &bob).await);
    let disabled = reqwest::Client::new()
        .put(format!("{}/api/v1/users/{}", cluster.replicas[1].base, bob.id))
        .bearer_auth(&cluster.root_token)
        .json(&json!({ "enabled": false }))
        .send()
        .await
        .unwrap();
    assert_eq!(disabled.status(), 200, "{}", disabled.text().await.unwrap());
    let deadline = Instant::now() + Duration::from_secs(5);
    for replica in [&cluster.replicas[0], &cluster.replicas[2]] {
        while Cluster::password_works(replica, &bob).await {
            assert!(Instant::now() < deadline, "{} still takes a disabled user's password", replica.base);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// When each run of `job` started and finished on each replica, from the replicas' logs
/// (`job started` / `job finished`, debug lines of `portcullis::jobs`). A run cut short by a
/// kill has no end; `killed` says when its replica was killed (its lock went with it).
fn job_runs(
    cluster: &Cluster,
    job: &str,
    killed: &[(usize, DateTime<Utc>)],
) -> Vec<(usize, DateTime<Utc>, DateTime<Utc>)> {
    let mut runs = Vec::new();
    for i in 0..cluster.replicas.len() {
        let log = std::fs::read_to_string(cluster.dir.path().join(format!("replica{i}.log"))).unwrap_or_default();
        let mut open: Option<DateTime<Utc>> = None;
        for line in log.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()) {
            if line["target"] != "portcullis::jobs" || line["fields"]["job"] != job {
                continue;
            }
            let at = DateTime::parse_from_rfc3339(line["timestamp"].as_str().unwrap()).unwrap().with_timezone(&Utc);
            match line["fields"]["message"].as_str() {
                Some("job started") => {
                    // A start after an unfinished run: the replica was killed in between.
                    if let Some(start) = open.take() {
                        let end = killed.iter().find(|k| k.0 == i && k.1 > start).map(|k| k.1).expect("killed");
                        runs.push((i, start, end));
                    }
                    open = Some(at);
                }
                Some("job finished") => runs.push((i, open.take().expect("a run that started"), at)),
                _ => {}
            }
        }
        if let Some(start) = open {
            runs.push((
                i,
                start,
                killed.iter().find(|k| k.0 == i && k.1 > start).map(|k| k.1).unwrap_or(DateTime::<Utc>::MAX_UTC),
            ));
        }
    }
    runs.sort_by_key(|r| r.1);
    runs
}

/// Runs that overlap in time, as pairs.
fn overlapping(runs: &[(usize, DateTime<Utc>, DateTime<Utc>)]) -> Vec<String> {
    runs.windows(2).filter(|w| w[1].1 < w[0].2).map(|w| format!("{:?} and {:?}", w[0], w[1])).collect()
}

#[tokio::test]
async fn a_push_burst_survives_a_replica_killed_midway_and_no_event_is_lost() {
    let mut cluster = Cluster::start().await;
    let alice = cluster.user("alice");
    const PUSHES: usize = 12;
    let images: Vec<PathBuf> = (0..PUSHES)
        .map(|i| {
            let dir = cluster.dir.path().join(format!("image{i}"));
            std::fs::create_dir_all(&dir).unwrap();
            oci_image(&dir, &format!("burst {i}"), &[])
        })
        .collect();

    let pushes: Vec<_> = images
        .iter()
        .enumerate()
        .map(|(i, image)| {
            let home = cluster.dir.path().join(format!("home{i}"));
            std::fs::create_dir_all(&home).unwrap();
            let src = format!("oci:{}:1.0", image.display());
            let dest = cluster.image_ref(&format!("alice/burst-{i}:1"));
            let creds = alice.creds();
            tokio::spawn(async move {
                // Four at a time.
                tokio::time::sleep(Duration::from_millis(400 * (i as u64 / 4))).await;
                skopeo_in(&home, &["copy", "--dest-tls-verify=false", "--dest-creds", &creds, &src, &dest]).await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(600)).await;
    cluster.replicas[1].kill();
    let killed = [(1, Utc::now())];
    tokio::time::sleep(Duration::from_secs(2)).await;
    cluster.replicas[1].restart().await;
    for (i, push) in pushes.into_iter().enumerate() {
        push.await.unwrap().expect_ok(&format!("push {i} during the replica's kill"));
    }

    // Every push's event arrived and was applied: every tag is known, nothing failed.
    let count = |sql: &'static str| {
        let db = cluster.db.clone();
        async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(&db).await.unwrap() }
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let tags = count(
            "select count(*) from tag t join repository r on r.repository_id = t.repository_id
             where r.name like 'alice/burst-%'",
        )
        .await;
        let pushed_events =
            count("select count(*) from registry_event where action = 'push' and repository like 'alice/burst-%'")
                .await;
        let pending = count("select count(*) from registry_event where processed_at is null").await;
        if tags == PUSHES as i64 && pending == 0 && pushed_events >= PUSHES as i64 {
            break;
        }
        assert!(Instant::now() < deadline, "{tags} tags of {PUSHES}, {pending} events pending\n{}", cluster.logs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(count("select count(*) from registry_event where outcome = 'failed'").await, 0);

    // One replica at a time: no two runs of the event worker or of reconcile overlap, on
    // whichever replicas they ran, and both ran on more than one.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for job in ["portcullis.events", "portcullis.sync"] {
        let runs = job_runs(&cluster, job, &killed);
        assert!(runs.len() >= 3, "{job} ran ({runs:?})");
        let replicas: std::collections::HashSet<usize> = runs.iter().map(|r| r.0).collect();
        assert!(replicas.len() >= 2, "{job} moved between replicas ({runs:?})");
        assert_eq!(overlapping(&runs), Vec::<String>::new(), "{job} ran on two replicas at once");
    }
    let runs = count("select count(*) from sync_run").await;
    assert!(runs >= 3, "reconcile ran every second ({runs} runs)");
    let overlapping = count(
        "select count(*) from sync_run a join sync_run b on b.sync_run_id > a.sync_run_id
         where b.started_at < a.finished_at",
    )
    .await;
    assert_eq!(overlapping, 0, "reconcile runs overlapped");
}

/// The manifest gate on every replica: a tag rule added through one replica holds at once at
/// the gate of every other (each reads the rules from PostgreSQL on each PUT), with its
/// refused twin (the same image again passes).
#[tokio::test]
async fn a_tag_rule_set_through_one_replica_holds_at_every_replicas_gate() {
    let cluster = Cluster::start().await;
    let alice = cluster.user("alice");
    let image = |name: &str| {
        let dir = cluster.dir.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        oci_image(&dir, name, &[])
    };
    let (first, second) = (image("first"), image("second"));
    // Through a replica's gate (its own address serves the registry's API too).
    let cluster = &cluster;
    let push = |replica: usize, image: PathBuf, tag: &'static str| {
        let (src, creds) = (format!("oci:{}:1.0", image.display()), alice.creds());
        let dest = format!("docker://{}/alice/app:{tag}", cluster.replicas[replica].base.trim_start_matches("http://"));
        async move { cluster.skopeo(&["copy", "--dest-tls-verify=false", "--dest-creds", &creds, &src, &dest]).await }
    };
    push(0, first.clone(), "v1").await.expect_ok("alice pushes v1 through the first replica's gate");

    let ns: i64 = sqlx::query_scalar("select namespace_id from namespace where name = 'alice'")
        .fetch_one(&cluster.db)
        .await
        .unwrap();
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/namespaces/{ns}/tag_rules", cluster.replicas[0].base))
        .bearer_auth(&cluster.root_token)
        .json(&json!({ "tags": "v*" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());

    for replica in 0..3 {
        let moved = push(replica, second.clone(), "v1").await;
        moved.expect_refused(&format!("moving v1 through replica {replica}'s gate"));
        assert!(moved.stderr.contains("immutable"), "replica {replica}: {}", moved.stderr);
        push(replica, first.clone(), "v1").await.expect_ok(&format!("the same image again, through replica {replica}"));
    }

    // Through the shipped haproxy file's registry frontend: manifests to the gate, blobs
    // straight to the registry.
    let through = |image: &Path, tag: &str| {
        let src = format!("oci:{}:1.0", image.display());
        let dest = format!("docker://{}/alice/app:{tag}", cluster.gate);
        let creds = alice.creds();
        async move { cluster.skopeo(&["copy", "--dest-tls-verify=false", "--dest-creds", &creds, &src, &dest]).await }
    };
    let moved = through(&second, "v1").await;
    moved.expect_refused("moving v1 through haproxy");
    assert!(moved.stderr.contains("immutable"), "{}", moved.stderr);
    through(&second, "dev").await.expect_ok("a tag no rule covers, through haproxy");
    let pulled = format!("oci:{}:pulled", cluster.dir.path().join("pulled-through-haproxy").display());
    let src = format!("docker://{}/alice/app:dev", cluster.gate);
    cluster
        .skopeo(&["copy", "--src-tls-verify=false", "--src-creds", &alice.creds(), &src, &pulled])
        .await
        .expect_ok("a pull through haproxy");
}

//! A real `portcullis serve` process: started with only the settings a test gives it, killed
//! (as a crash would) and started again, stopped when the test ends however it ends.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Replica {
    child: Option<Child>,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    settings: Vec<(String, String)>,
    log: Option<PathBuf>,
    exe: PathBuf,
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Replica {
    /// Starts `portcullis serve` on a free port with `settings` (environment variables; its
    /// listen address and, unless given, its public URL are its own), its output appended to
    /// `log`, and waits until it is ready.
    pub async fn start(settings: &[(&str, &str)], log: Option<&Path>) -> Replica {
        Self::start_exe(Path::new(env!("CARGO_BIN_EXE_portcullis")), settings, log).await
    }

    /// As [`Replica::start`], with the `portcullis` executable at `exe` (a copy beside
    /// another build's `hash.txt`, say).
    pub async fn start_exe(exe: &Path, settings: &[(&str, &str)], log: Option<&Path>) -> Replica {
        let port = super::free_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut all = vec![
            ("PORTCULLIS_LISTEN".to_string(), format!("127.0.0.1:{port}")),
            ("PORTCULLIS_PUBLIC_URL".to_string(), base.clone()),
        ];
        for (k, v) in settings {
            all.retain(|(key, _)| key != k);
            all.push((k.to_string(), v.to_string()));
        }
        let mut replica =
            Replica { child: None, base, settings: all, log: log.map(Path::to_path_buf), exe: exe.to_path_buf() };
        replica.restart().await;
        replica
    }

    /// Kills the process at once (SIGKILL: no graceful shutdown, as in a crash).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the process (again) and waits until `/readyz` answers.
    pub async fn restart(&mut self) {
        self.kill();
        let output = || match &self.log {
            Some(path) => Stdio::from(
                std::fs::OpenOptions::new().create(true).append(true).open(path).expect("the log file opens"),
            ),
            None => Stdio::null(),
        };
        let mut command = Command::new(&self.exe);
        // Only what the test sets: none of the developer's own settings.
        for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("PORTCULLIS_")) {
            command.env_remove(key);
        }
        let child = command
            .arg("serve")
            .envs(self.settings.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(output())
            .stderr(output())
            .spawn()
            .expect("the portcullis binary starts");
        self.child = Some(child);
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = client.get(format!("{}/readyz", self.base)).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().unwrap()) {
                panic!("the replica at {} exited before it was ready: {status}", self.base);
            }
            assert!(Instant::now() < deadline, "the replica at {} did not become ready", self.base);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

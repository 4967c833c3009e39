//! Running the worker locally for a measurement: `scripts/dev.sh` (which installs what it
//! needs and starts `wrangler dev`) on a free loopback port, with fresh state and the
//! stream-object counters on. Stopped, with everything it started, when dropped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the first start may take: it builds the worker.
const START_LIMIT: Duration = Duration::from_secs(900);

/// A worker started by the load test.
pub struct LocalWorker {
    child: Child,
    /// Its base URL.
    pub url: String,
    dir: PathBuf,
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("finding a free port: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// The repository the load test was built from: its `scripts/dev.sh` runs the worker.
fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

impl LocalWorker {
    /// Builds (if needed) and starts the worker, with extra `--var KEY:VALUE` settings,
    /// and waits until it answers `/health`.
    pub async fn start(vars: &[String]) -> Result<Self, String> {
        let port = free_port()?;
        let inspector = free_port()?;
        let dir =
            std::env::temp_dir().join(format!("durable-streams-loadtest-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let log = std::fs::File::create(dir.join("worker.log")).map_err(|e| e.to_string())?;
        let mut cmd = Command::new(repository().join("scripts/dev.sh"));
        cmd.env("PORT", port.to_string())
            .env("WRANGLER_SEND_METRICS", "false")
            // Built once and not watched, so no rebuild restarts the worker mid-run.
            .env("PREBUILT", "1")
            .args(["--inspector-port", &inspector.to_string()])
            .arg("--persist-to")
            .arg(dir.join("state"))
            .args(["--var", "DEBUG_STATS:1"])
            // wrangler prints a line per request at the default level, which costs the
            // local runtime a large share of its throughput.
            .args(["--log-level", "warn"]);
        for v in vars {
            cmd.args(["--var", v]);
        }
        // Its own process group, so stopping it stops wrangler and workerd too.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("starting scripts/dev.sh: {e}"))?;
        let mut worker = Self { child, url: format!("http://127.0.0.1:{port}"), dir };
        eprintln!("starting the local worker on {} (the first build takes a few minutes)", worker.url);
        let client = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Ok(resp) = client.get(format!("{}/health", worker.url)).send().await {
                if resp.status().is_success() {
                    return Ok(worker);
                }
            }
            if let Ok(Some(status)) = worker.child.try_wait() {
                return Err(format!("the local worker exited ({status}); its log:\n{}", worker.log_tail()));
            }
            if started.elapsed() > START_LIMIT {
                return Err(format!("the local worker did not start; its log:\n{}", worker.log_tail()));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("worker.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    fn signal(&self, signal: &str) {
        let _ = Command::new("kill")
            .args([signal, "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for LocalWorker {
    fn drop(&mut self) {
        self.signal("-TERM");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.signal("-KILL");
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

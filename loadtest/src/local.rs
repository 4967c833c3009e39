//! Running the workers locally for a measurement: core, and for the pub/sub mode the
//! subscription worker too. Each is built once (`scripts/build.sh`) and run by
//! `wrangler dev` on its prebuilt config (`scripts/prebuilt-config.sh`: no build step, so
//! no file watcher can restart it mid-run), on free loopback ports, with fresh state and
//! wrangler's per-request logging off. Core has its stream-object counters on. Both share
//! one temporary dev registry, so the subscription worker's `CORE` service binding reaches
//! this core and no other. Stopped, with everything they started, when dropped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the workers may take to answer once started.
const START_LIMIT: Duration = Duration::from_secs(300);

/// A worker to run: its crate's directory (relative to the repository) and settings.
struct Spec<'a> {
    name: &'static str,
    dir: &'static str,
    vars: Vec<&'a str>,
}

/// One running `wrangler dev`.
struct Worker {
    name: &'static str,
    child: Child,
    url: String,
    log: PathBuf,
}

/// The workers started by the load test.
pub struct LocalWorkers {
    /// Core first, then the subscription worker if it was asked for.
    workers: Vec<Worker>,
    /// Their logs and state.
    dir: PathBuf,
    /// Whether to leave the logs behind when stopping.
    keep_logs: bool,
    /// Core's base URL.
    pub core_url: String,
    /// The subscription worker's base URL, if it was started.
    pub subscription_url: Option<String>,
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("finding a free port: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// The repository the load test was built from: its scripts build and configure the
/// workers.
fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn log_file(path: &Path) -> Result<std::fs::File, String> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn log_tail(path: &Path) -> String {
    let log = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// Runs a repository script to the end, its output into `log`.
fn script(log: &Path, name: &str, args: &[&str]) -> Result<(), String> {
    let out = log_file(log)?;
    let status = Command::new(repository().join("scripts").join(name))
        .args(args)
        .current_dir(repository())
        .stdin(Stdio::null())
        .stdout(out.try_clone().map_err(|e| e.to_string())?)
        .stderr(out)
        .status()
        .map_err(|e| format!("running scripts/{name}: {e}"))?;
    if status.success() {
        return Ok(());
    }
    Err(format!("scripts/{name} {} failed ({status}); its output:\n{}", args.join(" "), log_tail(log)))
}

/// Installs what is missing, builds the worker of each crate directory once and writes
/// its prebuilt config.
fn build(dirs: &[&str], log: &Path) -> Result<(), String> {
    script(log, "setup.sh", &[])?;
    for dir in dirs {
        script(log, "build.sh", &[dir])?;
        script(log, "prebuilt-config.sh", &[dir])?;
    }
    Ok(())
}

impl Worker {
    /// Starts `wrangler dev` for `spec` with its state under `dir`, and the dev registry
    /// at `registry`.
    fn spawn(spec: &Spec, dir: &Path, registry: &Path) -> Result<Self, String> {
        let (port, inspector) = (free_port()?, free_port()?);
        let log = dir.join(format!("{}.log", spec.name));
        let out = log_file(&log)?;
        let mut cmd = Command::new("npx");
        cmd.current_dir(repository().join(spec.dir))
            .env("WRANGLER_SEND_METRICS", "false")
            .env("WRANGLER_REGISTRY_PATH", registry)
            // wrangler then starts no DevTools inspector proxy, which would otherwise
            // relay several events per request the worker makes (its Durable Object
            // calls among them) to wrangler as one local HTTP request each: at pub/sub
            // rates that costs much of the machine and leaks sockets until workerd runs
            // out of file descriptors. It is the switch wrangler offers for a debugger
            // that already inspects the process; nothing here uses DevTools.
            .env("VSCODE_INSPECTOR_OPTIONS", "{}")
            .args(["wrangler", "dev", "-c", ".wrangler-prebuilt.toml", "--ip", "127.0.0.1"])
            .args(["--port", &port.to_string(), "--inspector-port", &inspector.to_string()])
            .arg("--persist-to")
            .arg(dir.join(format!("{}-state", spec.name)))
            // wrangler prints a line per request at the default level, which costs the
            // local runtime a large share of its throughput.
            .args(["--log-level", "warn"]);
        for v in &spec.vars {
            cmd.args(["--var", v]);
        }
        // Its own process group, so stopping it stops wrangler and workerd too.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone().map_err(|e| e.to_string())?)
            .stderr(out)
            .spawn()
            .map_err(|e| format!("starting wrangler dev for {}: {e}", spec.name))?;
        Ok(Self { name: spec.name, child, url: format!("http://127.0.0.1:{port}"), log })
    }

    /// Waits until it answers `/health`.
    async fn ready(&mut self, client: &reqwest::Client) -> Result<(), String> {
        let started = Instant::now();
        loop {
            if let Ok(resp) = client.get(format!("{}/health", self.url)).send().await {
                if resp.status().is_success() {
                    return Ok(());
                }
            }
            let failed = match self.child.try_wait() {
                Ok(Some(status)) => Some(format!("exited ({status})")),
                _ if started.elapsed() > START_LIMIT => Some("did not start".to_owned()),
                _ => None,
            };
            if let Some(why) = failed {
                return Err(format!(
                    "the local {} worker {why}; its log:\n{}",
                    self.name,
                    log_tail(&self.log)
                ));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    fn signal(&self, signal: &str) {
        let _ = Command::new("kill")
            .args([signal, "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
    }

    /// Stops it: SIGTERM to its group, SIGKILL after 5 s.
    fn stop(&mut self) {
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
    }
}

impl LocalWorkers {
    /// Builds and starts core with extra `--var KEY:VALUE` settings and, when
    /// `subscription` holds its settings, the subscription worker; waits until they
    /// answer.
    pub async fn start(core_vars: &[String], subscription: Option<&[String]>) -> Result<Self, String> {
        let mut core = vec!["DEBUG_STATS:1"];
        core.extend(core_vars.iter().map(String::as_str));
        let mut specs = vec![Spec { name: "core", dir: ".", vars: core }];
        if let Some(vars) = subscription {
            let vars = vars.iter().map(String::as_str).collect();
            specs.push(Spec { name: "subscription", dir: "subscription", vars });
        }
        let dir = std::env::temp_dir().join(format!("durable-streams-loadtest-{}", std::process::id()));
        let registry = dir.join("registry");
        std::fs::create_dir_all(&registry).map_err(|e| format!("{}: {e}", registry.display()))?;
        eprintln!("building the local worker(s) (the first build takes a few minutes)");
        let (dirs, log) = (specs.iter().map(|s| s.dir).collect::<Vec<_>>(), dir.join("build.log"));
        tokio::task::spawn_blocking(move || build(&dirs, &log))
            .await
            .map_err(|e| format!("build: {e}"))??;
        let mut local = Self {
            workers: Vec::new(),
            dir,
            keep_logs: false,
            core_url: String::new(),
            subscription_url: None,
        };
        for spec in &specs {
            local.workers.push(Worker::spawn(spec, &local.dir, &registry)?);
        }
        let client = reqwest::Client::new();
        for worker in &mut local.workers {
            eprintln!("starting the local {} worker on {}", worker.name, worker.url);
            worker.ready(&client).await?;
        }
        let mut urls = local.workers.iter().map(|w| w.url.clone());
        local.core_url = urls.next().unwrap_or_default();
        local.subscription_url = urls.next();
        Ok(local)
    }
}

impl LocalWorkers {
    /// Leaves the build and worker logs behind when stopping (the state goes), and says
    /// where they are.
    pub fn keep_logs(&mut self) -> &Path {
        self.keep_logs = true;
        &self.dir
    }
}

impl Drop for LocalWorkers {
    fn drop(&mut self) {
        for worker in self.workers.iter_mut().rev() {
            worker.stop();
        }
        if !self.keep_logs {
            let _ = std::fs::remove_dir_all(&self.dir);
            return;
        }
        for worker in &self.workers {
            let _ = std::fs::remove_dir_all(self.dir.join(format!("{}-state", worker.name)));
        }
        let _ = std::fs::remove_dir_all(self.dir.join("registry"));
    }
}

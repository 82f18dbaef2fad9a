//! A real Envoy process for one test.

use crate::bootstrap::Bootstrap;
use crate::client;
use crate::paths;
use crate::stats::Stats;
use anyhow::{anyhow, bail, Context, Result};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long Envoy may take to start (compiling wasm with V8 included).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running Envoy; killed when dropped. If the test is panicking, the end of
/// Envoy's log is printed to help read the failure.
#[derive(Debug)]
pub struct Envoy {
    child: Child,
    admin: SocketAddr,
    dir: tempfile::TempDir,
}

/// Options for starting Envoy.
#[derive(Clone, Debug)]
pub struct Options {
    /// Worker threads (`--concurrency`); at least 2 in Sluice's tests so
    /// that workers really share stats.
    pub concurrency: u32,
    /// Envoy log level for all components.
    pub log_level: &'static str,
    /// Extra `--component-log-level` value, e.g. `wasm:debug`.
    pub component_log_level: Option<&'static str>,
    /// `--drain-time-s`: how long connections of a modified or removed
    /// listener (or filter chain) are drained before Envoy closes them;
    /// Envoy's default (600 s) when `None`.
    pub drain_time_s: Option<u32>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            concurrency: 2,
            log_level: "info",
            component_log_level: None,
            drain_time_s: None,
        }
    }
}

fn command(dir: &tempfile::TempDir, bootstrap: &Bootstrap, opts: &Options) -> Result<Command> {
    let config = dir.path().join("envoy.yaml");
    std::fs::write(&config, bootstrap.to_yaml()?)?;
    let mut cmd = Command::new(paths::envoy_binary()?);
    cmd.arg("-c")
        .arg(&config)
        .arg("--concurrency")
        .arg(opts.concurrency.to_string())
        .arg("--disable-hot-restart")
        .arg("--log-level")
        .arg(opts.log_level)
        .arg("--log-path")
        .arg(dir.path().join("envoy.log"))
        .arg("--admin-address-path")
        .arg(dir.path().join("admin.address"))
        .current_dir(paths::repo_root())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(c) = opts.component_log_level {
        cmd.arg("--component-log-level").arg(c);
    }
    if let Some(s) = opts.drain_time_s {
        cmd.arg("--drain-time-s").arg(s.to_string());
    }
    Ok(cmd)
}

impl Envoy {
    /// Starts Envoy with `bootstrap` (already rewritten for the test) and
    /// waits until the admin `/ready` endpoint says LIVE.
    pub fn start(bootstrap: &Bootstrap, opts: Options) -> Result<Envoy> {
        let dir = tempfile::Builder::new().prefix("sluice-envoy-").tempdir()?;
        let child = command(&dir, bootstrap, &opts)?
            .spawn()
            .context("spawning envoy")?;
        let mut envoy = Envoy {
            child,
            admin: "127.0.0.1:0".parse()?,
            dir,
        };
        envoy.wait_live()?;
        Ok(envoy)
    }

    /// Runs Envoy with `bootstrap` expecting it to refuse the configuration
    /// and exit; returns its exit status and log.
    pub fn run_expecting_exit(
        bootstrap: &Bootstrap,
        opts: Options,
        timeout: Duration,
    ) -> Result<(ExitStatus, String)> {
        let dir = tempfile::Builder::new().prefix("sluice-envoy-").tempdir()?;
        let mut child = command(&dir, bootstrap, &opts)?.spawn()?;
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait()? {
                let log = std::fs::read_to_string(dir.path().join("envoy.log")).unwrap_or_default();
                return Ok((status, log));
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!("envoy did not exit within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `envoy --mode validate` on a config file, from the repository root.
    pub fn validate(config: &std::path::Path) -> Result<(bool, String)> {
        let out = Command::new(paths::envoy_binary()?)
            .arg("--mode")
            .arg("validate")
            .arg("-c")
            .arg(config)
            .arg("--log-level")
            .arg("warn")
            .current_dir(paths::repo_root())
            .output()?;
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        Ok((out.status.success(), text))
    }

    fn wait_live(&mut self) -> Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        let addr_file = self.dir.path().join("admin.address");
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "envoy exited during start-up ({status}); log:\n{}",
                    self.log_tail(40)
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "envoy not live after {START_TIMEOUT:?}; log:\n{}",
                    self.log_tail(40)
                );
            }
            if let Ok(text) = std::fs::read_to_string(&addr_file) {
                if let Ok(addr) = text.trim().parse() {
                    self.admin = addr;
                    if let Ok(r) = client::blocking_get(&format!("http://{addr}/ready")) {
                        if r.status == 200 {
                            return Ok(());
                        }
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The Envoy process id (to pin it to a CPU in benchmarks).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn admin(&self) -> SocketAddr {
        self.admin
    }

    /// GET an admin path such as `/stats?filter=sluice`.
    pub fn admin_get(&self, path: &str) -> Result<String> {
        let r = client::blocking_get(&format!("http://{}{}", self.admin, path))?;
        if r.status != 200 {
            bail!("admin {path} answered {}", r.status);
        }
        Ok(r.body)
    }

    /// POST an admin path such as `/logging?wasm=debug`.
    pub fn admin_post(&self, path: &str) -> Result<String> {
        let r = client::blocking_request("POST", &format!("http://{}{}", self.admin, path), &[])?;
        Ok(r.body)
    }

    pub fn stats(&self) -> Result<Stats> {
        Ok(Stats::parse(&self.admin_get("/stats")?))
    }

    pub fn prometheus(&self) -> Result<String> {
        self.admin_get("/stats/prometheus")
    }

    /// The bound address of listener `name`.
    pub fn listener(&self, name: &str) -> Result<SocketAddr> {
        let text = self.admin_get("/listeners?format=json")?;
        let v: serde_json::Value = serde_json::from_str(&text)?;
        let statuses = v["listener_statuses"]
            .as_array()
            .ok_or_else(|| anyhow!("unexpected /listeners output: {text}"))?;
        let l = statuses
            .iter()
            .find(|l| l["name"] == name)
            .ok_or_else(|| anyhow!("no listener named {name} in {text}"))?;
        let sa = &l["local_address"]["socket_address"];
        let ip = sa["address"].as_str().unwrap_or("127.0.0.1");
        let port = sa["port_value"]
            .as_u64()
            .ok_or_else(|| anyhow!("listener {name} has no port: {text}"))?;
        Ok(format!("{ip}:{port}").parse()?)
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("envoy.log")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    pub fn log_tail(&self, lines: usize) -> String {
        let log = self.log();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Waits until `pred` holds for the stats, polling; returns the last stats.
    pub fn wait_for_stats(
        &self,
        timeout: Duration,
        mut pred: impl FnMut(&Stats) -> bool,
    ) -> Result<Stats> {
        let deadline = Instant::now() + timeout;
        loop {
            let s = self.stats()?;
            if pred(&s) || Instant::now() > deadline {
                return Ok(s);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- envoy log (last 60 lines) ---\n{}", self.log_tail(60));
        }
    }
}

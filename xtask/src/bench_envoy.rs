//! `cargo xtask bench-envoy`: Sluice against Envoy's own filters, in the
//! same run on this machine.
//!
//! 1. Data-plane overhead. One Envoy worker pinned to CPU 0; the load
//!    generator and the (fast, loopback) upstream pinned to CPU 1. Arms,
//!    alternated within each run: no filter; Envoy's adaptive_concurrency +
//!    admission_control; the Sluice throttle; throttle + router. Saturation
//!    throughput with `wrk` (1 thread, 32 connections) and latency at a
//!    fixed 1,000 req/s with `oha` (10 connections, latency corrected for
//!    coordinated omission; microsecond resolution). Ratios to the
//!    no-filter arm are taken within a run; the table gives medians over the
//!    runs.
//! 2. Overload quality. An upstream that serves 10 at a time at 20 ms
//!    (capacity 500 req/s), 3x offered open-loop (20 % critical, 50 %
//!    default, 30 % sheddable); arms: no protection, adaptive_concurrency,
//!    admission_control, Sluice (adaptive limit with priority shares).
//!    Per arm: goodput, success per class, p50/p99 of admitted requests.
//!
//! The machine is shared and noisy: read ratios from the same run and
//! medians, never one absolute time. `wrk` comes from the Debian package
//! and `oha` from crates.io; the task installs them (apt-get, cargo
//! install) if they are missing.

use crate::run::{run, step};
use anyhow::{anyhow, bail, Context, Result};
use sluice_testkit::bootstrap::Bootstrap;
use sluice_testkit::client::{Group, HttpClient};
use sluice_testkit::envoy::{Envoy, Options};
use sluice_testkit::{Behaviour, Upstream};
use std::fmt::Write as _;
use std::process::Command;
use std::time::Duration;

/// How long and how often.
#[derive(Clone, Copy, Debug)]
pub struct BenchOptions {
    pub runs: usize,
    pub seconds: u64,
    pub overload_seconds: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Arm {
    NoFilter,
    NativeBoth,
    NativeAdaptive,
    NativeAdmission,
    EmptyWasm,
    Throttle,
    ThrottleRouter,
}

impl Arm {
    fn label(self) -> &'static str {
        match self {
            Arm::NoFilter => "no filter",
            Arm::NativeBoth => "Envoy adaptive_concurrency + admission_control",
            Arm::NativeAdaptive => "Envoy adaptive_concurrency",
            Arm::NativeAdmission => "Envoy admission_control",
            Arm::EmptyWasm => "empty proxy-wasm filter (baseline)",
            Arm::Throttle => "Sluice throttle",
            Arm::ThrottleRouter => "Sluice throttle + router",
        }
    }
}

const ADAPTIVE_CONCURRENCY: &str = r#"
name: envoy.filters.http.adaptive_concurrency
typed_config:
  "@type": type.googleapis.com/envoy.extensions.filters.http.adaptive_concurrency.v3.AdaptiveConcurrency
  gradient_controller_config:
    sample_aggregate_percentile: {value: 90}
    concurrency_limit_params: {concurrency_update_interval: 0.1s, max_concurrency_limit: 1000}
    min_rtt_calc_params: {interval: 60s, request_count: 50, jitter: {value: 15}, buffer: {value: 25}}
"#;

const ADMISSION_CONTROL: &str = r#"
name: envoy.filters.http.admission_control
typed_config:
  "@type": type.googleapis.com/envoy.extensions.filters.http.admission_control.v3.AdmissionControl
  enabled: {default_value: true, runtime_key: admission_control.enabled}
  sampling_window: 2s
  aggression: {default_value: 2.0, runtime_key: admission_control.aggression}
  rps_threshold: {default_value: 5, runtime_key: admission_control.rps_threshold}
  max_rejection_probability: {default_value: {value: 90.0}, runtime_key: admission_control.max_rejection_probability}
  success_criteria:
    http_criteria:
      http_success_status: [{start: 100, end: 500}]
"#;

/// Envoy's wasm plumbing alone: a filter that does nothing (tests/filters/noop).
const EMPTY_WASM_FILTER: &str = r#"
name: noop
typed_config:
  "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
  config:
    name: noop
    root_id: noop
    vm_config:
      vm_id: noop
      runtime: envoy.wasm.runtime.v8
      code: {local: {filename: target/wasm32-wasip1/wasm-release/sluice_noop.wasm}}
"#;

const ROUTER_FILTER: &str = r#"
name: sluice.router
typed_config:
  "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
  config:
    name: sluice_router
    root_id: sluice_router
    failure_policy: FAIL_OPEN
    vm_config:
      vm_id: sluice
      runtime: envoy.wasm.runtime.v8
      code: {local: {filename: target/wasm32-wasip1/wasm-release/sluice_router.wasm}}
    configuration:
      "@type": type.googleapis.com/google.protobuf.StringValue
      value: '{"clusters": {"local_app": {}}, "default": {"to": "local_app"}}'
"#;

/// Throttle configurations: for overhead, a limit that never binds (the
/// admitted path is what is measured); for overload, the adaptive limit
/// with the documented default latency tolerance (`buffer` 0.25, as
/// Envoy's adaptive_concurrency default).
const THROTTLE_OVERHEAD: &str = r#"{"limit": {"static": {"max_inflight": 100000}}}"#;
const THROTTLE_OVERLOAD: &str = r#"{"limit": {"adaptive": {"min_limit": 4, "max_limit": 200,
    "initial_limit": 20, "window_ms": 250}}, "tick_ms": 50,
    "classes": [{"name": "critical", "share": 1.0}, {"name": "default", "share": 0.6},
                {"name": "sheddable", "share": 0.3}]}"#;

fn bootstrap(arm: Arm, upstream: &Upstream, throttle_config: &str) -> Result<Bootstrap> {
    let b = Bootstrap::load("throttle-inbound.yaml")?
        .for_test()?
        .cluster_endpoints("local_app", &[upstream.addr()])?
        .plugin_config("sluice_throttle", throttle_config)?;
    let parse = |y: &str| -> Result<serde_yaml::Value> { Ok(serde_yaml::from_str(y)?) };
    let extra: Vec<serde_yaml::Value> = match arm {
        Arm::NoFilter | Arm::Throttle => vec![],
        Arm::NativeBoth => vec![parse(ADAPTIVE_CONCURRENCY)?, parse(ADMISSION_CONTROL)?],
        Arm::NativeAdaptive => vec![parse(ADAPTIVE_CONCURRENCY)?],
        Arm::NativeAdmission => vec![parse(ADMISSION_CONTROL)?],
        Arm::EmptyWasm => vec![parse(EMPTY_WASM_FILTER)?],
        Arm::ThrottleRouter => vec![parse(ROUTER_FILTER)?],
    };
    let keep_throttle = matches!(arm, Arm::Throttle | Arm::ThrottleRouter);
    let mut edited = false;
    let b = b.edit(|doc| {
        let filters = doc["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
            ["typed_config"]["http_filters"]
            .as_sequence_mut();
        if let Some(filters) = filters {
            let router = filters.pop();
            if !keep_throttle {
                filters.clear();
            }
            filters.extend(extra);
            filters.extend(router);
            edited = true;
        }
    });
    if !edited {
        bail!("throttle-inbound.yaml: no http_filters where expected");
    }
    Ok(b)
}

/// True if `tool` is on the PATH.
fn installed(tool: &str) -> bool {
    Command::new("which")
        .arg(tool)
        .output()
        .is_ok_and(|o| o.status.success())
}

fn ensure_tools() -> Result<()> {
    if !installed("oha") {
        step("install oha (cargo install)");
        run(crate::run::cargo().args(["install", "oha", "--locked"]))
            .context("installing oha; install it with cargo install oha")?;
    }
    let missing: Vec<&str> = ["wrk"].into_iter().filter(|t| !installed(t)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    step(&format!("install {} (apt-get)", missing.join(", ")));
    let mut cmd = Command::new("apt-get");
    cmd.args(["install", "-y", "--no-install-recommends"])
        .args(&missing);
    run(&mut cmd).context("installing wrk; install it by hand")
}

/// Pins a process (and its threads) to a CPU, where `taskset` exists.
fn pin(pid: u32, cpu: u32) {
    let _ = Command::new("taskset")
        .args(["-a", "-p", "-c", &cpu.to_string(), &pid.to_string()])
        .output();
}

fn on_cpu(cpu: u32, program: &str) -> Command {
    let mut c = Command::new("taskset");
    c.args(["-c", &cpu.to_string(), program]);
    c
}

fn output(mut cmd: Command) -> Result<String> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `wrk` saturation throughput, requests per second.
fn saturation(url: &str, seconds: u64) -> Result<f64> {
    let mut cmd = on_cpu(1, "wrk");
    cmd.args(["-t1", "-c32", &format!("-d{seconds}s"), url]);
    let text = output(cmd)?;
    text.lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| anyhow!("no Requests/sec in wrk's output:\n{text}"))
}

/// Latency at a fixed 1,000 req/s with `oha` (10 connections, corrected
/// for coordinated omission): (p50, p99) in microseconds.
fn fixed_rate_latency(url: &str, seconds: u64) -> Result<(f64, f64)> {
    let mut cmd = on_cpu(1, "oha");
    cmd.args([
        "-z",
        &format!("{seconds}s"),
        "-c",
        "10",
        "-q",
        "1000",
        "--latency-correction",
        "--no-tui",
        "--output-format",
        "json",
        url,
    ]);
    let text = output(cmd)?;
    let report: serde_yaml::Value =
        serde_yaml::from_str(&text).with_context(|| format!("oha's JSON output:\n{text}"))?;
    let pct = |p: &str| -> Result<f64> {
        report["latencyPercentiles"][p]
            .as_f64()
            .map(|s| s * 1e6)
            .ok_or_else(|| anyhow!("no latencyPercentiles.{p} in oha's output:\n{text}"))
    };
    Ok((pct("p50")?, pct("p99")?))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn percentile(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[((s.len() - 1) as f64 * p).round() as usize]
}

struct Sample {
    rps: f64,
    p50_us: f64,
    p99_us: f64,
}

fn overhead(opts: &BenchOptions) -> Result<String> {
    let upstream = Upstream::start("bench", Behaviour::default())?;
    pin(std::process::id(), 1);
    let arms = [
        Arm::NoFilter,
        Arm::NativeBoth,
        Arm::EmptyWasm,
        Arm::Throttle,
        Arm::ThrottleRouter,
    ];
    let mut runs: Vec<Vec<Sample>> = Vec::new();
    for r in 0..opts.runs {
        let mut samples = Vec::new();
        for arm in arms {
            step(&format!(
                "overhead run {}/{}: {}",
                r + 1,
                opts.runs,
                arm.label()
            ));
            let b = bootstrap(arm, &upstream, THROTTLE_OVERHEAD)?;
            let envoy = Envoy::start(
                &b,
                Options {
                    concurrency: 1,
                    log_level: "warn",
                    ..Options::default()
                },
            )?;
            pin(envoy.pid(), 0);
            let url = format!("http://{}/", envoy.listener("inbound")?);
            // Warm-up: VM compilation, connection pools.
            let _ = saturation(&url, 1)?;
            let rps = saturation(&url, opts.seconds)?;
            let (p50_us, p99_us) = fixed_rate_latency(&url, opts.seconds)?;
            samples.push(Sample {
                rps,
                p50_us,
                p99_us,
            });
        }
        runs.push(samples);
    }
    let mut md = String::new();
    writeln!(md, "| arm | req/s at saturation | ratio to no filter | p50 at 1,000 req/s | p50 overhead | p99 at 1,000 req/s | p99 ratio |")?;
    writeln!(md, "|---|---|---|---|---|---|---|")?;
    for (i, arm) in arms.iter().enumerate() {
        let col = |f: &dyn Fn(&[Sample]) -> f64| median(runs.iter().map(|r| f(r)).collect());
        writeln!(
            md,
            "| {} | {:.0} | {:.3} | {:.0} µs | {:+.0} µs | {:.0} µs | {:.2} |",
            arm.label(),
            col(&|r| r[i].rps),
            col(&|r| r[i].rps / r[0].rps),
            col(&|r| r[i].p50_us),
            col(&|r| r[i].p50_us - r[0].p50_us),
            col(&|r| r[i].p99_us),
            col(&|r| r[i].p99_us / r[0].p99_us),
        )?;
    }
    Ok(md)
}

fn overload(opts: &BenchOptions) -> Result<String> {
    let upstream = Upstream::start(
        "capacity",
        Behaviour {
            capacity: 10,
            service_ms: 20.0,
            ..Behaviour::default()
        },
    )?;
    let client = HttpClient::new();
    let groups = [
        (
            Group::new("critical", 1, &[("x-sluice-priority", "critical")]),
            300.0,
        ),
        (Group::new("default", 1, &[]), 750.0),
        (
            Group::new("sheddable", 1, &[("x-sluice-priority", "sheddable")]),
            450.0,
        ),
    ];
    let mut md = String::new();
    writeln!(md, "| arm | goodput req/s | critical success | default success | sheddable success | admitted p50 | admitted p99 |")?;
    writeln!(md, "|---|---|---|---|---|---|---|")?;
    for arm in [
        Arm::NoFilter,
        Arm::NativeAdaptive,
        Arm::NativeAdmission,
        Arm::Throttle,
    ] {
        step(&format!(
            "overload: {} ({} s at 3x)",
            arm.label(),
            opts.overload_seconds
        ));
        let b = bootstrap(arm, &upstream, THROTTLE_OVERLOAD)?;
        let envoy = Envoy::start(&b, Options::default())?;
        let url = format!("http://{}/", envoy.listener("inbound")?);
        let report = client.load_open(
            &url,
            Duration::from_secs(opts.overload_seconds),
            &groups,
            Duration::from_secs(10),
        );
        let ok: Vec<f64> = report
            .groups
            .values()
            .flat_map(|o| o.ok_latencies_ms.iter().copied())
            .collect();
        let goodput = ok.len() as f64 / opts.overload_seconds as f64;
        let success = |g: &str| report.group(g).success_rate() * 100.0;
        writeln!(
            md,
            "| {} | {:.0} | {:.1} % | {:.1} % | {:.1} % | {:.0} ms | {:.0} ms |",
            arm.label(),
            goodput,
            success("critical"),
            success("default"),
            success("sheddable"),
            percentile(&ok, 0.5),
            percentile(&ok, 0.99),
        )?;
        drop(envoy);
        // Let the upstream's queue drain before the next arm.
        std::thread::sleep(Duration::from_secs(3));
    }
    Ok(md)
}

pub fn run_all(opts: BenchOptions) -> Result<()> {
    crate::setup::all()?;
    crate::wasm::build()?;
    ensure_tools()?;
    let over = overhead(&opts)?;
    let mut out = format!(
        "## Data-plane overhead (median of {} runs, {} s per measurement)\n\n{over}\n",
        opts.runs, opts.seconds
    );
    if opts.overload_seconds > 0 {
        let load = overload(&opts)?;
        write!(
            out,
            "## Overload quality (3x capacity, {} s per arm)\n\n{load}",
            opts.overload_seconds
        )?;
    }
    let dir = sluice_testkit::paths::repo_root().join("target/bench");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("envoy.md"), &out)?;
    println!("\n{out}\nwritten to target/bench/envoy.md");
    Ok(())
}

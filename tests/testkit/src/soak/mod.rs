//! A soak run: both filters in one chain (`sidecar-inbound.yaml`: throttle,
//! then router) in a real Envoy, mixed open-loop traffic at a moderate rate
//! for a while, and Envoy's memory and stats sampled as it runs.
//!
//! What a soak catches that short tests do not: memory that grows with the
//! number of requests (leaked contexts, per-request state that is never
//! dropped, shared records that gain keys or lanes), counters that drift
//! from what clients saw, in-flight slots that leak one in a million, and
//! errors that only show after many thousands of streams. The checks:
//!
//! - no 5xx that Sluice did not decide: a shed carries the shed-reason
//!   header; any other 5xx (or a connection error) is a failure;
//! - Envoy's RSS after warm-up grows by less than [`MAX_RSS_GROWTH`];
//! - the wasm VMs are the ones that started (none failed and was
//!   replaced, none reloaded), and Envoy logged no wasm error;
//! - the throttle's counters add up to the responses the clients got, and
//!   its in-flight gauge is back to 0 once the traffic stops;
//! - shared data stays within its bound. Envoy exposes no count of
//!   shared-data keys (no stat, no admin endpoint), so the bound is taken
//!   from the configuration (each throttle destination has at most four
//!   records, each router cluster two; `sluice_core::shared::keys`) and
//!   the run reports it with the evidence Envoy does give: no record had
//!   to be reset (`shared_data.decode_resets`) and RSS is flat.

use crate::bootstrap::Bootstrap;
use crate::client;
use crate::envoy::{Envoy, Options};
use crate::stats::Stats;
use crate::{Behaviour, Upstream};
use anyhow::{anyhow, Context, Result};
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod report;
pub use report::{KindOutcome, Sample, SoakReport};

/// Largest RSS growth from the end of warm-up to the end that passes.
pub const MAX_RSS_GROWTH: f64 = 0.10;

/// Requests the client lets wait for an answer at once; past it a request
/// is not sent and counted as `not_sent` (the client, not Envoy, is behind).
const MAX_OUTSTANDING: usize = 2000;

/// The router for the soak: tenants, a beta cookie, session consistency for
/// writes to `/orders`, spillover of the gold tenant near the throttle's
/// limit, and balancing for the rest. The throttle keeps the configuration
/// in `sidecar-inbound.yaml` (adaptive limit, `/recommendations` sheddable).
const ROUTER: &str = r#"{
    "clusters": {"local_app": {"throttle_destination": "local_app"}, "local_app_canary": {}},
    "decision_header": "x-sluice-route",
    "rules": [
        {"name": "beta", "cookies": [{"name": "beta", "exact": "1"}], "to": "local_app_canary"},
        {"name": "gold", "headers": [{"name": "x-tenant", "exact": "gold"}], "to": "local_app",
         "spillover": {"to": "local_app_canary", "max_fraction": 0.5}},
        {"name": "orders", "path_prefix": "/orders", "primary": "local_app",
         "replicas": [{"cluster": "local_app_canary"}], "consistency": "session"}
    ],
    "default": {"balance": [{"cluster": "local_app"}, {"cluster": "local_app_canary"}]},
    "tick_ms": 200
}"#;

/// Shared-data records the configuration above can create: four per
/// throttle destination (in-flight, limit, success, tuner) and two per
/// router cluster (in-flight, stats).
const SHARED_KEY_BOUND: usize = 4 + 2 * 2;

/// How long and how hard.
#[derive(Clone, Debug)]
pub struct SoakOptions {
    pub duration: Duration,
    /// RSS growth is measured from the first sample at or after this.
    pub warmup: Duration,
    pub sample_every: Duration,
    /// Requests per second, all kinds together (open loop).
    pub rate: f64,
}

impl SoakOptions {
    /// A run of `duration` at 200 requests per second; warm-up a tenth of
    /// it (5 s to 60 s), about 30 samples (1 s to 10 s apart).
    pub fn for_duration(duration: Duration) -> SoakOptions {
        SoakOptions {
            duration,
            warmup: (duration / 10).clamp(Duration::from_secs(5), Duration::from_secs(60)),
            sample_every: (duration / 30).clamp(Duration::from_secs(1), Duration::from_secs(10)),
            rate: 200.0,
        }
    }
}

/// One kind of request in the mix.
#[derive(Clone, Copy, Debug)]
struct Kind {
    label: &'static str,
    weight: u32,
    method: &'static str,
    path: &'static str,
    headers: &'static [(&'static str, &'static str)],
}

/// Priority classes (by header and by the throttle's path rule), tenants,
/// methods, cookies, an unknown priority value and a few slow requests.
const MIX: &[Kind] = &[
    Kind {
        label: "critical gold GET",
        weight: 15,
        method: "GET",
        path: "/api/cart",
        headers: &[("x-sluice-priority", "critical"), ("x-tenant", "gold")],
    },
    Kind {
        label: "default silver GET",
        weight: 25,
        method: "GET",
        path: "/api/catalog",
        headers: &[("x-tenant", "silver")],
    },
    Kind {
        label: "sheddable by rule GET",
        weight: 15,
        method: "GET",
        path: "/recommendations",
        headers: &[("x-tenant", "bronze")],
    },
    Kind {
        label: "sheddable by header GET",
        weight: 10,
        method: "GET",
        path: "/feed",
        headers: &[("x-sluice-priority", "sheddable")],
    },
    Kind {
        label: "order POST",
        weight: 10,
        method: "POST",
        path: "/orders",
        headers: &[("x-tenant", "silver"), ("content-type", "application/json")],
    },
    Kind {
        label: "order GET",
        weight: 8,
        method: "GET",
        path: "/orders/17",
        headers: &[("x-tenant", "gold")],
    },
    Kind {
        label: "item PUT",
        weight: 5,
        method: "PUT",
        path: "/items/3",
        headers: &[("x-sluice-priority", "critical")],
    },
    Kind {
        label: "item DELETE",
        weight: 3,
        method: "DELETE",
        path: "/items/4",
        headers: &[],
    },
    Kind {
        label: "beta cookie GET",
        weight: 5,
        method: "GET",
        path: "/api/catalog",
        headers: &[("cookie", "beta=1; theme=dark")],
    },
    Kind {
        label: "unknown priority GET",
        weight: 2,
        method: "GET",
        path: "/api/catalog",
        headers: &[("x-sluice-priority", "urgent")],
    },
    Kind {
        label: "slow default GET",
        weight: 2,
        method: "GET",
        path: "/reports",
        headers: &[("x-upstream-delay-ms", "250")],
    },
];

/// The kind of the `n`-th request: a fixed pseudo-random draw (SplitMix64
/// finalizer), so runs send the same sequence.
fn kind_of(n: u64) -> &'static Kind {
    let mut z = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    let total: u32 = MIX.iter().map(|k| k.weight).sum();
    let mut pick = (z % u64::from(total)) as u32;
    for k in MIX {
        if pick < k.weight {
            return k;
        }
        pick -= k.weight;
    }
    &MIX[0]
}

#[derive(Debug, Default)]
struct Tally {
    kinds: BTreeMap<&'static str, KindOutcome>,
    /// First few undecided 5xx, for the report.
    examples: Vec<String>,
    not_sent: u64,
}

/// Envoy's resident set size in kB, from `/proc/<pid>/status`.
pub fn rss_kb(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow!("no VmRSS in /proc/{pid}/status"))
}

fn throttle_totals(stats: &Stats) -> (u64, u64) {
    let sum = |prefix: &str| -> u64 { stats.with_prefix(prefix).map(|(_, v)| v).sum() };
    (
        sum("wasmcustom.sluice.throttle.rq_admitted."),
        sum("wasmcustom.sluice.throttle.rq_shed."),
    )
}

fn vm_reloads(stats: &Stats) -> u64 {
    stats
        .with_prefix("wasm.sluice_")
        .filter(|(k, _)| k.ends_with(".vm_reload") || k.ends_with(".vm_reload_failure"))
        .map(|(_, v)| v)
        .sum()
}

/// Envoy log lines from the wasm component at error level or worse.
fn wasm_errors(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.contains("][wasm]") && (l.contains("[error]") || l.contains("[critical]")))
        .take(5)
        .map(str::to_string)
        .collect()
}

const ACTIVE_VMS: &str = "wasm.envoy.wasm.runtime.v8.active";

/// Runs a soak with `opts`; `progress` sees every sample as it is taken.
pub fn run(opts: &SoakOptions, mut progress: impl FnMut(&Sample)) -> Result<SoakReport> {
    let app = Behaviour {
        capacity: 64,
        service_ms: 5.0,
        jitter: 0.5,
        ..Behaviour::default()
    };
    let stable = Upstream::start("local_app", app.clone())?;
    let canary = Upstream::start("local_app_canary", app)?;
    let bootstrap = Bootstrap::load("sidecar-inbound.yaml")
        .and_then(Bootstrap::for_test)
        .and_then(|b| b.cluster_endpoints("local_app", &[stable.addr()]))
        .and_then(|b| b.cluster_endpoints("local_app_canary", &[canary.addr()]))
        .and_then(|b| b.plugin_config("sluice_router", ROUTER))?;
    let envoy = Envoy::start(&bootstrap, Options::default())?;
    let url = format!("http://{}", envoy.listener("inbound")?);
    let start_stats = envoy.stats()?;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let tally = Arc::new(Mutex::new(Tally::default()));
    let answered = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let generator = rt.spawn(generate(
        url,
        opts.rate,
        opts.duration,
        Arc::clone(&tally),
        Arc::clone(&answered),
    ));

    let mut samples = Vec::new();
    let mut next = Duration::ZERO;
    while next <= opts.duration {
        let wait = next.saturating_sub(started.elapsed());
        std::thread::sleep(wait);
        let stats = envoy.stats()?;
        let sample = Sample {
            at: started.elapsed(),
            rss_kb: rss_kb(envoy.pid())?,
            answered: answered.load(Ordering::Relaxed) as u64,
            inflight: stats.value("wasmcustom.sluice.throttle.inflight"),
            limit: stats.value("wasmcustom.sluice.throttle.limit"),
            wasm_vms: stats.value(ACTIVE_VMS),
        };
        progress(&sample);
        samples.push(sample);
        next += opts.sample_every;
    }
    rt.block_on(generator)
        .map_err(|e| anyhow!("load generator failed: {e}"))?;

    // Every stream has ended; the gauge follows at the next release or tick.
    let end_stats = envoy.wait_for_stats(Duration::from_secs(5), |s| {
        s.value("wasmcustom.sluice.throttle.inflight") == 0
    })?;
    let (admitted, shed) = throttle_totals(&end_stats);
    let warm = samples
        .iter()
        .find(|s| s.at >= opts.warmup)
        .or(samples.last())
        .map_or(0, |s| s.rss_kb);
    let tally = std::mem::take(&mut *tally.lock().unwrap_or_else(|e| e.into_inner()));
    let rss_end_kb = rss_kb(envoy.pid())?;
    Ok(SoakReport {
        options: opts.clone(),
        rss_warm_kb: warm,
        rss_end_kb,
        rss_max_kb: samples.iter().map(|s| s.rss_kb).fold(rss_end_kb, u64::max),
        samples,
        kinds: tally.kinds,
        examples: tally.examples,
        not_sent: tally.not_sent,
        admitted,
        shed,
        inflight_after: end_stats.value("wasmcustom.sluice.throttle.inflight"),
        wasm_vms_start: start_stats.value(ACTIVE_VMS),
        wasm_vms_end: end_stats.value(ACTIVE_VMS),
        vm_reloads: vm_reloads(&end_stats),
        decode_resets: end_stats.value("wasmcustom.sluice.throttle.shared_data.decode_resets")
            + end_stats.value("wasmcustom.sluice.router.shared_data.decode_resets"),
        wasm_errors: wasm_errors(&envoy.log()),
        shared_key_bound: SHARED_KEY_BOUND,
    })
}

/// Sends the mix open-loop at `rate` for `duration`, then waits for every
/// answer (at most 30 s each).
async fn generate(
    url: String,
    rate: f64,
    duration: Duration,
    tally: Arc<Mutex<Tally>>,
    answered: Arc<AtomicUsize>,
) {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let http: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .build(connector);
    let gap = Duration::from_secs_f64(1.0 / rate.max(1e-3));
    let start = tokio::time::Instant::now();
    let outstanding = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    let mut n: u64 = 0;
    loop {
        let at = start + gap.mul_f64(n as f64);
        if at.duration_since(start) >= duration {
            break;
        }
        tokio::time::sleep_until(at).await;
        // Reap finished tasks so the set stays small.
        while tasks.try_join_next().is_some() {}
        let kind = kind_of(n);
        n += 1;
        if outstanding.load(Ordering::Relaxed) >= MAX_OUTSTANDING {
            lock(&tally).not_sent += 1;
            continue;
        }
        outstanding.fetch_add(1, Ordering::Relaxed);
        let (http, url, tally, answered, outstanding) = (
            http.clone(),
            url.clone(),
            Arc::clone(&tally),
            Arc::clone(&answered),
            Arc::clone(&outstanding),
        );
        tasks.spawn(async move {
            let reply =
                tokio::time::timeout(Duration::from_secs(30), send(&http, &url, kind)).await;
            outstanding.fetch_sub(1, Ordering::Relaxed);
            let mut t = lock(&tally);
            let out = t.kinds.entry(kind.label).or_default();
            match reply {
                Ok(Ok(r)) => {
                    answered.fetch_add(1, Ordering::Relaxed);
                    *out.by_status.entry(r.status).or_default() += 1;
                    if let Some(reason) = r.header("x-sluice-shed-reason") {
                        out.shed += 1;
                        *out.shed_reasons.entry(reason.to_string()).or_default() += 1;
                    } else if r.status >= 500 {
                        out.undecided_5xx += 1;
                        if t.examples.len() < 5 {
                            t.examples.push(format!(
                                "{} {}: {} {:?}",
                                kind.method,
                                kind.path,
                                r.status,
                                r.body.trim()
                            ));
                        }
                    }
                }
                Ok(Err(_)) | Err(_) => out.transport_errors += 1,
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}

fn lock(t: &Mutex<Tally>) -> std::sync::MutexGuard<'_, Tally> {
    t.lock().unwrap_or_else(|e| e.into_inner())
}

async fn send(
    http: &Client<HttpConnector, Full<Bytes>>,
    url: &str,
    kind: &Kind,
) -> Result<client::Reply> {
    let mut req = hyper::Request::builder()
        .method(kind.method)
        .uri(format!("{url}{}", kind.path));
    for (k, v) in kind.headers {
        req = req.header(*k, *v);
    }
    let body = match kind.method {
        "POST" | "PUT" => Bytes::from_static(br#"{"sku": 17, "qty": 1}"#),
        _ => Bytes::new(),
    };
    let resp = http.request(req.body(Full::new(body))?).await?;
    client::read_reply(resp).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_draws_every_kind_near_its_weight() {
        let n = 100_000u64;
        let total: u32 = MIX.iter().map(|k| k.weight).sum();
        let mut seen: BTreeMap<&str, u64> = BTreeMap::new();
        for i in 0..n {
            *seen.entry(kind_of(i).label).or_default() += 1;
        }
        for k in MIX {
            let share = seen.get(k.label).copied().unwrap_or(0) as f64 / n as f64;
            let want = f64::from(k.weight) / f64::from(total);
            assert!(
                (share - want).abs() < 0.01,
                "{}: {share} vs {want}",
                k.label
            );
        }
    }

    #[test]
    fn rss_is_read_from_proc() {
        assert!(rss_kb(std::process::id()).expect("rss") > 0);
    }

    #[test]
    fn wasm_errors_are_error_lines_of_the_wasm_component() {
        let log = "[t][1][info][wasm] fine\n[t][1][error][wasm] Function: proxy_on_request_headers failed\n[t][1][error][upstream] other";
        assert_eq!(wasm_errors(log).len(), 1);
    }
}

//! Harness speed (issue 4; BENCHMARKS.md): `cargo bench -p sluice-harness --bench harness`.
//!
//! - simulated requests per second of wall time, throttle filter, 4
//!   workers, a 10-minute scenario, and how much faster than real time it
//!   replays;
//! - compile + instantiate + configure of the throttle module, cold (no
//!   cache) and with the compiled module cached on disk;
//! - linear memory per simulated worker VM.
//!
//! Each figure is the median of several runs. This is a benchmark, not a
//! test: it asserts nothing and prints what it measured.

use sluice_harness::host::clock::VirtualClock;
use sluice_harness::host::log::LogSink;
use sluice_harness::host::metrics::MetricStore;
use sluice_harness::host::shared::{SharedStore, VmKey};
use sluice_harness::replay::{replay, ReplayOptions};
use sluice_harness::vm::instance::{RootSpec, VmSpec};
use sluice_harness::vm::{LoadedModule, Runtime, RuntimeOptions, Vm};
use sluice_testkit::paths::{repo_root, wasm_module};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CONFIG: &str = r#"{"limit": {"static": {"max_inflight": 200}}}"#;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn scenario(module: &Path, dir: &Path) -> std::path::PathBuf {
    let text = format!(
        r#"
name: bench-10min
seed: 3
duration: 600s
interval: 5s
workers: 4
filters:
  - name: sluice_throttle
    module: {module}
    configuration: {CONFIG}
route: {{cluster: app}}
upstreams:
  app: {{servers: 64, service: {{mean: 20ms}}}}
traffic:
  - generator:
      rate: {{constant: {{rps: 2500}}}}
      mix:
        - {{weight: 2, headers: {{x-sluice-priority: critical}}}}
        - {{weight: 5}}
        - {{weight: 3, headers: {{x-sluice-priority: sheddable}}}}
"#,
        module = module.display()
    );
    let path = dir.join("bench-10min.yaml");
    std::fs::write(&path, text).expect("write scenario");
    path
}

fn vm_spec(worker: u32) -> VmSpec {
    VmSpec {
        vm: VmKey {
            worker: Some(worker),
            group: 0,
        },
        vm_id: "sluice".into(),
        vm_configuration: Arc::from(&b""[..]),
        roots: vec![RootSpec {
            plugin: 0,
            name: "sluice_throttle".into(),
            root_id: "sluice_throttle".into(),
            configuration: Arc::from(CONFIG.as_bytes()),
        }],
        clock: VirtualClock::new(),
        shared: Arc::new(Mutex::new(SharedStore::default())),
        metrics: Arc::new(Mutex::new(MetricStore::default())),
        log: Arc::new(Mutex::new(LogSink::new(3, false, 100))),
        log_level: 3,
        known_clusters: Arc::new(vec!["app".into()]),
        seed: 1,
        memory_limit_bytes: 256 << 20,
        callback_deadline: Duration::from_secs(1),
    }
}

/// Milliseconds to compile (or fetch from the cache), instantiate and
/// configure one VM.
fn startup_ms(runtime: &Runtime, module: &Path) -> f64 {
    let t = Instant::now();
    let loaded = LoadedModule::load(runtime, module).expect("module loads");
    let mut vm = Vm::new(&loaded, &vm_spec(0)).expect("instantiates");
    vm.start_roots().expect("configures");
    t.elapsed().as_secs_f64() * 1e3
}

fn main() {
    let module = wasm_module("sluice_throttle").expect("run `cargo xtask build-wasm` first");
    let work = std::env::temp_dir().join(format!("sluice-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work).expect("temp dir");

    // Startup, cold: a fresh engine without a cache each time.
    let cold: Vec<f64> = (0..5)
        .map(|_| {
            let rt = Runtime::new(&RuntimeOptions { cache_dir: None }).expect("engine");
            startup_ms(&rt, &module)
        })
        .collect();
    // Startup, cached: a fresh engine each time reading the compiled module
    // from a warm on-disk cache.
    let cache = work.join("cache");
    let _ = startup_ms(
        &Runtime::new(&RuntimeOptions {
            cache_dir: Some(cache.clone()),
        })
        .expect("engine"),
        &module,
    );
    let cached: Vec<f64> = (0..15)
        .map(|_| {
            let rt = Runtime::new(&RuntimeOptions {
                cache_dir: Some(cache.clone()),
            })
            .expect("engine");
            startup_ms(&rt, &module)
        })
        .collect();
    // Instantiate + configure alone (module already compiled in-process),
    // and the linear memory each worker VM holds.
    let rt = Runtime::new(&RuntimeOptions { cache_dir: None }).expect("engine");
    let loaded = LoadedModule::load(&rt, &module).expect("module loads");
    let mut inst = Vec::new();
    let mut memory = 0usize;
    for w in 0..20 {
        let t = Instant::now();
        let mut vm = Vm::new(&loaded, &vm_spec(w)).expect("instantiates");
        vm.start_roots().expect("configures");
        inst.push(t.elapsed().as_secs_f64() * 1e3);
        memory = vm.memory_bytes();
    }

    // Throughput: a 10-minute scenario, 4 workers.
    let path = scenario(&module, &work);
    let rt = Runtime::new(&RuntimeOptions {
        cache_dir: Some(cache.clone()),
    })
    .expect("engine");
    let mut rps = Vec::new();
    let mut speedup = Vec::new();
    let mut requests = 0;
    for _ in 0..3 {
        let r = replay(&path, &rt, &ReplayOptions::default()).expect("replay");
        requests = r.report.run.simulated_requests;
        rps.push(r.report.run.simulated_requests as f64 / r.report.run.wall_seconds);
        speedup.push(r.report.run.speedup);
    }
    let _ = std::fs::remove_dir_all(&work);

    println!(
        "harness benchmark (median of runs; module {})",
        module.display()
    );
    println!(
        "  10-min scenario, throttle, 4 workers: {requests} requests, {:.0} simulated req/s, {:.1}x real time",
        median(rps),
        median(speedup)
    );
    println!(
        "  compile+instantiate+configure, no cache:   {:.2} ms",
        median(cold)
    );
    println!(
        "  compile+instantiate+configure, cached:     {:.2} ms",
        median(cached)
    );
    println!(
        "  instantiate+configure (compiled in memory): {:.3} ms",
        median(inst)
    );
    println!("  linear memory per worker VM: {} KiB", memory / 1024);
    println!("  (repo {})", repo_root().display());
}

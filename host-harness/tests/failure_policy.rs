//! A guest that traps mid-run, under each of Envoy's failure policies: what
//! happens to the traffic that follows, and that the trap is reported with
//! the callback it was in.

use sluice_harness::replay::{replay, Replay, ReplayOptions};
use sluice_harness::vm::{Runtime, RuntimeOptions};
use std::path::PathBuf;

/// A minimal proxy-wasm guest (ABI 0.2.1) that continues every request and
/// traps (`unreachable`) in `on_request_headers` on its 50th request.
const TRAPS_ON_50TH: &str = r#"
(module
  (memory (export "memory") 2)
  (global $heap (mut i32) (i32.const 1024))
  (global $seen (mut i32) (i32.const 0))
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param $size i32) (result i32)
    (global.get $heap)
    (global.set $heap (i32.add (global.get $heap) (local.get $size))))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_configure") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (global.set $seen (i32.add (global.get $seen) (i32.const 1)))
    (if (i32.eq (global.get $seen) (i32.const 50)) (then unreachable))
    (i32.const 0))
  (func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32) (i32.const 0))
  (func (export "proxy_on_log") (param i32))
  (func (export "proxy_on_done") (param i32) (result i32) (i32.const 1))
  (func (export "proxy_on_delete") (param i32)))
"#;

fn run(policy: &str) -> Replay {
    let dir = std::env::temp_dir().join(format!("sluice-failure-{}-{policy}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let module = dir.join("traps.wasm");
    std::fs::write(&module, wat::parse_str(TRAPS_ON_50TH).expect("valid WAT"))
        .expect("write module");
    // One worker at 50 req/s: the VM traps at about 1 s.
    let scenario = format!(
        r#"
name: failure-{policy}
seed: 1
duration: 10s
workers: 1
filters:
  - name: traps
    module: {}
    failure_policy: {policy}
route: {{cluster: app}}
upstreams:
  app: {{servers: 10, service: {{mean: 5ms, distribution: constant}}}}
traffic:
  - generator: {{rate: {{constant: {{rps: 50}}}}, arrivals: uniform}}
vm: {{reload_backoff: 2s}}
"#,
        module.display()
    );
    let path: PathBuf = dir.join("scenario.yaml");
    std::fs::write(&path, scenario).expect("write scenario");
    let runtime = Runtime::new(&RuntimeOptions { cache_dir: None }).expect("engine");
    let r = replay(&path, &runtime, &ReplayOptions::default()).expect("replay");
    let _ = std::fs::remove_dir_all(&dir);
    r
}

fn totals(r: &Replay) -> (u64, u64) {
    let c = &r.report.totals.classes["default"];
    (c.offered, c.succeeded)
}

fn traps(r: &Replay) -> Vec<String> {
    r.report
        .vm_events
        .iter()
        .map(|e| format!("{} {} {}", e.worker, e.callback, e.kind))
        .collect()
}

#[test]
fn fail_open_lets_the_following_traffic_through() {
    let r = run("fail_open");
    assert_eq!(traps(&r), vec!["worker_0 proxy_on_request_headers trap"]);
    let (offered, succeeded) = totals(&r);
    // The request whose callback trapped gets Envoy's 503 (as real Envoy
    // 1.40 does, tests/e2e/tests/failure_policy.rs); every later request
    // continues without the filter.
    assert!(offered >= 490, "{offered}");
    assert_eq!(succeeded, offered - 1);
}

#[test]
fn fail_closed_refuses_everything_after_the_trap() {
    let r = run("fail_closed");
    assert_eq!(traps(&r), vec!["worker_0 proxy_on_request_headers trap"]);
    let (_, succeeded) = totals(&r);
    // The trapping request itself gets the 503 (failStream), and so does
    // every later one.
    assert_eq!(succeeded, 49, "the 49 requests before the trap");
}

#[test]
fn fail_reload_refuses_during_the_backoff_then_serves_from_a_fresh_vm() {
    let r = run("fail_reload");
    let events = traps(&r);
    // A fresh VM counts from zero again: it traps on its own 50th request,
    // so each reload serves 49 requests, then traps.
    let trapped = events
        .iter()
        .filter(|e| *e == "worker_0 proxy_on_request_headers trap")
        .count();
    let reloads = events.iter().filter(|e| e.ends_with(" reload")).count();
    assert!(trapped >= 3, "{events:?}");
    assert!(reloads == trapped || reloads + 1 == trapped, "{events:?}");
    let (offered, succeeded) = totals(&r);
    // Each cycle: 49 served, then ~2 s (100 requests) refused while backing off.
    assert!(succeeded >= 49 * 3, "{succeeded}");
    assert!(
        succeeded < offered - 150,
        "offered {offered}, succeeded {succeeded}"
    );
}

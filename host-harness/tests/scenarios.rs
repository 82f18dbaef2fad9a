//! Every scenario under `tests/scenarios/` replays with its SLO assertions
//! passing and its golden summary unchanged (`SLUICE_BLESS=1` rewrites the
//! goldens when behaviour changes on purpose).

use sluice_harness::replay::{replay, Replay, ReplayOptions};
use sluice_harness::vm::{Runtime, RuntimeOptions};
use sluice_report::golden::{bless_requested, check, summary, GoldenOutcome};
use sluice_testkit::paths::{repo_root, wasm_module};
use std::path::{Path, PathBuf};

fn scenarios_dir() -> PathBuf {
    repo_root().join("tests/scenarios")
}

fn runtime() -> Runtime {
    Runtime::new(&RuntimeOptions {
        cache_dir: Some(repo_root().join("target/sluice-cache")),
    })
    .expect("wasmtime engine")
}

fn run(path: &Path, opts: &ReplayOptions) -> Replay {
    // The scenarios name the modules `cargo xtask build-wasm` writes.
    wasm_module("sluice_throttle").expect("built module (run `cargo xtask build-wasm`)");
    replay(path, &runtime(), opts).unwrap_or_else(|e| panic!("{}: {e:#}", path.display()))
}

fn scenario_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(scenarios_dir())
        .expect("tests/scenarios")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_scenario_meets_its_assertions_and_its_golden_summary() {
    let files = scenario_files();
    assert!(
        !files.is_empty(),
        "no scenarios in {}",
        scenarios_dir().display()
    );
    let mut problems = Vec::new();
    for path in files {
        let r = run(&path, &ReplayOptions::default());
        let name = &r.report.scenario.name;
        for a in r.report.assertions.iter().filter(|a| !a.passed) {
            problems.push(format!(
                "{name}: assertion failed: {} (measured {})",
                a.text, a.measured
            ));
        }
        let golden = scenarios_dir().join("golden").join(format!("{name}.txt"));
        match check(&golden, &summary(&r.report), bless_requested()).expect("golden file") {
            GoldenOutcome::Matched | GoldenOutcome::Blessed => {}
            GoldenOutcome::Missing => problems.push(format!(
                "{name}: no golden summary at {} (run with SLUICE_BLESS=1)",
                golden.display()
            )),
            GoldenOutcome::Mismatch { diff } => problems.push(format!(
                "{name}: summary differs from {} (SLUICE_BLESS=1 accepts it):\n{diff}",
                golden.display()
            )),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_replay_is_identical_for_the_same_seed_and_differs_for_another() {
    let path = scenarios_dir().join("throttle-overload.yaml");
    let a = summary(&run(&path, &ReplayOptions::default()).report);
    let b = summary(&run(&path, &ReplayOptions::default()).report);
    assert_eq!(a, b, "two replays of one scenario differ");

    let text = std::fs::read_to_string(&path).expect("scenario");
    let reseeded = text.replacen("seed: 7", "seed: 8", 1);
    assert_ne!(text, reseeded, "the scenario's seed line moved");
    let other = std::env::temp_dir().join(format!("sluice-reseeded-{}.yaml", std::process::id()));
    // Module paths are relative to the scenario file: keep them resolvable.
    let reseeded = reseeded.replace(
        "${SLUICE_WASM_DIR:-../../target/wasm32-wasip1/wasm-release}",
        &repo_root()
            .join("target/wasm32-wasip1/wasm-release")
            .display()
            .to_string(),
    );
    std::fs::write(&other, reseeded).expect("write scenario");
    let c = summary(&run(&other, &ReplayOptions::default()).report);
    let _ = std::fs::remove_file(&other);
    assert_ne!(a, c, "a different seed gave the same run");
}

#[test]
fn shadow_mode_forwards_every_request_and_marks_exactly_the_ones_it_would_shed() {
    let path = scenarios_dir().join("throttle-shadow.yaml");
    let r = run(
        &path,
        &ReplayOptions {
            keep_exchanges: true,
            ..ReplayOptions::default()
        },
    );
    assert!(!r.exchanges.is_empty());
    let mut marked = 0i64;
    for e in &r.exchanges {
        let headers = e
            .upstream_request_headers
            .as_ref()
            .unwrap_or_else(|| panic!("request {} was not forwarded: {e:?}", e.index));
        let shadow: Vec<_> = headers
            .iter()
            .filter(|(k, _)| k == "x-sluice-shadow")
            .collect();
        assert!(shadow.len() <= 1, "one decision header per request: {e:?}");
        if let Some((_, v)) = shadow.first() {
            assert!(
                v.starts_with("shed; class=") && v.ends_with("; reason=concurrency_limit"),
                "{v}"
            );
            marked += 1;
        }
    }
    let counted: i64 = r
        .metrics
        .iter()
        .filter(|(name, _)| name.starts_with("sluice.throttle.rq_shadow_shed."))
        .map(|(_, v)| v)
        .sum();
    assert!(marked > 1000, "{marked} requests marked");
    // Requests still in flight at the end have no exchange yet; their
    // decisions are counted already.
    let offered: u64 = r.report.totals.classes.values().map(|c| c.offered).sum();
    let unfinished = offered as i64 - r.exchanges.len() as i64;
    assert!(
        (0..=unfinished).contains(&(counted - marked)),
        "{counted} decisions counted, {marked} marked on finished requests, {unfinished} unfinished"
    );
}

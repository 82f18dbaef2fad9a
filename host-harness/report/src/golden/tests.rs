//! Golden summaries: what they contain and leave out, and `check` on disk.

use super::*;
use crate::sample::sample_report;
use std::path::PathBuf;

#[test]
fn summary_is_stable_and_leaves_out_run_facts() {
    let a = sample_report();
    let mut b = sample_report();
    // What differs between two runs of the same scenario on two machines.
    b.run.wall_seconds = 99.0;
    b.run.speedup = 1.0;
    b.run.harness_version = "9.9.9".into();
    b.scenario.modules[0].path = "/elsewhere/sluice_throttle.wasm".into();
    b.scenario.modules[0].sha256 = "00".into();
    assert_eq!(summary(&a), summary(&b));
    let s = summary(&a);
    for absent in ["wasm-release", "9f86d0", "0.734", "8.17", "/build"] {
        assert!(!s.contains(absent), "{absent} in\n{s}");
    }
}

#[test]
fn summary_contents() {
    let s = summary(&sample_report());
    let expected = [
        "scenario: overload-ramp",
        "seed: 42",
        "modules: sluice_throttle",
        "classes: critical default sheddable",
        "class critical: offered=270 admitted=270 succeeded=269 failed=1 success=99.6%",
        "class critical: shed=0",
        "class critical: latency p50=12ms p99=44ms",
        "class sheddable: shed=48 concurrency_limit=48",
        "all: offered=810 admitted=750 succeeded=749 failed=1 success=92.5%",
        "all: shed=60 concurrency_limit=60",
        "all: offered_rps=135.0 goodput_rps=124.8",
        "upstream primary: requests=690 share=92.0% errors=1",
        "upstream fallback: requests=60 share=8.0% errors=0",
        "assertion PASS: success_rate{class=critical} >= 0.99 after 2s (measured 0.9947, threshold 0.99)",
        "assertion FAIL: p99{class=critical} <= 40ms (measured 47.25, threshold 40)",
        "vm_events: 1",
        "vm_events trap: 1",
    ];
    for line in expected {
        assert!(s.lines().any(|l| l == line), "missing {line:?} in\n{s}");
    }
}

#[test]
fn summary_changes_with_a_total() {
    let a = sample_report();
    let mut b = sample_report();
    b.totals.classes.get_mut("default").unwrap().succeeded -= 1;
    assert_ne!(summary(&a), summary(&b));
    let mut c = sample_report();
    c.assertions[0].passed = false;
    assert_ne!(summary(&a), summary(&c));
}

#[test]
fn text_with_line_breaks_stays_on_one_line() {
    let mut r = sample_report();
    r.assertions[0].text = "a\nb".into();
    let s = summary(&r);
    assert!(s.contains("assertion PASS: a\\nb (measured"));
}

/// A fresh directory for one test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("sluice-report-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn check_round_trip() {
    let dir = Scratch::new("golden-round-trip");
    let path = dir.0.join("nested/overload-ramp.golden");
    let text = summary(&sample_report());

    assert_eq!(check(&path, &text, false).unwrap(), GoldenOutcome::Missing);
    assert_eq!(check(&path, &text, true).unwrap(), GoldenOutcome::Blessed);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    assert_eq!(check(&path, &text, false).unwrap(), GoldenOutcome::Matched);

    // A checkout with CRLF line endings still matches.
    std::fs::write(&path, text.replace('\n', "\r\n")).unwrap();
    assert_eq!(check(&path, &text, false).unwrap(), GoldenOutcome::Matched);

    let mut changed = sample_report();
    changed.totals.classes.get_mut("critical").unwrap().offered = 271;
    let other = summary(&changed);
    let GoldenOutcome::Mismatch { diff } = check(&path, &other, false).unwrap() else {
        panic!("expected a mismatch");
    };
    assert_eq!(
        diff,
        "- expected   10: class critical: offered=270 admitted=270 succeeded=269 failed=1 success=99.6%\n\
         + actual     10: class critical: offered=271 admitted=270 succeeded=269 failed=1 success=99.6%\n\
         - expected   19: all: offered=810 admitted=750 succeeded=749 failed=1 success=92.5%\n\
         + actual     19: all: offered=811 admitted=750 succeeded=749 failed=1 success=92.4%\n"
    );

    // Blessing replaces the file.
    assert_eq!(check(&path, &other, true).unwrap(), GoldenOutcome::Blessed);
    assert_eq!(check(&path, &other, false).unwrap(), GoldenOutcome::Matched);
}

#[test]
fn check_reports_io_errors() {
    let dir = Scratch::new("golden-io-error");
    std::fs::create_dir_all(dir.0.join("a-directory")).unwrap();
    // Reading a directory as a file is an error, not "missing".
    assert!(check(&dir.0.join("a-directory"), "x", false).is_err());
}

#[test]
fn bless_switch_values() {
    assert!(is_yes(Some("1")));
    assert!(is_yes(Some("true")));
    assert!(is_yes(Some("TRUE ")));
    assert!(!is_yes(Some("0")));
    assert!(!is_yes(Some("")));
    assert!(!is_yes(Some("yes please")));
    assert!(!is_yes(None));
}

//! The terminal summary of the sample report and of an empty one.

use super::render;
use crate::model::Report;
use crate::sample::{sample_report, CLASSES};

#[test]
fn lists_classes_assertions_and_run() {
    let text = render(&sample_report());
    assert!(text.starts_with("scenario overload-ramp: seed 42, 6 s virtual, 2 workers"));
    for class in CLASSES {
        assert!(
            text.lines().any(|l| l.trim_start().starts_with(class)),
            "{class}:\n{text}"
        );
    }
    assert!(
        text.contains("  sheddable      270       222    48   82.2 %"),
        "{text}"
    );
    let pass = text
        .lines()
        .find(|l| l.trim_start().starts_with("PASS"))
        .unwrap();
    let fail = text
        .lines()
        .find(|l| l.trim_start().starts_with("FAIL"))
        .unwrap();
    assert!(pass.contains("success_rate{class=critical} >= 0.99") && pass.contains("0.9947"));
    assert!(fail.contains("p99{class=critical} <= 40ms") && fail.contains("47.25"));
    assert!(fail.contains("threshold 40"));
    assert!(text.contains("assertions: 1 of 2 failed"));
    assert!(text.contains("goodput 124.8 rps of 135 rps offered"));
    assert!(text.contains("upstream: primary 92.0 % (690), fallback 8.0 % (60)"));
    assert!(text.contains("VM events: 1 (trap 1)"));
    assert!(text.contains("run: 0.734 s wall, 810 simulated requests, 8.17x speedup"));
    assert!(!text.contains('\x1b'), "no colour codes");
}

#[test]
fn columns_line_up() {
    let text = render(&sample_report());
    let rows: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("class"))
        .take(5)
        .collect();
    assert_eq!(rows.len(), 5);
    // Numbers are right-aligned: every row ends in the same column.
    assert!(rows.iter().all(|r| r.len() == rows[0].len()), "{rows:#?}");
    let assertions: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("  PASS") || l.starts_with("  FAIL"))
        .collect();
    let col = |l: &str| l.find("measured");
    assert_eq!(col(assertions[0]), col(assertions[1]));
}

#[test]
fn empty_report() {
    let text = render(&Report::default());
    assert!(text.contains("assertions: none"));
    assert!(text.contains("VM events: 0"));
}

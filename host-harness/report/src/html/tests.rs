//! The whole page, rendered from the sample report and from odd ones.

use super::render;
use crate::model::Report;
use crate::sample::{sample_report, CLASSES};

#[test]
fn one_svg_per_chart() {
    let html = render(&sample_report());
    // 3 classes + latency + p99 by class + in flight + upstream + the one
    // gauge that goes up and down (sluice.throttle.queue_depth).
    assert_eq!(html.matches("<svg").count(), 8);
    assert_eq!(html.matches("</svg>").count(), 8);
    assert_eq!(html.matches("<figure>").count(), 8);
    for class in CLASSES {
        assert!(html.contains(&format!("Class {class}:")), "{class}");
    }
    // The throttle's limit is drawn on the in-flight chart.
    assert!(html.contains(">sluice.throttle.limit</text>"));
}

#[test]
fn is_self_contained() {
    let html = render(&sample_report());
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.trim_end().ends_with("</html>"));
    let lower = html.to_lowercase();
    for banned in [
        "<script", "http://", "https://", "url(", "@import", "<link", "src=",
    ] {
        assert!(!lower.contains(banned), "found {banned}");
    }
}

#[test]
fn escapes_report_text() {
    let mut r = sample_report();
    r.scenario.name = r#"<b>&"x"</b>"#.into();
    r.scenario.description = "<script>alert(1)</script>".into();
    r.assertions[1].text = "p99 < 40ms & <i>".into();
    r.series[0].metrics.insert("<img onerror=x>".into(), 1.0);
    let html = render(&r);
    assert!(html.contains("Sluice replay: &lt;b&gt;&amp;&quot;x&quot;&lt;/b&gt;"));
    assert!(!html.contains("<b>&"));
    assert!(!html.contains("<script"));
    assert!(!html.contains("<i>"));
    assert!(!html.contains("<img"));
    assert!(html.contains("p99 &lt; 40ms &amp; &lt;i&gt;"));
}

#[test]
fn marks_the_failing_assertion() {
    let html = render(&sample_report());
    assert!(html
        .contains(r#"<div class="verdict fail"><strong>FAIL</strong> 1 of 2 assertions failed"#));
    let failing = "p99{class=critical} &lt;= 40ms";
    let passing = "success_rate{class=critical} &gt;= 0.99 after 2s";
    // Listed in the banner, and first in the table, on a failing row.
    let banner = html.find(failing).unwrap();
    let table = html.find(r#"<section id="assertions">"#).unwrap();
    assert!(banner < table);
    let row = html[table..].find(r#"<tr class="fail">"#).unwrap();
    let first = html[table..].find(failing).unwrap();
    let second = html[table..].find(passing).unwrap();
    assert!(row < first && first < second);
    assert!(html.contains(r#"<span class="badge fail">FAIL</span>"#));
    assert!(html.contains(r#"<span class="badge pass">PASS</span>"#));
}

#[test]
fn passing_run_says_so() {
    let mut r = sample_report();
    r.assertions.retain(|a| a.passed);
    let html = render(&r);
    assert!(html.contains(r#"<div class="verdict pass">"#));
    assert!(!html.contains(r#"class="fail""#));
}

#[test]
fn shows_totals_modules_metrics_and_events() {
    let r = sample_report();
    let html = render(&r);
    let critical = &r.totals.classes["critical"];
    assert!(html.contains(&format!(r#"<td class="num">{}</td>"#, critical.offered)));
    assert!(html.contains("concurrency_limit"));
    assert!(html.contains(">all classes</th>"));
    assert!(html.contains("goodput"));
    assert!(html.contains(">sluice_throttle</td>"));
    assert!(html.contains(">9f86d081884c</td>"));
    assert!(html.contains("179.1 KiB"));
    assert!(html.contains("<code>sluice.throttle.rq_admitted.class.critical</code>"));
    assert!(html.contains("VM events (1)"));
    assert!(html.contains("out of bounds memory access"));
    assert!(html.contains(">primary</th>"));
}

#[test]
fn empty_report_renders() {
    let html = render(&Report::default());
    assert!(html.contains("No intervals were recorded."));
    assert!(html.contains("No assertions"));
    assert!(!html.contains("<svg"));
    assert!(html.trim_end().ends_with("</html>"));
}

#[test]
fn odd_series_render_without_panicking() {
    let mut r = sample_report();
    // A single interval, zero-length intervals, non-finite metrics and
    // quantiles, a class and a cluster missing from some intervals.
    r.series.truncate(1);
    let html = render(&r);
    assert_eq!(html.matches("<svg").count(), 7, "no decreasing gauge left");

    let mut r = sample_report();
    r.scenario.duration_s = f64::NAN;
    r.series[1].end_s = r.series[1].start_s;
    r.series[2]
        .metrics
        .insert("sluice.throttle.limit".into(), f64::NAN);
    r.series[3]
        .metrics
        .insert("sluice.throttle.limit".into(), f64::INFINITY);
    r.series[3].latency_ms.p99 = f64::NAN;
    r.series[4].classes.remove("default");
    r.series[4].upstream.remove("fallback");
    r.totals.offered_rps = f64::INFINITY;
    let html = render(&r);
    assert_eq!(html.matches("</svg>").count(), 8);
    assert!(!html.contains("NaN"));

    let mut r = sample_report();
    for iv in &mut r.series {
        for c in iv.classes.values_mut() {
            *c = Default::default();
        }
        iv.latency_ms = Default::default();
        iv.metrics.clear();
    }
    let html = render(&r);
    assert!(
        html.contains(">no data</text>"),
        "all-zero latency has no points"
    );
}

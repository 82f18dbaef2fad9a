//! Which charts the report shows, and the series each one plots.
//!
//! Counts per interval are shown as rates (count / interval length) so that
//! charts read the same whatever the scenario's interval. Rates and latency
//! quantiles describe a whole interval and are plotted at its midpoint;
//! gauges (in-flight, metrics) are sampled at the interval's end and plotted
//! there.
//!
//! The report does not say which metrics are gauges and which are counters.
//! Names ending in `.limit` or `.inflight` are drawn with the harness's own
//! in-flight count, because the point of the throttle is that one follows
//! the other. Of the remaining metrics, those whose value ever decreases are
//! gauges (a counter never does) and get a chart each; counters only appear
//! in the metrics table.

use super::svg::{Line, LineChart};
use crate::model::{Interval, Quantiles, Report};

/// A chart with the caption shown above it.
#[derive(Clone, Debug)]
pub(super) struct Figure {
    pub caption: String,
    pub chart: LineChart,
}

/// Colour-blind-safe categorical colours (Okabe & Ito, "Color Universal
/// Design", 2008), without the yellow that is unreadable on white.
const PALETTE: [&str; 7] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
];
const OFFERED: &str = "#6B7280";
const SUCCEEDED: &str = "#009E73";
const SHED: &str = "#E69F00";
const FAILED: &str = "#D55E00";

const TIME: &str = "virtual time (s)";

/// The figures for `report`, in page order; none when there is no series.
pub(super) fn figures(report: &Report) -> Vec<Figure> {
    if report.series.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for class in report.class_names() {
        out.push(class_rates(report, class));
    }
    out.push(latency(report));
    out.push(class_p99(report));
    out.push(inflight(report));
    out.push(upstream(report));
    for name in gauges(report) {
        out.push(metric(report, name));
    }
    out
}

fn class_rates(report: &Report, class: &str) -> Figure {
    let rate = |f: fn(&crate::model::ClassInterval) -> u64| {
        midpoints(report, |iv| match iv.classes.get(class) {
            Some(c) => per_second(f(c), iv),
            None => per_second(0, iv),
        })
    };
    let lines = vec![
        line("offered", OFFERED, false, rate(|c| c.offered)),
        line("succeeded", SUCCEEDED, false, rate(|c| c.succeeded)),
        line("shed", SHED, false, rate(|c| c.shed_total())),
        line("failed (5xx)", FAILED, true, rate(|c| c.failed)),
    ];
    figure(
        report,
        format!("Class {class}: offered, succeeded, shed and failed requests per second"),
        "requests / s",
        lines,
    )
}

fn latency(report: &Report) -> Figure {
    let q = |pick: fn(&Quantiles) -> f64| midpoints(report, |iv| quantile(&iv.latency_ms, pick));
    let lines = vec![
        line("p50", PALETTE[0], false, q(|q| q.p50)),
        line("p90", PALETTE[4], false, q(|q| q.p90)),
        line("p99", PALETTE[1], false, q(|q| q.p99)),
    ];
    figure(
        report,
        "Latency of admitted requests, all classes".to_string(),
        "latency (ms)",
        lines,
    )
}

fn class_p99(report: &Report) -> Figure {
    let lines = report
        .class_names()
        .into_iter()
        .enumerate()
        .map(|(i, class)| {
            let points = midpoints(report, |iv| match iv.classes.get(class) {
                Some(c) => quantile(&c.latency_ms, |q| q.p99),
                None => f64::NAN,
            });
            palette_line(class, i, points)
        })
        .collect();
    figure(
        report,
        "p99 latency of admitted requests by class".to_string(),
        "latency (ms)",
        lines,
    )
}

fn inflight(report: &Report) -> Figure {
    let mut lines = vec![palette_line(
        "in flight (harness)",
        0,
        ends(report, |iv| iv.inflight as f64),
    )];
    for (i, name) in limit_like(report).into_iter().enumerate() {
        lines.push(palette_line(name, i + 1, metric_points(report, name)));
    }
    figure(
        report,
        "Requests in flight, with the filters' limit and in-flight gauges".to_string(),
        "requests",
        lines,
    )
}

fn upstream(report: &Report) -> Figure {
    let lines = report
        .cluster_names()
        .into_iter()
        .enumerate()
        .map(|(i, cluster)| {
            let points = midpoints(report, |iv| {
                per_second(iv.upstream.get(cluster).map_or(0, |u| u.requests), iv)
            });
            palette_line(cluster, i, points)
        })
        .collect();
    figure(
        report,
        "Upstream requests per second by cluster".to_string(),
        "requests / s",
        lines,
    )
}

fn metric(report: &Report, name: &str) -> Figure {
    let lines = vec![palette_line(name, 0, metric_points(report, name))];
    figure(report, format!("Metric {name}"), "value", lines)
}

/// Metrics drawn on the in-flight chart.
pub(super) fn limit_like(report: &Report) -> Vec<&str> {
    report
        .metric_names()
        .into_iter()
        .filter(|n| n.ends_with(".limit") || n.ends_with(".inflight"))
        .collect()
}

/// Other metrics whose value decreases at least once: gauges.
pub(super) fn gauges(report: &Report) -> Vec<&str> {
    let limits = limit_like(report);
    report
        .metric_names()
        .into_iter()
        .filter(|n| !limits.contains(n))
        .filter(|n| {
            let values: Vec<f64> = report
                .series
                .iter()
                .filter_map(|iv| iv.metrics.get(*n).copied())
                .filter(|v| v.is_finite())
                .collect();
            values.windows(2).any(|w| w[1] < w[0])
        })
        .collect()
}

fn metric_points(report: &Report, name: &str) -> Vec<(f64, f64)> {
    ends(report, |iv| {
        iv.metrics.get(name).copied().unwrap_or(f64::NAN)
    })
}

fn midpoints(report: &Report, f: impl Fn(&Interval) -> f64) -> Vec<(f64, f64)> {
    report
        .series
        .iter()
        .map(|iv| ((iv.start_s + iv.end_s) / 2.0, f(iv)))
        .collect()
}

fn ends(report: &Report, f: impl Fn(&Interval) -> f64) -> Vec<(f64, f64)> {
    report.series.iter().map(|iv| (iv.end_s, f(iv))).collect()
}

/// `count` over the interval's length; NaN (not drawn) for an empty interval.
fn per_second(count: u64, iv: &Interval) -> f64 {
    let len = iv.length_s();
    if len > 0.0 {
        count as f64 / len
    } else {
        f64::NAN
    }
}

/// A quantile, or NaN (not drawn) when nothing completed in the interval.
fn quantile(q: &Quantiles, pick: fn(&Quantiles) -> f64) -> f64 {
    if q.count == 0 {
        f64::NAN
    } else {
        pick(q)
    }
}

fn line(label: &str, color: &'static str, dashed: bool, points: Vec<(f64, f64)>) -> Line {
    Line {
        label: label.to_string(),
        color,
        dashed,
        points,
    }
}

/// The `i`-th palette colour; past the palette, colours repeat dashed.
fn palette_line(label: &str, i: usize, points: Vec<(f64, f64)>) -> Line {
    let dashed = (i / PALETTE.len()) % 2 == 1;
    line(label, PALETTE[i % PALETTE.len()], dashed, points)
}

fn figure(report: &Report, caption: String, y_title: &str, lines: Vec<Line>) -> Figure {
    let d = report.scenario.duration_s;
    Figure {
        chart: LineChart {
            title: caption.clone(),
            x_title: TIME.to_string(),
            y_title: y_title.to_string(),
            x_span: (d.is_finite() && d > 0.0).then_some((0.0, d)),
            lines,
        },
        caption,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::sample_report;

    #[test]
    fn one_figure_per_class_and_per_gauge() {
        let r = sample_report();
        assert_eq!(
            limit_like(&r),
            ["sluice.throttle.inflight", "sluice.throttle.limit"]
        );
        assert_eq!(gauges(&r), ["sluice.throttle.queue_depth"]);
        // 3 classes + latency + p99 by class + in flight + upstream + 1 gauge.
        assert_eq!(figures(&r).len(), 8);
        assert!(figures(&Report::default()).is_empty());
    }

    #[test]
    fn rates_are_per_second() {
        let r = sample_report();
        let f = class_rates(&r, "critical");
        let offered = &f.chart.lines[0].points;
        let iv = &r.series[0];
        let want = iv.classes["critical"].offered as f64 / iv.length_s();
        assert_eq!(offered[0], ((iv.start_s + iv.end_s) / 2.0, want));
    }
}

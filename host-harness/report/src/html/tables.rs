//! The report's tables: assertions, totals per class, upstream clusters,
//! final metric values, VM events.
//!
//! Numbers are right-aligned in tabular figures (CSS class `num`) so columns
//! can be compared by eye.

use super::charts;
use super::escape::escape;
use crate::format;
use crate::model::{Quantiles, Report};
use std::collections::BTreeMap;

/// Failing assertions first, each group in scenario order.
pub(super) fn assertions(out: &mut String, report: &Report) {
    out.push_str(r#"<section id="assertions"><h2>Assertions</h2>"#);
    if report.assertions.is_empty() {
        out.push_str("<p>The scenario has no assertions.</p></section>");
        return;
    }
    out.push_str(
        "<table><thead><tr><th>result</th><th>assertion</th><th class=\"num\">measured</th>\
         <th class=\"num\">threshold</th></tr></thead><tbody>",
    );
    let failing = report.assertions.iter().filter(|a| !a.passed);
    let passing = report.assertions.iter().filter(|a| a.passed);
    for a in failing.chain(passing) {
        let (class, word) = if a.passed {
            ("pass", "PASS")
        } else {
            ("fail", "FAIL")
        };
        put!(
            out,
            r#"<tr class="{class}"><td><span class="badge {class}">{word}</span></td><td><code>{}</code></td><td class="num">{}</td><td class="num">{}</td></tr>"#,
            escape(&a.text),
            format::sig(a.measured, 4),
            format::number(a.threshold)
        );
    }
    out.push_str("</tbody></table></section>");
}

/// Per-class totals with an all-classes row, then rates and overall latency.
pub(super) fn totals(out: &mut String, report: &Report) {
    let t = &report.totals;
    out.push_str(r#"<section id="totals"><h2>Totals</h2>"#);
    out.push_str(
        "<table><thead><tr><th>class</th><th class=\"num\">offered</th>\
         <th class=\"num\">admitted</th><th class=\"num\">shed</th><th>shed by reason</th>\
         <th class=\"num\">succeeded</th><th class=\"num\">failed</th>\
         <th class=\"num\">success</th><th class=\"num\">p50 ms</th>\
         <th class=\"num\">p99 ms</th></tr></thead><tbody>",
    );
    let mut all = Row::default();
    for class in report.class_names() {
        let c = t.classes.get(class).cloned().unwrap_or_default();
        let row = Row {
            offered: c.offered,
            admitted: c.admitted,
            shed: c.shed.clone(),
            succeeded: c.succeeded,
            failed: c.failed,
        };
        row.write(out, &escape(class), c.success_rate, &c.latency_ms, "");
        all.add(&row);
    }
    let rate = format::ratio(all.succeeded, all.offered);
    all.write(out, "all classes", rate, &t.latency_ms, r#" class="all""#);
    out.push_str("</tbody></table>");
    put!(
        out,
        r#"<p class="rates">Offered <strong>{} rps</strong>, goodput <strong>{} rps</strong> (successful completions per second). Latency of all admitted requests: p50 {} ms, p90 {} ms, p99 {} ms, max {} ms.</p>"#,
        format::sig(t.offered_rps, 4),
        format::sig(t.goodput_rps, 4),
        latency(&t.latency_ms, |q| q.p50),
        latency(&t.latency_ms, |q| q.p90),
        latency(&t.latency_ms, |q| q.p99),
        latency(&t.latency_ms, |q| q.max),
    );
    out.push_str("</section>");
}

#[derive(Default)]
struct Row {
    offered: u64,
    admitted: u64,
    shed: BTreeMap<String, u64>,
    succeeded: u64,
    failed: u64,
}

impl Row {
    fn add(&mut self, other: &Row) {
        self.offered += other.offered;
        self.admitted += other.admitted;
        for (reason, n) in &other.shed {
            *self.shed.entry(reason.clone()).or_default() += n;
        }
        self.succeeded += other.succeeded;
        self.failed += other.failed;
    }

    fn write(&self, out: &mut String, name: &str, success: f64, q: &Quantiles, attr: &str) {
        let reasons: Vec<String> = self
            .shed
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(r, n)| format!("{} {n}", escape(r)))
            .collect();
        put!(
            out,
            r#"<tr{attr}><th scope="row">{name}</th><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="reasons">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{} %</td><td class="num">{}</td><td class="num">{}</td></tr>"#,
            self.offered,
            self.admitted,
            self.shed.values().sum::<u64>(),
            reasons.join(", "),
            self.succeeded,
            self.failed,
            format::percent(success),
            latency(q, |q| q.p50),
            latency(q, |q| q.p99),
        );
    }
}

/// A quantile for display, `-` when there were no samples.
fn latency(q: &Quantiles, pick: fn(&Quantiles) -> f64) -> String {
    if q.count == 0 {
        "-".to_string()
    } else {
        format::ms(pick(q))
    }
}

/// Requests, share and errors per upstream cluster.
pub(super) fn upstream(out: &mut String, report: &Report) {
    let clusters = report.cluster_names();
    if clusters.is_empty() {
        return;
    }
    let total: u64 = report.totals.upstream.values().sum();
    out.push_str(
        "<section id=\"upstream\"><h2>Upstream clusters</h2><table><thead><tr><th>cluster</th>\
         <th class=\"num\">requests</th><th class=\"num\">share</th>\
         <th class=\"num\">errors (5xx)</th></tr></thead><tbody>",
    );
    for cluster in clusters {
        let requests = report.totals.upstream.get(cluster).copied().unwrap_or(0);
        let errors: u64 = report
            .series
            .iter()
            .filter_map(|iv| iv.upstream.get(cluster))
            .map(|u| u.errors)
            .sum();
        put!(
            out,
            r#"<tr><th scope="row">{}</th><td class="num">{requests}</td><td class="num">{} %</td><td class="num">{errors}</td></tr>"#,
            escape(cluster),
            format::percent(format::ratio(requests, total))
        );
    }
    out.push_str("</tbody></table></section>");
}

/// Every metric's last value, with its range over the run and where it is
/// charted.
pub(super) fn metrics(out: &mut String, report: &Report) {
    let names = report.metric_names();
    if names.is_empty() {
        return;
    }
    let limits = charts::limit_like(report);
    let gauges = charts::gauges(report);
    out.push_str(
        "<section id=\"metrics\"><h2>Filter metrics</h2><p>Value at the end of the run \
         (counters are cumulative), and the range over all intervals.</p><table><thead><tr>\
         <th>metric</th><th class=\"num\">final</th><th class=\"num\">min</th>\
         <th class=\"num\">max</th><th>chart</th></tr></thead><tbody>",
    );
    for name in names {
        let values: Vec<f64> = report
            .series
            .iter()
            .filter_map(|iv| iv.metrics.get(name).copied())
            .collect();
        let last = values.last().copied().unwrap_or(f64::NAN);
        let finite = values.iter().copied().filter(|v| v.is_finite());
        let min = finite.clone().fold(f64::INFINITY, f64::min);
        let max = finite.fold(f64::NEG_INFINITY, f64::max);
        let chart = if limits.contains(&name) {
            "in flight"
        } else if gauges.contains(&name) {
            "own chart"
        } else {
            ""
        };
        put!(
            out,
            r#"<tr><td><code>{}</code></td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td>{chart}</td></tr>"#,
            escape(name),
            format::number(last),
            format::number(min),
            format::number(max)
        );
    }
    out.push_str("</tbody></table></section>");
}

/// Guest traps, interruptions and reloads, in time order as recorded.
pub(super) fn vm_events(out: &mut String, report: &Report) {
    if report.vm_events.is_empty() {
        return;
    }
    put!(
        out,
        "<section id=\"vm-events\"><h2>VM events ({})</h2><table><thead><tr>\
         <th class=\"num\">at (s)</th><th>worker</th><th>plugin</th><th>callback</th>\
         <th>kind</th><th>message</th></tr></thead><tbody>",
        report.vm_events.len()
    );
    for e in &report.vm_events {
        put!(
            out,
            r#"<tr><td class="num">{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td><span class="badge event">{}</span></td><td class="message">{}</td></tr>"#,
            format::sig(e.at_s, 6),
            escape(&e.worker),
            escape(&e.plugin),
            escape(&e.callback),
            escape(&e.kind),
            escape(&e.message)
        );
    }
    out.push_str("</tbody></table></section>");
}

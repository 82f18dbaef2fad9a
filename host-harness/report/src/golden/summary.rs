//! The golden summary's text.
//!
//! One fact per line, each line starting with what it is about, so that a
//! diff names the class, cluster or assertion that changed. Rounding is
//! chosen to hide nothing that matters while staying put for the same run:
//! counts are exact; rates and percentages have one decimal; latencies,
//! which come from histogram buckets about 4 % wide, keep 2 significant
//! digits; measured values keep 4.

use crate::format;
use crate::model::{Quantiles, Report};
use std::collections::BTreeMap;

/// Bumped when the layout changes, so a stale golden file explains itself.
const HEADER: &str =
    "# sluice golden summary, format 1; regenerate with SLUICE_BLESS=1 (or --bless)";

/// The deterministic summary of `report`; see the module docs.
pub fn summary(report: &Report) -> String {
    let mut out = String::new();
    let s = &report.scenario;
    let modules: Vec<&str> = s.modules.iter().map(|m| m.name.as_str()).collect();
    put!(out, "{HEADER}\n");
    put!(out, "scenario: {}\n", one_line(&s.name));
    put!(out, "seed: {}\n", s.seed);
    put!(out, "duration_s: {}\n", s.duration_s);
    put!(out, "interval_s: {}\n", s.interval_s);
    put!(out, "workers: {}\n", s.workers);
    put!(out, "modules: {}\n", one_line(&modules.join(" ")));
    put!(
        out,
        "classes: {}\n",
        one_line(&report.class_names().join(" "))
    );
    put!(
        out,
        "clusters: {}\n",
        one_line(&report.cluster_names().join(" "))
    );

    let t = &report.totals;
    let (mut offered, mut admitted, mut succeeded, mut failed) = (0, 0, 0, 0);
    let mut shed: BTreeMap<String, u64> = BTreeMap::new();
    for name in report.class_names() {
        let c = t.classes.get(name).cloned().unwrap_or_default();
        let name = one_line(name);
        put!(
            out,
            "class {name}: offered={} admitted={} succeeded={} failed={} success={}%\n",
            c.offered,
            c.admitted,
            c.succeeded,
            c.failed,
            format::percent(c.success_rate)
        );
        put!(
            out,
            "class {name}: shed={}{}\n",
            c.shed_total(),
            reasons(&c.shed)
        );
        put!(out, "class {name}: latency {}\n", latency(&c.latency_ms));
        offered += c.offered;
        admitted += c.admitted;
        succeeded += c.succeeded;
        failed += c.failed;
        for (reason, n) in c.shed {
            *shed.entry(reason).or_default() += n;
        }
    }
    put!(
        out,
        "all: offered={offered} admitted={admitted} succeeded={succeeded} failed={failed} success={}%\n",
        format::percent(format::ratio(succeeded, offered))
    );
    put!(
        out,
        "all: shed={}{}\n",
        shed.values().sum::<u64>(),
        reasons(&shed)
    );
    put!(
        out,
        "all: offered_rps={:.1} goodput_rps={:.1}\n",
        t.offered_rps,
        t.goodput_rps
    );
    put!(out, "all: latency {}\n", latency(&t.latency_ms));

    let total: u64 = t.upstream.values().sum();
    for cluster in report.cluster_names() {
        let requests = t.upstream.get(cluster).copied().unwrap_or(0);
        let errors: u64 = report
            .series
            .iter()
            .filter_map(|iv| iv.upstream.get(cluster))
            .map(|u| u.errors)
            .sum();
        put!(
            out,
            "upstream {}: requests={requests} share={}% errors={errors}\n",
            one_line(cluster),
            format::percent(format::ratio(requests, total))
        );
    }

    for a in &report.assertions {
        put!(
            out,
            "assertion {}: {} (measured {}, threshold {})\n",
            if a.passed { "PASS" } else { "FAIL" },
            one_line(&a.text),
            format::sig(a.measured, 4),
            a.threshold
        );
    }

    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &report.vm_events {
        *kinds.entry(e.kind.as_str()).or_default() += 1;
    }
    put!(out, "vm_events: {}\n", report.vm_events.len());
    for (kind, n) in kinds {
        put!(out, "vm_events {}: {n}\n", one_line(kind));
    }
    out
}

/// ` reason=n` for each reason with a non-zero count, in name order.
fn reasons(shed: &BTreeMap<String, u64>) -> String {
    shed.iter()
        .filter(|(_, n)| **n > 0)
        .map(|(reason, n)| format!(" {}={n}", one_line(reason)))
        .collect()
}

/// `p50=…ms p99=…ms` to 2 significant digits, `-` without samples.
fn latency(q: &Quantiles) -> String {
    if q.count == 0 {
        return "p50=- p99=-".to_string();
    }
    format!(
        "p50={}ms p99={}ms",
        format::sig(q.p50, 2),
        format::sig(q.p99, 2)
    )
}

/// Text from the scenario on one line, so one fact stays one line.
fn one_line(text: &str) -> String {
    text.replace('\r', "\\r").replace('\n', "\\n")
}

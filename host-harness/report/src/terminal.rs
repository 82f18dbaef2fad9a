//! The summary printed when a replay ends.
//!
//! It answers, in a screenful of plain text (no colour codes, so it reads
//! the same in CI logs and when piped), the questions asked right after a
//! run: did each class get through, did the assertions hold, did a guest
//! trap, and how long did it take. Details are in the HTML report.

mod table;

#[cfg(test)]
mod tests;

use crate::format;
use crate::model::{Quantiles, Report};
use std::collections::BTreeMap;
use table::{Align, Table};

/// The summary as lines of text, each ending in a newline.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    scenario(&mut out, report);
    classes(&mut out, report);
    rates(&mut out, report);
    assertions(&mut out, report);
    vm_events(&mut out, report);
    run(&mut out, report);
    out
}

fn scenario(out: &mut String, report: &Report) {
    let s = &report.scenario;
    let modules: Vec<&str> = s.modules.iter().map(|m| m.name.as_str()).collect();
    put!(
        out,
        "scenario {}: seed {}, {} s virtual, {} worker{}",
        s.name,
        s.seed,
        format::number(s.duration_s),
        s.workers,
        if s.workers == 1 { "" } else { "s" }
    );
    if !modules.is_empty() {
        put!(out, ", modules {}", modules.join(", "));
    }
    out.push_str("\n\n");
}

fn classes(out: &mut String, report: &Report) {
    let names = report.class_names();
    if names.is_empty() {
        return;
    }
    let mut t = Table::new(&[
        Align::Left,
        Align::Right,
        Align::Right,
        Align::Right,
        Align::Right,
        Align::Right,
        Align::Right,
    ]);
    t.row([
        "class", "offered", "admitted", "shed", "success", "p50 ms", "p99 ms",
    ]);
    let (mut offered, mut admitted, mut shed, mut succeeded) = (0, 0, 0, 0);
    for name in names {
        let c = report.totals.classes.get(name).cloned().unwrap_or_default();
        t.row([
            name.to_string(),
            c.offered.to_string(),
            c.admitted.to_string(),
            c.shed_total().to_string(),
            format!("{} %", format::percent(c.success_rate)),
            latency(&c.latency_ms, |q| q.p50),
            latency(&c.latency_ms, |q| q.p99),
        ]);
        offered += c.offered;
        admitted += c.admitted;
        shed += c.shed_total();
        succeeded += c.succeeded;
    }
    let all = &report.totals.latency_ms;
    t.row([
        "all".to_string(),
        offered.to_string(),
        admitted.to_string(),
        shed.to_string(),
        format!("{} %", format::percent(format::ratio(succeeded, offered))),
        latency(all, |q| q.p50),
        latency(all, |q| q.p99),
    ]);
    out.push_str(&t.render("  "));
    out.push('\n');
}

fn rates(out: &mut String, report: &Report) {
    let t = &report.totals;
    put!(
        out,
        "goodput {} rps of {} rps offered\n",
        format::sig(t.goodput_rps, 4),
        format::sig(t.offered_rps, 4)
    );
    let total: u64 = t.upstream.values().sum();
    let shares: Vec<String> = report
        .cluster_names()
        .into_iter()
        .map(|c| {
            let n = t.upstream.get(c).copied().unwrap_or(0);
            format!("{c} {} % ({n})", format::percent(format::ratio(n, total)))
        })
        .collect();
    if !shares.is_empty() {
        put!(out, "upstream: {}\n", shares.join(", "));
    }
    out.push('\n');
}

fn assertions(out: &mut String, report: &Report) {
    if report.assertions.is_empty() {
        out.push_str("assertions: none\n\n");
        return;
    }
    let failed = report.failed_count();
    if failed == 0 {
        put!(out, "assertions: all {} passed\n", report.assertions.len());
    } else {
        put!(
            out,
            "assertions: {failed} of {} failed\n",
            report.assertions.len()
        );
    }
    let mut t = Table::new(&[
        Align::Left,
        Align::Left,
        Align::Left,
        Align::Right,
        Align::Left,
    ]);
    for a in &report.assertions {
        t.row([
            if a.passed { "PASS" } else { "FAIL" }.to_string(),
            a.text.clone(),
            "measured".to_string(),
            format::sig(a.measured, 4),
            format!("threshold {}", format::number(a.threshold)),
        ]);
    }
    out.push_str(&t.render("  "));
    out.push('\n');
}

fn vm_events(out: &mut String, report: &Report) {
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &report.vm_events {
        *kinds.entry(e.kind.as_str()).or_default() += 1;
    }
    let by_kind: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
    if by_kind.is_empty() {
        out.push_str("VM events: 0\n");
    } else {
        put!(
            out,
            "VM events: {} ({})\n",
            report.vm_events.len(),
            by_kind.join(", ")
        );
    }
}

fn run(out: &mut String, report: &Report) {
    let r = &report.run;
    put!(
        out,
        "run: {} s wall, {} simulated requests, {}x speedup\n",
        format::sig(r.wall_seconds, 3),
        r.simulated_requests,
        format::sig(r.speedup, 3)
    );
}

/// A quantile for display, `-` when there were no samples.
fn latency(q: &Quantiles, pick: fn(&Quantiles) -> f64) -> String {
    if q.count == 0 {
        "-".to_string()
    } else {
        format::ms(pick(q))
    }
}

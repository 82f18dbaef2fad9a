//! What a soak run measured, and its verdict and text report.

use super::{SoakOptions, MAX_RSS_GROWTH};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// One periodic sample of Envoy.
#[derive(Clone, Debug)]
pub struct Sample {
    pub at: Duration,
    pub rss_kb: u64,
    /// Client requests answered so far.
    pub answered: u64,
    pub inflight: u64,
    pub limit: u64,
    pub wasm_vms: u64,
}

/// What the clients saw of one kind of request.
#[derive(Clone, Debug, Default)]
pub struct KindOutcome {
    pub by_status: BTreeMap<u16, u64>,
    pub shed: u64,
    /// Sheds by the reason the shed-reason header gave.
    pub shed_reasons: BTreeMap<String, u64>,
    /// 5xx without the shed-reason header.
    pub undecided_5xx: u64,
    pub transport_errors: u64,
}

/// The result of a soak run.
#[derive(Clone, Debug)]
pub struct SoakReport {
    pub options: SoakOptions,
    pub samples: Vec<Sample>,
    pub kinds: BTreeMap<&'static str, KindOutcome>,
    pub examples: Vec<String>,
    pub not_sent: u64,
    /// RSS at the end of warm-up and at the end, in kB.
    pub rss_warm_kb: u64,
    pub rss_end_kb: u64,
    pub rss_max_kb: u64,
    /// Throttle counters at the end: admitted, shed (all classes, reasons).
    pub admitted: u64,
    pub shed: u64,
    pub inflight_after: u64,
    pub wasm_vms_start: u64,
    pub wasm_vms_end: u64,
    pub vm_reloads: u64,
    pub decode_resets: u64,
    pub wasm_errors: Vec<String>,
    pub shared_key_bound: usize,
}

impl SoakReport {
    pub fn answered(&self) -> u64 {
        self.kinds
            .values()
            .map(|k| k.by_status.values().sum::<u64>())
            .sum()
    }

    fn sum(&self, f: impl Fn(&KindOutcome) -> u64) -> u64 {
        self.kinds.values().map(f).sum()
    }

    pub fn rss_growth(&self) -> f64 {
        self.rss_end_kb as f64 / self.rss_warm_kb.max(1) as f64 - 1.0
    }

    /// Every check that failed, as a sentence; empty if the run passed.
    pub fn failures(&self) -> Vec<String> {
        let mut f = Vec::new();
        let undecided = self.sum(|k| k.undecided_5xx);
        if undecided > 0 {
            f.push(format!(
                "{undecided} 5xx responses Sluice did not decide, e.g. {:?}",
                self.examples
            ));
        }
        let transport = self.sum(|k| k.transport_errors);
        if transport > 0 {
            f.push(format!("{transport} requests got no HTTP response"));
        }
        if self.rss_growth() >= MAX_RSS_GROWTH {
            f.push(format!(
                "RSS grew {:.1} % after warm-up ({} -> {} kB), limit {:.0} %",
                self.rss_growth() * 100.0,
                self.rss_warm_kb,
                self.rss_end_kb,
                MAX_RSS_GROWTH * 100.0
            ));
        }
        if self.wasm_vms_end != self.wasm_vms_start || self.vm_reloads > 0 {
            f.push(format!(
                "wasm VMs changed: {} at start, {} at the end, {} reloads",
                self.wasm_vms_start, self.wasm_vms_end, self.vm_reloads
            ));
        }
        if !self.wasm_errors.is_empty() {
            f.push(format!("Envoy logged wasm errors: {:?}", self.wasm_errors));
        }
        if self.admitted + self.shed != self.answered() {
            f.push(format!(
                "throttle counted {} admitted + {} shed, clients got {} responses",
                self.admitted,
                self.shed,
                self.answered()
            ));
        }
        if self.shed != self.sum(|k| k.shed) {
            f.push(format!(
                "throttle counted {} shed, clients saw {} shed-reason headers",
                self.shed,
                self.sum(|k| k.shed)
            ));
        }
        if self.inflight_after != 0 {
            f.push(format!(
                "in-flight gauge {} after the traffic stopped",
                self.inflight_after
            ));
        }
        if self.decode_resets > 0 {
            f.push(format!(
                "{} shared records had to be reset",
                self.decode_resets
            ));
        }
        if self.not_sent > 0 {
            f.push(format!(
                "the client fell behind: {} requests not sent",
                self.not_sent
            ));
        }
        f
    }

    /// A readable report: samples, outcomes per kind, checks.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let secs = self.options.duration.as_secs_f64();
        let _ = writeln!(
            s,
            "Sluice soak: throttle + router (sidecar-inbound.yaml), 2 workers, {:.0} s at {:.0} req/s",
            secs, self.options.rate
        );
        let _ = writeln!(
            s,
            "\n{:>7}  {:>9}  {:>9}  {:>8}  {:>5}  {:>4}",
            "t (s)", "RSS (MiB)", "answered", "inflight", "limit", "VMs"
        );
        for x in &self.samples {
            let _ = writeln!(
                s,
                "{:>7.0}  {:>9.1}  {:>9}  {:>8}  {:>5}  {:>4}",
                x.at.as_secs_f64(),
                x.rss_kb as f64 / 1024.0,
                x.answered,
                x.inflight,
                x.limit,
                x.wasm_vms
            );
        }
        let _ = writeln!(
            s,
            "\n{:<24} {:>8} {:>8} {:>8} {:>10} {:>9}",
            "kind", "sent", "2xx", "shed", "other 5xx", "no reply"
        );
        for (label, k) in &self.kinds {
            let sent = k.by_status.values().sum::<u64>() + k.transport_errors;
            let ok: u64 = k
                .by_status
                .iter()
                .filter(|(s, _)| (200..300).contains(*s))
                .map(|(_, n)| n)
                .sum();
            let _ = writeln!(
                s,
                "{label:<24} {sent:>8} {ok:>8} {:>8} {:>10} {:>9}",
                k.shed, k.undecided_5xx, k.transport_errors
            );
        }
        let mut reasons: BTreeMap<&str, u64> = BTreeMap::new();
        for k in self.kinds.values() {
            for (r, n) in &k.shed_reasons {
                *reasons.entry(r.as_str()).or_default() += n;
            }
        }
        let _ = writeln!(
            s,
            "\nrequests answered: {} ({:.1}/s); throttle: {} admitted, {} shed {:?}",
            self.answered(),
            self.answered() as f64 / secs.max(1e-9),
            self.admitted,
            self.shed,
            reasons
        );
        let _ = writeln!(
            s,
            "RSS: {:.1} MiB after warm-up ({:.0} s), {:.1} MiB at the end, max {:.1} MiB: growth {:+.2} % (limit {:.0} %)",
            self.rss_warm_kb as f64 / 1024.0,
            self.options.warmup.as_secs_f64(),
            self.rss_end_kb as f64 / 1024.0,
            self.rss_max_kb as f64 / 1024.0,
            self.rss_growth() * 100.0,
            MAX_RSS_GROWTH * 100.0
        );
        let _ = writeln!(
            s,
            "wasm VMs: {} at start, {} at the end; reloads {}; wasm errors logged {}",
            self.wasm_vms_start,
            self.wasm_vms_end,
            self.vm_reloads,
            self.wasm_errors.len()
        );
        let _ = writeln!(
            s,
            "shared data: at most {} keys by configuration (Envoy exposes no key count); records reset: {}",
            self.shared_key_bound, self.decode_resets
        );
        let _ = writeln!(
            s,
            "in-flight gauge after the traffic stopped: {}",
            self.inflight_after
        );
        let failures = self.failures();
        if failures.is_empty() {
            let _ = writeln!(s, "\nresult: PASS");
        } else {
            let _ = writeln!(s, "\nresult: FAIL");
            for f in failures {
                let _ = writeln!(s, "  - {f}");
            }
        }
        s
    }
}

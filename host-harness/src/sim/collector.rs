//! What happened, per interval, turned into a [`Report`].

use crate::host::metrics::{MetricKind, MetricStore};
use sluice_report::histogram::Histogram;
use sluice_report::model::{
    ClassInterval, ClassTotals, Interval, Report, Totals, UpstreamInterval, VmEvent,
};
use std::collections::BTreeMap;
use std::time::Duration;

/// How a request ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A filter answered locally, with this reason.
    Shed(String),
    /// 2xx or 3xx from the upstream.
    Success,
    /// 5xx from the upstream or the proxy (error, timeout, reset).
    Failure,
}

#[derive(Clone, Debug, Default)]
struct ClassAcc {
    offered: u64,
    admitted: u64,
    shed: BTreeMap<String, u64>,
    succeeded: u64,
    failed: u64,
    latency: Histogram,
}

#[derive(Clone, Debug, Default)]
struct UpstreamAcc {
    requests: u64,
    errors: u64,
    inflight: u64,
    latency: Histogram,
}

#[derive(Clone, Debug, Default)]
struct IntervalAcc {
    classes: Vec<ClassAcc>,
    upstream: Vec<UpstreamAcc>,
    latency: Histogram,
    inflight: u64,
    metrics: BTreeMap<String, f64>,
}

/// Accumulates the run.
#[derive(Debug)]
pub struct Collector {
    interval: Duration,
    classes: Vec<String>,
    clusters: Vec<String>,
    intervals: Vec<IntervalAcc>,
    pub vm_events: Vec<VmEvent>,
}

impl Collector {
    pub fn new(
        interval: Duration,
        duration: Duration,
        classes: Vec<String>,
        clusters: Vec<String>,
    ) -> Self {
        let n = (duration.as_nanos().div_ceil(interval.as_nanos().max(1))).max(1) as usize;
        let blank = IntervalAcc {
            classes: vec![ClassAcc::default(); classes.len()],
            upstream: vec![UpstreamAcc::default(); clusters.len()],
            ..Default::default()
        };
        Collector {
            interval,
            classes,
            clusters,
            intervals: vec![blank; n],
            vm_events: Vec::new(),
        }
    }

    fn at(&mut self, now: Duration) -> Option<&mut IntervalAcc> {
        let i = (now.as_nanos() / self.interval.as_nanos().max(1)) as usize;
        self.intervals.get_mut(i)
    }

    pub fn record_offered(&mut self, now: Duration, class: usize) {
        if let Some(c) = self.at(now).and_then(|a| a.classes.get_mut(class)) {
            c.offered += 1;
        }
    }

    pub fn record_admitted(&mut self, now: Duration, class: usize, cluster: Option<usize>) {
        if let Some(a) = self.at(now) {
            if let Some(c) = a.classes.get_mut(class) {
                c.admitted += 1;
            }
            if let Some(u) = cluster.and_then(|k| a.upstream.get_mut(k)) {
                u.requests += 1;
            }
        }
    }

    /// An upstream answered (or failed) a request after `latency`.
    pub fn upstream_done(&mut self, now: Duration, cluster: usize, status: u16, latency: Duration) {
        if let Some(u) = self.at(now).and_then(|a| a.upstream.get_mut(cluster)) {
            if status >= 500 {
                u.errors += 1;
            }
            u.latency.record(latency.as_secs_f64() * 1e3);
        }
    }

    /// A request ended. `latency` is set for admitted requests.
    pub fn completed(
        &mut self,
        now: Duration,
        class: usize,
        outcome: &Outcome,
        latency: Option<Duration>,
    ) {
        let Some(a) = self.at(now) else { return };
        let ms = latency.map(|l| l.as_secs_f64() * 1e3);
        if let Some(ms) = ms {
            a.latency.record(ms);
        }
        let Some(c) = a.classes.get_mut(class) else {
            return;
        };
        match outcome {
            Outcome::Shed(reason) => *c.shed.entry(reason.clone()).or_default() += 1,
            Outcome::Success => c.succeeded += 1,
            Outcome::Failure => c.failed += 1,
        }
        if let Some(ms) = ms {
            c.latency.record(ms);
        }
    }

    /// End-of-interval snapshot of gauges.
    pub fn sample(
        &mut self,
        now: Duration,
        inflight: u64,
        cluster_load: &[u64],
        metrics: &MetricStore,
    ) {
        // `now` is the interval's end; attribute to the interval it closes.
        let at = now.saturating_sub(Duration::from_nanos(1));
        let Some(a) = self.at(at) else { return };
        a.inflight = inflight;
        for (u, load) in a.upstream.iter_mut().zip(cluster_load) {
            u.inflight = *load;
        }
        a.metrics = metrics
            .all()
            .iter()
            .filter(|m| m.kind != MetricKind::Histogram)
            .map(|m| (m.name.clone(), m.value as f64))
            .collect();
    }

    /// Intervals that start at or after `from` and end at or before `to`.
    pub fn window(&self, from: Duration, to: Duration) -> std::ops::Range<usize> {
        let step = self.interval.as_nanos().max(1);
        let start = from.as_nanos().div_ceil(step) as usize;
        let end = (to.as_nanos() / step) as usize;
        start.min(self.intervals.len())
            ..end
                .min(self.intervals.len())
                .max(start.min(self.intervals.len()))
    }

    pub fn window_seconds(&self, w: &std::ops::Range<usize>) -> f64 {
        w.len() as f64 * self.interval.as_secs_f64()
    }

    fn sum(
        &self,
        w: &std::ops::Range<usize>,
        class: Option<usize>,
        f: impl Fn(&ClassAcc) -> u64,
    ) -> u64 {
        self.intervals[w.clone()]
            .iter()
            .flat_map(|a| a.classes.iter().enumerate())
            .filter(|(k, _)| class.is_none_or(|c| c == *k))
            .map(|(_, c)| f(c))
            .sum()
    }

    pub fn offered(&self, w: &std::ops::Range<usize>, class: Option<usize>) -> u64 {
        self.sum(w, class, |c| c.offered)
    }

    pub fn admitted(&self, w: &std::ops::Range<usize>, class: Option<usize>) -> u64 {
        self.sum(w, class, |c| c.admitted)
    }

    pub fn succeeded(&self, w: &std::ops::Range<usize>, class: Option<usize>) -> u64 {
        self.sum(w, class, |c| c.succeeded)
    }

    pub fn shed(
        &self,
        w: &std::ops::Range<usize>,
        class: Option<usize>,
        reason: Option<&str>,
    ) -> u64 {
        self.sum(w, class, |c| match reason {
            Some(r) => c.shed.get(r).copied().unwrap_or(0),
            None => c.shed.values().sum(),
        })
    }

    pub fn latency(&self, w: &std::ops::Range<usize>, class: Option<usize>) -> Histogram {
        let mut h = Histogram::new();
        for a in &self.intervals[w.clone()] {
            match class {
                None => h.merge(&a.latency),
                Some(k) => {
                    if let Some(c) = a.classes.get(k) {
                        h.merge(&c.latency);
                    }
                }
            }
        }
        h
    }

    pub fn upstream_requests(&self, w: &std::ops::Range<usize>, cluster: Option<usize>) -> u64 {
        self.intervals[w.clone()]
            .iter()
            .flat_map(|a| a.upstream.iter().enumerate())
            .filter(|(k, _)| cluster.is_none_or(|c| c == *k))
            .map(|(_, u)| u.requests)
            .sum()
    }

    /// The metric's value at the end of each interval in the window where
    /// it was defined.
    pub fn metric_values(&self, w: &std::ops::Range<usize>, name: &str) -> Vec<f64> {
        self.intervals[w.clone()]
            .iter()
            .filter_map(|a| a.metrics.get(name).copied())
            .collect()
    }

    pub fn vm_event_count(&self, kind: Option<&str>) -> usize {
        self.vm_events
            .iter()
            .filter(|e| kind.is_none_or(|k| e.kind == k))
            .count()
    }

    pub fn finish(self) -> Report {
        let secs = self.interval.as_secs_f64();
        let mut totals_acc: Vec<ClassAcc> = vec![ClassAcc::default(); self.classes.len()];
        let mut all_latency = Histogram::new();
        let mut upstream_totals: BTreeMap<String, u64> =
            self.clusters.iter().map(|c| (c.clone(), 0)).collect();
        let mut series = Vec::with_capacity(self.intervals.len());
        for (i, acc) in self.intervals.iter().enumerate() {
            let mut classes = BTreeMap::new();
            for (k, c) in acc.classes.iter().enumerate() {
                let t = &mut totals_acc[k];
                t.offered += c.offered;
                t.admitted += c.admitted;
                for (r, n) in &c.shed {
                    *t.shed.entry(r.clone()).or_default() += n;
                }
                t.succeeded += c.succeeded;
                t.failed += c.failed;
                t.latency.merge(&c.latency);
                classes.insert(
                    self.classes[k].clone(),
                    ClassInterval {
                        offered: c.offered,
                        admitted: c.admitted,
                        shed: c.shed.clone(),
                        succeeded: c.succeeded,
                        failed: c.failed,
                        latency_ms: c.latency.quantiles(),
                    },
                );
            }
            all_latency.merge(&acc.latency);
            let mut upstream = BTreeMap::new();
            for (k, u) in acc.upstream.iter().enumerate() {
                *upstream_totals.entry(self.clusters[k].clone()).or_default() += u.requests;
                upstream.insert(
                    self.clusters[k].clone(),
                    UpstreamInterval {
                        requests: u.requests,
                        errors: u.errors,
                        inflight: u.inflight,
                        latency_ms: u.latency.quantiles(),
                    },
                );
            }
            series.push(Interval {
                start_s: i as f64 * secs,
                end_s: (i + 1) as f64 * secs,
                classes,
                latency_ms: acc.latency.quantiles(),
                inflight: acc.inflight,
                upstream,
                metrics: acc.metrics.clone(),
            });
        }
        let duration = self.intervals.len() as f64 * secs;
        let offered: u64 = totals_acc.iter().map(|c| c.offered).sum();
        let succeeded: u64 = totals_acc.iter().map(|c| c.succeeded).sum();
        let classes = totals_acc
            .iter()
            .enumerate()
            .map(|(k, c)| {
                (
                    self.classes[k].clone(),
                    ClassTotals {
                        offered: c.offered,
                        admitted: c.admitted,
                        shed: c.shed.clone(),
                        succeeded: c.succeeded,
                        failed: c.failed,
                        success_rate: if c.offered == 0 {
                            1.0
                        } else {
                            c.succeeded as f64 / c.offered as f64
                        },
                        latency_ms: c.latency.quantiles(),
                    },
                )
            })
            .collect();
        Report {
            classes: self.classes,
            clusters: self.clusters,
            series,
            totals: Totals {
                classes,
                upstream: upstream_totals,
                offered_rps: offered as f64 / duration.max(1e-9),
                goodput_rps: succeeded as f64 / duration.max(1e-9),
                latency_ms: all_latency.quantiles(),
            },
            vm_events: self.vm_events,
            ..Default::default()
        }
    }
}

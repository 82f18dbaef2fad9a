//! The throttle's stats, declared once.
//!
//! Names follow Envoy's dotted convention with tag values in fixed positions,
//! `sluice.throttle.<stat>[.class.<class>][.reason.<reason>]`, so the
//! bootstrap's `stats_tags` (see `envoy-configs/`) can extract `sluice_class`
//! and `sluice_reason` as Prometheus labels. The filter README has the table.

use sluice_core::decision::ShedReason;
use sluice_core::limit::tuner::{Cause, TunerMove};
use sluice_core::priority::{ClassId, PriorityClasses};
use sluice_glue::metrics::{shared_data_counters, MetricDef};

/// Index arithmetic over the table built by [`table`].
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    classes: usize,
}

/// Per route (destination index ≥ 1), after the fixed and per-class
/// entries: its limit and its in-flight gauges.
const PER_ROUTE: usize = 2;

const GAUGE_INFLIGHT: usize = 0;
const GAUGE_LIMIT: usize = 1;
/// Three counters: CAS retries, decode resets, deferred writes.
const COUNTERS_SHARED_DATA: usize = 2;
const COUNTER_UNKNOWN_PRIORITY: usize = 5;
const GAUGE_LATENCY_MS: usize = 6;
const GAUGE_MIN_RTT_MS: usize = 7;
const GAUGE_TUNER_MAX_LIMIT: usize = 8;
const GAUGE_TUNER_SHARE_SCALE: usize = 9;
const GAUGE_TUNER_AGGRESSION: usize = 10;
const COUNTER_TUNER_TIGHTEN_LATENCY: usize = 11;
const COUNTER_TUNER_TIGHTEN_ERRORS: usize = 12;
const COUNTER_TUNER_RELAX: usize = 13;
const COUNTER_UNTRUSTED_STEERING: usize = 14;
const FIXED: usize = 15;

impl Layout {
    /// In-flight gauge of destination `d` (0: the top-level one).
    pub fn inflight(self, d: usize) -> usize {
        match d {
            0 => GAUGE_INFLIGHT,
            d => self.route(d) + 1,
        }
    }
    /// Limit gauge of destination `d`.
    pub fn limit(self, d: usize) -> usize {
        match d {
            0 => GAUGE_LIMIT,
            d => self.route(d),
        }
    }
    fn route(self, d: usize) -> usize {
        FIXED + self.classes * (1 + 2 * ShedReason::ALL.len()) + (d - 1) * PER_ROUTE
    }
    /// The first of the three shared-data counters.
    pub fn shared_data(self) -> usize {
        COUNTERS_SHARED_DATA
    }
    pub fn unknown_priority(self) -> usize {
        COUNTER_UNKNOWN_PRIORITY
    }
    /// Requests from untrusted sources that carried a steering header.
    pub fn untrusted_steering(self) -> usize {
        COUNTER_UNTRUSTED_STEERING
    }
    pub fn latency_ms(self) -> usize {
        GAUGE_LATENCY_MS
    }
    pub fn min_rtt_ms(self) -> usize {
        GAUGE_MIN_RTT_MS
    }
    pub fn tuner_max_limit(self) -> usize {
        GAUGE_TUNER_MAX_LIMIT
    }
    /// Per mille: gauges are integers.
    pub fn tuner_share_scale(self) -> usize {
        GAUGE_TUNER_SHARE_SCALE
    }
    /// Per mille.
    pub fn tuner_aggression(self) -> usize {
        GAUGE_TUNER_AGGRESSION
    }
    pub fn tuner_move(self, step: TunerMove) -> Option<usize> {
        match step {
            TunerMove::Tighten(Cause::Latency) => Some(COUNTER_TUNER_TIGHTEN_LATENCY),
            TunerMove::Tighten(Cause::ErrorRate) => Some(COUNTER_TUNER_TIGHTEN_ERRORS),
            TunerMove::Relax => Some(COUNTER_TUNER_RELAX),
            TunerMove::Hold | TunerMove::Cooldown => None,
        }
    }
    pub fn admitted(self, class: ClassId) -> usize {
        FIXED + class.index()
    }
    pub fn shed(self, class: ClassId, reason: ShedReason) -> usize {
        let r = ShedReason::ALL
            .iter()
            .position(|x| *x == reason)
            .unwrap_or(0);
        FIXED + self.classes + class.index() * ShedReason::ALL.len() + r
    }
    /// Shed decisions not carried out (shadow mode, `enforce_percent`).
    pub fn shadow_shed(self, class: ClassId, reason: ShedReason) -> usize {
        self.shed(class, reason) + self.classes * ShedReason::ALL.len()
    }
}

/// The metric table for a set of classes, and its layout.
pub fn table(classes: &PriorityClasses, routes: &[&str]) -> (Vec<MetricDef>, Layout) {
    let mut t = vec![
        MetricDef::gauge("sluice.throttle.inflight"),
        MetricDef::gauge("sluice.throttle.limit"),
    ];
    t.extend(shared_data_counters("sluice.throttle"));
    t.extend([
        MetricDef::counter("sluice.throttle.priority_unknown"),
        MetricDef::gauge("sluice.throttle.latency_ms"),
        MetricDef::gauge("sluice.throttle.min_rtt_ms"),
        MetricDef::gauge("sluice.throttle.tuner.max_limit"),
        MetricDef::gauge("sluice.throttle.tuner.share_scale_permille"),
        MetricDef::gauge("sluice.throttle.tuner.aggression_permille"),
        MetricDef::counter("sluice.throttle.tuner.tighten.cause.latency"),
        MetricDef::counter("sluice.throttle.tuner.tighten.cause.error_rate"),
        MetricDef::counter("sluice.throttle.tuner.relax"),
        MetricDef::counter("sluice.throttle.untrusted_steering"),
    ]);
    for id in classes.ids() {
        t.push(MetricDef::counter(format!(
            "sluice.throttle.rq_admitted.class.{}",
            classes.name(id)
        )));
    }
    for id in classes.ids() {
        for reason in ShedReason::ALL {
            t.push(MetricDef::counter(format!(
                "sluice.throttle.rq_shed.class.{}.reason.{}",
                classes.name(id),
                reason.as_str()
            )));
        }
    }
    for id in classes.ids() {
        for reason in ShedReason::ALL {
            t.push(MetricDef::counter(format!(
                "sluice.throttle.rq_shadow_shed.class.{}.reason.{}",
                classes.name(id),
                reason.as_str()
            )));
        }
    }
    for route in routes {
        t.push(MetricDef::gauge(format!(
            "sluice.throttle.route_limit.destination.{route}"
        )));
        t.push(MetricDef::gauge(format!(
            "sluice.throttle.route_inflight.destination.{route}"
        )));
    }
    (
        t,
        Layout {
            classes: classes.len(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_indexes_match_table_names() {
        let classes = PriorityClasses::standard();
        let (t, l) = table(&classes, &["checkout"]);
        let sheddable = classes.by_name(b"sheddable").expect("class");
        assert_eq!(
            t[l.admitted(sheddable)].name,
            "sluice.throttle.rq_admitted.class.sheddable"
        );
        assert_eq!(
            t[l.shed(sheddable, ShedReason::ConcurrencyLimit)].name,
            "sluice.throttle.rq_shed.class.sheddable.reason.concurrency_limit"
        );
        assert_eq!(
            t[l.shadow_shed(sheddable, ShedReason::ConcurrencyLimit)].name,
            "sluice.throttle.rq_shadow_shed.class.sheddable.reason.concurrency_limit"
        );
        assert_eq!(
            t[l.shed(sheddable, ShedReason::SuccessRate)].name,
            "sluice.throttle.rq_shed.class.sheddable.reason.success_rate"
        );
        assert_eq!(
            t[l.shed(sheddable, ShedReason::SloGuard)].name,
            "sluice.throttle.rq_shed.class.sheddable.reason.slo_guard"
        );
        let relax = l.tuner_move(TunerMove::Relax).expect("counted");
        assert_eq!(t[relax].name, "sluice.throttle.tuner.relax");
        assert_eq!(
            t[l.limit(1)].name,
            "sluice.throttle.route_limit.destination.checkout"
        );
        assert_eq!(
            t[l.inflight(1)].name,
            "sluice.throttle.route_inflight.destination.checkout"
        );
        assert_eq!(t[l.inflight(0)].name, "sluice.throttle.inflight");
        assert_eq!(t.len(), l.inflight(1) + 1);
    }
}

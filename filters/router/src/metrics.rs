//! The router's stats, declared once per configured cluster.
//!
//! `sluice.router.<stat>.cluster.<cluster>[.reason.<reason>]`, with the
//! cluster name's `.`, `:` and `|` written as `_` so that the bootstrap's
//! `stats_tags` can extract `sluice_cluster` and `sluice_reason`.

use sluice_core::config::ClusterConfig;
use sluice_core::route::RouteReason;
use sluice_glue::metrics::{shared_data_counters, MetricDef};

/// Three counters: CAS retries, decode resets, deferred writes.
const COUNTERS_SHARED_DATA: usize = 0;
const FIXED: usize = 3;

const REASONS: usize = RouteReason::ALL.len();
/// Per cluster: decisions and shadow decisions by reason, then these.
const GAUGE_LATENCY_MS: usize = 2 * REASONS;
const GAUGE_ERROR_PERMILLE: usize = GAUGE_LATENCY_MS + 1;
const GAUGE_INFLIGHT: usize = GAUGE_LATENCY_MS + 2;
const GAUGE_AVOIDED: usize = GAUGE_LATENCY_MS + 3;
const COUNTER_AVOIDS: usize = GAUGE_LATENCY_MS + 4;
const COUNTER_RETURNS: usize = GAUGE_LATENCY_MS + 5;
const PER_CLUSTER: usize = GAUGE_LATENCY_MS + 6;

/// Index arithmetic over the table built by [`table`].
#[derive(Clone, Copy, Debug)]
pub struct Layout;

impl Layout {
    /// The first of the three shared-data counters.
    pub fn shared_data(self) -> usize {
        COUNTERS_SHARED_DATA
    }
    fn cluster(self, cluster: usize) -> usize {
        FIXED + cluster * PER_CLUSTER
    }
    pub fn decision(self, cluster: usize, reason: RouteReason) -> usize {
        self.cluster(cluster) + reason.index()
    }
    pub fn shadow_decision(self, cluster: usize, reason: RouteReason) -> usize {
        self.cluster(cluster) + REASONS + reason.index()
    }
    pub fn latency_ms(self, cluster: usize) -> usize {
        self.cluster(cluster) + GAUGE_LATENCY_MS
    }
    pub fn error_permille(self, cluster: usize) -> usize {
        self.cluster(cluster) + GAUGE_ERROR_PERMILLE
    }
    pub fn inflight(self, cluster: usize) -> usize {
        self.cluster(cluster) + GAUGE_INFLIGHT
    }
    pub fn avoided(self, cluster: usize) -> usize {
        self.cluster(cluster) + GAUGE_AVOIDED
    }
    pub fn shift(self, cluster: usize, avoided: bool) -> usize {
        self.cluster(cluster)
            + if avoided {
                COUNTER_AVOIDS
            } else {
                COUNTER_RETURNS
            }
    }
}

pub fn table(clusters: &[ClusterConfig]) -> (Vec<MetricDef>, Layout) {
    let mut t = shared_data_counters("sluice.router").to_vec();
    for c in clusters {
        let name = c.stat_name();
        for stat in ["rq", "rq_shadow"] {
            for reason in RouteReason::ALL {
                t.push(MetricDef::counter(format!(
                    "sluice.router.{stat}.cluster.{name}.reason.{}",
                    reason.as_str()
                )));
            }
        }
        for gauge in ["latency_ms", "error_permille", "inflight", "avoided"] {
            t.push(MetricDef::gauge(format!(
                "sluice.router.{gauge}.cluster.{name}"
            )));
        }
        for counter in ["outlier_avoid", "outlier_return"] {
            t.push(MetricDef::counter(format!(
                "sluice.router.{counter}.cluster.{name}"
            )));
        }
    }
    (t, Layout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_indexes_match_table_names() {
        let clusters: Vec<ClusterConfig> = ["a", "app.v2:80"]
            .iter()
            .map(|n| ClusterConfig {
                name: n.to_string(),
                throttle_destination: None,
                limit: None,
            })
            .collect();
        let (t, l) = table(&clusters);
        assert_eq!(
            t[l.decision(1, RouteReason::Spillover)].name,
            "sluice.router.rq.cluster.app_v2_80.reason.spillover"
        );
        assert_eq!(
            t[l.shadow_decision(0, RouteReason::P2c)].name,
            "sluice.router.rq_shadow.cluster.a.reason.p2c"
        );
        assert_eq!(
            t[l.latency_ms(1)].name,
            "sluice.router.latency_ms.cluster.app_v2_80"
        );
        assert_eq!(t[l.avoided(0)].name, "sluice.router.avoided.cluster.a");
        assert_eq!(
            t[l.shift(1, false)].name,
            "sluice.router.outlier_return.cluster.app_v2_80"
        );
        assert_eq!(t.len(), l.shift(1, false) + 1);
    }
}

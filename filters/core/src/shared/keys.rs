//! Shared-data keys, one place for both filters: the throttle writes the
//! records a router reads (in-flight and limit, for spillover), so the two
//! must agree on the names. The version in each key lets a new record
//! format live beside the old one during an upgrade.

use std::time::Duration;

/// A throttle destination's in-flight record (lanes).
pub fn inflight(destination: &str) -> String {
    format!("sluice.v1.inflight.{destination}")
}

/// A throttle destination's adaptive-limit record.
pub fn limit(destination: &str) -> String {
    format!("sluice.v1.limit.{destination}")
}

/// A throttle destination's success counts.
pub fn success(destination: &str) -> String {
    format!("sluice.v1.success.{destination}")
}

/// A throttle destination's per-class demand (strict priority admission).
pub fn demand(destination: &str) -> String {
    format!("sluice.v1.demand.{destination}")
}

/// A throttle destination's SLO tuner record.
pub fn tuner(destination: &str) -> String {
    format!("sluice.v1.tuner.{destination}")
}

/// One bucket of a throttle destination's per-tenant in-flight counts
/// (lanes; `tenant::TENANT_BUCKETS` buckets per destination).
pub fn tenant_inflight(destination: &str, bucket: usize) -> String {
    format!("sluice.v1.tenant_inflight.{destination}.{bucket}")
}

/// The router's in-flight record of an Envoy cluster (lanes).
pub fn cluster_inflight(cluster: &str) -> String {
    format!("sluice.v1.cluster_inflight.{cluster}")
}

/// The router's latency/error/outlier record of an Envoy cluster.
pub fn cluster_stats(cluster: &str) -> String {
    format!("sluice.v1.cluster_stats.{cluster}")
}

/// How long a lane counts without a heartbeat: four ticks, at least 2 s, so
/// one late tick never drops a live worker's requests from the count.
pub fn lane_ttl(tick: Duration) -> Duration {
    (tick * 4).max(Duration::from_secs(2))
}

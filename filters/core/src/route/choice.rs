//! Choosing among candidate clusters: power of two choices by cost, with
//! outliers left out (and probed), and rendezvous hashing for sticky keys.
//!
//! ```text
//! cost(c) = (latency(c) + 1 ms) × (inflight(c) + 1) / weight(c)
//! ```
//!
//! `latency` is the cluster's peak-EWMA latency from the shared stats and
//! `inflight` its requests in flight across every worker: the load metric of
//! Finagle's and linkerd2-proxy's balancers ("peak EWMA", Twitter's
//! *Finagle* `PeakEwma`; linkerd2-proxy `tower::load::PeakEwma`), divided by
//! the configured weight so that a cluster of weight 2 is as loaded as one of
//! weight 1 at twice the cost. Two candidates are drawn (in proportion to
//! weight, without replacement) and the cheaper one wins: Mitzenmacher's
//! *The Power of Two Choices in Randomized Load Balancing* (2001), which
//! avoids the herd behaviour of always picking the single cheapest. A
//! cluster with no samples yet costs as if its latency were the floor, so it
//! is tried and measured at once.

use super::RouteReason;
use crate::random::Random;

/// What the router knows about one cluster, as of the last tick.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ClusterView {
    /// Peak-EWMA latency in seconds (0 before any sample).
    pub latency: f64,
    pub inflight: u64,
    /// Left out of choices as an outlier (except for probes).
    pub avoided: bool,
    /// The throttle's in-flight count for this cluster is near its limit.
    pub near_limit: bool,
}

/// A candidate cluster (index into the configured clusters) and its weight.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Weighted {
    pub cluster: usize,
    pub weight: f64,
}

/// The latency floor added to every cost (1 ms): keeps an unmeasured or
/// very fast cluster's cost from being zero, so in-flight still counts.
const LATENCY_FLOOR_S: f64 = 0.001;

fn cost(c: Weighted, views: &[ClusterView]) -> f64 {
    let v = views.get(c.cluster).copied().unwrap_or_default();
    (v.latency.max(0.0) + LATENCY_FLOOR_S) * (v.inflight as f64 + 1.0) / c.weight
}

fn avoided(c: &Weighted, views: &[ClusterView]) -> bool {
    views.get(c.cluster).is_some_and(|v| v.avoided)
}

/// Draws an index from `pool` in proportion to weight, skipping `except`.
fn draw(pool: &[Weighted], except: Option<usize>, random: &mut impl Random) -> Option<usize> {
    let total: f64 = pool
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != except)
        .map(|(_, c)| c.weight)
        .sum();
    if total <= 0.0 {
        return None;
    }
    let mut x = random.next_unit() * total;
    let mut last = None;
    for (i, c) in pool.iter().enumerate() {
        if Some(i) == except {
            continue;
        }
        last = Some(i);
        if x < c.weight {
            return Some(i);
        }
        x -= c.weight;
    }
    last
}

/// Power of two choices among `candidates`. Avoided candidates are left
/// out, except that with probability `probe_fraction` one of them is
/// chosen on purpose; if every candidate is avoided, all are used (leaving
/// none would refuse the traffic outright).
pub fn p2c(
    candidates: &[Weighted],
    views: &[ClusterView],
    probe_fraction: f64,
    random: &mut impl Random,
) -> Option<(usize, RouteReason)> {
    let healthy: Vec<Weighted> = candidates
        .iter()
        .copied()
        .filter(|c| !avoided(c, views))
        .collect();
    let outliers = healthy.len() < candidates.len();
    if outliers && !healthy.is_empty() && random.next_unit() < probe_fraction {
        let sick: Vec<Weighted> = candidates
            .iter()
            .copied()
            .filter(|c| avoided(c, views))
            .collect();
        let i = draw(&sick, None, random)?;
        return Some((sick[i].cluster, RouteReason::OutlierProbe));
    }
    let pool = if healthy.is_empty() {
        candidates
    } else {
        &healthy
    };
    let reason = if outliers && !healthy.is_empty() {
        RouteReason::OutlierAvoid
    } else {
        RouteReason::P2c
    };
    let a = draw(pool, None, random)?;
    let chosen = match draw(pool, Some(a), random) {
        Some(b) if cost(pool[b], views) < cost(pool[a], views) => b,
        _ => a,
    };
    Some((pool[chosen].cluster, reason))
}

/// Weighted rendezvous (highest random weight) hashing: the candidate with
/// the highest `−weight / ln(u)`, where `u ∈ (0, 1)` is a hash of the key
/// and the cluster. Removing a candidate (an outlier) moves only the keys
/// that were on it. Thaler & Ravishankar, *Using name-based mappings to
/// increase hit rates* (1998); the weighted form is Schindelhauer &
/// Schomaker's.
pub fn rendezvous(candidates: &[Weighted], views: &[ClusterView], key: &[u8]) -> Option<usize> {
    let healthy: Vec<Weighted> = candidates
        .iter()
        .copied()
        .filter(|c| !avoided(c, views))
        .collect();
    let pool = if healthy.is_empty() {
        candidates
    } else {
        &healthy
    };
    pool.iter()
        .map(|c| {
            let h = fnv1a(key, c.cluster as u64);
            // Top 53 bits as a unit in (0, 1).
            let u = ((h >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
            (c.cluster, -c.weight / u.ln())
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(cluster, _)| cluster)
}

/// 64-bit FNV-1a of `key` then `salt`, finished with a splitmix64 mix so
/// that nearby salts give unrelated values.
fn fnv1a(key: &[u8], salt: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in key.iter().chain(salt.to_le_bytes().iter()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

#[cfg(test)]
mod tests;

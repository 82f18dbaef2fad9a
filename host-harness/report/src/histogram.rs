//! A mergeable latency histogram with bounded relative error.
//!
//! Buckets grow geometrically by `2^(1/16)` (about 4.4 %) from 1 µs, so a
//! quantile read from the histogram is within ~2.2 % of the true sample value
//! (the bucket midpoint is reported). Histograms add bucket-wise, so windows
//! and workers merge exactly; this is the HDR-histogram idea (Gil Tene) with
//! a fixed log-linear layout.

use serde::{Deserialize, Serialize};

const SUB_BUCKETS_PER_OCTAVE: f64 = 16.0;
const MIN_MS: f64 = 0.001;
/// 1 µs to ~1.2 hours.
const BUCKETS: usize = 16 * 32;

/// Counts of latency samples in log-spaced buckets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max_ms: f64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; BUCKETS],
            total: 0,
            max_ms: 0.0,
        }
    }
}

fn bucket_of(ms: f64) -> usize {
    if ms.is_nan() || ms <= MIN_MS {
        return 0;
    }
    let b = ((ms / MIN_MS).log2() * SUB_BUCKETS_PER_OCTAVE).floor();
    (b as usize).min(BUCKETS - 1)
}

fn bucket_mid_ms(b: usize) -> f64 {
    let lo = MIN_MS * 2f64.powf(b as f64 / SUB_BUCKETS_PER_OCTAVE);
    let hi = MIN_MS * 2f64.powf((b + 1) as f64 / SUB_BUCKETS_PER_OCTAVE);
    (lo + hi) / 2.0
}

impl Histogram {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn record(&mut self, ms: f64) {
        self.counts[bucket_of(ms)] += 1;
        self.total += 1;
        if ms > self.max_ms {
            self.max_ms = ms;
        }
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.max_ms = self.max_ms.max(other.max_ms);
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    pub fn max(&self) -> f64 {
        self.max_ms
    }

    /// The `q`-quantile (0..=1) in milliseconds; 0 for an empty histogram.
    pub fn quantile(&self, q: f64) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (b, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return bucket_mid_ms(b).min(self.max_ms);
            }
        }
        self.max_ms
    }

    pub fn quantiles(&self) -> crate::model::Quantiles {
        crate::model::Quantiles {
            count: self.total,
            p50: self.quantile(0.50),
            p90: self.quantile(0.90),
            p99: self.quantile(0.99),
            max: self.max_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_the_bucket_error() {
        let mut h = Histogram::new();
        for i in 1..=10_000 {
            h.record(i as f64 / 100.0); // 0.01 .. 100 ms
        }
        for (q, want) in [(0.5, 50.0), (0.9, 90.0), (0.99, 99.0)] {
            let got = h.quantile(q);
            assert!((got - want).abs() / want < 0.03, "q{q}: {got} vs {want}");
        }
        assert_eq!(h.max(), 100.0);
    }

    #[test]
    fn merge_adds_counts() {
        let mut a = Histogram::new();
        let mut b = Histogram::new();
        a.record(1.0);
        b.record(10.0);
        b.record(10.0);
        a.merge(&b);
        assert_eq!(a.count(), 3);
        assert!((a.quantile(1.0) - 10.0).abs() < 0.5);
        assert_eq!(Histogram::new().quantile(0.99), 0.0);
    }
}

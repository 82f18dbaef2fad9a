//! A cluster's live stats for the router, shared by every worker: the
//! peak-EWMA latency (for the balancer's cost), a plain latency EWMA and the
//! error-rate EWMA (for outlier judgments: one slow response must not make
//! a cluster an outlier), how many responses they rest on, and the cluster's
//! outlier state with the time it last changed.
//!
//! Workers gather their responses locally and fold them in on their tick
//! with compare-and-swap. A batch of `n` responses with mean latency `m`
//! and `e` errors moves the EWMAs as `n` single samples would:
//!
//! ```text
//! k        = 1 − (1 − α)^n
//! peak     = m                        if m > peak     (rise at once)
//!          = peak + k × (m − peak)    otherwise       (decay by samples)
//! smoothed = smoothed + k × (m − smoothed)
//! errors   = errors + k × (e / n − errors)
//! ```
//!
//! so the result does not depend on how the samples were split between
//! workers or ticks. The merge that changes the outlier state does it for
//! everyone, at most once per `dwell`:
//!
//! ```text
//! avoid  when errors > error_rate            or smoothed > latency_bound
//! return when errors < error_rate × (1 − h)  and smoothed < latency_bound × (1 − h)
//! ```
//!
//! and only once `min_requests` responses have been seen. An avoided cluster
//! still gets the router's probe fraction, so its EWMAs keep moving and its
//! return shows. As with the other records, a creation race can lose one
//! worker's first batch, once per record lifetime.
//!
//! Encoding, little-endian: version (1), peak latency EWMA (f64, seconds),
//! error EWMA (f64), responses seen (u32, saturating), avoided (u8), state
//! changed at (u64 ns), smoothed latency EWMA (f64, seconds).

use super::inflight::{UpdateStats, MAX_CAS_ATTEMPTS};
use super::kv::{cas_update, SharedKv, Step};
use crate::config::OutlierParams;
use crate::time::Timestamp;
use std::time::Duration;

const VERSION: u8 = 1;
const LEN: usize = 1 + 8 + 8 + 4 + 1 + 8 + 8;

/// The shared record.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DestinationRecord {
    /// Peak-EWMA latency, seconds.
    pub latency: f64,
    /// Plain EWMA latency, seconds.
    pub smoothed: f64,
    pub errors: f64,
    pub seen: u32,
    pub avoided: bool,
    pub changed_at: Timestamp,
}

impl DestinationRecord {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(LEN);
        out.push(VERSION);
        out.extend_from_slice(&self.latency.to_le_bytes());
        out.extend_from_slice(&self.errors.to_le_bytes());
        out.extend_from_slice(&self.seen.to_le_bytes());
        out.push(u8::from(self.avoided));
        out.extend_from_slice(&self.changed_at.as_nanos().to_le_bytes());
        out.extend_from_slice(&self.smoothed.to_le_bytes());
        out
    }

    /// `None` unless a version-1 record of the right size with finite,
    /// non-negative EWMAs.
    pub fn decode(bytes: &[u8]) -> Option<DestinationRecord> {
        if bytes.len() != LEN || bytes[0] != VERSION {
            return None;
        }
        let f = |at: usize| -> Option<f64> {
            Some(f64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
        };
        let (latency, errors, smoothed) = (f(1)?, f(9)?, f(30)?);
        if ![latency, errors, smoothed]
            .iter()
            .all(|v| v.is_finite() && *v >= 0.0)
        {
            return None;
        }
        let seen = u32::from_le_bytes(bytes.get(17..21)?.try_into().ok()?);
        let avoided = match bytes[21] {
            0 => false,
            1 => true,
            _ => return None,
        };
        let changed = u64::from_le_bytes(bytes.get(22..30)?.try_into().ok()?);
        Some(DestinationRecord {
            latency,
            smoothed,
            errors,
            seen,
            avoided,
            changed_at: Timestamp::from_nanos(changed),
        })
    }

    /// Folds a batch in (see the module docs).
    fn fold(&mut self, batch: &Batch, alpha: f64) {
        if batch.count == 0 {
            return;
        }
        let n = f64::from(batch.count);
        let k = 1.0 - (1.0 - alpha).powf(n);
        let mean = batch.latency_sum / n;
        if mean > self.latency || self.seen == 0 {
            self.latency = mean;
        } else {
            self.latency += k * (mean - self.latency);
        }
        if self.seen == 0 {
            self.smoothed = mean;
        } else {
            self.smoothed += k * (mean - self.smoothed);
        }
        let rate = f64::from(batch.errors) / n;
        self.errors = if self.seen == 0 {
            rate
        } else {
            self.errors + k * (rate - self.errors)
        };
        self.seen = self.seen.saturating_add(batch.count);
    }

    /// Moves the outlier state if the EWMAs say so and `dwell` has passed.
    /// Returns whether it changed.
    fn judge(&mut self, params: &OutlierParams, now: Timestamp) -> bool {
        if self.seen < params.min_requests || now.saturating_since(self.changed_at) < params.dwell {
            return false;
        }
        let latency_over = |factor: f64| {
            params
                .latency
                .is_some_and(|bound| self.smoothed > bound.as_secs_f64() * factor)
        };
        let next = if self.avoided {
            let back = 1.0 - params.hysteresis;
            // Stay avoided until both are clearly back under their bounds.
            self.errors >= params.error_rate * back || latency_over(back)
        } else {
            self.errors > params.error_rate || latency_over(1.0)
        };
        if next == self.avoided {
            return false;
        }
        self.avoided = next;
        self.changed_at = now;
        true
    }
}

/// Responses gathered locally since the last merge.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Batch {
    count: u32,
    errors: u32,
    latency_sum: f64,
}

/// What a merge did.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DestinationSync {
    /// Set when this merge changed the outlier state: the new state.
    pub shifted: Option<bool>,
    pub stats: UpdateStats,
}

/// One worker's handle on a cluster's stats.
#[derive(Debug)]
pub struct SharedDestination {
    key: String,
    batch: Batch,
    view: DestinationRecord,
}

impl SharedDestination {
    pub fn new(key: impl Into<String>) -> Self {
        SharedDestination {
            key: key.into(),
            batch: Batch::default(),
            view: DestinationRecord::default(),
        }
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    /// The record as of the last merge.
    pub fn view(&self) -> &DestinationRecord {
        &self.view
    }

    /// A response from this cluster: its latency and whether it failed.
    pub fn record(&mut self, latency: Duration, failed: bool) {
        let b = &mut self.batch;
        b.count = b.count.saturating_add(1);
        b.errors = b.errors.saturating_add(u32::from(failed));
        b.latency_sum += latency.as_secs_f64();
    }

    /// Folds this worker's batch into the shared record and judges the
    /// outlier state. The batch stays local on a lost race.
    pub fn sync(
        &mut self,
        kv: &impl SharedKv,
        now: Timestamp,
        alpha: f64,
        params: &OutlierParams,
    ) -> DestinationSync {
        let mut stats = UpdateStats::default();
        let batch = self.batch;
        let mut resets = 0;
        let outcome = cas_update(kv, &self.key, MAX_CAS_ATTEMPTS, |bytes| {
            let current = bytes.and_then(DestinationRecord::decode);
            if bytes.is_some() && current.is_none() {
                resets = 1;
            }
            // A new record has never changed state: the first judgment
            // need not wait a dwell.
            let mut rec = current.unwrap_or_default();
            rec.fold(&batch, alpha);
            let shifted = rec.judge(params, now).then_some(rec.avoided);
            if batch.count == 0 && shifted.is_none() && current.is_some() {
                // Nothing new: read, no write.
                return Step::Keep((rec, None));
            }
            Step::Write(rec.encode(), (rec, shifted))
        });
        stats.decode_resets = resets;
        let mut shifted = None;
        match outcome {
            Ok(o) => {
                stats.cas_retries = o.attempts.saturating_sub(1);
                if o.committed {
                    self.batch = Batch::default();
                    self.view = o.result.0;
                    shifted = o.result.1;
                } else {
                    stats.deferred = true;
                }
            }
            Err(_) => stats.deferred = true,
        }
        DestinationSync { shifted, stats }
    }
}

#[cfg(test)]
mod tests;

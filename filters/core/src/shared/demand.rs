//! Per-class demand at a destination, shared by every worker, for strict
//! priority admission (`limit::reservation`).
//!
//! One record per destination counts, per class, the requests offered
//! (admitted or refused: unmet demand is demand), and for the destination
//! the completed requests and the sum of their latencies, for the current
//! window and the previous one. Workers count locally and merge on their
//! tick with compare-and-swap (counts add); the merge that finds the window
//! over rolls it. Each worker then computes, from the record it read, each
//! class's demand in in-flight requests by Little's law:
//!
//! ```text
//! D_k = offered_k / span × mean latency        (span: previous window + current so far)
//! ```
//! so the request path never reads the record. As with the other summed
//! records, a creation race can lose one worker's first counts, once per
//! record lifetime.
//!
//! Encoding, little-endian: version (1), class count n (u8), window start
//! in ns (u64), previous window's length in ms (u32), last known mean
//! latency in µs (u32), completions (u32) and latency sum in µs (u64) of the
//! current then the previous window, then n × 2 u32: offered in the current
//! and in the previous window.

use super::inflight::{UpdateStats, MAX_CAS_ATTEMPTS};
use super::kv::{cas_update, SharedKv, Step};
use super::success::MAX_CLASSES;
use crate::limit::reservation;
use crate::time::Timestamp;
use std::cell::Cell;
use std::time::Duration;

const VERSION: u8 = 1;
const HEADER_LEN: usize = 1 + 1 + 8 + 4 + 4 + 2 * (4 + 8);

/// Completions and latency sum of one window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Completions {
    pub count: u32,
    pub latency_sum_us: u64,
}

impl Completions {
    fn add(&mut self, other: Completions) {
        self.count = self.count.saturating_add(other.count);
        self.latency_sum_us = self.latency_sum_us.saturating_add(other.latency_sum_us);
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemandRecord {
    pub window_start: Timestamp,
    /// Length of the previous window; 0 before the first roll.
    pub prev_len_ms: u32,
    /// Mean latency of the last window that completed anything.
    pub last_mean_us: u32,
    pub current: Completions,
    pub previous: Completions,
    /// Per class: offered in the current window, in the previous one.
    pub offered: Vec<(u32, u32)>,
}

impl DemandRecord {
    fn empty(now: Timestamp, classes: usize) -> Self {
        DemandRecord {
            window_start: now,
            prev_len_ms: 0,
            last_mean_us: 0,
            current: Completions::default(),
            previous: Completions::default(),
            offered: vec![(0, 0); classes],
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + 8 * self.offered.len());
        out.push(VERSION);
        out.push(self.offered.len() as u8);
        out.extend_from_slice(&self.window_start.as_nanos().to_le_bytes());
        out.extend_from_slice(&self.prev_len_ms.to_le_bytes());
        out.extend_from_slice(&self.last_mean_us.to_le_bytes());
        for c in [self.current, self.previous] {
            out.extend_from_slice(&c.count.to_le_bytes());
            out.extend_from_slice(&c.latency_sum_us.to_le_bytes());
        }
        for (cur, prev) in &self.offered {
            out.extend_from_slice(&cur.to_le_bytes());
            out.extend_from_slice(&prev.to_le_bytes());
        }
        out
    }

    /// `None` unless a version-1 record for exactly `classes` classes.
    pub fn decode(bytes: &[u8], classes: usize) -> Option<DemandRecord> {
        if bytes.len() != HEADER_LEN + 8 * classes
            || bytes[0] != VERSION
            || usize::from(bytes[1]) != classes
        {
            return None;
        }
        let u32_at = |at: usize| -> Option<u32> {
            Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
        };
        let u64_at = |at: usize| -> Option<u64> {
            Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
        };
        let completions = |at: usize| -> Option<Completions> {
            Some(Completions {
                count: u32_at(at)?,
                latency_sum_us: u64_at(at + 4)?,
            })
        };
        let mut offered = Vec::with_capacity(classes);
        for i in 0..classes {
            let at = HEADER_LEN + 8 * i;
            offered.push((u32_at(at)?, u32_at(at + 4)?));
        }
        Some(DemandRecord {
            window_start: Timestamp::from_nanos(u64_at(2)?),
            prev_len_ms: u32_at(10)?,
            last_mean_us: u32_at(14)?,
            current: completions(18)?,
            previous: completions(30)?,
            offered,
        })
    }

    /// Each class's offered rate (per second) over the previous window and
    /// the current one so far; `None` while no time span is known yet.
    pub fn rates(&self, now: Timestamp) -> Option<Vec<f64>> {
        let span = self.span_s(now);
        (span > 0.0).then(|| {
            self.offered
                .iter()
                .map(|(cur, prev)| (f64::from(*cur) + f64::from(*prev)) / span)
                .collect()
        })
    }

    /// Mean latency (seconds) of the requests completed in the two
    /// windows, or of the last window that completed any; `None` before
    /// the first completion.
    pub fn mean_latency_s(&self) -> Option<f64> {
        let mut done = self.current;
        done.add(self.previous);
        if done.count > 0 {
            Some(done.latency_sum_us as f64 / f64::from(done.count) / 1e6)
        } else if self.last_mean_us > 0 {
            Some(f64::from(self.last_mean_us) / 1e6)
        } else {
            None
        }
    }

    fn span_s(&self, now: Timestamp) -> f64 {
        now.saturating_since(self.window_start).as_secs_f64() + f64::from(self.prev_len_ms) / 1e3
    }

    /// Each class's demand in in-flight requests at `now` (Little's law),
    /// or `None` while no time span is known yet. Until the first request
    /// completes, nothing offered since the record began has left: each
    /// class's demand is then its offered count (Little's law with the
    /// latency at least the span).
    pub fn demands(&self, now: Timestamp) -> Option<Vec<f64>> {
        let latency = self.mean_latency_s().unwrap_or(self.span_s(now));
        let rates = self.rates(now)?;
        Some(rates.into_iter().map(|r| r * latency).collect())
    }
}

/// One worker's handle on a destination's demand record.
#[derive(Debug)]
pub struct SharedDemand {
    key: String,
    window: Duration,
    /// The tail the headroom is sized for (`admission.headroom_tail`), and
    /// the factor on the headroom in force: raised while requests are
    /// refused with a lower class holding slots (`record_inversion`).
    tail: f64,
    scale: f64,
    inversions: u32,
    last_inversion: Option<Timestamp>,
    local_offered: Vec<u32>,
    local_done: Completions,
    /// Per class offered rate (per second), the completion rate and the
    /// latency the demands rest on, as of the last flush.
    rates: Option<Vec<f64>>,
    throughput: f64,
    latency_s: f64,
    /// [`Self::headrooms`] at one fill, until the next flush.
    headroom_cache: Cell<Option<(u32, [f64; MAX_CLASSES])>>,
    /// When this worker first flushed, and the requests it has admitted
    /// since: with its own in flight, the latency of its start-up by
    /// Little's law (`W = N / λ_admitted`).
    started: Option<Timestamp>,
    admitted: u64,
    /// When this worker last flushed.
    last_flush: Option<Timestamp>,
    /// Whether the demands rest on at least one whole window.
    settled: bool,
}

/// Until its demand rests on a whole window (a fresh deployment), a worker
/// flushes from the request path at most this often instead of waiting
/// for its tick: at start-up under overload the lower classes fill the
/// limit in a few service times unless the classes above have their slots
/// reserved as their requests arrive.
pub const EARLY_FLUSH_INTERVAL: Duration = Duration::from_millis(5);

/// `z` of the Poisson quantiles that size a probe's room for the classes
/// it protects (`limit::reservation::reserved_above`).
pub const PROBE_SIGMAS: f64 = 3.0;

/// The most slots the classes above may use beyond the level a lower class
/// fills to: bounds the queue they may build on their own.
pub const MAX_HEADROOM: f64 = 32.0;

/// Bounds of the loop on the headroom's factor
/// ([`SharedDemand::record_inversion`]).
pub const SCALE_STEP_UP: f64 = 1.25;
pub const SCALE_STEP_DOWN: f64 = 0.95;
pub const MAX_SCALE: f64 = 2.0;

impl SharedDemand {
    /// `tail`: the probability the headroom leaves that a class above
    /// finds the limit full (`limit::reservation::ladder_headroom`).
    pub fn new(key: impl Into<String>, classes: usize, window: Duration, tail: f64) -> Self {
        let classes = classes.clamp(1, MAX_CLASSES);
        SharedDemand {
            key: key.into(),
            window,
            tail,
            scale: 1.0,
            inversions: 0,
            last_inversion: None,
            local_offered: vec![0; classes],
            local_done: Completions::default(),
            rates: None,
            throughput: 0.0,
            latency_s: 0.0,
            headroom_cache: Cell::new(None),
            started: None,
            admitted: 0,
            last_flush: None,
            settled: false,
        }
    }

    /// Until the demand is settled, flushes at most every
    /// [`EARLY_FLUSH_INTERVAL`]; `None` when it did not. `local_inflight`
    /// as for [`Self::flush`].
    pub fn flush_while_unsettled(
        &mut self,
        kv: &impl SharedKv,
        now: Timestamp,
        local_inflight: u32,
    ) -> Option<UpdateStats> {
        let due = !self.settled
            && self
                .last_flush
                .is_none_or(|at| now.saturating_since(at) >= EARLY_FLUSH_INTERVAL);
        due.then(|| self.flush(kv, now, local_inflight))
    }

    /// A request was admitted at the destination.
    pub fn record_admitted(&mut self) {
        self.admitted = self.admitted.saturating_add(1);
    }

    /// A request of `class` arrived at the destination.
    pub fn record_offered(&mut self, class: usize) {
        if let Some(c) = self.local_offered.get_mut(class) {
            *c = c.saturating_add(1);
        }
    }

    /// An admitted request completed after `latency`.
    pub fn record_completion(&mut self, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.local_done.add(Completions {
            count: 1,
            latency_sum_us: us,
        });
    }

    /// Per class demand in in-flight requests as of the last flush (rate
    /// × latency, Little's law); `None` before the first one that could
    /// tell.
    pub fn demands(&self) -> Option<Vec<f64>> {
        let rates = self.rates.as_deref()?;
        Some(rates.iter().map(|r| r * self.latency_s).collect())
    }

    /// True once the demands rest on at least one whole window. Before,
    /// they come from the first milliseconds of traffic, whose completed
    /// requests are the short ones: good enough to reserve slots above a
    /// class, not to size a probe's room by.
    pub fn settled(&self) -> bool {
        self.settled && self.rates.is_some()
    }

    /// The factor on the headroom in force.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// A request was refused while a class below its own held slots: the
    /// headroom above that class was short of what the in flight above it
    /// reached (service times burstier than the walk assumes, or a load
    /// estimate that lags a change).
    pub fn record_inversion(&mut self) {
        self.inversions = self.inversions.saturating_add(1);
    }

    /// The bounded loop on the headroom's factor: each flush that follows
    /// refusals with a lower class holding slots raises it by
    /// [`SCALE_STEP_UP`], up to [`MAX_SCALE`]; after a whole window without
    /// any, each flush lowers it by [`SCALE_STEP_DOWN`] back towards 1. It
    /// moves at most once per flush.
    fn adapt_scale(&mut self, now: Timestamp) {
        if self.inversions > 0 {
            self.inversions = 0;
            self.last_inversion = Some(now);
            self.scale = (self.scale * SCALE_STEP_UP).min(MAX_SCALE);
        } else if self
            .last_inversion
            .is_none_or(|at| now.saturating_since(at) >= self.window)
        {
            self.scale = (self.scale * SCALE_STEP_DOWN).max(1.0);
        }
    }

    /// The headroom the lowest class still admitted (the lowest whose load
    /// above is under 1) leaves when it fills the in flight to `fill`: how
    /// far above `fill` the top class's limit goes.
    pub fn spare(&self, fill: u32) -> f64 {
        let h = self.headrooms(fill);
        (1..self.local_offered.len())
            .rev()
            .map(|c| h[c])
            .find(|h| h.is_finite())
            .unwrap_or(0.0)
    }

    /// `reservation::ladder_headroom` of the classes above `class` when the
    /// classes below fill the in flight to `fill`: at most
    /// [`MAX_HEADROOM`], infinite when their load is 1 or more (the class
    /// is refused), 0 while demand is unknown.
    pub fn headroom_above(&self, class: usize, fill: u32) -> f64 {
        self.headrooms(fill).get(class).copied().unwrap_or(0.0)
    }

    /// Every class's headroom at `fill`, computed once per flush and fill:
    /// admission asks for them several times per request, and they move
    /// only when the rates do. Requests leave the top of the walk at the
    /// completion rate, or, when the service is not saturated, at the rate
    /// `fill` requests in flight leave at the measured latency (Little's
    /// law), whichever is larger.
    fn headrooms(&self, fill: u32) -> [f64; MAX_CLASSES] {
        if let Some((at, h)) = self.headroom_cache.get() {
            if at == fill {
                return h;
            }
        }
        let mut h = [0.0; MAX_CLASSES];
        if let Some(rates) = self.rates.as_deref() {
            let mut leave = self.throughput;
            if self.latency_s > 0.0 {
                leave = leave.max(f64::from(fill.max(1)) / self.latency_s);
            }
            for (class, slot) in h.iter_mut().enumerate().take(rates.len()) {
                let above = reservation::sum_above(rates, class);
                if above <= 0.0 {
                    continue;
                }
                let rho = if leave > 0.0 { above / leave } else { 1.0 };
                let ladder = reservation::ladder_headroom(rho, self.tail, MAX_HEADROOM as u32);
                // Infinite (the class refused) stays infinite.
                *slot = if ladder.is_finite() {
                    (self.scale * ladder).min(MAX_HEADROOM)
                } else {
                    ladder
                };
            }
        }
        self.headroom_cache.set(Some((fill, h)));
        h
    }

    /// The slots kept free for the classes above `class`; 0 while demand is
    /// unknown.
    pub fn reserved_above(&self, class: usize) -> f64 {
        self.rates.as_deref().map_or(0.0, |r| {
            let above = reservation::sum_above(r, class) * self.latency_s;
            reservation::reserved_above(&[above], 1, PROBE_SIGMAS)
        })
    }

    /// The in flight class `class` alone is expected to stay under: the
    /// same upper quantile as [`Self::reserved_above`], of its own demand.
    pub fn quantile_of(&self, class: usize) -> f64 {
        self.rates
            .as_deref()
            .and_then(|r| r.get(class))
            .map_or(0.0, |&r| {
                reservation::reserved_above(&[r * self.latency_s], 1, PROBE_SIGMAS)
            })
    }

    /// Merges this worker's counts, rolls the window if it is over, and
    /// recomputes the demands. Counts stay local on a lost race.
    ///
    /// The latency in `D_k = λ_k × W` is the mean of the completed
    /// requests; until the demand is settled, at least this worker's
    /// in-flight latency by Little's law, `W = N / λ_admitted` with
    /// `local_inflight` its requests in flight now: the first requests to
    /// complete are the short ones, and at start-up their mean is a fraction
    /// of the latency the requests still in flight will have.
    pub fn flush(
        &mut self,
        kv: &impl SharedKv,
        now: Timestamp,
        local_inflight: u32,
    ) -> UpdateStats {
        self.last_flush = Some(now);
        self.adapt_scale(now);
        self.headroom_cache.set(None);
        let started = *self.started.get_or_insert(now);
        let mut stats = UpdateStats::default();
        let n = self.local_offered.len();
        let window = self.window;
        let (offered, done) = (&self.local_offered, self.local_done);
        // With nothing of its own to add (the main thread, an idle worker),
        // a worker only reads: it leaves the window for one with traffic to
        // roll, and takes no part in compare-and-swap races.
        let nothing = done.count == 0 && offered.iter().all(|o| *o == 0);
        let mut resets = 0;
        let outcome = cas_update(kv, &self.key, MAX_CAS_ATTEMPTS, |bytes| {
            let current = bytes.and_then(|b| DemandRecord::decode(b, n));
            if bytes.is_some() && current.is_none() {
                resets = 1;
            }
            let Some(mut rec) = current else {
                let rec = DemandRecord::empty(now, n);
                return Step::Write(rec.encode(), (rec, false));
            };
            if nothing {
                return Step::Keep((rec, true));
            }
            for (c, o) in rec.offered.iter_mut().zip(offered) {
                c.0 = c.0.saturating_add(*o);
            }
            rec.current.add(done);
            let elapsed = now.saturating_since(rec.window_start);
            if elapsed >= window {
                if rec.current.count > 0 {
                    rec.last_mean_us =
                        u32::try_from(rec.current.latency_sum_us / u64::from(rec.current.count))
                            .unwrap_or(u32::MAX);
                }
                rec.previous = rec.current;
                rec.current = Completions::default();
                for c in rec.offered.iter_mut() {
                    *c = (0, c.0);
                }
                rec.prev_len_ms = u32::try_from(elapsed.as_millis()).unwrap_or(u32::MAX);
                rec.window_start = now;
            }
            Step::Write(rec.encode(), (rec, true))
        });
        stats.decode_resets = resets;
        match outcome {
            Ok(o) if o.committed => {
                stats.cas_retries = o.attempts.saturating_sub(1);
                let (rec, merged) = o.result;
                if merged {
                    self.local_offered.iter_mut().for_each(|c| *c = 0);
                    self.local_done = Completions::default();
                }
                self.settled = rec.prev_len_ms > 0;
                let elapsed = now.saturating_since(started).as_secs_f64();
                let in_flight = (!self.settled && self.admitted > 0 && elapsed > 0.0)
                    .then(|| f64::from(local_inflight) * elapsed / self.admitted as f64);
                let latency = match (rec.mean_latency_s(), in_flight) {
                    (Some(done), Some(w)) => done.max(w),
                    (Some(done), None) => done,
                    (None, Some(w)) => w,
                    (None, None) => rec.span_s(now),
                };
                if let Some(rates) = rec.rates(now) {
                    let span = rec.span_s(now);
                    self.throughput =
                        f64::from(rec.current.count.saturating_add(rec.previous.count)) / span;
                    self.latency_s = latency;
                    self.rates = Some(rates);
                }
            }
            Ok(o) => {
                stats.cas_retries = o.attempts.saturating_sub(1);
                stats.deferred = true;
            }
            Err(_) => stats.deferred = true,
        }
        stats
    }
}

#[cfg(test)]
mod tests;

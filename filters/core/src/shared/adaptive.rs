//! The adaptive limit shared by every worker: one record per destination
//! holding the gradient controller's state and the current window's
//! latencies.
//!
//! Workers record latencies and their peak in-flight locally and flush them
//! into the record on their tick with compare-and-swap (counts add, the peak
//! is a maximum). The flush that finds the window over closes it: it runs
//! the controller on the merged window, stores the new state and starts the
//! next window; the CAS makes exactly one worker do that per window. Every
//! worker then admits against the limit it read at its last flush, so the
//! request path never reads this record.
//!
//! A flush's samples survive lost races (the worker keeps them and retries
//! at its next tick). One loss remains possible, inherent in Envoy's shared
//! data having no create-if-absent: when the record does not exist yet, two
//! workers may create it at once and one creation, with that worker's first
//! window of samples, is overwritten. It happens at most once per record
//! lifetime and costs one window of latency samples, never an admission.

use super::inflight::{UpdateStats, MAX_CAS_ATTEMPTS};
use super::kv::{cas_update, SharedKv, Step};
use crate::limit::gradient::{GradientParams, GradientState, LimitReason, Phase, WindowSample};
use crate::limit::latency::{LatencyHistogram, BUCKETS};
use crate::random::Random;
use crate::time::Timestamp;
use std::time::Duration;

const VERSION: u8 = 1;
const LEN: usize = 1 + 8 + 8 + 1 + 8 + 8 + 8 + 4 + 4 + 8 + BUCKETS * 4;

/// The shared record.
#[derive(Clone, Debug, PartialEq)]
pub struct AdaptiveRecord {
    pub state: GradientState,
    pub window_start: Timestamp,
    pub peak_inflight: u32,
    /// Requests shed in the window.
    pub shed: u32,
    /// Latency of the last closed window (0 if none yet).
    pub last_rtt: Duration,
    pub window: LatencyHistogram,
}

impl AdaptiveRecord {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(LEN);
        out.push(VERSION);
        out.extend_from_slice(&self.state.limit.to_le_bytes());
        let min_rtt = self.state.min_rtt.map_or(0, nanos);
        out.extend_from_slice(&min_rtt.to_le_bytes());
        out.push(match self.state.phase {
            Phase::Probing => 0,
            Phase::Tracking => 1,
        });
        out.extend_from_slice(&self.state.resume_limit.to_le_bytes());
        out.extend_from_slice(&self.state.next_probe.as_nanos().to_le_bytes());
        out.extend_from_slice(&self.window_start.as_nanos().to_le_bytes());
        out.extend_from_slice(&self.peak_inflight.to_le_bytes());
        out.extend_from_slice(&self.shed.to_le_bytes());
        out.extend_from_slice(&nanos(self.last_rtt).to_le_bytes());
        for c in self.window.counts() {
            out.extend_from_slice(&c.to_le_bytes());
        }
        out
    }

    /// `None` for anything that is not a version-1 record of the right
    /// size with finite limits.
    pub fn decode(bytes: &[u8]) -> Option<AdaptiveRecord> {
        if bytes.len() != LEN || bytes[0] != VERSION {
            return None;
        }
        let mut r = Reader { bytes, at: 1 };
        let limit = f64::from_le_bytes(r.take()?);
        let min_rtt = u64::from_le_bytes(r.take()?);
        let phase = match r.take::<1>()?[0] {
            0 => Phase::Probing,
            1 => Phase::Tracking,
            _ => return None,
        };
        let resume_limit = f64::from_le_bytes(r.take()?);
        let next_probe = Timestamp::from_nanos(u64::from_le_bytes(r.take()?));
        let window_start = Timestamp::from_nanos(u64::from_le_bytes(r.take()?));
        let peak_inflight = u32::from_le_bytes(r.take()?);
        let shed = u32::from_le_bytes(r.take()?);
        let last_rtt = Duration::from_nanos(u64::from_le_bytes(r.take()?));
        let mut counts = [0u32; BUCKETS];
        for c in counts.iter_mut() {
            *c = u32::from_le_bytes(r.take()?);
        }
        if !limit.is_finite() || !resume_limit.is_finite() {
            return None;
        }
        Some(AdaptiveRecord {
            state: GradientState {
                limit,
                min_rtt: (min_rtt > 0).then(|| Duration::from_nanos(min_rtt)),
                phase,
                resume_limit,
                next_probe,
            },
            window_start,
            peak_inflight,
            shed,
            last_rtt,
            window: LatencyHistogram::from_counts(counts),
        })
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let s = self.bytes.get(self.at..self.at + N)?;
        self.at += N;
        s.try_into().ok()
    }
}

/// What a flush did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Flush {
    /// The limit in force after the flush.
    pub limit: u32,
    /// Set when this flush closed a window (and so moved, or kept, the limit).
    pub closed: Option<LimitReason>,
    pub stats: UpdateStats,
}

/// One worker's handle on a destination's adaptive limit.
#[derive(Debug)]
pub struct SharedLimit {
    key: String,
    params: GradientParams,
    window: Duration,
    percentile: f64,
    local: LatencyHistogram,
    local_peak: u32,
    local_shed: u32,
    record: Option<AdaptiveRecord>,
    /// Since when this worker has admitted against the probe's limit: set
    /// at the first flush that read a probing record.
    probing_since: Option<Timestamp>,
}

impl SharedLimit {
    /// `window`: how long latencies are gathered before each update;
    /// `percentile`: the window's latency estimate (e.g. 0.9).
    pub fn new(
        key: impl Into<String>,
        params: GradientParams,
        window: Duration,
        percentile: f64,
    ) -> Self {
        SharedLimit {
            key: key.into(),
            params,
            window,
            percentile,
            local: LatencyHistogram::default(),
            local_peak: 0,
            local_shed: 0,
            record: None,
            probing_since: None,
        }
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    /// The limit to admit against: the one read at the last flush, or the
    /// start-up (probing) limit before any.
    pub fn limit(&self) -> u32 {
        match &self.record {
            Some(r) => r.state.current(),
            None => self.params.min_limit.max(1),
        }
    }

    /// Re-reads the shared limit, merging nothing, and returns the limit
    /// in force. Between two flushes a worker admits against the limit it
    /// read at the last one, up to a tick old. When another worker's flush
    /// has raised it (a window closed, a probe ended), the others already
    /// admit lower classes up to the new limit's shares, and a worker still
    /// on the old, lower limit would refuse every class, critical first
    /// among those it protects, until its own next flush. So a worker
    /// about to refuse a request reads the limit again first: one shared
    /// read on the refusal path, none on admission. Probe bookkeeping stays
    /// with [`SharedLimit::flush`]: a probe learnt of here makes the
    /// samples admitted before the next flush count as pre-probe (dropped),
    /// which only errs on the side of a clean baseline.
    pub fn refresh(&mut self, kv: &impl SharedKv) -> u32 {
        if let Ok(Some((bytes, _))) = kv.get(&self.key) {
            if let Some(rec) = AdaptiveRecord::decode(&bytes) {
                self.record = Some(rec);
            }
        }
        self.limit()
    }

    /// The record as of the last flush (for gauges).
    pub fn record(&self) -> Option<&AdaptiveRecord> {
        self.record.as_ref()
    }

    /// A completed request's latency, measured from its admission at
    /// `admitted_at`. While the baseline is being probed, only requests this
    /// worker admitted against the probe's limit count: the others queued
    /// at the old limit and would inflate the baseline.
    pub fn record_latency(&mut self, latency: Duration, admitted_at: Timestamp) {
        if let Some(since) = self.probing_since {
            if admitted_at < since {
                return;
            }
        }
        self.local.record(latency);
    }

    /// A request refused by the throttle.
    pub fn observe_shed(&mut self) {
        self.local_shed = self.local_shed.saturating_add(1);
    }

    /// In-flight across all workers, as seen at an admission.
    pub fn observe_inflight(&mut self, inflight: u64) {
        self.local_peak = self
            .local_peak
            .max(u32::try_from(inflight).unwrap_or(u32::MAX));
    }

    /// Merges this worker's samples into the shared window and closes the
    /// window if it is over. On a lost race the samples stay local for the
    /// next flush.
    pub fn flush(&mut self, kv: &impl SharedKv, now: Timestamp, random: &mut impl Random) -> Flush {
        let mut stats = UpdateStats::default();
        let (params, window, percentile) = (&self.params, self.window, self.percentile);
        let (local, local_peak, local_shed) = (&self.local, self.local_peak, self.local_shed);
        let knew_of_probe = self.probing_since.is_some();
        let mut resets = 0;
        let outcome = cas_update(kv, &self.key, MAX_CAS_ATTEMPTS, |bytes| {
            let current = bytes.and_then(AdaptiveRecord::decode);
            if bytes.is_some() && current.is_none() {
                resets = 1;
            }
            let Some(mut rec) = current else {
                // Create the record: an empty window. Our samples go in at
                // the next flush, through CAS, so a creation race loses none.
                let rec = AdaptiveRecord {
                    state: params.start(now),
                    window_start: now,
                    peak_inflight: 0,
                    shed: 0,
                    last_rtt: Duration::ZERO,
                    window: LatencyHistogram::default(),
                };
                return Step::Write(rec.encode(), (rec, None, false));
            };
            // Samples gathered before this worker learnt of a probe came
            // from the old limit: they are dropped, not merged into it.
            if rec.state.phase != Phase::Probing || knew_of_probe {
                rec.window.merge(local);
                rec.peak_inflight = rec.peak_inflight.max(local_peak);
                rec.shed = rec.shed.saturating_add(local_shed);
            }
            let mut closed = None;
            if now.saturating_since(rec.window_start) >= window {
                let rtt = rec.window.quantile(percentile).unwrap_or(Duration::ZERO);
                let sample = WindowSample {
                    samples: rec.window.count(),
                    rtt,
                    peak_inflight: rec.peak_inflight,
                    shed: u64::from(rec.shed),
                };
                let (state, reason) = params.update(&rec.state, &sample, now, random);
                rec.state = state;
                if sample.samples > 0 {
                    rec.last_rtt = rtt;
                }
                rec.window = LatencyHistogram::default();
                rec.peak_inflight = 0;
                rec.shed = 0;
                rec.window_start = now;
                closed = Some(reason);
            }
            Step::Write(rec.encode(), (rec, closed, true))
        });
        stats.decode_resets = resets;
        match outcome {
            Ok(o) => {
                stats.cas_retries = o.attempts.saturating_sub(1);
                let (rec, closed, merged) = o.result;
                if o.committed {
                    let entering_probe =
                        rec.state.phase == Phase::Probing && self.probing_since.is_none();
                    if merged || entering_probe {
                        self.local = LatencyHistogram::default();
                        self.local_peak = 0;
                        self.local_shed = 0;
                    }
                    self.probing_since = match rec.state.phase {
                        Phase::Probing => self.probing_since.or(Some(now)),
                        Phase::Tracking => None,
                    };
                    self.record = Some(rec);
                } else {
                    stats.deferred = true;
                }
                Flush {
                    limit: self.limit(),
                    closed: if o.committed { closed } else { None },
                    stats,
                }
            }
            Err(_) => {
                stats.deferred = true;
                Flush {
                    limit: self.limit(),
                    closed: None,
                    stats,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;

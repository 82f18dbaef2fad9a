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
use crate::limit::gradient::{
    GradientParams, GradientState, LimitReason, Phase, ProbeLevel, WindowSample,
};
use crate::limit::latency::{LatencyHistogram, BUCKETS};
use crate::random::Random;
use crate::time::Timestamp;
use std::time::Duration;

const VERSION: u8 = 4;
const LEN: usize =
    1 + 8 + 8 + 1 + 8 + 8 + 1 + 8 + 1 + 8 + 8 + 8 + 8 + 8 + 8 + 4 + 4 + 4 + 4 + 8 + 2 * BUCKETS * 4;

/// A probe in progress, as admission sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probe {
    /// Which classes keep their demand.
    pub level: ProbeLevel,
    /// The limit tracking resumes at.
    pub resume: u32,
    /// In flight the protected classes may keep while earlier requests
    /// drain (`GradientState::probe_carry`).
    pub carry: u32,
}

/// The shared record.
#[derive(Clone, Debug, PartialEq)]
pub struct AdaptiveRecord {
    pub state: GradientState,
    pub window_start: Timestamp,
    pub peak_inflight: u32,
    /// Requests shed in the window.
    pub shed: u32,
    /// Requests completed in the window, probe or not (for the rate).
    pub completed: u32,
    /// Requests of classes a probe protected shed in the window.
    pub protected_shed: u32,
    /// Latency of the last closed window (0 if none yet).
    pub last_rtt: Duration,
    pub window: LatencyHistogram,
    /// Latencies of the window's low-load requests (admitted with fewer
    /// than `min_limit` in flight).
    pub low_load: LatencyHistogram,
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
        out.push(self.state.probe_level as u8);
        out.extend_from_slice(&self.state.peak_rate.to_le_bytes());
        out.push(u8::from(self.state.probe_shed));
        out.extend_from_slice(&self.state.probe_carry.to_le_bytes());
        out.extend_from_slice(&self.state.cut_from.to_le_bytes());
        out.extend_from_slice(&nanos(self.state.cut_rtt).to_le_bytes());
        out.extend_from_slice(&nanos(self.state.startup_mean).to_le_bytes());
        out.extend_from_slice(&nanos(self.state.startup_rtt).to_le_bytes());
        out.extend_from_slice(&self.window_start.as_nanos().to_le_bytes());
        out.extend_from_slice(&self.peak_inflight.to_le_bytes());
        out.extend_from_slice(&self.shed.to_le_bytes());
        out.extend_from_slice(&self.completed.to_le_bytes());
        out.extend_from_slice(&self.protected_shed.to_le_bytes());
        out.extend_from_slice(&nanos(self.last_rtt).to_le_bytes());
        for c in self.window.counts().iter().chain(self.low_load.counts()) {
            out.extend_from_slice(&c.to_le_bytes());
        }
        out
    }

    /// `None` for anything that is not a version-4 record of the right
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
        let probe_level = ProbeLevel::from_u8(r.take::<1>()?[0])?;
        let peak_rate = f64::from_le_bytes(r.take()?);
        let probe_shed = match r.take::<1>()?[0] {
            0 => false,
            1 => true,
            _ => return None,
        };
        let probe_carry = f64::from_le_bytes(r.take()?);
        let cut_from = f64::from_le_bytes(r.take()?);
        let cut_rtt = Duration::from_nanos(u64::from_le_bytes(r.take()?));
        let startup_mean = Duration::from_nanos(u64::from_le_bytes(r.take()?));
        let startup_rtt = Duration::from_nanos(u64::from_le_bytes(r.take()?));
        let window_start = Timestamp::from_nanos(u64::from_le_bytes(r.take()?));
        let peak_inflight = u32::from_le_bytes(r.take()?);
        let shed = u32::from_le_bytes(r.take()?);
        let completed = u32::from_le_bytes(r.take()?);
        let protected_shed = u32::from_le_bytes(r.take()?);
        let last_rtt = Duration::from_nanos(u64::from_le_bytes(r.take()?));
        let mut counts = [0u32; BUCKETS];
        for c in counts.iter_mut() {
            *c = u32::from_le_bytes(r.take()?);
        }
        let mut low_load = [0u32; BUCKETS];
        for c in low_load.iter_mut() {
            *c = u32::from_le_bytes(r.take()?);
        }
        if ![limit, resume_limit, peak_rate, probe_carry, cut_from]
            .iter()
            .all(|v| v.is_finite())
        {
            return None;
        }
        Some(AdaptiveRecord {
            state: GradientState {
                limit,
                min_rtt: (min_rtt > 0).then(|| Duration::from_nanos(min_rtt)),
                phase,
                resume_limit,
                next_probe,
                probe_level,
                peak_rate,
                probe_shed,
                probe_carry,
                cut_from,
                cut_rtt,
                startup_mean,
                startup_rtt,
            },
            window_start,
            peak_inflight,
            shed,
            completed,
            protected_shed,
            last_rtt,
            window: LatencyHistogram::from_counts(counts),
            low_load: LatencyHistogram::from_counts(low_load),
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
    local_low_load: LatencyHistogram,
    local_peak: u32,
    local_shed: u32,
    local_completed: u32,
    local_protected_shed: u32,
    record: Option<AdaptiveRecord>,
    /// The probe level this worker admits against, and since when: set at
    /// the first flush that read a probing record at that level.
    probing_since: Option<(ProbeLevel, Timestamp)>,
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
            local_low_load: LatencyHistogram::default(),
            local_peak: 0,
            local_shed: 0,
            local_completed: 0,
            local_protected_shed: 0,
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
    /// `admitted_at`; `low_load` if fewer than `min_limit` requests were in
    /// flight then. While the baseline is being probed, only requests this
    /// worker admitted against the probe's limit count: the others queued
    /// at the old limit and would inflate the baseline.
    pub fn record_latency(&mut self, latency: Duration, admitted_at: Timestamp, low_load: bool) {
        self.local_completed = self.local_completed.saturating_add(1);
        if let Some((_, since)) = self.probing_since {
            if admitted_at < since {
                return;
            }
        }
        self.local.record(latency);
        if low_load {
            self.local_low_load.record(latency);
        }
    }

    /// True if a request admitted with `inflight_before` others in flight
    /// is a low-load one (its latency is the service's own).
    pub fn is_low_load(&self, inflight_before: u64) -> bool {
        inflight_before < u64::from(self.params.min_limit)
    }

    /// While a probe is on, which classes keep their demand and with what
    /// room; `None` when tracking. Before the first flush, the start-up
    /// probe's.
    pub fn probe(&self) -> Option<Probe> {
        match &self.record {
            Some(r) if r.state.phase == Phase::Probing => Some(Probe {
                level: r.state.probe_level,
                resume: r.state.resume_limit.floor() as u32,
                carry: r.state.probe_carry.max(0.0).floor() as u32,
            }),
            Some(_) => None,
            None => Some(Probe {
                level: ProbeLevel::AllClasses,
                resume: self.params.initial_limit,
                carry: 0,
            }),
        }
    }

    /// A request refused by the throttle.
    /// `protected`: a probe protected its class.
    pub fn observe_shed(&mut self, protected: bool) {
        self.local_shed = self.local_shed.saturating_add(1);
        if protected {
            self.local_protected_shed = self.local_protected_shed.saturating_add(1);
        }
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
        let local_low_load = &self.local_low_load;
        let local_completed = self.local_completed;
        // Protected sheds count only towards the probe level they were
        // refused under: counts gathered under another level are dropped.
        let counted_under = self
            .record
            .as_ref()
            .map(|r| (r.state.phase, r.state.probe_level));
        let local_protected_shed = self.local_protected_shed;
        let knew_level = self.probing_since.map(|(level, _)| level);
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
                    completed: 0,
                    protected_shed: 0,
                    last_rtt: Duration::ZERO,
                    window: LatencyHistogram::default(),
                    low_load: LatencyHistogram::default(),
                };
                return Step::Write(rec.encode(), (rec, None, false));
            };
            // Samples gathered before this worker learnt of a probe (or of
            // its current level) came from the old limit: they are
            // dropped, not merged into it.
            if rec.state.phase != Phase::Probing || knew_level == Some(rec.state.probe_level) {
                rec.window.merge(local);
                rec.low_load.merge(local_low_load);
                rec.peak_inflight = rec.peak_inflight.max(local_peak);
                rec.shed = rec.shed.saturating_add(local_shed);
                if counted_under == Some((rec.state.phase, rec.state.probe_level)) {
                    rec.protected_shed = rec.protected_shed.saturating_add(local_protected_shed);
                }
            }
            rec.completed = rec.completed.saturating_add(local_completed);
            let mut closed = None;
            let elapsed = now.saturating_since(rec.window_start);
            if elapsed >= window {
                let rtt = rec.window.quantile(percentile).unwrap_or(Duration::ZERO);
                let sample = WindowSample {
                    samples: rec.window.count(),
                    rtt,
                    rate: f64::from(rec.completed) / elapsed.as_secs_f64(),
                    low_load: rec.low_load.count(),
                    low_load_rtt: rec.low_load.quantile(percentile).unwrap_or(Duration::ZERO),
                    low_load_mean: rec.low_load.mean().unwrap_or(Duration::ZERO),
                    peak_inflight: rec.peak_inflight,
                    shed: u64::from(rec.shed),
                    protected_shed: u64::from(rec.protected_shed),
                    mean: rec.window.mean().unwrap_or(Duration::ZERO),
                };
                let (state, reason) = params.update(&rec.state, &sample, now, random);
                // A window with too few requests to tell anything goes on
                // gathering (`limit::gradient::MIN_SAMPLES`).
                let extended =
                    reason == LimitReason::TooFewSamples && rec.state.phase == state.phase;
                rec.state = state;
                if sample.samples > 0 {
                    rec.last_rtt = rtt;
                }
                if !extended {
                    rec.window = LatencyHistogram::default();
                    rec.low_load = LatencyHistogram::default();
                    rec.peak_inflight = 0;
                    rec.shed = 0;
                    rec.protected_shed = 0;
                }
                rec.completed = 0;
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
                    let probe_level =
                        (rec.state.phase == Phase::Probing).then_some(rec.state.probe_level);
                    let entering_probe = probe_level.is_some() && probe_level != knew_level;
                    if merged || entering_probe {
                        self.local = LatencyHistogram::default();
                        self.local_low_load = LatencyHistogram::default();
                        self.local_peak = 0;
                        self.local_shed = 0;
                        self.local_protected_shed = 0;
                    }
                    if merged {
                        self.local_completed = 0;
                        self.local_protected_shed = 0;
                    }
                    self.probing_since = match probe_level {
                        Some(level) if entering_probe => Some((level, now)),
                        Some(_) => self.probing_since,
                        None => None,
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

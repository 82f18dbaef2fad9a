//! The SLO tuner's record, shared by every worker: the tuned values, when
//! the tuner last moved and next evaluates, and the answers counted since
//! the last evaluation.
//!
//! Workers count answered and failed requests locally and merge the counts
//! on their tick with compare-and-swap (counts add). The merge that finds an
//! evaluation due runs the tuner (`limit::tuner`) on the merged counts and
//! the latency estimate, stores the moved knobs and starts a new count; the
//! CAS makes exactly one worker evaluate per interval, so the knobs move at
//! most once per evaluation whatever the number of workers. Every worker
//! then applies the values it read at its last merge; the request path never
//! reads this record. As with the other records, a creation race can lose
//! one worker's first counts, once per record lifetime.
//!
//! Encoding, little-endian: version (1), max_limit (f64), share_scale
//! (f64), aggression (f64, NaN when not tuned), last move in ns (u64, 0 for
//! none), next evaluation in ns (u64), answered (u32), failed (u32).

use super::inflight::{UpdateStats, MAX_CAS_ATTEMPTS};
use super::kv::{cas_update, SharedKv, Step};
use crate::limit::tuner::{Observation, Tuned, TunerMove, TunerParams, TunerState};
use crate::random::Random;
use crate::time::Timestamp;
use std::time::Duration;

const VERSION: u8 = 1;
const LEN: usize = 1 + 8 * 3 + 8 * 2 + 4 * 2;

/// The shared record.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TunerRecord {
    pub state: TunerState,
    pub answered: u32,
    pub failed: u32,
}

impl TunerRecord {
    pub fn encode(&self) -> Vec<u8> {
        let t = &self.state.tuned;
        let mut out = Vec::with_capacity(LEN);
        out.push(VERSION);
        for f in [t.max_limit, t.share_scale, t.aggression.unwrap_or(f64::NAN)] {
            out.extend_from_slice(&f.to_le_bytes());
        }
        let last = self.state.last_move.map_or(0, Timestamp::as_nanos);
        out.extend_from_slice(&last.to_le_bytes());
        out.extend_from_slice(&self.state.next_evaluation.as_nanos().to_le_bytes());
        out.extend_from_slice(&self.answered.to_le_bytes());
        out.extend_from_slice(&self.failed.to_le_bytes());
        out
    }

    /// `None` unless a version-1 record of the right size.
    pub fn decode(bytes: &[u8]) -> Option<TunerRecord> {
        if bytes.len() != LEN || bytes[0] != VERSION {
            return None;
        }
        let bytes8 = |at: usize| -> Option<[u8; 8]> { bytes.get(at..at + 8)?.try_into().ok() };
        let f = |at: usize| bytes8(at).map(f64::from_le_bytes);
        let u = |at: usize| bytes8(at).map(u64::from_le_bytes);
        let w = |at: usize| -> Option<u32> {
            Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
        };
        let (max_limit, share_scale, aggression) = (f(1)?, f(9)?, f(17)?);
        if max_limit.is_nan() || share_scale.is_nan() {
            return None;
        }
        let last = u(25)?;
        Some(TunerRecord {
            state: TunerState {
                tuned: Tuned {
                    max_limit,
                    share_scale,
                    aggression: (!aggression.is_nan()).then_some(aggression),
                },
                last_move: (last > 0).then(|| Timestamp::from_nanos(last)),
                next_evaluation: Timestamp::from_nanos(u(33)?),
            },
            answered: w(41)?,
            failed: w(45)?,
        })
    }
}

/// One worker's handle on a destination's tuner.
#[derive(Debug)]
pub struct SharedTuner {
    key: String,
    params: TunerParams,
    local_answered: u32,
    local_failed: u32,
    tuned: Tuned,
}

/// What a sync did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TunerSync {
    /// Set when this sync ran an evaluation: what it did and what it saw.
    pub evaluated: Option<(TunerMove, Observation)>,
    /// The values before the sync.
    pub before: Tuned,
    pub stats: UpdateStats,
}

impl SharedTuner {
    pub fn new(key: impl Into<String>, params: TunerParams) -> Self {
        let tuned = params.loosest();
        SharedTuner {
            key: key.into(),
            params,
            local_answered: 0,
            local_failed: 0,
            tuned,
        }
    }

    pub fn params(&self) -> &TunerParams {
        &self.params
    }

    /// The values in force, as of the last sync (the loosest before any).
    pub fn tuned(&self) -> Tuned {
        self.tuned
    }

    /// Whether the tuner reads response statuses.
    pub fn counts_errors(&self) -> bool {
        self.params.error_rate_target.is_some()
    }

    /// A forwarded request was answered; `failed` for a 5xx or 429.
    pub fn record_answer(&mut self, failed: bool) {
        self.local_answered = self.local_answered.saturating_add(1);
        if failed {
            self.local_failed = self.local_failed.saturating_add(1);
        }
    }

    /// Merges this worker's counts and, if an evaluation is due, runs it
    /// with `latency` (the adaptive limit's current estimate) and `limit`
    /// (the limit in force). Counts stay local on a lost race.
    pub fn sync(
        &mut self,
        kv: &impl SharedKv,
        now: Timestamp,
        (latency, limit): (Option<Duration>, Option<u32>),
        random: &mut impl Random,
    ) -> TunerSync {
        let mut stats = UpdateStats::default();
        let params = &self.params;
        let (answered, failed) = (self.local_answered, self.local_failed);
        let mut resets = 0;
        let outcome = cas_update(kv, &self.key, MAX_CAS_ATTEMPTS, |bytes| {
            let current = bytes.and_then(TunerRecord::decode);
            if bytes.is_some() && current.is_none() {
                resets = 1;
            }
            let Some(mut rec) = current else {
                let rec = TunerRecord {
                    state: params.start(now, random),
                    answered: 0,
                    failed: 0,
                };
                return Step::Write(rec.encode(), (rec, None, false));
            };
            // Values stored under an earlier configuration are brought
            // inside this one's bounds.
            rec.state.tuned = params.clamp(rec.state.tuned);
            rec.answered = rec.answered.saturating_add(answered);
            rec.failed = rec.failed.saturating_add(failed);
            let mut evaluated = None;
            if params.due(&rec.state, now) {
                let observed = Observation {
                    latency,
                    limit,
                    error_rate: (rec.answered > 0)
                        .then(|| f64::from(rec.failed) / f64::from(rec.answered)),
                };
                let (state, step) = params.evaluate(&rec.state, observed, now, random);
                rec.state = state;
                rec.answered = 0;
                rec.failed = 0;
                evaluated = Some((step, observed));
            }
            Step::Write(rec.encode(), (rec, evaluated, true))
        });
        stats.decode_resets = resets;
        let before = self.tuned;
        let mut evaluated = None;
        match outcome {
            Ok(o) if o.committed => {
                stats.cas_retries = o.attempts.saturating_sub(1);
                let (rec, eval, merged) = o.result;
                if merged {
                    self.local_answered = 0;
                    self.local_failed = 0;
                }
                self.tuned = rec.state.tuned;
                evaluated = eval;
            }
            Ok(o) => {
                stats.cas_retries = o.attempts.saturating_sub(1);
                stats.deferred = true;
            }
            Err(_) => stats.deferred = true,
        }
        TunerSync {
            evaluated,
            before,
            stats,
        }
    }
}

#[cfg(test)]
mod tests;

//! An adaptive concurrency limit from latency: the gradient controller.
//!
//! The model is Envoy's `adaptive_concurrency` gradient controller and
//! Netflix's `Gradient2Limit`, both after TCP Vegas: the service's latency at
//! low load (`min_rtt`) is the baseline; when the latency measured over a
//! window (`sample_rtt`) rises above the baseline, requests are queueing and
//! the limit comes down; while it stays near the baseline the limit grows.
//!
//! ```text
//! tolerated = min(min_rtt × (1 + buffer), max_latency)
//! gradient  = clamp(tolerated / sample_rtt, 0.5, 2.0)
//! target    = gradient × limit + sqrt(gradient × limit)          (headroom)
//! new_limit = clamp(limit + smoothing × (target − limit), min_limit, max_limit)
//! ```
//!
//! - The square-root headroom lets the limit probe upward even when the
//!   gradient is 1 (Envoy: "headroom = sqrt(limit)").
//! - `smoothing` (0, 1] damps each move; with the gradient clamped to
//!   [0.5, 2] a single window can at most halve or double the target, so the
//!   limit never jumps.
//! - **App-limited**: if the peak in-flight of the window stayed below half
//!   of the limit and nothing was shed, the service was not pushed and the
//!   sample says nothing about capacity: the limit does not grow (it may
//!   still shrink). Sheds count as demand: a class held at its share of the
//!   limit is pushing, even if the total in flight looks low.
//! - **Re-probing `min_rtt`**: the baseline drifts (deploys, noisy
//!   neighbours), so every `min_rtt_interval` (± `probe_jitter`, so that
//!   many sidecars do not probe in lockstep) the limit drops to `min_limit`
//!   for one window and the latency measured there becomes the new
//!   baseline, as in Envoy. A window that was uncongested (at or below
//!   `min_limit` in flight, or app-limited with its latency within the
//!   tolerance) measured the baseline passively: no forced probe. So does
//!   a window at the floor (`limit = min_limit`): latency there is the
//!   service's own, and waiting for the next probe would pin the limit at
//!   the floor through a brownout.
//!   Only requests admitted during the probe count towards it (requests
//!   queued before it would inflate the baseline).
//! - **A latency ceiling**: a baseline measured while the service is
//!   degraded (a probe during a brownout) accepts the degraded latency as
//!   normal, and the limit grows back into the queue. `max_latency`, when
//!   set, caps the tolerated latency whatever the baseline says, so the
//!   window's percentile is held under an operator's bound.
//!
//! The controller is a value: the throttle keeps it in shared data, so every
//! worker thread reads and updates the same limit.

use crate::random::Random;
use crate::time::Timestamp;
use std::time::Duration;

/// Smallest and largest factor one window may apply to the limit.
pub const GRADIENT_MIN: f64 = 0.5;
pub const GRADIENT_MAX: f64 = 2.0;

/// Parameters of the controller (validated by the configuration).
#[derive(Clone, Debug, PartialEq)]
pub struct GradientParams {
    pub min_limit: u32,
    pub max_limit: u32,
    pub initial_limit: u32,
    /// Latency above the baseline tolerated before the limit shrinks, as a
    /// fraction of `min_rtt` (Envoy's `min_rtt_calc_params.buffer`).
    pub buffer: f64,
    /// Weight of the new target in each update, in (0, 1].
    pub smoothing: f64,
    /// Time between two measurements of the baseline.
    pub min_rtt_interval: Duration,
    /// Fraction of `min_rtt_interval` by which each probe is moved at
    /// random, in [0, 0.5].
    pub probe_jitter: f64,
    /// Ceiling on the tolerated latency (see the module docs); `None` for
    /// none.
    pub max_latency: Option<Duration>,
}

/// What one window measured, across every worker.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WindowSample {
    /// Completed requests in the window.
    pub samples: u64,
    /// The window's latency (the configured percentile).
    pub rtt: Duration,
    /// Largest in-flight count seen in the window.
    pub peak_inflight: u32,
    /// Requests refused in the window (demand the in-flight peak hides).
    pub shed: u64,
}

/// Where the controller is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Holding the limit at `min_limit` to measure the baseline.
    Probing,
    /// Following the gradient.
    Tracking,
}

/// Why the limit is what it is after an update (for operators).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LimitReason {
    /// Measuring the baseline at the minimum limit.
    ProbingMinRtt,
    /// A baseline was measured; tracking resumes from the previous limit.
    MinRttMeasured,
    /// Moved by the gradient.
    Gradient(f64),
    /// Would have grown, but the service was not loaded enough to tell.
    AppLimited,
    /// Too few completed requests in the window: unchanged.
    TooFewSamples,
}

/// The controller's state; small and `Copy` so it can live in shared data.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GradientState {
    pub limit: f64,
    pub min_rtt: Option<Duration>,
    pub phase: Phase,
    /// Limit to return to after a probe.
    pub resume_limit: f64,
    pub next_probe: Timestamp,
}

/// Fewest completed requests a window needs to move the limit.
pub const MIN_SAMPLES: u64 = 8;

impl GradientParams {
    /// The state a fresh deployment starts in: measuring the baseline, as
    /// Envoy's controller does at start-up.
    pub fn start(&self, now: Timestamp) -> GradientState {
        GradientState {
            limit: f64::from(self.min_limit),
            min_rtt: None,
            phase: Phase::Probing,
            resume_limit: f64::from(self.initial_limit),
            next_probe: now,
        }
    }

    fn clamp(&self, limit: f64) -> f64 {
        limit.clamp(f64::from(self.min_limit), f64::from(self.max_limit))
    }

    fn next_probe_after(&self, now: Timestamp, random: &mut impl Random) -> Timestamp {
        let base = self.min_rtt_interval.as_secs_f64();
        let jitter = self.probe_jitter.clamp(0.0, 0.5);
        let factor = 1.0 - jitter + 2.0 * jitter * random.next_unit();
        now.saturating_add(Duration::from_secs_f64((base * factor).max(0.0)))
    }

    /// One window's update. The returned limit is always within
    /// `[min_limit, max_limit]`.
    pub fn update(
        &self,
        state: &GradientState,
        sample: &WindowSample,
        now: Timestamp,
        random: &mut impl Random,
    ) -> (GradientState, LimitReason) {
        let mut next = *state;
        match state.phase {
            Phase::Probing => {
                if sample.samples < MIN_SAMPLES {
                    return (next, LimitReason::ProbingMinRtt);
                }
                next.min_rtt = Some(sample.rtt);
                next.phase = Phase::Tracking;
                next.limit = self.clamp(state.resume_limit);
                next.next_probe = self.next_probe_after(now, random);
                return (next, LimitReason::MinRttMeasured);
            }
            // Due, but the window was uncongested: it ran at or below the
            // probe's concurrency, or it was app-limited with its latency
            // within the tolerance of the baseline. Its latency is a
            // baseline measurement, taken without forcing a probe (and
            // without shedding anything to get it).
            Phase::Tracking
                if now >= state.next_probe
                    && sample.samples >= MIN_SAMPLES
                    && (sample.peak_inflight <= self.min_limit
                        || (f64::from(sample.peak_inflight) < state.limit / 2.0
                            && sample.shed == 0
                            && state.min_rtt.is_some_and(|m| {
                                sample.rtt.as_secs_f64() <= m.as_secs_f64() * (1.0 + self.buffer)
                            }))) =>
            {
                next.min_rtt = Some(sample.rtt);
                next.next_probe = self.next_probe_after(now, random);
                return (next, LimitReason::MinRttMeasured);
            }
            // Pinned at the floor, the window's latency is the service's
            // own: it got slower (a brownout), not more queued. It becomes
            // the baseline now, and the gradient below moves from it, rather
            // than the old baseline holding the limit at the floor until the
            // next probe.
            Phase::Tracking
                if state.limit <= f64::from(self.min_limit)
                    && sample.samples >= MIN_SAMPLES
                    && sample.peak_inflight <= self.min_limit =>
            {
                next.min_rtt = Some(sample.rtt);
            }
            Phase::Tracking if now >= state.next_probe => {
                next.phase = Phase::Probing;
                next.resume_limit = state.limit;
                next.limit = f64::from(self.min_limit);
                return (next, LimitReason::ProbingMinRtt);
            }
            Phase::Tracking => {}
        }
        let Some(min_rtt) = next.min_rtt else {
            return (next, LimitReason::TooFewSamples);
        };
        if sample.samples < MIN_SAMPLES || sample.rtt.is_zero() {
            return (next, LimitReason::TooFewSamples);
        }
        let mut tolerated = min_rtt.as_secs_f64() * (1.0 + self.buffer);
        if let Some(max) = self.max_latency {
            tolerated = tolerated.min(max.as_secs_f64());
        }
        let gradient = (tolerated / sample.rtt.as_secs_f64()).clamp(GRADIENT_MIN, GRADIENT_MAX);
        let scaled = gradient * state.limit;
        let target = scaled + scaled.sqrt();
        let moved = state.limit + self.smoothing.clamp(0.0, 1.0) * (target - state.limit);
        let app_limited = f64::from(sample.peak_inflight) < state.limit / 2.0 && sample.shed == 0;
        if moved > state.limit && app_limited {
            return (next, LimitReason::AppLimited);
        }
        next.limit = self.clamp(moved);
        (next, LimitReason::Gradient(gradient))
    }
}

impl GradientState {
    /// The limit admission uses now: whole requests, at least 1.
    pub fn current(&self) -> u32 {
        (self.limit.floor() as u32).max(1)
    }
}

#[cfg(test)]
mod tests;

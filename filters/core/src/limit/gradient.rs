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
//! - **The baseline comes from low-load requests**: a request admitted
//!   while fewer than `min_limit` requests were in flight met no queue (the
//!   operator's `min_limit` is what the service always serves at once), so
//!   its latency is the service's own. The baseline is the configured
//!   percentile of those requests' latencies, needing [`MIN_BASELINE_SAMPLES`] of
//!   them in a window. It is re-measured every `min_rtt_interval`
//!   (± `probe_jitter`, so that many sidecars do not re-measure in
//!   lockstep), passively when a window had enough low-load requests, and
//!   otherwise by a probe that lowers the limit to `min_limit` for one
//!   window, as Envoy does, **but never for the traffic it protects**: the
//!   probe has levels ([`ProbeLevel`]) that say which classes keep their
//!   measured demand (`limit::reservation`) while the others are held under
//!   `min_limit`. The start-up probe begins by protecting every class
//!   (at half load nothing is shed while the baseline is found), a periodic
//!   probe by protecting the top class; a window at a level without enough
//!   low-load requests, because a protected class was refused, moves to the
//!   next, stricter level. Only requests admitted at the probe's current
//!   level count towards it. When a probe begins or tightens, the requests
//!   admitted before are still in flight: the protected classes may keep
//!   that many in flight (the *carry*) rather than be refused while they
//!   drain, and that first window measures only from low-load requests (its
//!   other latencies queued behind the drain). A window with too few
//!   requests to measure from is extended, not escalated.
//! - **Start-up under overload**: the first limit is `initial_limit`, unless
//!   the start-up probe saw sheds (the service was pushed): then it is the
//!   service's concurrency by Little's law, the peak completion rate seen
//!   times the low-load mean latency (what BBR calls the bandwidth-delay
//!   product), with the tolerated queue (`× (1 + buffer)`) on top, so the
//!   limit starts near its target rather than walking down from
//!   `initial_limit` at the gradient's pace.
//! - A window at the floor (`limit = min_limit`) measures the baseline too:
//!   latency there is the service's own, and waiting for the next probe
//!   would pin the limit at the floor through a brownout.
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
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct WindowSample {
    /// Completed requests in the window.
    pub samples: u64,
    /// The window's latency (the configured percentile).
    pub rtt: Duration,
    /// Completions per second over the window.
    pub rate: f64,
    /// Completed requests that were admitted at low load (fewer than
    /// `min_limit` in flight), their latency (the configured percentile)
    /// and their mean latency.
    pub low_load: u64,
    pub low_load_rtt: Duration,
    pub low_load_mean: Duration,
    /// Largest in-flight count seen in the window.
    pub peak_inflight: u32,
    /// Requests refused in the window (demand the in-flight peak hides).
    pub shed: u64,
    /// Of those, requests of classes a probe protected: their demand did
    /// not fit, so the window's latency is not the service's own.
    pub protected_shed: u64,
    /// The window's mean latency.
    pub mean: Duration,
}

/// Which classes a probe holds under `min_limit`: the others keep the
/// in-flight their measured demand needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ProbeLevel {
    /// Every class keeps its demand (the start-up probe's first window).
    AllClasses = 0,
    /// The top class keeps its demand (a periodic probe's first window).
    TopClass = 1,
    /// Every class is held under `min_limit` (the demand above leaves no
    /// low-load requests: the top class alone is over capacity).
    None = 2,
}

impl ProbeLevel {
    pub fn from_u8(v: u8) -> Option<ProbeLevel> {
        match v {
            0 => Some(ProbeLevel::AllClasses),
            1 => Some(ProbeLevel::TopClass),
            2 => Some(ProbeLevel::None),
            _ => None,
        }
    }

    fn stricter(self) -> ProbeLevel {
        match self {
            ProbeLevel::AllClasses => ProbeLevel::TopClass,
            _ => ProbeLevel::None,
        }
    }

    /// How many classes, from the top, keep their demand.
    pub fn protected_classes(self, classes: usize) -> usize {
        match self {
            ProbeLevel::AllClasses => classes,
            ProbeLevel::TopClass => 1,
            ProbeLevel::None => 0,
        }
    }
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
    /// Too few completed requests in the window: unchanged. While probing,
    /// the window's samples are kept and the next window adds to them.
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
    /// While probing: which classes keep their demand.
    pub probe_level: ProbeLevel,
    /// Highest completion rate (per second) of a window since start-up.
    pub peak_rate: f64,
    /// Whether a window of the current probe shed anything.
    pub probe_shed: bool,
    /// While probing: the in flight when the probe began or last tightened
    /// its level. The protected classes may keep this many in flight while
    /// the requests admitted before drain (the others are held under
    /// `min_limit`), so that protecting them never starts by refusing them.
    pub probe_carry: f64,
    /// The limit and the window's mean latency where the current run of
    /// cuts last saw the latency fall (0 and zero outside a run): a run
    /// that cuts the limit far below it without bringing the latency down
    /// means the service itself got slower.
    pub cut_from: f64,
    pub cut_rtt: Duration,
    /// At start-up, the first window's mean latency and latency, kept
    /// until a second window shows whether a queue was building
    /// (zero: none yet).
    pub startup_mean: Duration,
    pub startup_rtt: Duration,
}

/// A probe window whose protected classes lost at most one request in this
/// many completions still measured the service at their load: the first
/// moments of a level may refuse a few while the previous level's requests
/// drain.
pub const PROTECTED_SHED_TOLERANCE: u64 = 100;

/// A run of cuts that brings the limit to this fraction of where the mean
/// latency last responded (fell under [`STALE_LATENCY`] of what it was)
/// re-measures the baseline: under a queue, cutting the in flight shortens
/// the latency about in proportion, so a 30 % cut that leaves it within
/// 20 % (twice the standard error of a 100-request mean) is no queue.
pub const STALE_CUT: f64 = 0.7;

/// A window cut while refusing requests and completing under this fraction
/// of the highest rate seen re-measures the baseline (a slower service).
pub const STALE_RATE: f64 = 0.5;
pub const STALE_LATENCY: f64 = 0.8;

/// A window whose latency is under this fraction of the baseline replaces
/// it at once: the window's percentile over at least
/// [`MIN_BASELINE_SAMPLES`] requests is within 13 % of the service's, so
/// half is no accident of sampling.
pub const STALE_BASELINE: f64 = 0.5;

/// At start-up, a second window whose mean latency is over this many times
/// the first's shows a queue building behind the start-up probe (the mean
/// of 100 requests is within about 13 % of the service's, so twice it is
/// no accident of sampling).
pub const STARTUP_QUEUE_GROWTH: f64 = 2.0;

/// Fewest completed requests a window needs to move the limit; a window
/// with fewer is extended (its samples kept) until it has them.
///
/// The window's latency is compared with the baseline within the `buffer`
/// (25 % by default), so its noise must be well inside that. The
/// standard error of a sample quantile is `√(p(1 − p)/n) / f(q)`; for
/// exponential service times at p = 0.9 that is `1.3/√n` of the quantile
/// itself: 13 % at 100 samples, against 23 % at 32 and 46 % at 8. With
/// fewer, a window's p90 lands above the tolerance by chance often enough
/// that the limit (which may shrink when app-limited, not grow) ratchets
/// down at half load.
pub const MIN_SAMPLES: u64 = 100;

/// Fewest completed requests a baseline is measured from, for the same
/// reason: the baseline sets the tolerance every later window is held to.
pub const MIN_BASELINE_SAMPLES: u64 = 100;

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
            probe_level: ProbeLevel::AllClasses,
            peak_rate: 0.0,
            probe_shed: false,
            probe_carry: 0.0,
            cut_from: 0.0,
            cut_rtt: Duration::ZERO,
            startup_mean: Duration::ZERO,
            startup_rtt: Duration::ZERO,
        }
    }

    fn clamp(&self, limit: f64) -> f64 {
        super::within(limit, f64::from(self.min_limit), f64::from(self.max_limit))
    }

    fn next_probe_after(&self, now: Timestamp, random: &mut impl Random) -> Timestamp {
        let base = self.min_rtt_interval.as_secs_f64();
        let jitter = super::within(self.probe_jitter, 0.0, 0.5);
        let factor = 1.0 - jitter + 2.0 * jitter * random.next_unit();
        now.saturating_add(Duration::from_secs_f64((base * factor).max(0.0)))
    }

    /// A periodic probe from `state`: the top class keeps its demand, the
    /// others are held under `min_limit`, and tracking resumes at the
    /// current limit.
    fn start_probe(&self, state: &GradientState, _now: Timestamp) -> GradientState {
        GradientState {
            phase: Phase::Probing,
            probe_level: ProbeLevel::TopClass,
            probe_shed: false,
            probe_carry: state.limit,
            resume_limit: state.limit,
            limit: f64::from(self.min_limit),
            cut_from: 0.0,
            cut_rtt: Duration::ZERO,
            ..*state
        }
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
        if sample.rate.is_finite() {
            next.peak_rate = state.peak_rate.max(sample.rate);
        }
        match state.phase {
            Phase::Probing => {
                next.probe_shed |= sample.shed > 0;
                // What the probe protected fitted under its room.
                // (A window still short of samples may have refused one.)
                let protected_fit = sample.protected_shed * PROTECTED_SHED_TOLERANCE
                    <= sample.samples.max(MIN_BASELINE_SAMPLES);
                let measured = if sample.low_load >= MIN_BASELINE_SAMPLES {
                    Some(sample.low_load_rtt)
                } else if protected_fit
                    && state.probe_carry == 0.0
                    && sample.samples >= MIN_BASELINE_SAMPLES
                {
                    // The window's latency is the service's at the
                    // protected classes' load (and, with no carry, not
                    // behind a queue admitted before the level).
                    Some(sample.rtt)
                } else {
                    None
                };
                // The start-up probe admits every class, so under overload
                // its window sits behind a queue that grows with time:
                // take a second window, and if its mean latency grew by
                // more than STARTUP_QUEUE_GROWTH, measure again with only
                // the top class kept (the others under `min_limit`).
                let from_window = sample.low_load < MIN_BASELINE_SAMPLES;
                let measured = match measured {
                    Some(rtt)
                        if from_window
                            && state.min_rtt.is_none()
                            && state.probe_level == ProbeLevel::AllClasses =>
                    {
                        if state.startup_mean.is_zero() {
                            next.startup_mean = sample.mean.max(Duration::from_nanos(1));
                            next.startup_rtt = rtt;
                            return (next, LimitReason::ProbingMinRtt);
                        }
                        next.startup_mean = Duration::ZERO;
                        next.startup_rtt = Duration::ZERO;
                        if sample.mean.as_secs_f64()
                            > STARTUP_QUEUE_GROWTH * state.startup_mean.as_secs_f64()
                        {
                            next.probe_level = state.probe_level.stricter();
                            next.probe_carry = f64::from(sample.peak_inflight);
                            return (next, LimitReason::ProbingMinRtt);
                        }
                        Some(rtt.min(state.startup_rtt))
                    }
                    other => other,
                };
                let Some(rtt) = measured else {
                    if !protected_fit {
                        next.probe_level = state.probe_level.stricter();
                        next.probe_carry = f64::from(sample.peak_inflight);
                        return (next, LimitReason::ProbingMinRtt);
                    }
                    if state.probe_carry > 0.0 {
                        // The level's first window drained what was
                        // admitted before it; the next one measures.
                        next.probe_carry = 0.0;
                        return (next, LimitReason::ProbingMinRtt);
                    }
                    // Too little traffic yet: the window goes on gathering
                    // (the caller keeps its samples) at the same level.
                    return (next, LimitReason::TooFewSamples);
                };
                next.min_rtt = Some(rtt);
                next.phase = Phase::Tracking;
                next.limit = self.clamp(state.resume_limit);
                if next.probe_shed {
                    // Under overload (at start-up, or a service that got
                    // slower): Little's law, not the configured guess nor
                    // the limit before the probe (see the module docs).
                    let mean = if sample.low_load > 0 {
                        sample.low_load_mean
                    } else {
                        sample.mean
                    };
                    let bdp = next.peak_rate * mean.as_secs_f64();
                    // The level the lowest class fills to: the headroom
                    // of the classes above is added at admission.
                    let start = bdp * (1.0 + self.buffer) + bdp.sqrt();
                    if start.is_finite() && start > 0.0 {
                        next.limit = self.clamp(start.min(state.resume_limit));
                    }
                }
                next.probe_shed = false;
                next.probe_carry = 0.0;
                next.next_probe = self.next_probe_after(now, random);
                return (next, LimitReason::MinRttMeasured);
            }
            // Due, and the window had enough low-load requests, or it was
            // app-limited with its latency within the tolerance of the
            // baseline: a baseline measurement, taken without forcing a
            // probe (and without shedding anything to get it).
            Phase::Tracking
                if now >= state.next_probe
                    && (sample.low_load >= MIN_BASELINE_SAMPLES
                        || (sample.samples >= MIN_BASELINE_SAMPLES
                            && f64::from(sample.peak_inflight) < state.limit / 2.0
                            && sample.shed == 0
                            && state.min_rtt.is_some_and(|m| {
                                sample.rtt.as_secs_f64() <= m.as_secs_f64() * (1.0 + self.buffer)
                            }))) =>
            {
                next.min_rtt = Some(if sample.low_load >= MIN_BASELINE_SAMPLES {
                    sample.low_load_rtt
                } else {
                    sample.rtt
                });
                next.next_probe = self.next_probe_after(now, random);
                return (next, LimitReason::MinRttMeasured);
            }
            // A window far below the baseline: the service got faster (a
            // brownout ended), and any window's latency is at least the
            // service's own. It becomes the baseline at once.
            Phase::Tracking
                if sample.samples >= MIN_BASELINE_SAMPLES
                    && !sample.rtt.is_zero()
                    && state.min_rtt.is_some_and(|m| {
                        sample.rtt.as_secs_f64() < m.as_secs_f64() * STALE_BASELINE
                    }) =>
            {
                next.min_rtt = Some(sample.rtt);
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
                return (self.start_probe(&next, now), LimitReason::ProbingMinRtt);
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
        let gradient = super::within(
            tolerated / sample.rtt.as_secs_f64(),
            GRADIENT_MIN,
            GRADIENT_MAX,
        );
        let scaled = gradient * state.limit;
        // The queue allowance `√L` (Netflix's gradient limit) is no
        // allowance over the operator's latency cap.
        let over_cap = self.max_latency.is_some_and(|max| sample.rtt > max);
        let target = if over_cap {
            scaled
        } else {
            scaled + scaled.sqrt()
        };
        let moved = state.limit + super::within(self.smoothing, 0.0, 1.0) * (target - state.limit);
        if moved < state.limit && sample.shed > 0 && sample.rate < STALE_RATE * state.peak_rate {
            // Refusing requests while completing under half the rate it
            // once did: the service got slower, it is not a queue (under
            // a queue it completes as fast as ever). Measure the baseline
            // again now, and count the peak rate from here.
            let mut probe = self.start_probe(&next, now);
            probe.peak_rate = sample.rate;
            return (probe, LimitReason::ProbingMinRtt);
        }
        if moved < state.limit {
            let responded = sample.mean.as_secs_f64() < state.cut_rtt.as_secs_f64() * STALE_LATENCY;
            if state.cut_from <= 0.0 || responded {
                next.cut_from = state.limit;
                next.cut_rtt = sample.mean;
            } else if moved <= state.cut_from * STALE_CUT {
                // Halving the limit left the latency where it was: it is
                // the service's own (a brownout), not a queue. Measure the
                // baseline again now instead of cutting to the floor.
                return (self.start_probe(&next, now), LimitReason::ProbingMinRtt);
            }
        } else {
            next.cut_from = 0.0;
            next.cut_rtt = Duration::ZERO;
        }
        // The latency says something about a larger limit only if the
        // window came near it or refused anything.
        let peak = f64::from(sample.peak_inflight);
        let app_limited = peak < state.limit / 2.0 && sample.shed == 0;
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

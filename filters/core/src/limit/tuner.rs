//! The bounded SLO tuner: moves a few throttle parameters, inside bounds the
//! operator set, to keep the service inside its stated SLO.
//!
//! Each evaluation compares what was measured since the last one with the
//! targets:
//!
//! ```text
//! violated = latency > latency_target × (1 + hysteresis)
//!         or error_rate > error_rate_target × (1 + hysteresis)
//! healthy  = every measured value < its target × (1 − hysteresis)
//!
//! violated → tighten: every knob  k ← max(k − step, min)
//!            (max_limit from min(cap, limit in force), so it binds at once)
//! healthy  → relax:   every knob  k ← min(k + step, max)
//! otherwise (inside the band, or nothing measured) → hold
//! ```
//!
//! and a move happens only if `cooldown` has passed since the last one.
//! Knobs start at their loosest value (`max`), so a service that meets its
//! SLO runs exactly as configured. The knobs, all "higher is looser":
//!
//! - `max_limit`: a cap on the concurrency limit in force;
//! - `share_scale`: multiplies the share of every class but the most
//!   important, so less important traffic gives way first;
//! - `aggression`: the success-rate throttle's `K`.
//!
//! Why it cannot oscillate or run away: a knob never leaves `[min, max]`
//! (the clamp is the last operation of every move); it moves at most `step`
//! per move and at most one move per `cooldown`, so crossing its range takes
//! at least `(max − min) / step × cooldown`; and the hysteresis band
//! between "violated" and "healthy" means a measurement near the target
//! holds rather than flipping direction each time. Evaluations are spaced
//! `interval × (1 ± jitter)` apart so that many sidecars do not move in
//! lockstep. It is a fixed-step controller with a dead band, as a thermostat
//! is; the bounded, rate-limited, jittered moves follow the discipline of
//! Envoy's adaptive_concurrency (clamped gradient, jittered min-RTT
//! recalculation).

use crate::random::Random;
use crate::time::Timestamp;
use std::time::Duration;

/// One tunable parameter's range and step (validated: `min ≤ max`,
/// `0 < step`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Knob {
    pub min: f64,
    pub max: f64,
    pub step: f64,
}

impl Knob {
    fn tighten(&self, value: f64) -> f64 {
        super::within(value - self.step, self.min, self.max)
    }

    fn relax(&self, value: f64) -> f64 {
        super::within(value + self.step, self.min, self.max)
    }
}

/// The tuner's configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct TunerParams {
    /// Bound on the adaptive limit's latency estimate (its window
    /// percentile).
    pub latency_target: Option<Duration>,
    /// Bound on the fraction of forwarded requests answered 5xx or 429.
    pub error_rate_target: Option<f64>,
    pub interval: Duration,
    pub cooldown: Duration,
    /// Half-width of the band around each target, as a fraction of it.
    pub hysteresis: f64,
    /// Spread of the evaluation interval, as a fraction of it.
    pub jitter: f64,
    pub max_limit: Option<Knob>,
    pub share_scale: Option<Knob>,
    pub aggression: Option<Knob>,
}

/// The tuned values, shared by every worker.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tuned {
    /// Cap on the concurrency limit (`f64::INFINITY` when not tuned).
    pub max_limit: f64,
    /// Multiplier of every class's share but the first (1 when not tuned).
    pub share_scale: f64,
    /// Success-rate aggression (`None` when not tuned).
    pub aggression: Option<f64>,
}

/// What one evaluation measured.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Observation {
    pub latency: Option<Duration>,
    pub error_rate: Option<f64>,
    /// The concurrency limit in force. Tightening `max_limit` starts from
    /// it when it is below the cap, so the first move already binds.
    pub limit: Option<u32>,
}

/// What an evaluation did, and why: for logs and metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TunerMove {
    Tighten(Cause),
    Relax,
    /// Inside the hysteresis band, or nothing measured.
    Hold,
    /// A move was due but the cooldown since the last one has not passed.
    Cooldown,
}

impl TunerMove {
    /// For logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            TunerMove::Tighten(Cause::Latency) => "tighten (latency)",
            TunerMove::Tighten(Cause::ErrorRate) => "tighten (error rate)",
            TunerMove::Relax => "relax",
            TunerMove::Hold => "hold",
            TunerMove::Cooldown => "hold (cooldown)",
        }
    }
}

/// Which target a tightening answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    Latency,
    ErrorRate,
}

/// The tuner's state.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TunerState {
    pub tuned: Tuned,
    pub last_move: Option<Timestamp>,
    pub next_evaluation: Timestamp,
}

impl TunerParams {
    /// The state at start-up: every knob at its loosest.
    pub fn start(&self, now: Timestamp, random: &mut impl Random) -> TunerState {
        TunerState {
            tuned: self.loosest(),
            last_move: None,
            next_evaluation: now.saturating_add(self.next_interval(random)),
        }
    }

    /// Every knob at its `max`; untuned parameters as configured.
    pub fn loosest(&self) -> Tuned {
        Tuned {
            max_limit: self.max_limit.map_or(f64::INFINITY, |k| k.max),
            share_scale: self.share_scale.map_or(1.0, |k| k.max),
            aggression: self.aggression.map(|k| k.max),
        }
    }

    /// `tuned` brought inside these parameters' bounds: values stored under
    /// an earlier configuration never apply outside the current one.
    pub fn clamp(&self, tuned: Tuned) -> Tuned {
        let loosest = self.loosest();
        let within = |knob: Option<Knob>, value: f64, default: f64| match knob {
            Some(k) if value.is_finite() => super::within(value, k.min, k.max),
            _ => default,
        };
        Tuned {
            max_limit: within(self.max_limit, tuned.max_limit, loosest.max_limit),
            share_scale: within(self.share_scale, tuned.share_scale, loosest.share_scale),
            aggression: self
                .aggression
                .map(|k| within(Some(k), tuned.aggression.unwrap_or(k.max), k.max)),
        }
    }

    fn next_interval(&self, random: &mut impl Random) -> Duration {
        let spread = 1.0 + self.jitter * (2.0 * random.next_unit() - 1.0);
        self.interval.mul_f64(spread.max(0.0))
    }

    /// Whether an evaluation is due.
    pub fn due(&self, state: &TunerState, now: Timestamp) -> bool {
        now >= state.next_evaluation
    }

    /// Compares `observed` with the targets and moves the knobs (see the
    /// module docs).
    pub fn evaluate(
        &self,
        state: &TunerState,
        observed: Observation,
        now: Timestamp,
        random: &mut impl Random,
    ) -> (TunerState, TunerMove) {
        let mut next = *state;
        next.next_evaluation = now.saturating_add(self.next_interval(random));
        let wanted = self.judge(observed);
        if wanted == TunerMove::Hold {
            return (next, wanted);
        }
        if state
            .last_move
            .is_some_and(|at| now.saturating_since(at) < self.cooldown)
        {
            return (next, TunerMove::Cooldown);
        }
        let t = &mut next.tuned;
        let tighten = matches!(wanted, TunerMove::Tighten(_));
        let apply = |knob: Option<Knob>, value: f64| match knob {
            Some(k) if tighten => k.tighten(value),
            Some(k) => k.relax(value),
            None => value,
        };
        let from = match (tighten, observed.limit) {
            (true, Some(limit)) => t.max_limit.min(f64::from(limit)),
            _ => t.max_limit,
        };
        t.max_limit = apply(self.max_limit, from);
        t.share_scale = apply(self.share_scale, t.share_scale);
        t.aggression = t.aggression.map(|a| apply(self.aggression, a));
        if next.tuned == state.tuned {
            // Already at the bound in the wanted direction.
            return (next, TunerMove::Hold);
        }
        next.last_move = Some(now);
        (next, wanted)
    }

    fn judge(&self, observed: Observation) -> TunerMove {
        let h = self.hysteresis;
        let latency = self
            .latency_target
            .zip(observed.latency)
            .map(|(target, l)| (l.as_secs_f64(), target.as_secs_f64()));
        let errors = self.error_rate_target.zip(observed.error_rate);
        if latency.is_some_and(|(l, t)| l > t * (1.0 + h)) {
            return TunerMove::Tighten(Cause::Latency);
        }
        if errors.is_some_and(|(target, e)| e > target * (1.0 + h)) {
            return TunerMove::Tighten(Cause::ErrorRate);
        }
        let measured_all = (self.latency_target.is_none() || latency.is_some())
            && (self.error_rate_target.is_none() || errors.is_some());
        let latency_ok = latency.is_none_or(|(l, t)| l < t * (1.0 - h));
        let errors_ok = errors.is_none_or(|(target, e)| e < target * (1.0 - h));
        if measured_all && latency_ok && errors_ok {
            TunerMove::Relax
        } else {
            TunerMove::Hold
        }
    }
}

impl Tuned {
    /// The limit in force under the cap.
    pub fn cap(&self, limit: u32) -> u32 {
        if self.max_limit.is_finite() {
            limit.min(self.max_limit.max(1.0) as u32)
        } else {
            limit
        }
    }

    /// A class's share after scaling (`most_important` keeps its share).
    pub fn share(&self, share: f64, most_important: bool) -> f64 {
        if most_important {
            share
        } else {
            super::within(share * self.share_scale, 0.0, 1.0)
        }
    }
}

#[cfg(test)]
mod tests;

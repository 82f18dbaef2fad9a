//! Rate shapes: how many requests per second a generator offers at time `t`.
//!
//! Overload behaviour depends on how load changes, not only on how much there
//! is: a throttle that copes with a steady 2x may fail a 10x spike or a slow
//! ramp. Each shape is a function `rate(t) >= 0` of scenario time (not of the
//! generator's `start`), in requests per second:
//!
//! | shape      | rate(t)                                                        |
//! |------------|----------------------------------------------------------------|
//! | `constant` | `rps`                                                          |
//! | `step`     | `before` for t < `at`, `after` from `at` on                    |
//! | `steps`    | `rps` of the last step with `at <= t`; 0 before the first step |
//! | `ramp`     | `from` before `start`, `to` from `end` on, linear in between   |
//! | `spike`    | `peak` during [`at`, `at + duration`), `base` otherwise         |
//! | `periodic` | max(0, `base + amplitude * sin(2 pi (t + phase) / period)`)    |
//!
//! Besides `rate_at`, the generator needs upper bounds of the rate over a
//! window (for thinning, see [`crate::generator`]) and the first time the rate
//! can be positive (to skip silent stretches without stepping through them).

use crate::error::{join, TrafficError};
use crate::Dur;
use serde::Deserialize;
use std::time::Duration;

/// Rates above this are refused: far beyond what a replay can run, and it
/// keeps the generator's floating-point time steps well above resolution.
pub const MAX_RPS: f64 = 1e9;

/// The offered request rate over time.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RateShape {
    Constant {
        rps: f64,
    },
    Step {
        before: f64,
        after: f64,
        at: Dur,
    },
    Steps {
        steps: Vec<StepPoint>,
    },
    Ramp {
        from: f64,
        to: f64,
        start: Dur,
        end: Dur,
    },
    Spike {
        base: f64,
        peak: f64,
        at: Dur,
        duration: Dur,
    },
    Periodic {
        base: f64,
        amplitude: f64,
        period: Dur,
        #[serde(default)]
        phase: Option<Dur>,
    },
}

/// From `at` on (until the next step), the rate is `rps`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepPoint {
    pub at: Dur,
    pub rps: f64,
}

impl RateShape {
    /// Requests per second at `t` (scenario time).
    pub fn rate_at(&self, t: Duration) -> f64 {
        match self {
            RateShape::Constant { rps } => *rps,
            RateShape::Step { before, after, at } => {
                if t < at.0 {
                    *before
                } else {
                    *after
                }
            }
            RateShape::Steps { steps } => match steps.partition_point(|s| s.at.0 <= t) {
                0 => 0.0,
                i => steps[i - 1].rps,
            },
            RateShape::Ramp {
                from,
                to,
                start,
                end,
            } => {
                if t < start.0 {
                    *from
                } else if t >= end.0 {
                    *to
                } else {
                    let f = (t - start.0).as_secs_f64() / (end.0 - start.0).as_secs_f64();
                    from + (to - from) * f
                }
            }
            RateShape::Spike {
                base,
                peak,
                at,
                duration,
            } => {
                if t >= at.0 && spike_end(at, duration).is_none_or(|e| t < e) {
                    *peak
                } else {
                    *base
                }
            }
            RateShape::Periodic {
                base,
                amplitude,
                period,
                phase,
            } => {
                let period_ns = period.0.as_nanos();
                if period_ns == 0 {
                    return base.max(0.0);
                }
                // The phase within the period in exact integer nanoseconds, so
                // that precision does not decay as t grows.
                let shifted = t.as_nanos() + phase.map_or(0, |p| p.0.as_nanos());
                let cycle = (shifted % period_ns) as f64 / period_ns as f64;
                (base + amplitude * (std::f64::consts::TAU * cycle).sin()).max(0.0)
            }
        }
    }

    /// The largest rate at any time (an upper bound of `rate_at`).
    pub fn max_rate(&self) -> f64 {
        match self {
            RateShape::Constant { rps } => *rps,
            RateShape::Step { before, after, .. } => before.max(*after),
            RateShape::Steps { steps } => steps.iter().map(|s| s.rps).fold(0.0, f64::max),
            RateShape::Ramp { from, to, .. } => from.max(*to),
            RateShape::Spike { base, peak, .. } => base.max(*peak),
            RateShape::Periodic {
                base, amplitude, ..
            } => (base + amplitude.abs()).max(0.0),
        }
    }

    /// An upper bound of `rate_at(t)` for `t` in [`from`, `to`); tight
    /// except for `periodic`, where it is the global maximum.
    pub(crate) fn max_rate_in(&self, from: Duration, to: Duration) -> f64 {
        match self {
            RateShape::Step { before, after, at } => {
                if to <= at.0 {
                    *before
                } else if from >= at.0 {
                    *after
                } else {
                    before.max(*after)
                }
            }
            RateShape::Steps { steps } => {
                let i = steps.partition_point(|s| s.at.0 <= from);
                let active = if i == 0 { 0.0 } else { steps[i - 1].rps };
                steps[i..]
                    .iter()
                    .take_while(|s| s.at.0 < to)
                    .map(|s| s.rps)
                    .fold(active, f64::max)
            }
            // Linear between two constants is monotone: the ends bound it.
            RateShape::Ramp { .. } => self.rate_at(from).max(self.rate_at(to)),
            RateShape::Spike {
                base,
                peak,
                at,
                duration,
            } => {
                let overlaps = to > at.0 && spike_end(at, duration).is_none_or(|e| from < e);
                if overlaps {
                    base.max(*peak)
                } else {
                    *base
                }
            }
            RateShape::Constant { .. } | RateShape::Periodic { .. } => self.max_rate(),
        }
    }

    /// The earliest time `>= t` from which the rate may be positive, or
    /// `None` if it is zero from `t` on. Lets generators jump over silence.
    pub(crate) fn positive_from(&self, t: Duration) -> Option<Duration> {
        if self.rate_at(t) > 0.0 {
            return Some(t);
        }
        match self {
            RateShape::Constant { .. } => None,
            RateShape::Step { after, at, .. } => (*after > 0.0).then_some(at.0.max(t)),
            RateShape::Steps { steps } => {
                let next = steps.partition_point(|s| s.at.0 <= t);
                steps[next..].iter().find(|s| s.rps > 0.0).map(|s| s.at.0)
            }
            // Zero at t: either still at `from` = 0 before the start, or the
            // line is at 0 now; it is positive later only if it heads to `to`.
            RateShape::Ramp { to, start, .. } => (*to > 0.0).then_some(start.0.max(t)),
            RateShape::Spike {
                base,
                peak,
                at,
                duration,
            } => {
                if t < at.0 && *peak > 0.0 {
                    Some(at.0) // silent base, spike ahead
                } else if *base > 0.0 {
                    spike_end(at, duration) // inside a silent spike
                } else {
                    None
                }
            }
            RateShape::Periodic { .. } => (self.max_rate() > 0.0).then_some(t),
        }
    }

    /// Checks the numbers; `place` is the field path of this shape.
    pub fn validate(&self, place: &str) -> Result<(), TrafficError> {
        match self {
            RateShape::Constant { rps } => check_rps(*rps, &join(place, "constant.rps")),
            RateShape::Step { before, after, .. } => {
                check_rps(*before, &join(place, "step.before"))?;
                check_rps(*after, &join(place, "step.after"))
            }
            RateShape::Steps { steps } => {
                let place = join(place, "steps.steps");
                if steps.is_empty() {
                    return Err(TrafficError::new(place, "needs at least one step"));
                }
                for (i, s) in steps.iter().enumerate() {
                    let here = join(&place, &format!("[{i}]"));
                    check_rps(s.rps, &join(&here, "rps"))?;
                    if i > 0 && s.at <= steps[i - 1].at {
                        return Err(TrafficError::new(
                            join(&here, "at"),
                            format!(
                                "steps must be in increasing order of `at`, but {} follows {}",
                                s.at,
                                steps[i - 1].at
                            ),
                        ));
                    }
                }
                Ok(())
            }
            RateShape::Ramp {
                from,
                to,
                start,
                end,
            } => {
                check_rps(*from, &join(place, "ramp.from"))?;
                check_rps(*to, &join(place, "ramp.to"))?;
                if end < start {
                    return Err(TrafficError::new(
                        join(place, "ramp.end"),
                        format!("the ramp ends ({end}) before it starts ({start})"),
                    ));
                }
                Ok(())
            }
            RateShape::Spike {
                base,
                peak,
                duration,
                ..
            } => {
                check_rps(*base, &join(place, "spike.base"))?;
                check_rps(*peak, &join(place, "spike.peak"))?;
                if duration.0.is_zero() {
                    return Err(TrafficError::new(
                        join(place, "spike.duration"),
                        "must be positive",
                    ));
                }
                Ok(())
            }
            RateShape::Periodic {
                base,
                amplitude,
                period,
                ..
            } => {
                check_rps(*base, &join(place, "periodic.base"))?;
                if !amplitude.is_finite() || amplitude.abs() > MAX_RPS {
                    return Err(TrafficError::new(
                        join(place, "periodic.amplitude"),
                        format!(
                            "must be a number of requests per second within ±1e9, not {amplitude}"
                        ),
                    ));
                }
                if period.0.is_zero() {
                    return Err(TrafficError::new(
                        join(place, "periodic.period"),
                        "must be positive",
                    ));
                }
                Ok(())
            }
        }
    }
}

/// The end of a spike, or `None` if it lasts past the end of time.
fn spike_end(at: &Dur, duration: &Dur) -> Option<Duration> {
    at.0.checked_add(duration.0)
}

fn check_rps(rps: f64, place: &str) -> Result<(), TrafficError> {
    if rps.is_finite() && (0.0..=MAX_RPS).contains(&rps) {
        Ok(())
    } else {
        Err(TrafficError::new(
            place,
            format!("must be a number of requests per second between 0 and 1e9, not {rps}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn dur(n: u64) -> Dur {
        Dur(ms(n))
    }

    fn shape(json: &str) -> RateShape {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn step_switches_at_its_time() {
        let s = shape(r#"{"step": {"before": 10, "after": 50, "at": "2s"}}"#);
        assert_eq!(s.rate_at(ms(1999)), 10.0);
        assert_eq!(s.rate_at(ms(2000)), 50.0);
        assert_eq!(s.max_rate(), 50.0);
    }

    #[test]
    fn steps_take_the_last_step_started_and_zero_before_the_first() {
        let s = shape(
            r#"{"steps": {"steps": [{"at": "1s", "rps": 5}, {"at": "3s", "rps": 20}, {"at": "4s", "rps": 0}]}}"#,
        );
        s.validate("rate").unwrap();
        let at = |t| s.rate_at(ms(t));
        assert_eq!(
            (at(0), at(999), at(1000), at(2999), at(3000), at(9000)),
            (0.0, 0.0, 5.0, 5.0, 20.0, 0.0)
        );
        assert_eq!(s.max_rate_in(ms(0), ms(1000)), 0.0);
        assert_eq!(s.max_rate_in(ms(0), ms(1001)), 5.0);
        assert_eq!(s.max_rate_in(ms(2000), ms(3500)), 20.0);
        assert_eq!(s.positive_from(ms(0)), Some(ms(1000)));
        assert_eq!(s.positive_from(ms(4000)), None);
    }

    #[test]
    fn ramp_is_linear_between_its_ends() {
        let s = shape(r#"{"ramp": {"from": 100, "to": 300, "start": "10s", "end": "20s"}}"#);
        assert_eq!(s.rate_at(ms(0)), 100.0);
        assert!((s.rate_at(ms(15_000)) - 200.0).abs() < 1e-9);
        assert!((s.rate_at(ms(12_500)) - 150.0).abs() < 1e-9);
        assert_eq!(s.rate_at(ms(20_000)), 300.0);
        assert_eq!(s.rate_at(ms(99_000)), 300.0);
        assert_eq!(s.max_rate_in(ms(0), ms(15_000)), s.rate_at(ms(15_000)));
    }

    #[test]
    fn a_ramp_of_zero_length_is_a_step() {
        let s = RateShape::Ramp {
            from: 1.0,
            to: 2.0,
            start: dur(5),
            end: dur(5),
        };
        s.validate("r").unwrap();
        assert_eq!((s.rate_at(ms(4)), s.rate_at(ms(5))), (1.0, 2.0));
    }

    #[test]
    fn spike_is_peak_only_during_its_window() {
        let s = shape(r#"{"spike": {"base": 10, "peak": 1000, "at": "5s", "duration": "500ms"}}"#);
        assert_eq!(s.rate_at(ms(4999)), 10.0);
        assert_eq!(s.rate_at(ms(5000)), 1000.0);
        assert_eq!(s.rate_at(ms(5499)), 1000.0);
        assert_eq!(s.rate_at(ms(5500)), 10.0);
        assert_eq!(s.max_rate_in(ms(0), ms(5000)), 10.0);
        assert_eq!(s.max_rate_in(ms(5400), ms(6000)), 1000.0);
        assert_eq!(s.max_rate_in(ms(5500), ms(6000)), 10.0);
    }

    #[test]
    fn periodic_follows_the_sine_and_is_floored_at_zero() {
        let s =
            shape(r#"{"periodic": {"base": 50, "amplitude": 100, "period": "4s", "phase": "1s"}}"#);
        // With phase 1s the cycle starts a quarter period in: t=0 is the crest.
        assert!((s.rate_at(ms(0)) - 150.0).abs() < 1e-9);
        assert!((s.rate_at(ms(1000)) - 50.0).abs() < 1e-9);
        assert_eq!(s.rate_at(ms(2000)), 0.0, "50 - 100 is floored");
        assert!((s.rate_at(ms(4000)) - s.rate_at(ms(0))).abs() < 1e-9);
        assert!(
            (s.rate_at(ms(4_000_001_000)) - 50.0).abs() < 1e-6,
            "no precision decay"
        );
        assert_eq!(s.max_rate(), 150.0);
    }

    #[test]
    fn unknown_fields_and_shapes_are_refused() {
        assert!(
            serde_json::from_str::<RateShape>(r#"{"constant": {"rps": 1, "rsp": 2}}"#).is_err()
        );
        assert!(serde_json::from_str::<RateShape>(r#"{"sawtooth": {"rps": 1}}"#).is_err());
        assert!(serde_json::from_str::<RateShape>(
            r#"{"steps": {"steps": [{"at": 1, "rps": 2, "x": 0}]}}"#
        )
        .is_err());
    }

    #[test]
    fn validation_names_the_field() {
        let err = |s: RateShape| s.validate("traffic[2].rate").unwrap_err().to_string();
        assert!(
            err(RateShape::Constant { rps: -1.0 }).starts_with("traffic[2].rate.constant.rps: ")
        );
        assert!(err(RateShape::Constant { rps: f64::NAN }).contains("between 0 and 1e9"));
        let e = err(RateShape::Ramp {
            from: 1.0,
            to: 2.0,
            start: dur(10),
            end: dur(5),
        });
        assert!(
            e.starts_with("traffic[2].rate.ramp.end: ") && e.contains("before it starts"),
            "{e}"
        );
        let e = err(RateShape::Steps {
            steps: vec![
                StepPoint {
                    at: dur(10),
                    rps: 1.0,
                },
                StepPoint {
                    at: dur(10),
                    rps: 2.0,
                },
            ],
        });
        assert!(e.starts_with("traffic[2].rate.steps.steps[1].at: "), "{e}");
        assert!(err(RateShape::Steps { steps: vec![] }).contains("at least one step"));
        let e = err(RateShape::Periodic {
            base: 1.0,
            amplitude: 1.0,
            period: dur(0),
            phase: None,
        });
        assert!(e.starts_with("traffic[2].rate.periodic.period: "), "{e}");
        let e = err(RateShape::Spike {
            base: 1.0,
            peak: 2.0,
            at: dur(1),
            duration: dur(0),
        });
        assert!(e.starts_with("traffic[2].rate.spike.duration: "), "{e}");
        assert!(err(RateShape::Periodic {
            base: 1.0,
            amplitude: f64::INFINITY,
            period: dur(1),
            phase: None
        })
        .contains("amplitude"));
    }

    fn any_shape() -> impl Strategy<Value = RateShape> {
        let rps = prop_oneof![Just(0.0), 0.0..500.0];
        let t = (0u64..20_000).prop_map(dur);
        prop_oneof![
            rps.clone().prop_map(|rps| RateShape::Constant { rps }),
            (rps.clone(), rps.clone(), t.clone()).prop_map(|(before, after, at)| RateShape::Step {
                before,
                after,
                at
            }),
            proptest::collection::btree_map(0u64..20_000, rps.clone(), 1..6).prop_map(|m| {
                RateShape::Steps {
                    steps: m
                        .into_iter()
                        .map(|(at, rps)| StepPoint { at: dur(at), rps })
                        .collect(),
                }
            }),
            (rps.clone(), rps.clone(), t.clone(), 0u64..10_000).prop_map(
                |(from, to, start, len)| {
                    RateShape::Ramp {
                        from,
                        to,
                        start,
                        end: Dur(start.0 + ms(len)),
                    }
                }
            ),
            (rps.clone(), rps.clone(), t.clone(), 1u64..5_000).prop_map(|(base, peak, at, d)| {
                RateShape::Spike {
                    base,
                    peak,
                    at,
                    duration: dur(d),
                }
            }),
            (rps, -500.0..500.0, 1u64..5_000, proptest::option::of(t)).prop_map(
                |(base, amplitude, p, phase)| RateShape::Periodic {
                    base,
                    amplitude,
                    period: dur(p),
                    phase
                }
            ),
        ]
    }

    proptest! {
        /// Thinning is exact only if the window bound really bounds the rate.
        #[test]
        fn window_bounds_bound_the_rate(s in any_shape(), a in 0u64..25_000, len in 1u64..3_000, probes in proptest::collection::vec(0.0..1.0f64, 20)) {
            s.validate("rate").unwrap();
            let (from, to) = (ms(a), ms(a + len));
            let bound = s.max_rate_in(from, to);
            prop_assert!(bound <= s.max_rate() + 1e-9);
            for p in probes {
                let t = from + (to - from).mul_f64(p);
                let r = s.rate_at(t);
                prop_assert!(r >= 0.0);
                prop_assert!(r <= bound + 1e-9, "rate {} at {:?} above bound {}", r, t, bound);
            }
        }

        /// Nothing is skipped: the rate is zero between `t` and `positive_from(t)`.
        #[test]
        fn silence_skipping_skips_only_silence(s in any_shape(), a in 0u64..25_000, probes in proptest::collection::vec(0u64..40_000, 20)) {
            let t = ms(a);
            let next = s.positive_from(t);
            if let Some(p) = next {
                prop_assert!(p >= t);
            }
            for q in probes {
                let u = t + ms(q);
                if next.is_none_or(|p| u < p) {
                    prop_assert_eq!(s.rate_at(u), 0.0, "positive at {:?} but skipped to {:?}", u, next);
                }
            }
        }
    }
}

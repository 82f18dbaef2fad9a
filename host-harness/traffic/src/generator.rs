//! Generated traffic: a rate shape, a request mix and a seed.
//!
//! Real clients are many and independent, so their requests arrive as a
//! Poisson process: the count in any interval is Poisson-distributed with
//! mean equal to the integral of the rate over it, and counts in disjoint
//! intervals are independent. With a rate that changes over time (a
//! non-homogeneous Poisson process) we draw arrivals by *thinning* (P. A. W.
//! Lewis and G. S. Shedler, "Simulation of nonhomogeneous Poisson processes
//! by thinning", Naval Research Logistics Quarterly 26(3), 1979):
//!
//! - take a bound `L >= rate(t)` and draw candidates at rate `L`: gaps are
//!   `E / L` with `E` exponential of mean 1;
//! - keep a candidate at time `t` with probability `rate(t) / L`.
//!
//! The kept candidates are exactly a Poisson process of rate `rate(t)`. One
//! global bound would make a short 100x spike cost 100x candidates for the
//! whole run, so the bound is piecewise constant: `L` is the largest rate in
//! the current one-second window (the shape computes it). A candidate gap
//! that crosses the window's end is dropped and drawing restarts at the
//! boundary with the next window's bound; because exponential gaps are
//! memoryless this changes nothing about the distribution. Stretches where
//! the rate is zero are skipped without drawing, so a rate of zero yields no
//! arrivals and the iterator ends.
//!
//! `uniform` arrivals are evenly spaced at the current rate: arrival `k` comes
//! when the integral of the rate reaches `k - phi`, for a seeded phase `phi`
//! in [0, 1). The integral is accumulated in steps of at most 1 ms,
//! re-reading the rate at each step and each arrival, so at a constant rate
//! the gaps are exactly `1 / rate`.
//!
//! Arrival times and request contents use separate random streams derived
//! from the seed, so changing the mix does not move the arrivals. Everything
//! is lazy: a ten-minute run at 5000 rps is three million requests that are
//! never held in memory at once.

use crate::error::{join, TrafficError};
use crate::mix::{Mix, Template};
use crate::rng::SplitMix64;
use crate::shape::RateShape;
use crate::{http, Dur, RequestSpec};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

/// A `generator` traffic source as the scenario writes it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneratorSpec {
    pub rate: RateShape,
    /// Request templates; none means `GET /`.
    #[serde(default)]
    pub mix: Vec<Template>,
    /// No arrivals before this (scenario time; default 0). Shape times are
    /// scenario times too, not relative to `start`.
    #[serde(default)]
    pub start: Option<Dur>,
    /// No arrivals from this on (default: the scenario's end).
    #[serde(default)]
    pub end: Option<Dur>,
    /// `:authority` of every request.
    #[serde(default = "default_authority")]
    pub authority: String,
    #[serde(default)]
    pub arrivals: Arrivals,
}

fn default_authority() -> String {
    "service.local".into()
}

/// How arrival times are spread at a given rate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arrivals {
    /// Independent clients: exponential gaps (thinning for varying rates).
    #[default]
    Poisson,
    /// Evenly spaced at the current rate (a metronome; no burstiness).
    Uniform,
}

/// A checked generator, ready to produce arrivals for any seed.
#[derive(Clone, Debug)]
pub struct Generator {
    rate: RateShape,
    mix: Arc<Mix>,
    start: Duration,
    end: Option<Duration>,
    authority: Arc<str>,
    kind: Arrivals,
}

/// Candidate windows for Poisson thinning (see the module docs).
const POISSON_WINDOW: Duration = Duration::from_secs(1);
/// Integration step for uniform arrivals.
const UNIFORM_STEP: Duration = Duration::from_millis(1);

impl Generator {
    /// Checks `spec`; `place` is its field path (e.g. `traffic[0]`).
    pub fn new(spec: &GeneratorSpec, place: &str) -> Result<Generator, TrafficError> {
        spec.rate.validate(&join(place, "rate"))?;
        let mix = Mix::new(spec.mix.clone(), &join(place, "mix"))?;
        if let (Some(start), Some(end)) = (spec.start, spec.end) {
            if end <= start {
                return Err(TrafficError::new(
                    join(place, "end"),
                    format!("must be after `start` ({start}), not {end}"),
                ));
            }
        }
        http::authority(&spec.authority)
            .map_err(|p| TrafficError::new(join(place, "authority"), p))?;
        Ok(Generator {
            rate: spec.rate.clone(),
            mix: Arc::new(mix),
            start: spec.start.map_or(Duration::ZERO, |d| d.0),
            end: spec.end.map(|d| d.0),
            authority: spec.authority.as_str().into(),
            kind: spec.arrivals,
        })
    }

    /// Requests in arrival order within [start, min(end, horizon)); the same
    /// `seed` gives the same sequence. Lazy.
    pub fn arrivals(&self, seed: u64, horizon: Duration) -> GeneratedRequests {
        let mut root = SplitMix64::new(seed);
        let mut time_rng = SplitMix64::new(root.next_u64());
        let mix_rng = SplitMix64::new(root.next_u64());
        let phase = match self.kind {
            Arrivals::Poisson => 0.0,
            Arrivals::Uniform => time_rng.next_f64(),
        };
        let mut out = GeneratedRequests {
            rate: self.rate.clone(),
            mix: Arc::clone(&self.mix),
            authority: Arc::clone(&self.authority),
            kind: self.kind,
            end: self.end.map_or(horizon, |e| e.min(horizon)),
            time_rng,
            mix_rng,
            done: false,
            window_start: self.start,
            window_len: Duration::ZERO,
            window_secs: 0.0,
            offset: 0.0,
            bound: 0.0,
            accumulated: phase,
        };
        out.open_window(self.start);
        out
    }
}

/// The lazy request sequence of one generator run.
#[derive(Clone, Debug)]
pub struct GeneratedRequests {
    rate: RateShape,
    mix: Arc<Mix>,
    authority: Arc<str>,
    kind: Arrivals,
    /// Exclusive end of the run.
    end: Duration,
    time_rng: SplitMix64,
    mix_rng: SplitMix64,
    done: bool,
    window_start: Duration,
    window_len: Duration,
    /// `window_len` in seconds.
    window_secs: f64,
    /// Seconds since `window_start` of the last candidate or step.
    offset: f64,
    /// Poisson: the thinning bound in this window.
    bound: f64,
    /// Uniform: fraction of the next arrival's integral already accumulated.
    accumulated: f64,
}

impl GeneratedRequests {
    /// Starts the window at the first time >= `from` when the rate can be
    /// positive, or ends the run.
    fn open_window(&mut self, from: Duration) {
        let start = match self.rate.positive_from(from) {
            Some(t) if t < self.end => t,
            _ => {
                self.done = true;
                return;
            }
        };
        let len = match self.kind {
            Arrivals::Poisson => POISSON_WINDOW,
            Arrivals::Uniform => UNIFORM_STEP,
        };
        let end = start.checked_add(len).map_or(self.end, |e| e.min(self.end));
        self.window_start = start;
        self.window_len = end - start;
        self.window_secs = self.window_len.as_secs_f64();
        self.offset = 0.0;
        if self.kind == Arrivals::Poisson {
            self.bound = self.rate.max_rate_in(start, end);
        }
    }

    fn next_window(&mut self) {
        self.open_window(self.window_start + self.window_len);
    }

    fn time_at_offset(&self) -> Duration {
        // offset < window_secs <= 1 here, so the conversion cannot fail.
        self.window_start + Duration::from_secs_f64(self.offset)
    }

    fn next_poisson(&mut self) -> Option<Duration> {
        while !self.done {
            if self.bound > 0.0 {
                self.offset += self.time_rng.next_exp() / self.bound;
                if self.offset < self.window_secs {
                    let at = self.time_at_offset();
                    let keep = self.time_rng.next_f64() * self.bound < self.rate.rate_at(at);
                    if keep && at < self.end {
                        return Some(at);
                    }
                    continue;
                }
            }
            self.next_window();
        }
        None
    }

    fn next_uniform(&mut self) -> Option<Duration> {
        while !self.done {
            let rate = self.rate.rate_at(self.time_at_offset());
            let left = self.window_secs - self.offset;
            if rate > 0.0 {
                let gap = (1.0 - self.accumulated) / rate;
                if gap < left {
                    self.offset += gap;
                    self.accumulated = 0.0;
                    let at = self.time_at_offset();
                    if at < self.end {
                        return Some(at);
                    }
                    self.done = true;
                    break;
                }
                self.accumulated += rate * left;
            }
            self.next_window();
        }
        None
    }
}

impl Iterator for GeneratedRequests {
    type Item = RequestSpec;

    fn next(&mut self) -> Option<RequestSpec> {
        let at = match self.kind {
            Arrivals::Poisson => self.next_poisson()?,
            Arrivals::Uniform => self.next_uniform()?,
        };
        let mix_rng = &mut self.mix_rng;
        Some(
            self.mix
                .sample(&mut || mix_rng.next_f64(), at, &self.authority),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> GeneratorSpec {
        serde_json::from_str(json).unwrap()
    }

    fn generator(json: &str) -> Generator {
        Generator::new(&spec(json), "traffic[0]").unwrap()
    }

    fn times(g: &Generator, seed: u64, horizon_s: u64) -> Vec<Duration> {
        g.arrivals(seed, Duration::from_secs(horizon_s))
            .map(|r| r.at)
            .collect()
    }

    /// The integral of the rate over [a, b) by the midpoint rule, 1 ms steps.
    fn integral(shape: &RateShape, a: Duration, b: Duration) -> f64 {
        let step = Duration::from_millis(1);
        let mut t = a;
        let mut sum = 0.0;
        while t < b {
            sum += shape.rate_at(t + step / 2) * step.as_secs_f64();
            t += step;
        }
        sum
    }

    fn count_in(ts: &[Duration], a: Duration, b: Duration) -> usize {
        ts.iter().filter(|t| **t >= a && **t < b).count()
    }

    #[test]
    fn poisson_counts_match_the_integral_of_the_rate() {
        let shapes = [
            r#"{"rate": {"constant": {"rps": 200}}}"#,
            r#"{"rate": {"ramp": {"from": 0, "to": 400, "start": "2s", "end": "12s"}}}"#,
            r#"{"rate": {"spike": {"base": 20, "peak": 2000, "at": "5s", "duration": "300ms"}}}"#,
            r#"{"rate": {"periodic": {"base": 100, "amplitude": 150, "period": "3s"}}}"#,
            r#"{"rate": {"steps": {"steps": [{"at": "1s", "rps": 50}, {"at": "4.5s", "rps": 300}, {"at": "9s", "rps": 0}]}}}"#,
        ];
        let horizon = Duration::from_secs(15);
        let seeds = 8;
        for json in shapes {
            let g = generator(json);
            // Check the whole run and a few sub-windows that straddle changes.
            for (a, b) in [(0, 15_000), (4_000, 6_000), (8_700, 9_300), (1_500, 2_500)] {
                let (a, b) = (Duration::from_millis(a), Duration::from_millis(b));
                let expected = integral(&g.rate, a, b);
                let total: usize = (0..seeds)
                    .map(|seed| count_in(&times(&g, seed, horizon.as_secs()), a, b))
                    .sum();
                let mean = total as f64 / seeds as f64;
                // The mean of `seeds` Poisson counts has standard deviation
                // sqrt(expected / seeds); allow 5 of them (and 1 for tiny means).
                let tolerance = 5.0 * (expected / seeds as f64).sqrt() + 1.0;
                assert!(
                    (mean - expected).abs() < tolerance,
                    "{json} over [{a:?}, {b:?}): mean {mean}, expected {expected}"
                );
            }
        }
    }

    #[test]
    fn poisson_counts_are_as_dispersed_as_poisson() {
        // Counts in disjoint 100 ms bins of a constant rate: variance = mean.
        let g = generator(r#"{"rate": {"constant": {"rps": 300}}}"#);
        let ts = times(&g, 11, 100);
        let mut bins = vec![0f64; 1000];
        for t in &ts {
            bins[(t.as_millis() / 100) as usize] += 1.0;
        }
        let mean = bins.iter().sum::<f64>() / bins.len() as f64;
        let var = bins.iter().map(|c| (c - mean).powi(2)).sum::<f64>() / (bins.len() - 1) as f64;
        assert!((mean - 30.0).abs() < 1.0, "mean {mean}");
        // The index of dispersion var/mean of 1000 bins has s.d. ~ sqrt(2/999).
        assert!((var / mean - 1.0).abs() < 0.25, "dispersion {}", var / mean);
    }

    #[test]
    fn uniform_arrivals_are_evenly_spaced_at_the_current_rate() {
        let g = generator(
            r#"{"arrivals": "uniform", "rate": {"step": {"before": 100, "after": 400, "at": "1s"}}}"#,
        );
        let ts = times(&g, 3, 2);
        let (slow, fast) = ts.split_at(count_in(&ts, Duration::ZERO, Duration::from_secs(1)));
        assert!((99..=101).contains(&slow.len()), "{}", slow.len());
        assert!((399..=401).contains(&fast.len()), "{}", fast.len());
        for w in slow.windows(2) {
            let gap = (w[1] - w[0]).as_secs_f64();
            assert!((gap - 0.01).abs() < 1e-6, "gap {gap}");
        }
        for w in fast[1..].windows(2) {
            let gap = (w[1] - w[0]).as_secs_f64();
            assert!((gap - 0.0025).abs() < 1e-6, "gap {gap}");
        }
        // The seeded phase moves the grid but not the spacing.
        assert_ne!(times(&g, 3, 2)[0], times(&g, 4, 2)[0]);
    }

    #[test]
    fn uniform_follows_a_ramp_through_its_integral() {
        let g = generator(
            r#"{"arrivals": "uniform", "rate": {"ramp": {"from": 0, "to": 200, "start": "1s", "end": "3s"}}}"#,
        );
        let ts = times(&g, 1, 4);
        for (a, b) in [
            (0, 1_000),
            (1_000, 2_000),
            (2_000, 3_000),
            (3_000, 4_000),
            (0, 4_000),
        ] {
            let (a, b) = (Duration::from_millis(a), Duration::from_millis(b));
            let expected = integral(&g.rate, a, b);
            let got = count_in(&ts, a, b) as f64;
            assert!(
                (got - expected).abs() <= 1.5,
                "[{a:?}, {b:?}): {got} vs {expected}"
            );
        }
    }

    #[test]
    fn poisson_gaps_vary_like_exponentials_and_uniform_gaps_do_not() {
        let cv = |ts: &[Duration]| {
            let gaps: Vec<f64> = ts.windows(2).map(|w| (w[1] - w[0]).as_secs_f64()).collect();
            let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
            let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
            var.sqrt() / mean
        };
        let poisson = times(&generator(r#"{"rate": {"constant": {"rps": 500}}}"#), 2, 20);
        let uniform = times(
            &generator(r#"{"arrivals": "uniform", "rate": {"constant": {"rps": 500}}}"#),
            2,
            20,
        );
        // Exponential gaps have coefficient of variation 1.
        assert!((cv(&poisson) - 1.0).abs() < 0.05, "{}", cv(&poisson));
        assert!(cv(&uniform) < 0.01, "{}", cv(&uniform));
    }

    #[test]
    fn a_spike_is_a_burst() {
        let g = generator(
            r#"{"rate": {"spike": {"base": 10, "peak": 1000, "at": "5s", "duration": "500ms"}}}"#,
        );
        let ts = times(&g, 5, 10);
        let during = count_in(
            &ts,
            Duration::from_millis(5000),
            Duration::from_millis(5500),
        );
        let before = count_in(
            &ts,
            Duration::from_millis(4000),
            Duration::from_millis(4500),
        );
        assert!(
            during > 400 && before < 20,
            "during {during}, before {before}"
        );
    }

    #[test]
    fn same_seed_same_sequence_different_seed_different() {
        let g = generator(
            r#"{"rate": {"constant": {"rps": 100}}, "mix": [{"path": "/a"}, {"path": "/b"}]}"#,
        );
        let run = |seed| g.arrivals(seed, Duration::from_secs(5)).collect::<Vec<_>>();
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
        let paths: std::collections::BTreeSet<_> = run(1).into_iter().map(|r| r.path).collect();
        assert_eq!(paths.len(), 2);
    }

    #[test]
    fn the_mix_does_not_move_arrivals() {
        let plain = generator(r#"{"rate": {"constant": {"rps": 100}}}"#);
        let mixed = generator(
            r#"{"rate": {"constant": {"rps": 100}}, "mix": [{"headers": {"p": {"a": 1, "b": 2}}}, {"weight": 3}]}"#,
        );
        assert_eq!(times(&plain, 7, 5), times(&mixed, 7, 5));
    }

    #[test]
    fn arrivals_stay_in_order_inside_start_end_and_horizon() {
        let g = generator(
            r#"{"rate": {"constant": {"rps": 1000}}, "start": "2s", "end": "4s", "authority": "api.example"}"#,
        );
        let reqs: Vec<_> = g.arrivals(9, Duration::from_secs(3)).collect();
        assert!(!reqs.is_empty());
        assert!(reqs
            .iter()
            .all(|r| r.at >= Duration::from_secs(2) && r.at < Duration::from_secs(3)));
        assert!(reqs.windows(2).all(|w| w[0].at <= w[1].at));
        assert!(reqs.iter().all(|r| r.authority == "api.example"));
        let all = times(&g, 9, 100);
        assert!(all.iter().all(|t| *t < Duration::from_secs(4)));
    }

    #[test]
    fn zero_rates_end_the_sequence_even_without_a_horizon() {
        for json in [
            r#"{"rate": {"constant": {"rps": 0}}}"#,
            r#"{"rate": {"periodic": {"base": 0, "amplitude": 0, "period": "1s"}}}"#,
            r#"{"rate": {"steps": {"steps": [{"at": "1s", "rps": 50}, {"at": "2s", "rps": 0}]}}}"#,
            r#"{"rate": {"ramp": {"from": 30, "to": 0, "start": "0s", "end": "1s"}}}"#,
            r#"{"rate": {"spike": {"base": 0, "peak": 100, "at": "10s", "duration": "1s"}}}"#,
        ] {
            for kind in ["poisson", "uniform"] {
                let json = json.replacen('{', &format!(r#"{{"arrivals": "{kind}", "#), 1);
                let n = generator(&json).arrivals(1, Duration::MAX).count();
                assert!(n < 200, "{json}: {n}");
            }
        }
    }

    #[test]
    fn silence_is_skipped_not_stepped_through() {
        // A spike an hour in: the first arrival comes from the spike without
        // drawing an hour of candidates or integration steps.
        for kind in ["poisson", "uniform"] {
            let g = generator(&format!(
                r#"{{"arrivals": "{kind}", "rate": {{"spike": {{"base": 0, "peak": 100, "at": "1h", "duration": "1s"}}}}}}"#
            ));
            let first = g.arrivals(1, Duration::MAX).next().unwrap();
            assert!(first.at >= Duration::from_secs(3600) && first.at < Duration::from_secs(3601));
        }
    }

    #[test]
    fn arrivals_are_lazy() {
        let g = generator(r#"{"rate": {"constant": {"rps": 1000000}}}"#);
        let last = g.arrivals(1, Duration::MAX).take(1000).last().unwrap();
        assert!(last.at < Duration::from_millis(10));
    }

    #[test]
    fn spec_defaults_and_typos() {
        let s = spec(r#"{"rate": {"constant": {"rps": 5}}}"#);
        assert_eq!(s.authority, "service.local");
        assert_eq!(s.arrivals, Arrivals::Poisson);
        assert!(s.mix.is_empty() && s.start.is_none() && s.end.is_none());
        assert!(serde_json::from_str::<GeneratorSpec>(
            r#"{"rate": {"constant": {"rps": 5}}, "rat": 1}"#
        )
        .is_err());
        assert!(serde_json::from_str::<GeneratorSpec>(
            r#"{"rate": {"constant": {"rps": 5}}, "arrivals": "bursty"}"#
        )
        .is_err());
    }

    #[test]
    fn errors_name_the_field() {
        let err = |json: &str| {
            Generator::new(&spec(json), "traffic[3]")
                .unwrap_err()
                .to_string()
        };
        assert!(err(r#"{"rate": {"constant": {"rps": -5}}}"#)
            .starts_with("traffic[3].rate.constant.rps: "));
        assert!(
            err(r#"{"rate": {"constant": {"rps": 5}}, "start": "5s", "end": "5s"}"#)
                .starts_with("traffic[3].end: must be after `start` (5s)")
        );
        assert!(
            err(r#"{"rate": {"constant": {"rps": 5}}, "authority": "a b"}"#)
                .starts_with("traffic[3].authority: ")
        );
        assert!(
            err(r#"{"rate": {"constant": {"rps": 5}}, "mix": [{"weight": 0}]}"#)
                .starts_with("traffic[3].mix")
        );
    }
}

use super::*;
use crate::random::SplitMix64;
use proptest::prelude::*;

fn params() -> TunerParams {
    TunerParams {
        latency_target: Some(Duration::from_millis(100)),
        error_rate_target: Some(0.01),
        interval: Duration::from_secs(1),
        cooldown: Duration::from_secs(5),
        hysteresis: 0.1,
        jitter: 0.0,
        max_limit: Some(Knob {
            min: 20.0,
            max: 200.0,
            step: 30.0,
        }),
        share_scale: Some(Knob {
            min: 0.5,
            max: 1.0,
            step: 0.1,
        }),
        aggression: None,
    }
}

fn at(secs: f64) -> Timestamp {
    Timestamp::from_nanos((secs * 1e9) as u64)
}

fn observed(latency_ms: u64, error_rate: f64) -> Observation {
    Observation {
        latency: Some(Duration::from_millis(latency_ms)),
        error_rate: Some(error_rate),
        limit: None,
    }
}

#[test]
fn starts_loose_tightens_on_a_violation_and_relaxes_when_healthy() {
    let p = params();
    let mut r = SplitMix64::new(1);
    let s = p.start(at(0.0), &mut r);
    assert_eq!((s.tuned.max_limit, s.tuned.share_scale), (200.0, 1.0));
    let (s, m) = p.evaluate(&s, observed(150, 0.0), at(1.0), &mut r);
    assert_eq!(m, TunerMove::Tighten(Cause::Latency));
    assert_eq!(s.tuned.max_limit, 170.0);
    assert!((s.tuned.share_scale - 0.9).abs() < 1e-9);
    let (s, m) = p.evaluate(&s, observed(50, 0.05), at(7.0), &mut r);
    assert_eq!(m, TunerMove::Tighten(Cause::ErrorRate));
    let (s, m) = p.evaluate(&s, observed(50, 0.0), at(13.0), &mut r);
    assert_eq!(m, TunerMove::Relax);
    assert_eq!(s.tuned.max_limit, 170.0);
}

#[test]
fn tightening_the_cap_starts_from_the_limit_in_force() {
    let p = params();
    let mut r = SplitMix64::new(5);
    let s = p.start(at(0.0), &mut r);
    let seen = Observation {
        limit: Some(60),
        ..observed(500, 0.0)
    };
    let (s, _) = p.evaluate(&s, seen, at(1.0), &mut r);
    assert_eq!(s.tuned.max_limit, 30.0, "60 in force, one step of 30 below");
    // Relaxing climbs from the cap, not from the limit.
    let seen = Observation {
        limit: Some(25),
        ..observed(10, 0.0)
    };
    let (s, _) = p.evaluate(&s, seen, at(7.0), &mut r);
    assert_eq!(s.tuned.max_limit, 60.0);
}

#[test]
fn inside_the_band_or_unmeasured_it_holds() {
    let p = params();
    let mut r = SplitMix64::new(2);
    let s = p.start(at(0.0), &mut r);
    // 105 ms is above the target but inside the 10 % band.
    assert_eq!(
        p.evaluate(&s, observed(105, 0.0), at(1.0), &mut r).1,
        TunerMove::Hold
    );
    // 95 ms is below the target but inside the band: no relaxing either.
    assert_eq!(
        p.evaluate(&s, observed(95, 0.0), at(1.0), &mut r).1,
        TunerMove::Hold
    );
    let nothing = Observation::default();
    assert_eq!(p.evaluate(&s, nothing, at(1.0), &mut r).1, TunerMove::Hold);
    // Healthy latency but no error measurement: not enough to relax.
    let half = Observation {
        latency: Some(Duration::from_millis(10)),
        error_rate: None,
        limit: None,
    };
    assert_eq!(p.evaluate(&s, half, at(1.0), &mut r).1, TunerMove::Hold);
}

#[test]
fn the_cooldown_spaces_moves_and_at_the_bound_it_holds() {
    let p = params();
    let mut r = SplitMix64::new(3);
    let s = p.start(at(0.0), &mut r);
    let (s, m) = p.evaluate(&s, observed(500, 0.0), at(1.0), &mut r);
    assert!(matches!(m, TunerMove::Tighten(_)));
    let (s2, m) = p.evaluate(&s, observed(500, 0.0), at(3.0), &mut r);
    assert_eq!(m, TunerMove::Cooldown);
    assert_eq!(s2.tuned, s.tuned);
    // Already loosest: a healthy service holds instead of "relaxing".
    let fresh = p.start(at(0.0), &mut r);
    assert_eq!(
        p.evaluate(&fresh, observed(1, 0.0), at(1.0), &mut r).1,
        TunerMove::Hold
    );
}

#[test]
fn jitter_spreads_evaluations_within_its_fraction() {
    let p = TunerParams {
        jitter: 0.2,
        ..params()
    };
    let mut r = SplitMix64::new(4);
    let mut seen = Vec::new();
    for _ in 0..200 {
        let s = p.start(at(0.0), &mut r);
        let d = s.next_evaluation.saturating_since(at(0.0)).as_secs_f64();
        assert!((0.8..=1.2).contains(&d), "{d}");
        seen.push(d);
    }
    let spread = seen.iter().cloned().fold(f64::MIN, f64::max)
        - seen.iter().cloned().fold(f64::MAX, f64::min);
    assert!(spread > 0.2, "draws spread over the band: {spread}");
}

#[test]
fn cap_and_scaled_shares() {
    let t = Tuned {
        max_limit: 30.0,
        share_scale: 0.5,
        aggression: None,
    };
    assert_eq!(t.cap(100), 30);
    assert_eq!(t.cap(10), 10);
    assert_eq!(t.share(0.8, false), 0.4);
    assert_eq!(t.share(1.0, true), 1.0);
    let untuned = Tuned {
        max_limit: f64::INFINITY,
        share_scale: 1.0,
        aggression: None,
    };
    assert_eq!(untuned.cap(u32::MAX), u32::MAX);
}

proptest! {
    /// Whatever is observed and whenever, the knobs stay inside their
    /// bounds, each move is at most one step, and two moves are at least a
    /// cooldown apart.
    #[test]
    fn knobs_never_leave_their_bounds_nor_move_faster_than_allowed(
        seed in any::<u64>(),
        steps in proptest::collection::vec((0u64..2_000, 0.0f64..0.2, 1u64..3_000), 1..200),
    ) {
        let p = TunerParams { aggression: Some(Knob { min: 1.1, max: 3.0, step: 0.25 }), jitter: 0.3, ..params() };
        let mut r = SplitMix64::new(seed);
        let mut now = at(0.0);
        let mut s = p.start(now, &mut r);
        let mut last_move: Option<Timestamp> = None;
        for (latency_ms, err, gap_ms) in steps {
            now = now.saturating_add(Duration::from_millis(gap_ms));
            let (next, m) = p.evaluate(&s, observed(latency_ms, err), now, &mut r);
            let t = next.tuned;
            prop_assert!((20.0..=200.0).contains(&t.max_limit));
            prop_assert!((0.5..=1.0).contains(&t.share_scale));
            let a = t.aggression.expect("tuned");
            prop_assert!((1.1..=3.0).contains(&a));
            prop_assert!((t.max_limit - s.tuned.max_limit).abs() <= 30.0 + 1e-9);
            prop_assert!((t.share_scale - s.tuned.share_scale).abs() <= 0.1 + 1e-9);
            if t != s.tuned {
                prop_assert!(matches!(m, TunerMove::Tighten(_) | TunerMove::Relax));
                if let Some(prev) = last_move {
                    prop_assert!(now.saturating_since(prev) >= p.cooldown);
                }
                last_move = Some(now);
            }
            s = next;
        }
    }
}

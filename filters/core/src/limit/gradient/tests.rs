use super::*;
use crate::random::SplitMix64;
use proptest::prelude::*;

fn params() -> GradientParams {
    GradientParams {
        min_limit: 4,
        max_limit: 400,
        initial_limit: 50,
        buffer: 0.25,
        smoothing: 0.3,
        min_rtt_interval: Duration::from_secs(30),
        probe_jitter: 0.2,
        max_latency: None,
    }
}

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

/// A state that has measured `min_rtt` and tracks from `limit`.
fn tracking(limit: f64, min_rtt: Duration) -> GradientState {
    GradientState {
        limit,
        min_rtt: Some(min_rtt),
        phase: Phase::Tracking,
        resume_limit: limit,
        next_probe: Timestamp::from_millis(u64::MAX / 2_000_000),
    }
}

fn sample(rtt: Duration, peak: u32) -> WindowSample {
    WindowSample {
        samples: 100,
        rtt,
        peak_inflight: peak,
        shed: 0,
    }
}

#[test]
fn starts_by_probing_the_baseline_at_the_minimum_then_resumes_at_the_initial_limit() {
    let p = params();
    let mut r = SplitMix64::new(1);
    let s = p.start(Timestamp::ZERO);
    assert_eq!(s.phase, Phase::Probing);
    assert_eq!(s.current(), 4);
    let (s2, why) = p.update(&s, &sample(ms(20), 4), Timestamp::from_millis(1000), &mut r);
    assert_eq!(why, LimitReason::MinRttMeasured);
    assert_eq!(s2.min_rtt, Some(ms(20)));
    assert_eq!(s2.current(), 50);
    // The next probe is 30 s ± 20 % away.
    let gap = s2.next_probe.saturating_since(Timestamp::from_millis(1000));
    assert!(
        gap >= Duration::from_secs(24) && gap <= Duration::from_secs(36),
        "{gap:?}"
    );
}

#[test]
fn a_probe_without_enough_samples_keeps_probing() {
    let p = params();
    let s = p.start(Timestamp::ZERO);
    let few = WindowSample {
        samples: 3,
        rtt: ms(20),
        peak_inflight: 3,
        shed: 0,
    };
    let (s2, why) = p.update(
        &s,
        &few,
        Timestamp::from_millis(1000),
        &mut SplitMix64::new(1),
    );
    assert_eq!(why, LimitReason::ProbingMinRtt);
    assert_eq!(s2.phase, Phase::Probing);
}

#[test]
fn latency_at_the_baseline_grows_the_limit_and_queueing_shrinks_it() {
    let p = params();
    let mut r = SplitMix64::new(1);
    let s = tracking(50.0, ms(20));
    let (up, why) = p.update(&s, &sample(ms(20), 50), Timestamp::ZERO, &mut r);
    assert!(matches!(why, LimitReason::Gradient(g) if (g - 1.25).abs() < 1e-9));
    assert!(up.limit > 50.0, "{}", up.limit);
    let (down, why) = p.update(&s, &sample(ms(60), 50), Timestamp::ZERO, &mut r);
    assert!(
        matches!(why, LimitReason::Gradient(g) if (g - 0.5).abs() < 1e-9),
        "{why:?}"
    );
    assert!(down.limit < 50.0, "{}", down.limit);
    // The gradient is clamped: one window moves the limit at most halfway
    // to half of it (smoothing 0.3 → at most 0.3 × (25 + 5 − 50) down).
    assert!(down.limit >= 50.0 + 0.3 * (25.0 + 25f64.sqrt() - 50.0) - 1e-9);
}

#[test]
fn an_app_limited_window_does_not_grow_the_limit_but_may_shrink_it() {
    let p = params();
    let mut r = SplitMix64::new(1);
    let s = tracking(100.0, ms(20));
    let (same, why) = p.update(&s, &sample(ms(20), 10), Timestamp::ZERO, &mut r);
    assert_eq!(why, LimitReason::AppLimited);
    assert_eq!(same.limit, 100.0);
    let (down, _) = p.update(&s, &sample(ms(80), 10), Timestamp::ZERO, &mut r);
    assert!(down.limit < 100.0);
    // Sheds are demand: a window that shed is not app-limited.
    let shedding = WindowSample {
        shed: 5,
        ..sample(ms(20), 10)
    };
    let (up, why) = p.update(&s, &shedding, Timestamp::ZERO, &mut r);
    assert!(matches!(why, LimitReason::Gradient(_)), "{why:?}");
    assert!(up.limit > 100.0);
}

#[test]
fn tracking_re_probes_when_due_and_returns_to_where_it_was() {
    let p = params();
    let mut r = SplitMix64::new(1);
    let mut s = tracking(120.0, ms(20));
    s.next_probe = Timestamp::from_millis(5000);
    let (probing, why) = p.update(
        &s,
        &sample(ms(20), 120),
        Timestamp::from_millis(5000),
        &mut r,
    );
    assert_eq!(why, LimitReason::ProbingMinRtt);
    assert_eq!(probing.current(), 4);
    let (back, why) = p.update(
        &probing,
        &sample(ms(25), 4),
        Timestamp::from_millis(6000),
        &mut r,
    );
    assert_eq!(why, LimitReason::MinRttMeasured);
    assert_eq!(back.min_rtt, Some(ms(25)));
    assert_eq!(back.current(), 120);
}

/// A service with `capacity` servers and service time `base`: latency is the
/// base while in-flight fits, and grows with the queue past it (Little's law).
fn service_latency(base: Duration, capacity: f64, inflight: f64) -> Duration {
    base.mul_f64((inflight / capacity).max(1.0))
}

#[test]
fn under_sustained_overload_the_limit_settles_near_capacity_without_oscillating() {
    let p = params();
    let mut r = SplitMix64::new(7);
    let mut s = p.start(Timestamp::ZERO);
    let (base, capacity) = (ms(20), 40.0);
    let mut limits = Vec::new();
    for w in 0..600u64 {
        // Offered load far above capacity: in-flight is whatever the limit allows.
        let inflight = s.limit.floor();
        let rtt = service_latency(base, capacity, inflight);
        let now = Timestamp::from_millis(w * 500);
        s = p.update(&s, &sample(rtt, inflight as u32), now, &mut r).0;
        if w >= 100 && s.phase == Phase::Tracking {
            limits.push(s.limit);
        }
    }
    let mean = limits.iter().sum::<f64>() / limits.len() as f64;
    let var = limits.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / limits.len() as f64;
    // With a 25 % latency buffer the fixed point sits a little above capacity:
    // limit × 1.25 × c / limit + sqrt(...) ≈ limit  →  ~ 1.25 c + headroom.
    assert!(
        mean > capacity && mean < 2.0 * capacity,
        "mean limit {mean}"
    );
    assert!(
        var.sqrt() / mean < 0.15,
        "limit varies too much: cv {}",
        var.sqrt() / mean
    );
}

proptest! {
    #[test]
    fn the_limit_never_leaves_its_bounds(
        rtts in proptest::collection::vec((0u64..2_000, 0u64..500, 0u32..1_000), 1..200),
        min_limit in 1u32..50,
        span in 0u32..500,
        smoothing in 0.01f64..1.0,
        buffer in 0.0f64..2.0,
        seed in any::<u64>(),
    ) {
        let p = GradientParams {
            min_limit,
            max_limit: min_limit + span,
            initial_limit: min_limit + span / 2,
            buffer,
            smoothing,
            min_rtt_interval: Duration::from_secs(5),
            probe_jitter: 0.3,
            max_latency: None,
        };
        let mut r = SplitMix64::new(seed);
        let mut s = p.start(Timestamp::ZERO);
        for (i, (rtt_ms, samples, peak)) in rtts.into_iter().enumerate() {
            let w = WindowSample { samples, rtt: Duration::from_millis(rtt_ms), peak_inflight: peak, shed: 0 };
            s = p.update(&s, &w, Timestamp::from_millis(i as u64 * 700), &mut r).0;
            prop_assert!(s.limit >= f64::from(p.min_limit) && s.limit <= f64::from(p.max_limit),
                "limit {} outside [{}, {}]", s.limit, p.min_limit, p.max_limit);
            prop_assert!(s.limit.is_finite());
        }
    }

    /// Whatever the windows measure (any latency from zero to centuries,
    /// any sample, peak and shed counts, clocks that step back) and however
    /// the controller is configured within what validation allows, the
    /// limit stays within [min_limit, max_limit].
    #[test]
    fn the_limit_never_leaves_its_bounds_whatever_the_samples(
        windows in proptest::collection::vec(
            (any::<u64>(), any::<u64>(), any::<u32>(), any::<u64>(), -5_000i64..60_000),
            1..150,
        ),
        min_limit in 1u32..1_000_000,
        span in 0u32..1_000_000,
        initial in any::<u32>(),
        buffer in 0.0f64..=10.0,
        smoothing in 0.01f64..=1.0,
        interval_s in 1u64..=3_600,
        probe_jitter in 0.0f64..=0.5,
        max_latency_ms in proptest::option::of(1u64..=600_000),
        seed in any::<u64>(),
    ) {
        let max_limit = min_limit.saturating_add(span).min(1_000_000);
        let p = GradientParams {
            min_limit,
            max_limit,
            initial_limit: min_limit + initial % (max_limit - min_limit + 1),
            buffer,
            smoothing,
            min_rtt_interval: Duration::from_secs(interval_s),
            probe_jitter,
            max_latency: max_latency_ms.map(Duration::from_millis),
        };
        let mut r = SplitMix64::new(seed);
        let mut now = Timestamp::from_millis(1_000_000);
        let mut s = p.start(now);
        for (rtt_ns, samples, peak_inflight, shed, step_ms) in windows {
            now = if step_ms >= 0 {
                now.saturating_add(Duration::from_millis(step_ms as u64))
            } else {
                Timestamp::from_millis(now.as_millis().saturating_sub(step_ms.unsigned_abs()))
            };
            let w = WindowSample { samples, rtt: Duration::from_nanos(rtt_ns), peak_inflight, shed };
            s = p.update(&s, &w, now, &mut r).0;
            prop_assert!(s.limit.is_finite());
            prop_assert!(s.limit >= f64::from(min_limit) && s.limit <= f64::from(max_limit),
                "limit {} outside [{min_limit}, {max_limit}]", s.limit);
            prop_assert!((min_limit..=max_limit).contains(&s.current()));
        }
    }
}

#[test]
fn a_latency_ceiling_holds_even_when_the_baseline_was_measured_degraded() {
    let mut p = params();
    let mut r = SplitMix64::new(1);
    // A baseline of 200 ms (probed during a brownout) tolerates 250 ms ...
    let s = tracking(60.0, ms(200));
    let (up, _) = p.update(&s, &sample(ms(240), 60), Timestamp::ZERO, &mut r);
    assert!(up.limit > 60.0);
    // ... unless the operator's ceiling says 100 ms.
    p.max_latency = Some(ms(100));
    let (down, why) = p.update(&s, &sample(ms(240), 60), Timestamp::ZERO, &mut r);
    assert!(down.limit < 60.0, "{}", down.limit);
    assert!(matches!(why, LimitReason::Gradient(g) if g < 0.5 + 1e-9));
}

#[test]
fn a_due_probe_is_skipped_when_the_window_already_ran_at_the_probe_concurrency() {
    let p = params();
    let mut r = SplitMix64::new(1);
    let mut s = tracking(120.0, ms(20));
    s.next_probe = Timestamp::from_millis(5000);
    let (next, why) = p.update(&s, &sample(ms(18), 3), Timestamp::from_millis(5000), &mut r);
    assert_eq!(why, LimitReason::MinRttMeasured);
    assert_eq!(next.phase, Phase::Tracking);
    assert_eq!(next.min_rtt, Some(ms(18)));
    assert_eq!(next.current(), 120, "no drop to the minimum");
    assert!(next.next_probe > Timestamp::from_millis(5000));
}

#[test]
fn at_the_floor_the_baseline_follows_a_slower_service_without_waiting_for_a_probe() {
    let p = params();
    let mut r = SplitMix64::new(1);
    let s = tracking(4.0, ms(20));
    let (next, why) = p.update(&s, &sample(ms(100), 4), Timestamp::ZERO, &mut r);
    assert!(
        matches!(why, LimitReason::Gradient(g) if (g - 1.25).abs() < 1e-9),
        "{why:?}"
    );
    assert_eq!(next.min_rtt, Some(ms(100)));
    assert!(next.limit > 4.0, "{}", next.limit);
}

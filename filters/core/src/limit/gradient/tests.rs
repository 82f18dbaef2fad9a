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
        probe_level: ProbeLevel::TopClass,
        peak_rate: 0.0,
        probe_shed: false,
        probe_carry: 0.0,
        cut_from: 0.0,
        cut_rtt: Duration::ZERO,
        startup_mean: Duration::ZERO,
        startup_rtt: Duration::ZERO,
    }
}

fn sample(rtt: Duration, peak: u32) -> WindowSample {
    WindowSample {
        samples: 100,
        rtt,
        peak_inflight: peak,
        shed: 0,
        ..WindowSample::default()
    }
}

#[test]
fn starts_by_probing_the_baseline_at_the_minimum_then_resumes_at_the_initial_limit() {
    let p = params();
    let mut r = SplitMix64::new(1);
    let s = p.start(Timestamp::ZERO);
    assert_eq!(s.phase, Phase::Probing);
    assert_eq!(s.current(), 4);
    // Two windows: the second shows no queue building behind the first.
    let steady = |rtt: Duration| WindowSample {
        mean: ms(10),
        ..sample(rtt, 4)
    };
    let (s1, why) = p.update(&s, &steady(ms(22)), Timestamp::from_millis(500), &mut r);
    assert_eq!(why, LimitReason::ProbingMinRtt);
    assert_eq!(s1.phase, Phase::Probing);
    let (s2, why) = p.update(&s1, &steady(ms(20)), Timestamp::from_millis(1000), &mut r);
    assert_eq!(why, LimitReason::MinRttMeasured);
    assert_eq!(s2.min_rtt, Some(ms(20)), "the lower of the two");
    assert_eq!(s2.current(), 50);
    // The next probe is 30 s ± 20 % away.
    let gap = s2.next_probe.saturating_since(Timestamp::from_millis(1000));
    assert!(
        gap >= Duration::from_secs(24) && gap <= Duration::from_secs(36),
        "{gap:?}"
    );
}

#[test]
fn a_probe_without_enough_samples_keeps_probing_at_its_level() {
    let p = params();
    let s = p.start(Timestamp::ZERO);
    let few = WindowSample {
        samples: 3,
        rtt: ms(20),
        peak_inflight: 3,
        shed: 0,
        ..WindowSample::default()
    };
    let (s2, why) = p.update(
        &s,
        &few,
        Timestamp::from_millis(1000),
        &mut SplitMix64::new(1),
    );
    // Extended (the caller keeps the samples), not tightened.
    assert_eq!(why, LimitReason::TooFewSamples);
    assert_eq!(s2.phase, Phase::Probing);
    assert_eq!(s2.probe_level, ProbeLevel::AllClasses);
    assert_eq!(s2.probe_carry, 0.0);
}

#[test]
fn a_probe_that_refused_protected_traffic_tightens_drains_then_measures() {
    let p = params();
    let mut r = SplitMix64::new(1);
    let s = p.start(Timestamp::ZERO);
    let refused = WindowSample {
        protected_shed: 5,
        ..sample(ms(200), 40)
    };
    let (tight, why) = p.update(&s, &refused, Timestamp::from_millis(1000), &mut r);
    assert_eq!(why, LimitReason::ProbingMinRtt);
    // The next window protects the top class only, and lets it keep what
    // was in flight while the others drain.
    assert_eq!(tight.probe_level, ProbeLevel::TopClass);
    assert_eq!(tight.probe_carry, 40.0);
    // That window's latencies queued behind the drain: not a baseline,
    // even with enough of them and nothing protected refused.
    let (drained, why) = p.update(
        &tight,
        &sample(ms(150), 40),
        Timestamp::from_millis(2000),
        &mut r,
    );
    assert_eq!(why, LimitReason::ProbingMinRtt);
    assert_eq!(
        (drained.phase, drained.probe_level, drained.probe_carry),
        (Phase::Probing, ProbeLevel::TopClass, 0.0)
    );
    let (measured, why) = p.update(
        &drained,
        &sample(ms(21), 6),
        Timestamp::from_millis(3000),
        &mut r,
    );
    assert_eq!(why, LimitReason::MinRttMeasured);
    assert_eq!(measured.min_rtt, Some(ms(21)));
    // Low-load requests measure even in the drain window: they met no
    // queue.
    let low_load = WindowSample {
        low_load: 120,
        low_load_rtt: ms(22),
        ..sample(ms(150), 40)
    };
    let (early, why) = p.update(&tight, &low_load, Timestamp::from_millis(2000), &mut r);
    assert_eq!(why, LimitReason::MinRttMeasured);
    assert_eq!(early.min_rtt, Some(ms(22)));
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
    assert_eq!(probing.probe_level, ProbeLevel::TopClass);
    assert_eq!(probing.probe_carry, 120.0);
    let low_load = WindowSample {
        low_load: 120,
        low_load_rtt: ms(25),
        ..sample(ms(90), 120)
    };
    let (back, why) = p.update(&probing, &low_load, Timestamp::from_millis(6000), &mut r);
    assert_eq!(why, LimitReason::MinRttMeasured);
    assert_eq!(back.min_rtt, Some(ms(25)));
    assert_eq!(back.current(), 120);
    assert_eq!(back.probe_carry, 0.0);
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
            let w = WindowSample { samples, rtt: Duration::from_millis(rtt_ms), peak_inflight: peak, shed: 0, ..WindowSample::default() };
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
            let w = WindowSample { samples, rtt: Duration::from_nanos(rtt_ns), peak_inflight, shed, ..WindowSample::default() };
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

/// The window sample of a service with `capacity` servers at service time
/// `base` when `inflight` are admitted: latency as [`service_latency`],
/// its mean the same (the tests' latencies have no spread).
fn served(base: Duration, capacity: f64, inflight: f64) -> WindowSample {
    let rtt = service_latency(base, capacity, inflight);
    WindowSample {
        mean: rtt,
        ..sample(rtt, inflight as u32)
    }
}

#[test]
fn a_brownout_re_probes_the_baseline_instead_of_cutting_the_limit_to_the_floor() {
    let p = params();
    let mut r = SplitMix64::new(3);
    let capacity = 40.0;
    // Settled at 20 ms, then the service takes five times as long.
    let mut s = tracking(60.0, ms(20));
    let mut probed_at = None;
    for w in 0..60u64 {
        let now = Timestamp::from_millis(w * 500);
        let (next, why) = p.update(&s, &served(ms(100), capacity, s.limit.floor()), now, &mut r);
        if why == LimitReason::ProbingMinRtt && probed_at.is_none() {
            probed_at = Some((w, s.limit));
        }
        s = next;
        if s.phase == Phase::Probing {
            // The probe drains, then measures the slower service at low
            // load.
            for _ in 0..3 {
                s = p.update(&s, &served(ms(100), capacity, 4.0), now, &mut r).0;
            }
            assert_eq!(s.phase, Phase::Tracking);
            break;
        }
    }
    let (w, at) = probed_at.expect("a brownout is re-probed");
    // The cuts drained the queue; the probe came once they stopped
    // shortening the latency, within 30 % below the service's capacity.
    assert!(
        at >= 0.7 * capacity * 0.9,
        "probed at limit {at} (window {w})"
    );
    assert_eq!(s.min_rtt, Some(ms(100)));
    // From the new baseline the limit holds near capacity.
    for w in 60..120u64 {
        let now = Timestamp::from_millis(w * 500);
        s = p
            .update(&s, &served(ms(100), capacity, s.limit.floor()), now, &mut r)
            .0;
    }
    assert!(s.limit >= capacity * 0.9, "{}", s.limit);
}

#[test]
fn cuts_that_shorten_the_latency_are_a_queue_and_never_re_probe() {
    let p = params();
    let mut r = SplitMix64::new(4);
    // A deep queue at the right baseline: 400 in flight on 40 servers.
    let mut s = tracking(400.0, ms(20));
    for w in 0..40u64 {
        let now = Timestamp::from_millis(w * 500);
        let (next, why) = p.update(&s, &served(ms(20), 40.0, s.limit.floor()), now, &mut r);
        assert_ne!(why, LimitReason::ProbingMinRtt, "window {w} at {}", s.limit);
        s = next;
    }
    assert!(s.limit < 80.0, "{}", s.limit);
}

#[test]
fn a_window_far_below_the_baseline_replaces_it_at_once() {
    let p = params();
    let mut r = SplitMix64::new(5);
    // The baseline was measured in a brownout; the service recovered.
    let s = tracking(30.0, ms(200));
    let (next, _) = p.update(&s, &sample(ms(40), 30), Timestamp::ZERO, &mut r);
    assert_eq!(next.min_rtt, Some(ms(40)));
    // Sampling noise (within half) does not move it.
    let (next, _) = p.update(&s, &sample(ms(120), 30), Timestamp::ZERO, &mut r);
    assert_eq!(next.min_rtt, Some(ms(200)));
}

#[test]
fn over_the_latency_ceiling_the_limit_gets_no_queue_allowance() {
    let mut p = params();
    p.max_latency = Some(ms(100));
    p.smoothing = 1.0;
    let mut r = SplitMix64::new(6);
    let s = tracking(100.0, ms(100));
    // At 110 ms the gradient is 100/110: the limit follows it exactly,
    // without the √L a queue would be allowed under the ceiling.
    let (next, _) = p.update(&s, &sample(ms(110), 100), Timestamp::ZERO, &mut r);
    assert!(
        (next.limit - 100.0 * 100.0 / 110.0).abs() < 1e-6,
        "{}",
        next.limit
    );
}

#[test]
fn a_queue_building_behind_the_start_up_probe_is_measured_again_with_the_top_class_only() {
    let p = params();
    let mut r = SplitMix64::new(2);
    let s = p.start(Timestamp::ZERO);
    let window = |mean: u64, rtt: u64| WindowSample {
        mean: ms(mean),
        ..sample(ms(rtt), 30)
    };
    let (s1, _) = p.update(&s, &window(200, 400), Timestamp::from_millis(1000), &mut r);
    // The mean more than doubled: the latency is a growing queue's.
    let (s2, why) = p.update(&s1, &window(500, 900), Timestamp::from_millis(2000), &mut r);
    assert_eq!(why, LimitReason::ProbingMinRtt);
    assert_eq!(s2.min_rtt, None, "not taken as the baseline");
    assert_eq!(s2.probe_level, ProbeLevel::TopClass);
    assert_eq!(s2.probe_carry, 30.0);
    // Had it held steady, the lower of the two windows would have been it.
    let (s3, why) = p.update(&s1, &window(230, 450), Timestamp::from_millis(2000), &mut r);
    assert_eq!(why, LimitReason::MinRttMeasured);
    assert_eq!(s3.min_rtt, Some(ms(400)));
}

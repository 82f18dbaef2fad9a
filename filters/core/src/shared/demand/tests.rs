use super::*;
use crate::shared::MemoryKv;

const KEY: &str = "sluice.v1.demand.t";

fn at(ms: u64) -> Timestamp {
    Timestamp::from_millis(ms)
}

#[test]
fn records_round_trip_and_other_shapes_do_not_decode() {
    let rec = DemandRecord {
        window_start: at(7),
        prev_len_ms: 1_000,
        last_mean_us: 12_000,
        current: Completions {
            count: 3,
            latency_sum_us: 30_000,
        },
        previous: Completions {
            count: 5,
            latency_sum_us: 9,
        },
        offered: vec![(1, 2), (3, 4), (5, 6)],
    };
    assert_eq!(DemandRecord::decode(&rec.encode(), 3), Some(rec.clone()));
    assert_eq!(DemandRecord::decode(&rec.encode(), 2), None);
    assert_eq!(DemandRecord::decode(b"junk", 3), None);
}

/// Two workers count 100 req/s of critical and 300 req/s of default at
/// 20 ms each: Little's law gives 2 and 6 requests in flight.
#[test]
fn workers_counts_merge_into_littles_law_demand_per_class() {
    let kv = MemoryKv::new();
    let mut workers: Vec<SharedDemand> = (0..2)
        .map(|_| SharedDemand::new(KEY, 3, Duration::from_secs(1), 0.001))
        .collect();
    for w in workers.iter_mut() {
        w.flush(&kv, at(0), 0);
        assert_eq!(w.demands(), None, "no time has passed");
        assert_eq!(w.reserved_above(2), 0.0);
    }
    // One second of traffic, split over the two workers.
    for w in workers.iter_mut() {
        for _ in 0..50 {
            w.record_offered(0);
        }
        for _ in 0..150 {
            w.record_offered(1);
            w.record_completion(Duration::from_millis(20));
        }
    }
    workers[0].flush(&kv, at(1_000), 0);
    workers[1].flush(&kv, at(1_000), 0);
    let d = workers[1].demands().expect("measured").to_vec();
    assert!((d[0] - 2.0).abs() < 1e-9, "{d:?}");
    assert!((d[1] - 6.0).abs() < 1e-9, "{d:?}");
    assert_eq!(d[2], 0.0);
    assert!((workers[1].reserved_above(1) - (2.0 + 3.0 * 2f64.sqrt() + 8.0 / 6.0)).abs() < 1e-9);
    assert_eq!(workers[1].reserved_above(0), 0.0);
    // The window rolled on the first of those flushes; half a second
    // later, the estimate spans the last window and the current half.
    let mut w = SharedDemand::new(KEY, 3, Duration::from_secs(1), 0.001);
    for _ in 0..50 {
        w.record_offered(0);
    }
    w.flush(&kv, at(1_500), 0);
    let d = w.demands().expect("measured");
    // (100 + 50) critical over 1.5 s at a mean of 20 ms.
    assert!((d[0] - 2.0).abs() < 1e-9, "{d:?}");
}

#[test]
fn a_window_with_no_completion_keeps_the_last_known_latency() {
    let kv = MemoryKv::new();
    let mut w = SharedDemand::new(KEY, 1, Duration::from_secs(1), 0.001);
    w.flush(&kv, at(0), 0);
    for _ in 0..10 {
        w.record_offered(0);
        w.record_completion(Duration::from_millis(100));
    }
    w.flush(&kv, at(1_000), 0);
    for _ in 0..10 {
        w.record_offered(0);
    }
    w.flush(&kv, at(2_000), 0);
    // Nothing completed in the last window, and its 10 requests are
    // taken to need the 100 ms of the window before.
    let d = w.demands().expect("measured");
    assert!((d[0] - 1.0).abs() < 1e-9, "{d:?}");
}

/// A fresh deployment learns its demand from the request path within a
/// few milliseconds, and stops flushing there once a whole window is
/// behind it. Before any request completes, every arrival is demand still
/// in flight; the first completions (the short ones) do not shrink the
/// latency below what the requests in flight show by Little's law.
#[test]
fn until_demand_is_settled_the_request_path_flushes_every_few_milliseconds() {
    let kv = MemoryKv::new();
    let mut w = SharedDemand::new(KEY, 2, Duration::from_secs(1), 0.001);
    assert!(
        w.flush_while_unsettled(&kv, at(0), 0).is_some(),
        "creates the record"
    );
    w.record_offered(0);
    w.record_admitted();
    assert!(w.flush_while_unsettled(&kv, at(2), 1).is_none(), "too soon");
    for _ in 0..3 {
        w.record_offered(0);
        w.record_admitted();
    }
    w.record_offered(1);
    w.record_admitted();
    assert!(w.flush_while_unsettled(&kv, at(5), 5).is_some());
    let d = w.demands().expect("arrivals so far");
    assert!(
        (d[0] - 4.0).abs() < 1e-9 && (d[1] - 1.0).abs() < 1e-9,
        "{d:?}"
    );
    // One request left after 2 ms; 4 of the 5 admitted are still in flight
    // at 10 ms: W = 4 × 10 ms / 5 = 8 ms, not 2 ms.
    w.record_completion(Duration::from_millis(2));
    assert!(w.flush_while_unsettled(&kv, at(10), 4).is_some());
    let d = w.demands().expect("measured");
    // 4 critical over 10 ms (400/s) at 8 ms each.
    assert!((d[0] - 3.2).abs() < 1e-9, "{d:?}");
    assert!(
        w.flush_while_unsettled(&kv, at(12), 4).is_none(),
        "too soon"
    );
    // Settled: the tick's flush takes over, on completed latencies alone.
    w.record_offered(0);
    w.flush(&kv, at(1_000), 4);
    w.record_offered(0);
    assert!(w.flush_while_unsettled(&kv, at(1_050), 4).is_none());
}

#[test]
fn demand_is_settled_once_a_whole_window_is_behind_it() {
    let kv = MemoryKv::new();
    let mut w = SharedDemand::new(KEY, 1, Duration::from_secs(1), 0.001);
    w.flush(&kv, at(0), 0);
    w.record_offered(0);
    w.record_completion(Duration::from_millis(20));
    w.flush(&kv, at(100), 0);
    assert!(w.demands().is_some() && !w.settled());
    // The flush that finds the window over, with counts to add, rolls it.
    w.record_offered(0);
    w.flush(&kv, at(1_000), 0);
    assert!(w.settled());
}

/// The headroom's factor rises, a bounded step per flush, while requests
/// are refused with a lower class holding slots, and returns towards 1 a
/// step per flush once a whole window passes without.
#[test]
fn inversions_raise_the_headroom_within_bounds_and_calm_lowers_it_back() {
    let kv = MemoryKv::new();
    let mut w = SharedDemand::new(KEY, 2, Duration::from_secs(1), 0.001);
    w.flush(&kv, at(0), 0);
    assert_eq!(w.scale(), 1.0);
    w.record_inversion();
    w.record_inversion();
    w.flush(&kv, at(100), 0);
    assert!(
        (w.scale() - SCALE_STEP_UP).abs() < 1e-9,
        "one step per flush"
    );
    for t in 2..20 {
        w.record_inversion();
        w.flush(&kv, at(100 * t), 0);
    }
    assert!((w.scale() - MAX_SCALE).abs() < 1e-9, "capped");
    w.flush(&kv, at(2_500), 0);
    assert!(
        (w.scale() - MAX_SCALE).abs() < 1e-9,
        "held for a window after the last"
    );
    w.flush(&kv, at(2_900), 0);
    assert!((w.scale() - MAX_SCALE * SCALE_STEP_DOWN).abs() < 1e-9);
    for t in 30..200 {
        w.flush(&kv, at(100 * t), 0);
    }
    assert_eq!(w.scale(), 1.0, "back to 1, not below");
}

/// Critical at 300 req/s and default at 150 req/s against a service that
/// completes 500 req/s: the headroom default leaves is the ladder of a load
/// of 0.6, and sheddable's that of 0.9; a load above of 1 or more refuses.
#[test]
fn the_headroom_follows_the_load_above_not_the_latency() {
    let kv = MemoryKv::new();
    let mut w = SharedDemand::new(KEY, 3, Duration::from_secs(1), 0.001);
    w.flush(&kv, at(0), 0);
    for _ in 0..300 {
        w.record_offered(0);
    }
    for _ in 0..150 {
        w.record_offered(1);
    }
    for _ in 0..500 {
        w.record_offered(2);
        w.record_completion(Duration::from_millis(20));
    }
    w.flush(&kv, at(1_000), 0);
    let ladder = |rho: f64| reservation::ladder_headroom(rho, 0.001, 32);
    assert_eq!(w.headroom_above(0, 10), 0.0);
    assert!((w.headroom_above(1, 10) - ladder(0.6)).abs() < 1e-9);
    assert!((w.headroom_above(2, 10) - ladder(0.9).min(MAX_HEADROOM)).abs() < 1e-9);
    // The spare rides on the fill level: the headroom of the lowest class
    // still admitted.
    assert_eq!(w.spare(10), w.headroom_above(2, 10));
    // With a fill level whose Little's-law rate (fill / 20 ms) beats the
    // completions, that rate is the one requests leave at.
    assert!((w.headroom_above(1, 20) - ladder(0.3)).abs() < 1e-9);
    // Critical alone over what completes: everything below is refused.
    let mut over = SharedDemand::new("sluice.v1.demand.o", 2, Duration::from_secs(1), 0.001);
    over.flush(&kv, at(0), 0);
    for _ in 0..600 {
        over.record_offered(0);
    }
    for _ in 0..500 {
        over.record_completion(Duration::from_millis(20));
    }
    over.flush(&kv, at(1_000), 0);
    assert!(over.headroom_above(1, 10).is_infinite());
    assert_eq!(over.spare(10), 0.0);
}

/// A worker with nothing to add (the main thread) reads the record without
/// writing it: it cannot race the workers that count.
#[test]
fn a_flush_with_nothing_to_add_only_reads() {
    let kv = MemoryKv::new();
    let mut busy = SharedDemand::new(KEY, 2, Duration::from_secs(1), 0.001);
    busy.record_offered(0);
    busy.flush(&kv, at(0), 0);
    busy.record_offered(0);
    busy.record_completion(Duration::from_millis(10));
    busy.flush(&kv, at(500), 0);
    let (_, token) = kv.get(KEY).unwrap().unwrap();
    let mut idle = SharedDemand::new(KEY, 2, Duration::from_secs(1), 0.001);
    let stats = idle.flush(&kv, at(2_000), 0);
    assert_eq!(stats, UpdateStats::default());
    assert_eq!(kv.get(KEY).unwrap().unwrap().1, token, "not written");
    assert!(idle.demands().is_some(), "but read");
}

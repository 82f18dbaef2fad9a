use super::*;
use crate::shared::MemoryKv;

fn params() -> OutlierParams {
    OutlierParams {
        error_rate: 0.5,
        latency: Some(Duration::from_millis(200)),
        min_requests: 10,
        probe_fraction: 0.05,
        dwell: Duration::from_secs(5),
        hysteresis: 0.2,
    }
}

fn at(secs: u64) -> Timestamp {
    Timestamp::from_nanos(secs * 1_000_000_000)
}

#[test]
fn records_round_trip_and_bad_bytes_do_not_decode() {
    let rec = DestinationRecord {
        latency: 0.02,
        smoothed: 0.015,
        errors: 0.1,
        seen: 7,
        avoided: true,
        changed_at: at(3),
    };
    assert_eq!(DestinationRecord::decode(&rec.encode()), Some(rec));
    let mut nan = rec.encode();
    nan[1..9].copy_from_slice(&f64::NAN.to_le_bytes());
    assert_eq!(DestinationRecord::decode(&nan), None);
    let mut flag = rec.encode();
    flag[21] = 7;
    assert_eq!(DestinationRecord::decode(&flag), None);
    assert_eq!(DestinationRecord::decode(b"short"), None);
}

/// The EWMA after 100 samples is the same whether one worker folds them in
/// one batch or eight workers in many.
#[test]
fn folding_does_not_depend_on_how_samples_are_split() {
    let alpha = 0.1;
    let mut one = DestinationRecord::default();
    let mut split = DestinationRecord::default();
    let first = Batch {
        count: 1,
        errors: 0,
        latency_sum: 0.5,
    };
    one.fold(&first, alpha);
    split.fold(&first, alpha);
    one.fold(
        &Batch {
            count: 100,
            errors: 20,
            latency_sum: 100.0 * 0.01,
        },
        alpha,
    );
    for _ in 0..10 {
        split.fold(
            &Batch {
                count: 10,
                errors: 2,
                latency_sum: 10.0 * 0.01,
            },
            alpha,
        );
    }
    assert!(
        (one.latency - split.latency).abs() < 1e-9,
        "{one:?} {split:?}"
    );
    assert!((one.errors - split.errors).abs() < 1e-9);
    assert_eq!(one.seen, 101);
    // A slower batch raises the latency at once (peak).
    one.fold(
        &Batch {
            count: 1,
            errors: 0,
            latency_sum: 0.3,
        },
        alpha,
    );
    assert_eq!(one.latency, 0.3);
}

#[test]
fn a_failing_cluster_is_avoided_then_returns_no_faster_than_the_dwell() {
    let kv = MemoryKv::default();
    let mut d = SharedDestination::new("k");
    let p = params();
    for _ in 0..20 {
        d.record(Duration::from_millis(10), false);
    }
    assert_eq!(d.sync(&kv, at(10), 0.2, &p).shifted, None);
    for _ in 0..20 {
        d.record(Duration::from_millis(10), true);
    }
    assert_eq!(d.sync(&kv, at(11), 0.2, &p).shifted, Some(true));
    assert!(d.view().avoided);
    // Healthy again at once, but the dwell holds the state.
    for _ in 0..200 {
        d.record(Duration::from_millis(10), false);
    }
    assert_eq!(d.sync(&kv, at(12), 0.2, &p).shifted, None);
    assert_eq!(d.sync(&kv, at(16), 0.2, &p).shifted, Some(false));
    // Slow beyond the bound: avoided (after the dwell).
    for _ in 0..60 {
        d.record(Duration::from_millis(400), false);
    }
    assert_eq!(d.sync(&kv, at(18), 0.2, &p).shifted, None);
    assert_eq!(d.sync(&kv, at(21), 0.2, &p).shifted, Some(true));
}

#[test]
fn hysteresis_keeps_a_borderline_cluster_out() {
    let mut rec = DestinationRecord {
        latency: 0.01,
        smoothed: 0.01,
        errors: 0.45,
        seen: 100,
        avoided: true,
        changed_at: at(0),
    };
    // 0.45 is under the 0.5 threshold but over 0.5 × 0.8: stays avoided.
    assert!(!rec.judge(&params(), at(10)));
    rec.errors = 0.35;
    assert!(rec.judge(&params(), at(10)));
    assert!(!rec.avoided);
}

#[test]
fn too_few_samples_are_not_judged_and_a_corrupt_record_is_reset() {
    let kv = MemoryKv::default();
    kv.set("k", b"junk", 0).expect("set");
    let mut d = SharedDestination::new("k");
    for _ in 0..5 {
        d.record(Duration::from_millis(10), true);
    }
    let s = d.sync(&kv, at(100), 0.2, &params());
    assert_eq!((s.shifted, s.stats.decode_resets), (None, 1));
    assert_eq!(d.view().seen, 5);
}

/// Eight workers (real threads) fold their batches into one record at
/// once: no response is lost (`seen` counts every one), and the EWMAs stay
/// within what the samples span.
#[test]
fn eight_threads_folding_into_one_record_lose_no_response() {
    use crate::random::{Random, SplitMix64};
    use std::sync::Arc;
    const ALPHA: f64 = 0.2;
    let kv = Arc::new(MemoryKv::new());
    // Created before the workers start: a creation race may lose one batch
    // by design (see the module docs).
    SharedDestination::new("hot").sync(kv.as_ref(), at(0), ALPHA, &params());
    let handles: Vec<_> = (0..8u64)
        .map(|w| {
            let kv = Arc::clone(&kv);
            std::thread::spawn(move || {
                let mut me = SharedDestination::new("hot");
                let mut rng = SplitMix64::new(w);
                let mut responses = 0u32;
                for i in 0..2_000u64 {
                    let latency = Duration::from_millis(5 + rng.next_u64() % 300);
                    me.record(latency, rng.next_unit() < 0.3);
                    responses += 1;
                    if rng.next_unit() < 0.2 {
                        me.sync(kv.as_ref(), at(i), ALPHA, &params());
                    }
                }
                (me, responses)
            })
        })
        .collect();
    let mut workers: Vec<(SharedDestination, u32)> = handles
        .into_iter()
        .map(|h| h.join().expect("worker thread"))
        .collect();
    // Uncontended now: the last sync of each worker lands.
    for (w, _) in &mut workers {
        assert!(
            !w.sync(kv.as_ref(), at(2_000), ALPHA, &params())
                .stats
                .deferred
        );
        assert_eq!(w.batch.count, 0, "a batch left local");
    }
    let rec = DestinationRecord::decode(&kv.get("hot").unwrap().unwrap().0).unwrap();
    let total: u32 = workers.iter().map(|(_, n)| n).sum();
    assert_eq!(rec.seen, total);
    assert!((0.0..=1.0).contains(&rec.errors), "{rec:?}");
    for v in [rec.latency, rec.smoothed] {
        assert!((0.005..=0.305).contains(&v), "{rec:?}");
    }
}

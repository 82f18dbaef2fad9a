use super::*;
use crate::limit::tuner::{Cause, Knob};
use crate::random::SplitMix64;
use crate::shared::MemoryKv;

fn params() -> TunerParams {
    TunerParams {
        latency_target: Some(Duration::from_millis(100)),
        error_rate_target: Some(0.05),
        interval: Duration::from_secs(1),
        cooldown: Duration::from_secs(2),
        hysteresis: 0.1,
        jitter: 0.0,
        max_limit: Some(Knob {
            min: 10.0,
            max: 100.0,
            step: 10.0,
        }),
        share_scale: None,
        aggression: None,
    }
}

fn at_ms(ms: u64) -> Timestamp {
    Timestamp::from_nanos(ms * 1_000_000)
}

#[test]
fn records_round_trip_and_garbage_does_not_decode() {
    let mut r = SplitMix64::new(1);
    let rec = TunerRecord {
        state: params().start(at_ms(5), &mut r),
        answered: 7,
        failed: 2,
    };
    assert_eq!(TunerRecord::decode(&rec.encode()), Some(rec));
    assert_eq!(TunerRecord::decode(&[1, 2, 3]), None);
    let mut other_version = rec.encode();
    other_version[0] = 9;
    assert_eq!(TunerRecord::decode(&other_version), None);
}

/// Eight workers count answers concurrently and sync in turn: the one
/// evaluation per interval sees every count, and the knob moves once.
#[test]
fn eight_workers_lose_no_counts_and_evaluate_once_per_interval() {
    let kv = MemoryKv::default();
    let mut r = SplitMix64::new(2);
    let mut workers: Vec<SharedTuner> = (0..8).map(|_| SharedTuner::new("key", params())).collect();
    // Create the record.
    workers[0].sync(&kv, at_ms(0), (None, None), &mut r);
    for (i, w) in workers.iter_mut().enumerate() {
        for n in 0..100 {
            w.record_answer(n < 10 + i);
        }
        w.sync(&kv, at_ms(500), (None, None), &mut r);
    }
    let (bytes, _) = kv.get("key").expect("kv").expect("record");
    let rec = TunerRecord::decode(&bytes).expect("decodes");
    assert_eq!((rec.answered, rec.failed), (800, 10 * 8 + 28));
    // At 1 s the first worker to sync evaluates: 108/800 = 13.5 % failed.
    let mut evaluations = 0;
    for w in workers.iter_mut() {
        let s = w.sync(
            &kv,
            at_ms(1000),
            (Some(Duration::from_millis(50)), None),
            &mut r,
        );
        if let Some((step, seen)) = s.evaluated {
            evaluations += 1;
            assert_eq!(step, TunerMove::Tighten(Cause::ErrorRate));
            assert!((seen.error_rate.expect("measured") - 0.135).abs() < 1e-9);
        }
        assert_eq!(w.tuned().max_limit, 90.0);
    }
    assert_eq!(evaluations, 1);
}

#[test]
fn a_corrupt_record_is_reset_and_counted() {
    let kv = MemoryKv::default();
    kv.set("key", b"garbage", 0).expect("set");
    let mut w = SharedTuner::new("key", params());
    let s = w.sync(&kv, at_ms(0), (None, None), &mut SplitMix64::new(3));
    assert_eq!(s.stats.decode_resets, 1);
    let (bytes, _) = kv.get("key").expect("kv").expect("record");
    assert!(TunerRecord::decode(&bytes).is_some());
}

/// A record written under wider bounds is clamped into the new ones.
#[test]
fn a_new_configuration_clamps_stored_values_into_its_bounds() {
    let kv = MemoryKv::default();
    let mut r = SplitMix64::new(4);
    let mut wide = SharedTuner::new("key", params());
    wide.sync(&kv, at_ms(0), (None, None), &mut r);
    let narrow = TunerParams {
        max_limit: Some(Knob {
            min: 10.0,
            max: 40.0,
            step: 5.0,
        }),
        ..params()
    };
    let mut w = SharedTuner::new("key", narrow);
    w.sync(&kv, at_ms(100), (None, None), &mut r);
    assert_eq!(w.tuned().max_limit, 40.0);
}

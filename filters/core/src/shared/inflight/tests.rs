use super::*;
use crate::shared::MemoryKv;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

const TTL: Duration = Duration::from_secs(5);

fn at(ms: u64) -> Timestamp {
    Timestamp::from_millis(1_000_000 + ms)
}

#[test]
fn admits_until_threshold_across_workers() {
    let kv = MemoryKv::new();
    let mut a = SharedInflight::new("k", 1, TTL);
    let mut b = SharedInflight::new("k", 2, TTL);
    assert!(matches!(
        a.try_acquire(&kv, at(0), 3).0,
        Acquire::Admitted { inflight_before: 0 }
    ));
    assert!(matches!(
        b.try_acquire(&kv, at(0), 3).0,
        Acquire::Admitted { inflight_before: 1 }
    ));
    assert!(matches!(
        a.try_acquire(&kv, at(0), 3).0,
        Acquire::Admitted { inflight_before: 2 }
    ));
    assert_eq!(
        b.try_acquire(&kv, at(0), 3).0,
        Acquire::Full {
            inflight: 3,
            counted: 3,
            class_and_below: 3,
            below: 0
        }
    );
    // A lower class threshold refuses earlier.
    assert_eq!(
        b.try_acquire(&kv, at(0), 2).0,
        Acquire::Full {
            inflight: 3,
            counted: 3,
            class_and_below: 3,
            below: 0
        }
    );
    a.release(&kv, at(1));
    assert!(matches!(
        b.try_acquire(&kv, at(1), 3).0,
        Acquire::Admitted { inflight_before: 2 }
    ));
    assert_eq!(a.total(&kv, at(1)), 3);
}

#[test]
fn dead_worker_lane_expires() {
    let kv = MemoryKv::new();
    let mut dead = SharedInflight::new("k", 1, TTL);
    let mut live = SharedInflight::new("k", 2, TTL);
    for _ in 0..3 {
        dead.try_acquire(&kv, at(0), 3);
    }
    assert_eq!(
        live.try_acquire(&kv, at(10), 3).0,
        Acquire::Full {
            inflight: 3,
            counted: 3,
            class_and_below: 3,
            below: 0
        }
    );
    // The dead worker never ticks again; after the TTL its slots are free.
    let later = at(5_001);
    assert!(matches!(
        live.try_acquire(&kv, later, 3).0,
        Acquire::Admitted { inflight_before: 0 }
    ));
}

#[test]
fn heartbeat_keeps_a_busy_lane_alive() {
    let kv = MemoryKv::new();
    let mut a = SharedInflight::new("k", 1, TTL);
    let b = SharedInflight::new("k", 2, TTL);
    a.try_acquire(&kv, at(0), 10);
    for t in (1..=4).map(|i| i * 2_000) {
        a.heartbeat(&kv, at(t));
    }
    assert_eq!(b.total(&kv, at(8_500)), 1);
}

#[test]
fn lost_creation_race_is_repaired_by_heartbeat() {
    let kv = MemoryKv::new();
    let mut a = SharedInflight::new("k", 1, TTL);
    a.try_acquire(&kv, at(0), 10);
    // Another worker created the key unconditionally (cas = 0) from an
    // empty view, overwriting a's lane.
    let mut rival = LaneRecord::default();
    rival.upsert(2, 0, 1, at(0), TTL);
    kv.force("k", &rival.encode());
    assert_eq!(a.total(&kv, at(1)), 2, "a's own count is local truth");
    a.heartbeat(&kv, at(2));
    let rec = LaneRecord::decode(&kv.get("k").unwrap().unwrap().0).unwrap();
    assert_eq!(rec.value_of(1, 0), Some(1));
    assert_eq!(rec.value_of(2, 0), Some(1));
}

#[test]
fn a_lane_lost_to_a_rival_write_is_put_back_by_the_next_refusal() {
    let kv = MemoryKv::new();
    let mut a = SharedInflight::new("k", 1, TTL);
    a.try_acquire(&kv, at(0), 2);
    let mut rival = LaneRecord::default();
    rival.upsert(2, 0, 1, at(0), TTL);
    kv.force("k", &rival.encode());
    // a refuses (its local 1 + the rival's 1 reach 2) and, in the same
    // round, writes its lane back so the rival counts it too.
    assert_eq!(
        a.try_acquire(&kv, at(1), 2).0,
        Acquire::Full {
            inflight: 2,
            counted: 2,
            class_and_below: 2,
            below: 0
        }
    );
    let rec = LaneRecord::decode(&kv.get("k").unwrap().unwrap().0).unwrap();
    assert_eq!(rec.value_of(1, 0), Some(1));
    let mut b = SharedInflight::new("k", 2, TTL);
    b.local[0] = 1;
    assert_eq!(
        b.try_acquire(&kv, at(1), 2).0,
        Acquire::Full {
            inflight: 2,
            counted: 2,
            class_and_below: 2,
            below: 0
        }
    );
}

#[test]
fn an_empty_record_is_created_once_and_never_over_a_live_one() {
    let kv = MemoryKv::new();
    let mut a = SharedInflight::new("k", 1, TTL);
    let b = SharedInflight::new("k", 2, TTL);
    assert!(a.create_record(&kv));
    assert!(matches!(
        a.try_acquire(&kv, at(0), 5).0,
        Acquire::Admitted { inflight_before: 0 }
    ));
    // A worker configured later finds the record and leaves it alone.
    assert!(!b.create_record(&kv));
    assert_eq!(b.total(&kv, at(1)), 1);
}

#[test]
fn corrupt_value_is_reset_and_counted() {
    let kv = MemoryKv::new();
    kv.force("k", b"\x07garbage");
    let mut a = SharedInflight::new("k", 1, TTL);
    let (acq, stats) = a.try_acquire(&kv, at(0), 1);
    assert!(matches!(acq, Acquire::Admitted { inflight_before: 0 }));
    assert_eq!(stats.decode_resets, 1);
    let rec = LaneRecord::decode(&kv.get("k").unwrap().unwrap().0).unwrap();
    assert_eq!(rec.value_of(1, 0), Some(1));
}

#[test]
fn release_returns_lane_to_zero() {
    let kv = MemoryKv::new();
    let mut a = SharedInflight::new("k", 1, TTL);
    a.try_acquire(&kv, at(0), 10);
    a.try_acquire(&kv, at(0), 10);
    a.release(&kv, at(1));
    a.release(&kv, at(1));
    a.release(&kv, at(1)); // an extra release never underflows
    assert_eq!(a.local(), 0);
    assert_eq!(a.total(&kv, at(2)), 0);
}

/// Eight real threads hammer one key with acquires and releases. With
/// compare-and-swap no update is lost: the shared total never exceeds the
/// threshold (except by one per admission whose write had to be deferred after
/// exhausting its retries, which the test counts), and once each worker has
/// ticked, every lane equals its worker's own count.
#[test]
fn eight_threads_never_exceed_the_limit_or_lose_an_update() {
    const THRESHOLD: u32 = 5;
    let kv = Arc::new(MemoryKv::new());
    let max_seen = Arc::new(AtomicU64::new(0));
    let deferred = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..8u64)
        .map(|w| {
            let kv = Arc::clone(&kv);
            let max_seen = Arc::clone(&max_seen);
            let deferred = Arc::clone(&deferred);
            std::thread::spawn(move || {
                use crate::random::Random;
                let mut me = SharedInflight::new("hot", w + 1, TTL);
                let mut rng = crate::random::SplitMix64::new(w);
                for i in 0..2_000u64 {
                    let now = at(i);
                    if me.local() > 0 && rng.next_unit() < 0.5 {
                        if me.release(kv.as_ref(), now).1.deferred {
                            deferred.fetch_add(1, Ordering::Relaxed);
                        }
                    } else {
                        let (acquire, stats) = me.try_acquire(kv.as_ref(), now, THRESHOLD);
                        if stats.deferred {
                            deferred.fetch_add(1, Ordering::Relaxed);
                        }
                        if let Acquire::Admitted { inflight_before } = acquire {
                            max_seen.fetch_max(inflight_before + 1, Ordering::Relaxed);
                        }
                    }
                }
                me
            })
        })
        .collect();
    let mut workers: Vec<SharedInflight> = handles
        .into_iter()
        .map(|h| h.join().expect("worker thread"))
        .collect();
    let deferred = deferred.load(Ordering::Relaxed);
    assert!(max_seen.load(Ordering::Relaxed) <= u64::from(THRESHOLD) + deferred);
    let end = at(2_000);
    for w in &mut workers {
        w.heartbeat(kv.as_ref(), end);
    }
    let rec = LaneRecord::decode(&kv.get("hot").unwrap().unwrap().0).unwrap();
    let mut sum = 0;
    for w in &workers {
        assert!(!w.dirty, "worker {} still has a deferred write", w.worker);
        assert_eq!(rec.value_of(w.worker, 0).unwrap_or(0), w.local());
        sum += u64::from(w.local());
    }
    assert_eq!(rec.live_total_except(0, end, TTL), sum);
}

#[test]
fn a_class_gate_counts_the_class_and_those_below_it_across_workers() {
    let kv = MemoryKv::new();
    let mut a = SharedInflight::with_classes("k", 1, TTL, 3);
    let mut b = SharedInflight::with_classes("k", 2, TTL, 3);
    let gate = |class, total, class_and_below| Gate {
        class,
        total,
        class_and_below,
        below_room: u32::MAX,
    };
    // Two critical (class 0) on one worker, one sheddable (class 2) on the
    // other.
    for _ in 0..2 {
        assert!(matches!(
            a.acquire(&kv, at(0), gate(0, 10, 10)).0,
            Acquire::Admitted { .. }
        ));
    }
    assert!(matches!(
        b.acquire(&kv, at(0), gate(2, 10, 2)).0,
        Acquire::Admitted { inflight_before: 2 }
    ));
    // Default (class 1) sees 1 at or below it (the sheddable one), not 3.
    assert!(matches!(
        b.acquire(&kv, at(0), gate(1, 10, 2)).0,
        Acquire::Admitted { inflight_before: 3 }
    ));
    assert_eq!(
        a.acquire(&kv, at(0), gate(2, 10, 1)).0,
        Acquire::Full {
            inflight: 4,
            counted: 4,
            class_and_below: 1,
            below: 0
        },
        "the sheddable one, on the other worker, is at the gate"
    );
    // The total still binds the top class.
    assert_eq!(
        a.acquire(&kv, at(0), gate(0, 4, 4)).0,
        Acquire::Full {
            inflight: 4,
            counted: 4,
            class_and_below: 4,
            below: 2
        }
    );
    // A release frees the slot of its own class.
    b.release_class(&kv, at(1), 2);
    assert!(matches!(
        a.acquire(&kv, at(1), gate(2, 10, 1)).0,
        Acquire::Admitted { inflight_before: 3 }
    ));
    let rec = LaneRecord::decode(&kv.get("k").unwrap().unwrap().0).unwrap();
    assert_eq!(rec.value_of(1, 0), Some(2));
    assert_eq!(rec.value_of(1, 2), Some(1));
    assert_eq!(rec.value_of(2, 1), Some(1));
    assert_eq!(rec.value_of(2, 2), None);
}

/// When the limit falls under requests of a lower class, a higher class
/// counts them only up to the room they have now: it is not refused while
/// they drain.
#[test]
fn lower_classes_count_against_a_higher_one_only_up_to_their_room() {
    let kv = MemoryKv::new();
    let mut w = SharedInflight::with_classes("k", 1, TTL, 3);
    for _ in 0..8 {
        w.acquire(&kv, at(0), Gate::unbounded(2));
    }
    w.acquire(&kv, at(0), Gate::unbounded(0));
    // The limit is now 6, sheddable's room 2: critical counts 1 + 2.
    let critical = Gate {
        class: 0,
        total: 6,
        class_and_below: 6,
        below_room: 2,
    };
    assert!(matches!(
        w.acquire(&kv, at(1), critical).0,
        Acquire::Admitted { inflight_before: 9 }
    ));
    let default = Gate {
        class: 1,
        total: 6,
        class_and_below: 3,
        below_room: 2,
    };
    assert!(matches!(
        w.acquire(&kv, at(1), default).0,
        Acquire::Admitted {
            inflight_before: 10
        }
    ));
    assert_eq!(
        w.acquire(&kv, at(1), default).0,
        Acquire::Full {
            inflight: 11,
            counted: 5,
            class_and_below: 3,
            below: 2
        }
    );
    for _ in 0..3 {
        w.acquire(&kv, at(1), critical);
    }
    assert_eq!(
        w.acquire(&kv, at(1), critical).0,
        Acquire::Full {
            inflight: 13,
            counted: 6,
            class_and_below: 6,
            below: 2
        },
        "critical itself stays within the limit"
    );
}

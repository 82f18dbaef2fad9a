use super::*;
use crate::random::SplitMix64;
use crate::shared::MemoryKv;

fn params() -> GradientParams {
    GradientParams {
        min_limit: 2,
        max_limit: 200,
        initial_limit: 20,
        buffer: 0.25,
        smoothing: 0.5,
        min_rtt_interval: Duration::from_secs(60),
        probe_jitter: 0.1,
        max_latency: None,
    }
}

fn limit() -> SharedLimit {
    SharedLimit::new("sluice.v1.limit.t", params(), Duration::from_secs(1), 0.9)
}

fn at(ms: u64) -> Timestamp {
    Timestamp::from_millis(ms)
}

#[test]
fn records_round_trip_and_garbage_does_not_decode() {
    let mut window = LatencyHistogram::default();
    window.record(Duration::from_millis(12));
    let rec = AdaptiveRecord {
        state: params().start(at(5)),
        window_start: at(5),
        peak_inflight: 17,
        shed: 3,
        completed: 4,
        protected_shed: 1,
        last_rtt: Duration::from_millis(9),
        low_load: window.clone(),
        window,
    };
    assert_eq!(AdaptiveRecord::decode(&rec.encode()), Some(rec.clone()));
    let mut bytes = rec.encode();
    bytes[0] = 9;
    assert_eq!(AdaptiveRecord::decode(&bytes), None, "another version");
    assert_eq!(
        AdaptiveRecord::decode(&rec.encode()[..20]),
        None,
        "truncated"
    );
    let mut nan = rec.encode();
    nan[1..9].copy_from_slice(&f64::NAN.to_le_bytes());
    assert_eq!(AdaptiveRecord::decode(&nan), None, "non-finite limit");
}

#[test]
fn a_corrupt_record_is_reset_and_counted() {
    let kv = MemoryKv::new();
    kv.force("sluice.v1.limit.t", b"not a record");
    let mut l = limit();
    let f = l.flush(&kv, at(0), &mut SplitMix64::new(1));
    assert_eq!(f.stats.decode_resets, 1);
    assert!(AdaptiveRecord::decode(&kv.get("sluice.v1.limit.t").unwrap().unwrap().0).is_some());
}

#[test]
fn every_workers_samples_reach_the_window_and_one_flush_closes_it() {
    let kv = MemoryKv::new();
    let mut r = SplitMix64::new(3);
    let mut workers: Vec<SharedLimit> = (0..4).map(|_| limit()).collect();
    // First flush creates the record (empty window).
    for w in workers.iter_mut() {
        w.flush(&kv, at(0), &mut r);
    }
    for (i, w) in workers.iter_mut().enumerate() {
        for _ in 0..(30 + i) {
            w.record_latency(Duration::from_millis(10), at(400), true);
        }
        w.observe_inflight(3 + i as u64);
    }
    let mut closed = 0;
    for w in workers.iter_mut() {
        let f = w.flush(&kv, at(500), &mut r);
        closed += usize::from(f.closed.is_some());
    }
    assert_eq!(closed, 0, "the window is not over yet");
    let rec = AdaptiveRecord::decode(&kv.get("sluice.v1.limit.t").unwrap().unwrap().0).unwrap();
    assert_eq!(rec.window.count(), 30 + 31 + 32 + 33, "no sample lost");
    assert_eq!(rec.peak_inflight, 6);
    for w in workers.iter_mut() {
        let f = w.flush(&kv, at(1_200), &mut r);
        closed += usize::from(f.closed.is_some());
    }
    assert_eq!(closed, 1, "exactly one worker closes a window");
    // The probe window measured the baseline: tracking from the initial
    // limit, which every worker read at its flush.
    for w in &workers {
        assert_eq!(w.limit(), 20);
        assert_eq!(
            w.record().unwrap().state.min_rtt.map(|d| d.as_millis()),
            Some(10)
        );
    }
}

#[test]
fn a_refresh_sees_the_limit_another_worker_moved_without_merging_anything() {
    let kv = MemoryKv::new();
    let mut r = SplitMix64::new(5);
    let (mut a, mut b) = (limit(), limit());
    a.flush(&kv, at(0), &mut r);
    b.flush(&kv, at(0), &mut r);
    assert_eq!((a.limit(), b.limit()), (2, 2), "both start probing");
    for _ in 0..120 {
        a.record_latency(Duration::from_millis(10), at(400), true);
    }
    b.record_latency(Duration::from_millis(10), at(400), true);
    // A closes the probe window: the limit goes back up to 20 for A, while
    // B still admits against the probe's limit until its next flush.
    assert!(a.flush(&kv, at(1_100), &mut r).closed.is_some());
    assert_eq!((a.limit(), b.limit()), (20, 2));
    let before = kv.get("sluice.v1.limit.t").unwrap();
    assert_eq!(b.refresh(&kv), 20);
    assert_eq!(b.limit(), 20);
    assert_eq!(
        kv.get("sluice.v1.limit.t").unwrap(),
        before,
        "a refresh writes nothing"
    );
    // B's own sample was not merged by the refresh: its next flush does it.
    let f = b.flush(&kv, at(1_200), &mut r);
    assert!(f.closed.is_none());
    let rec = AdaptiveRecord::decode(&kv.get("sluice.v1.limit.t").unwrap().unwrap().0).unwrap();
    assert_eq!(rec.window.count(), 1);
    // An absent or undecodable record leaves the last limit read.
    let empty = MemoryKv::new();
    assert_eq!(b.refresh(&empty), 20);
    kv.force("sluice.v1.limit.t", b"garbage");
    assert_eq!(b.refresh(&kv), 20);
}

#[test]
fn a_lost_race_keeps_the_samples_for_the_next_flush() {
    /// A store whose sets always lose, as under endless contention.
    struct Contended(MemoryKv);
    impl SharedKv for Contended {
        fn get(&self, key: &str) -> Result<Option<(Vec<u8>, u32)>, crate::shared::KvError> {
            self.0.get(key)
        }
        fn set(&self, _: &str, _: &[u8], _: u32) -> Result<(), crate::shared::KvError> {
            Err(crate::shared::KvError::CasMismatch)
        }
    }
    let kv = MemoryKv::new();
    let mut l = limit();
    let mut r = SplitMix64::new(1);
    l.flush(&kv, at(0), &mut r);
    l.record_latency(Duration::from_millis(5), at(50), true);
    let f = l.flush(&Contended(kv), at(100), &mut r);
    assert!(f.stats.deferred);
    assert_eq!(f.stats.cas_retries, MAX_CAS_ATTEMPTS - 1);
    let kv = MemoryKv::new();
    l.flush(&kv, at(200), &mut r);
    l.flush(&kv, at(300), &mut r);
    let rec = AdaptiveRecord::decode(&kv.get("sluice.v1.limit.t").unwrap().unwrap().0).unwrap();
    assert_eq!(rec.window.count(), 1, "the sample survived the lost race");
}

#[test]
fn while_probing_only_requests_admitted_against_the_probe_limit_count() {
    let kv = MemoryKv::new();
    let mut r = SplitMix64::new(1);
    // Another worker has started a periodic probe at t = 1 s.
    let mut state = params().start(at(0));
    state.min_rtt = Some(Duration::from_millis(10));
    state.probe_level = ProbeLevel::TopClass;
    let rec = AdaptiveRecord {
        state,
        window_start: at(1_000),
        peak_inflight: 0,
        shed: 0,
        completed: 0,
        protected_shed: 0,
        last_rtt: Duration::ZERO,
        window: LatencyHistogram::default(),
        low_load: LatencyHistogram::default(),
    };
    kv.set("sluice.v1.limit.t", &rec.encode(), 0).unwrap();
    let mut l = limit();
    // Samples from before this worker read the probing record are dropped.
    l.record_latency(Duration::from_millis(300), at(900), true);
    l.flush(&kv, at(1_000), &mut r);
    // From its first flush that read the probe, only later admissions count.
    l.record_latency(Duration::from_millis(300), at(950), true);
    l.record_latency(Duration::from_millis(10), at(1_060), true);
    l.flush(&kv, at(1_100), &mut r);
    let rec = AdaptiveRecord::decode(&kv.get("sluice.v1.limit.t").unwrap().unwrap().0).unwrap();
    assert_eq!(rec.window.count(), 1);
    assert_eq!(
        rec.window.quantile(1.0).map(|d| d.as_millis() < 20),
        Some(true)
    );
}

//! Requests and accepts per priority class, shared by every worker, for
//! success-rate throttling (`limit::success_rate`).
//!
//! One record per destination holds, per class, the counts of the current
//! window and of the previous one. Workers count locally and merge their
//! counts on their tick with compare-and-swap (counts add); the merge that
//! finds the window over rolls it (current becomes previous). Each worker
//! then refuses against the probabilities computed from the record it
//! read, so the request path never touches the record. As with the adaptive
//! record, a creation race can lose one worker's first window of counts,
//! once per record lifetime; every later merge is exact.
//!
//! Encoding, little-endian: version (1), class count n (u8), window start
//! in ns (u64), then n × 4 u32: requests and accepts of the current window,
//! requests and accepts of the previous one.

use super::inflight::{UpdateStats, MAX_CAS_ATTEMPTS};
use super::kv::{cas_update, SharedKv, Step};
use crate::limit::success_rate::{Counts, SuccessRateParams};
use crate::time::Timestamp;

const VERSION: u8 = 1;
/// Most classes a record holds (the configuration allows 8).
pub const MAX_CLASSES: usize = 8;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClassWindow {
    pub requests: u32,
    pub accepts: u32,
    pub prev_requests: u32,
    pub prev_accepts: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SuccessRecord {
    pub window_start: Timestamp,
    pub classes: Vec<ClassWindow>,
}

impl SuccessRecord {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(10 + 16 * self.classes.len());
        out.push(VERSION);
        out.push(self.classes.len() as u8);
        out.extend_from_slice(&self.window_start.as_nanos().to_le_bytes());
        for c in &self.classes {
            for v in [c.requests, c.accepts, c.prev_requests, c.prev_accepts] {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        out
    }

    /// `None` unless a version-1 record for exactly `classes` classes.
    pub fn decode(bytes: &[u8], classes: usize) -> Option<SuccessRecord> {
        if bytes.len() != 10 + 16 * classes
            || bytes[0] != VERSION
            || usize::from(bytes[1]) != classes
        {
            return None;
        }
        let word = |at: usize| -> Option<u32> {
            Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
        };
        let start = u64::from_le_bytes(bytes.get(2..10)?.try_into().ok()?);
        let mut out = Vec::with_capacity(classes);
        for i in 0..classes {
            let at = 10 + 16 * i;
            out.push(ClassWindow {
                requests: word(at)?,
                accepts: word(at + 4)?,
                prev_requests: word(at + 8)?,
                prev_accepts: word(at + 12)?,
            });
        }
        Some(SuccessRecord {
            window_start: Timestamp::from_nanos(start),
            classes: out,
        })
    }
}

/// One worker's handle on a destination's success counts.
#[derive(Debug)]
pub struct SharedSuccess {
    key: String,
    params: SuccessRateParams,
    local: Vec<(u32, u32)>,
    /// Rejection probability per class, as of the last flush.
    reject: Vec<f64>,
}

impl SharedSuccess {
    pub fn new(key: impl Into<String>, params: SuccessRateParams, classes: usize) -> Self {
        let classes = classes.min(MAX_CLASSES);
        SharedSuccess {
            key: key.into(),
            params,
            local: vec![(0, 0); classes],
            reject: vec![0.0; classes],
        }
    }

    /// Sets the aggression `K` used from the next flush on (the SLO tuner's
    /// knob).
    pub fn set_aggression(&mut self, aggression: f64) {
        self.params.aggression = aggression;
    }

    /// The probability with which to refuse a request of `class` now.
    pub fn reject_probability(&self, class: usize) -> f64 {
        self.reject.get(class).copied().unwrap_or(0.0)
    }

    /// A request of `class` was seen (whatever became of it).
    pub fn record_request(&mut self, class: usize) {
        if let Some(c) = self.local.get_mut(class) {
            c.0 = c.0.saturating_add(1);
        }
    }

    /// The service answered a request of `class` without failing.
    pub fn record_accept(&mut self, class: usize) {
        if let Some(c) = self.local.get_mut(class) {
            c.1 = c.1.saturating_add(1);
        }
    }

    /// Merges this worker's counts, rolls the window if it is over, and
    /// recomputes the rejection probabilities. Counts stay local on a lost
    /// race, for the next flush.
    pub fn flush(&mut self, kv: &impl SharedKv, now: Timestamp) -> UpdateStats {
        let mut stats = UpdateStats::default();
        let n = self.local.len();
        let window = self.params.window;
        let local = &self.local;
        let mut resets = 0;
        let outcome = cas_update(kv, &self.key, MAX_CAS_ATTEMPTS, |bytes| {
            let current = bytes.and_then(|b| SuccessRecord::decode(b, n));
            if bytes.is_some() && current.is_none() {
                resets = 1;
            }
            let Some(mut rec) = current else {
                // Create empty; counts merge at the next flush, through CAS.
                let rec = SuccessRecord {
                    window_start: now,
                    classes: vec![ClassWindow::default(); n],
                };
                return Step::Write(rec.encode(), (rec, false));
            };
            for (c, (r, a)) in rec.classes.iter_mut().zip(local) {
                c.requests = c.requests.saturating_add(*r);
                c.accepts = c.accepts.saturating_add(*a);
            }
            if now.saturating_since(rec.window_start) >= window {
                for c in rec.classes.iter_mut() {
                    *c = ClassWindow {
                        prev_requests: c.requests,
                        prev_accepts: c.accepts,
                        ..ClassWindow::default()
                    };
                }
                rec.window_start = now;
            }
            Step::Write(rec.encode(), (rec, true))
        });
        stats.decode_resets = resets;
        match outcome {
            Ok(o) if o.committed => {
                stats.cas_retries = o.attempts.saturating_sub(1);
                let (rec, merged) = o.result;
                if merged {
                    self.local.iter_mut().for_each(|c| *c = (0, 0));
                }
                // The estimate spans the previous window and the current
                // one so far.
                let span = window + now.saturating_since(rec.window_start);
                for (p, c) in self.reject.iter_mut().zip(&rec.classes) {
                    let counts = Counts {
                        requests: u64::from(c.requests) + u64::from(c.prev_requests),
                        accepts: u64::from(c.accepts) + u64::from(c.prev_accepts),
                    };
                    *p = self.params.reject_probability(counts, span);
                }
            }
            Ok(o) => {
                stats.cas_retries = o.attempts.saturating_sub(1);
                stats.deferred = true;
            }
            Err(_) => stats.deferred = true,
        }
        stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::MemoryKv;
    use std::time::Duration;

    fn params() -> SuccessRateParams {
        SuccessRateParams {
            aggression: 2.0,
            min_rps: 5.0,
            max_reject: 0.9,
            window: Duration::from_secs(1),
        }
    }

    fn at(ms: u64) -> Timestamp {
        Timestamp::from_millis(ms)
    }

    #[test]
    fn records_round_trip_and_other_shapes_do_not_decode() {
        let rec = SuccessRecord {
            window_start: at(7),
            classes: vec![
                ClassWindow {
                    requests: 1,
                    accepts: 2,
                    prev_requests: 3,
                    prev_accepts: 4,
                };
                3
            ],
        };
        assert_eq!(SuccessRecord::decode(&rec.encode(), 3), Some(rec.clone()));
        assert_eq!(
            SuccessRecord::decode(&rec.encode(), 2),
            None,
            "class count changed"
        );
        assert_eq!(SuccessRecord::decode(b"junk", 3), None);
    }

    #[test]
    fn workers_counts_merge_and_a_failing_class_is_throttled_alone() {
        let kv = MemoryKv::new();
        let mut workers: Vec<SharedSuccess> = (0..3)
            .map(|_| SharedSuccess::new("sluice.v1.success.t", params(), 2))
            .collect();
        for w in workers.iter_mut() {
            w.flush(&kv, at(0));
        }
        for w in workers.iter_mut() {
            for _ in 0..100 {
                w.record_request(0);
                w.record_accept(0);
                w.record_request(1);
            }
            for _ in 0..10 {
                w.record_accept(1);
            }
        }
        for w in workers.iter_mut() {
            w.flush(&kv, at(500));
        }
        let rec =
            SuccessRecord::decode(&kv.get("sluice.v1.success.t").unwrap().unwrap().0, 2).unwrap();
        assert_eq!(
            (rec.classes[0].requests, rec.classes[0].accepts),
            (300, 300),
            "nothing lost"
        );
        assert_eq!((rec.classes[1].requests, rec.classes[1].accepts), (300, 30));
        // The last worker to flush saw everything: class 0 healthy, class 1
        // at (300 − 60) / 301.
        let last = &workers[2];
        assert_eq!(last.reject_probability(0), 0.0);
        assert!((last.reject_probability(1) - 240.0 / 301.0).abs() < 1e-9);
        // The window rolls: counts move to `prev` and still count.
        workers[0].flush(&kv, at(1_200));
        let rec =
            SuccessRecord::decode(&kv.get("sluice.v1.success.t").unwrap().unwrap().0, 2).unwrap();
        assert_eq!(
            (rec.classes[1].requests, rec.classes[1].prev_requests),
            (0, 300)
        );
        assert!(workers[0].reject_probability(1) > 0.5);
    }

    /// Eight workers (real threads) count and merge into one record at
    /// once; every merge that lost its race is retried at a later flush, so
    /// the record ends with exactly the sum of what the workers counted.
    #[test]
    fn eight_threads_merging_into_one_record_lose_no_count() {
        use crate::random::{Random, SplitMix64};
        use std::sync::Arc;
        const KEY: &str = "sluice.v1.success.hot";
        // One window for the whole run: no roll moves counts to `prev`.
        let params = SuccessRateParams {
            window: Duration::from_secs(3600),
            ..params()
        };
        let kv = Arc::new(MemoryKv::new());
        // Created before the workers start: a creation race may lose one
        // window of counts by design (see the module docs).
        SharedSuccess::new(KEY, params.clone(), 3).flush(kv.as_ref(), at(0));
        let handles: Vec<_> = (0..8u64)
            .map(|w| {
                let kv = Arc::clone(&kv);
                let params = params.clone();
                std::thread::spawn(move || {
                    let mut me = SharedSuccess::new(KEY, params, 3);
                    let mut rng = SplitMix64::new(w);
                    let mut counted = [(0u32, 0u32); 3];
                    for i in 0..2_000u64 {
                        let class = (rng.next_u64() % 3) as usize;
                        me.record_request(class);
                        counted[class].0 += 1;
                        if rng.next_unit() < 0.7 {
                            me.record_accept(class);
                            counted[class].1 += 1;
                        }
                        if rng.next_unit() < 0.2 {
                            me.flush(kv.as_ref(), at(i));
                            for c in 0..3 {
                                let p = me.reject_probability(c);
                                assert!((0.0..=me.params.max_reject).contains(&p), "{p}");
                            }
                        }
                    }
                    (me, counted)
                })
            })
            .collect();
        let mut workers: Vec<(SharedSuccess, [(u32, u32); 3])> = handles
            .into_iter()
            .map(|h| h.join().expect("worker thread"))
            .collect();
        // Uncontended now: the last flush of each worker lands.
        for (w, _) in &mut workers {
            assert!(!w.flush(kv.as_ref(), at(2_000)).deferred);
            assert!(w.local.iter().all(|c| *c == (0, 0)), "counts left local");
        }
        let rec = SuccessRecord::decode(&kv.get(KEY).unwrap().unwrap().0, 3).unwrap();
        for class in 0..3 {
            let requests: u32 = workers.iter().map(|(_, c)| c[class].0).sum();
            let accepts: u32 = workers.iter().map(|(_, c)| c[class].1).sum();
            let got = &rec.classes[class];
            assert_eq!(
                (got.requests, got.accepts),
                (requests, accepts),
                "class {class}"
            );
            assert_eq!((got.prev_requests, got.prev_accepts), (0, 0));
        }
    }
}

//! In-flight requests counted across all workers.
//!
//! Each worker keeps its own in-flight count locally, per priority class,
//! and mirrors it into its lanes of one shared [`LaneRecord`]. Admission
//! reads the record, adds the other workers' live lanes to the local counts,
//! and admits only if the sums pass the request's [`Gate`] (the total below
//! one threshold, the request's class and the classes below it under
//! another); the increment is written with compare-and-swap against the
//! value that was read, so two workers cannot both take the last slot.

use super::kv::{cas_update, CasOutcome, KvError, SharedKv, Step};
use super::lanes::{DecodeError, LaneRecord};
use crate::priority::MAX_CLASSES;
use crate::time::Timestamp;
use std::time::Duration;

/// Most compare-and-swap rounds per update. Contention is between Envoy
/// workers on one host, so a handful of rounds suffices; past the bound the
/// worker keeps its local count and repairs its lane on the next write or
/// tick instead of spinning on a request's critical path.
pub const MAX_CAS_ATTEMPTS: u32 = 16;

/// The outcome of [`SharedInflight::acquire`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acquire {
    /// Admitted; in-flight across all workers before this request.
    Admitted { inflight_before: u64 },
    /// Refused: `counted` (in flight across all workers, with the classes
    /// after the request's counted up to `gate.below_room`) had reached
    /// `gate.total`, or `class_and_below` (its class and, so counted, the
    /// classes after it) had reached `gate.class_and_below`. `inflight` is
    /// the whole count, `below` the part of `counted` from the classes
    /// after the request's: a refusal with `below > 0` is a priority
    /// inversion (a lower class holds slots the request could not have).
    Full {
        inflight: u64,
        counted: u64,
        class_and_below: u64,
        below: u64,
    },
}

/// What a request must find to take a slot: fewer than `total` requests in
/// flight across all workers, and fewer than `class_and_below` of its class
/// and the classes after it (lower priorities). Strict priority keeps the
/// second below the limit by what the classes above may need
/// (`limit::reservation`).
///
/// The classes after the request's count only up to `below_room`, the
/// slots they may hold now: when the limit falls, or the demand above
/// them rises, requests they were admitted earlier hold slots they would
/// not be given now, and a higher class is not refused for those while
/// they drain (the total may exceed the limit by them meanwhile).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gate {
    pub class: usize,
    pub total: u32,
    pub class_and_below: u32,
    pub below_room: u32,
}

impl Gate {
    /// A gate on the total alone, for counts without classes.
    pub fn total(threshold: u32) -> Gate {
        Gate::unbounded(0).with_total(threshold)
    }

    /// A gate that admits every request of `class`.
    pub fn unbounded(class: usize) -> Gate {
        Gate {
            class,
            total: u32::MAX,
            class_and_below: u32::MAX,
            below_room: u32::MAX,
        }
    }

    /// The most requests of the class and those after it this gate lets
    /// be in flight.
    pub fn room(&self) -> u32 {
        self.total.min(self.class_and_below)
    }

    fn with_total(self, total: u32) -> Gate {
        Gate { total, ..self }
    }
}

/// What an update cost, for the filter's metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UpdateStats {
    /// Rounds lost to another worker's write.
    pub cas_retries: u32,
    /// Shared values that failed to decode and were replaced.
    pub decode_resets: u32,
    /// True if the write did not land (retries exhausted or host error); the
    /// lane will be repaired from the local count later.
    pub deferred: bool,
}

/// One worker's handle on a shared in-flight count.
#[derive(Debug)]
pub struct SharedInflight {
    key: String,
    worker: u64,
    /// Classes counted apart (1 for a count without classes).
    classes: usize,
    /// This worker's in flight, per class.
    local: [u32; MAX_CLASSES],
    /// True when the shared lane may differ from `local`.
    dirty: bool,
    lane_ttl: Duration,
}

impl SharedInflight {
    /// `worker` must be unique among the workers sharing `key` (a random
    /// 64-bit id is); `lane_ttl` is how long a lane counts without a heartbeat.
    pub fn new(key: impl Into<String>, worker: u64, lane_ttl: Duration) -> Self {
        Self::with_classes(key, worker, lane_ttl, 1)
    }

    /// A count kept per class for `classes` priority classes (at most
    /// [`MAX_CLASSES`]; more count in the last).
    pub fn with_classes(
        key: impl Into<String>,
        worker: u64,
        lane_ttl: Duration,
        classes: usize,
    ) -> Self {
        SharedInflight {
            key: key.into(),
            worker,
            classes: classes.clamp(1, MAX_CLASSES),
            local: [0; MAX_CLASSES],
            dirty: false,
            lane_ttl,
        }
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    /// This worker's in-flight requests.
    pub fn local(&self) -> u32 {
        self.local[..self.classes].iter().sum()
    }

    fn class_index(&self, class: usize) -> usize {
        class.min(self.classes - 1)
    }

    /// True if the record holds this worker's lanes as they are locally.
    fn lanes_in_sync(&self, record: &LaneRecord) -> bool {
        (0..self.classes)
            .all(|c| record.value_of(self.worker, c as u8).unwrap_or(0) == self.local[c])
    }

    /// Writes every one of this worker's lanes (a lane at zero is removed).
    fn write_all_lanes(&self, record: &mut LaneRecord, now: Timestamp) {
        for c in 0..self.classes {
            record.upsert(self.worker, c as u8, self.local[c], now, self.lane_ttl);
        }
    }

    /// Creates the shared record, empty, if it is absent; called once at
    /// configure time, before traffic. Envoy's shared data has no
    /// create-if-absent (a write to an absent key always lands), so when two
    /// workers create a record holding their own lanes at once, one lane is
    /// lost until a tick repairs it. Empty records are the same bytes from
    /// every worker, so racing creations of them lose nothing, and every
    /// later lane write is a compare-and-swap. Returns true if this call
    /// wrote the record.
    pub fn create_record(&self, kv: &impl SharedKv) -> bool {
        match kv.get(&self.key) {
            Ok(None) => kv
                .set(&self.key, &LaneRecord::default().encode(), 0)
                .is_ok(),
            _ => false,
        }
    }

    /// Admits one request if in-flight across all workers is below
    /// `threshold`, counting it in this worker's lane (of class 0).
    pub fn try_acquire(
        &mut self,
        kv: &impl SharedKv,
        now: Timestamp,
        threshold: u32,
    ) -> (Acquire, UpdateStats) {
        self.acquire(kv, now, Gate::total(threshold))
    }

    /// Admits one request of `gate.class` if the counts across all workers
    /// pass `gate`, counting it in this worker's lane for its class.
    pub fn acquire(
        &mut self,
        kv: &impl SharedKv,
        now: Timestamp,
        gate: Gate,
    ) -> (Acquire, UpdateStats) {
        let mut stats = UpdateStats::default();
        let class = self.class_index(gate.class);
        let this = &*self;
        let outcome = cas_update(kv, &this.key, MAX_CAS_ATTEMPTS, |bytes| {
            let mut record = decode_or_reset(bytes, &mut stats);
            let mut by_class = [0u64; MAX_CLASSES];
            record.add_live_by_class_except(
                this.worker,
                now,
                this.lane_ttl,
                &mut by_class[..this.classes],
            );
            for (count, local) in by_class.iter_mut().zip(this.local).take(this.classes) {
                *count += u64::from(local);
            }
            let inflight: u64 = by_class[..this.classes].iter().sum();
            let below: u64 = by_class[class + 1..this.classes].iter().sum();
            let below = below.min(u64::from(gate.below_room));
            let counted = by_class[..=class].iter().sum::<u64>() + below;
            let class_and_below = by_class[class] + below;
            if counted >= u64::from(gate.total)
                || class_and_below >= u64::from(gate.class_and_below)
            {
                let full = Acquire::Full {
                    inflight,
                    counted,
                    class_and_below,
                    below,
                };
                if this.lanes_in_sync(&record) {
                    return Step::Keep(full);
                }
                // Another worker's write lost a lane: put it back now rather
                // than at the next tick, so that the others count it.
                this.write_all_lanes(&mut record, now);
                return Step::Write(record.encode(), full);
            }
            record.upsert(
                this.worker,
                class as u8,
                this.local[class] + 1,
                now,
                this.lane_ttl,
            );
            Step::Write(
                record.encode(),
                Acquire::Admitted {
                    inflight_before: inflight,
                },
            )
        });
        let acquire = match settle(outcome, &mut stats) {
            Some(acquire) => acquire,
            None => {
                // The host refused shared data; decide on local knowledge
                // alone rather than fail the request.
                let local = u64::from(self.local());
                let below: u64 = self.local[class..self.classes]
                    .iter()
                    .map(|&n| u64::from(n))
                    .sum();
                if local < u64::from(gate.total) && below < u64::from(gate.class_and_below) {
                    Acquire::Admitted {
                        inflight_before: local,
                    }
                } else {
                    Acquire::Full {
                        inflight: local,
                        counted: local,
                        class_and_below: below,
                        below: 0,
                    }
                }
            }
        };
        if let Acquire::Admitted { .. } = acquire {
            self.local[class] += 1;
            self.dirty |= stats.deferred;
        }
        (acquire, stats)
    }

    /// Ends one admitted request. Safe to call only once per admitted request;
    /// callers keep a flag. Returns the in-flight total across workers after
    /// the release.
    pub fn release(&mut self, kv: &impl SharedKv, now: Timestamp) -> (u64, UpdateStats) {
        self.release_class(kv, now, 0)
    }

    /// Ends one admitted request of `class` (as [`Self::release`]).
    pub fn release_class(
        &mut self,
        kv: &impl SharedKv,
        now: Timestamp,
        class: usize,
    ) -> (u64, UpdateStats) {
        let class = self.class_index(class);
        self.local[class] = self.local[class].saturating_sub(1);
        self.write_lane(kv, now, class)
    }

    /// Housekeeping on tick: refreshes this worker's heartbeat while it has
    /// requests in flight, and rewrites its lane if a write was deferred or
    /// the shared record lost it. Returns the in-flight total across workers.
    pub fn heartbeat(&mut self, kv: &impl SharedKv, now: Timestamp) -> (u64, UpdateStats) {
        let mut stats = UpdateStats::default();
        let this = &*self;
        let local = u64::from(this.local());
        let outcome = cas_update(kv, &this.key, MAX_CAS_ATTEMPTS, |bytes| {
            let mut record = decode_or_reset(bytes, &mut stats);
            let others = record.live_total_except(this.worker, now, this.lane_ttl);
            let in_sync = this.lanes_in_sync(&record);
            if !this.dirty && in_sync && local == 0 && stats.decode_resets == 0 {
                return Step::Keep(others);
            }
            this.write_all_lanes(&mut record, now);
            Step::Write(record.encode(), others)
        });
        let others = settle(outcome, &mut stats).unwrap_or(0);
        self.dirty = stats.deferred;
        (others + local, stats)
    }

    /// In-flight across all workers, as this worker sees it now.
    pub fn total(&self, kv: &impl SharedKv, now: Timestamp) -> u64 {
        let others = match kv.get(&self.key) {
            Ok(Some((bytes, _))) => LaneRecord::decode(&bytes)
                .map(|r| r.live_total_except(self.worker, now, self.lane_ttl))
                .unwrap_or(0),
            _ => 0,
        };
        others + u64::from(self.local())
    }

    fn write_lane(
        &mut self,
        kv: &impl SharedKv,
        now: Timestamp,
        class: usize,
    ) -> (u64, UpdateStats) {
        let mut stats = UpdateStats::default();
        let (worker, value, ttl) = (self.worker, self.local[class], self.lane_ttl);
        let outcome = cas_update(kv, &self.key, MAX_CAS_ATTEMPTS, |bytes| {
            let mut record = decode_or_reset(bytes, &mut stats);
            let others = record.live_total_except(worker, now, ttl);
            record.upsert(worker, class as u8, value, now, ttl);
            Step::Write(record.encode(), others)
        });
        let others = settle(outcome, &mut stats).unwrap_or(0);
        self.dirty = stats.deferred;
        (others + u64::from(self.local()), stats)
    }
}

/// Records what an update cost; `None` if the host refused shared data.
fn settle<T>(outcome: Result<CasOutcome<T>, KvError>, stats: &mut UpdateStats) -> Option<T> {
    match outcome {
        Ok(o) => {
            stats.cas_retries = o.attempts - 1;
            stats.deferred = !o.committed;
            Some(o.result)
        }
        Err(_) => {
            stats.deferred = true;
            None
        }
    }
}

/// Decodes a record, treating an absent key as empty and an undecodable
/// value as empty. `stats.decode_resets` says whether the value shown in the
/// latest round was undecodable, so the filter can count and log it.
fn decode_or_reset(bytes: Option<&[u8]>, stats: &mut UpdateStats) -> LaneRecord {
    let decoded: Option<Result<LaneRecord, DecodeError>> = bytes.map(LaneRecord::decode);
    stats.decode_resets = u32::from(matches!(decoded, Some(Err(_))));
    decoded.and_then(Result::ok).unwrap_or_default()
}

#[cfg(test)]
mod tests;

//! In-flight requests counted across all workers.
//!
//! Each worker keeps its own in-flight count locally and mirrors it into its
//! lane of one shared [`LaneRecord`]. Admission reads the record, adds the
//! other workers' live lanes to the local count, and admits only if the sum
//! is below the class threshold; the increment is written with
//! compare-and-swap against the value that was read, so two workers cannot
//! both take the last slot.

use super::kv::{cas_update, CasOutcome, KvError, SharedKv, Step};
use super::lanes::{DecodeError, LaneRecord};
use crate::time::Timestamp;
use std::time::Duration;

/// Most compare-and-swap rounds per update. Contention is between Envoy
/// workers on one host, so a handful of rounds suffices; past the bound the
/// worker keeps its local count and repairs its lane on the next write or
/// tick instead of spinning on a request's critical path.
pub const MAX_CAS_ATTEMPTS: u32 = 16;

/// The outcome of [`SharedInflight::try_acquire`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acquire {
    /// Admitted; in-flight across all workers before this request.
    Admitted { inflight_before: u64 },
    /// Refused: in-flight across all workers had reached the threshold.
    Full { inflight: u64 },
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
    local: u32,
    /// True when the shared lane may differ from `local`.
    dirty: bool,
    lane_ttl: Duration,
}

impl SharedInflight {
    /// `worker` must be unique among the workers sharing `key` (a random
    /// 64-bit id is); `lane_ttl` is how long a lane counts without a heartbeat.
    pub fn new(key: impl Into<String>, worker: u64, lane_ttl: Duration) -> Self {
        SharedInflight {
            key: key.into(),
            worker,
            local: 0,
            dirty: false,
            lane_ttl,
        }
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    /// This worker's in-flight requests.
    pub fn local(&self) -> u32 {
        self.local
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
    /// `threshold`, counting it in this worker's lane.
    pub fn try_acquire(
        &mut self,
        kv: &impl SharedKv,
        now: Timestamp,
        threshold: u32,
    ) -> (Acquire, UpdateStats) {
        let mut stats = UpdateStats::default();
        let (worker, local, ttl) = (self.worker, self.local, self.lane_ttl);
        let outcome = cas_update(kv, &self.key, MAX_CAS_ATTEMPTS, |bytes| {
            let mut record = decode_or_reset(bytes, &mut stats);
            let inflight = record.live_total_except(worker, now, ttl) + u64::from(local);
            if inflight >= u64::from(threshold) {
                let full = Acquire::Full { inflight };
                if record.value_of(worker).unwrap_or(0) == local {
                    return Step::Keep(full);
                }
                // Another worker's write lost this lane: put it back now
                // rather than at the next tick, so that the others count it.
                record.upsert(worker, local, now, ttl);
                return Step::Write(record.encode(), full);
            }
            record.upsert(worker, local + 1, now, ttl);
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
                if local < threshold {
                    Acquire::Admitted {
                        inflight_before: u64::from(local),
                    }
                } else {
                    Acquire::Full {
                        inflight: u64::from(local),
                    }
                }
            }
        };
        if let Acquire::Admitted { .. } = acquire {
            self.local += 1;
            self.dirty |= stats.deferred;
        }
        (acquire, stats)
    }

    /// Ends one admitted request. Safe to call only once per admitted request;
    /// callers keep a flag. Returns the in-flight total across workers after
    /// the release.
    pub fn release(&mut self, kv: &impl SharedKv, now: Timestamp) -> (u64, UpdateStats) {
        self.local = self.local.saturating_sub(1);
        self.write_lane(kv, now)
    }

    /// Housekeeping on tick: refreshes this worker's heartbeat while it has
    /// requests in flight, and rewrites its lane if a write was deferred or
    /// the shared record lost it. Returns the in-flight total across workers.
    pub fn heartbeat(&mut self, kv: &impl SharedKv, now: Timestamp) -> (u64, UpdateStats) {
        let mut stats = UpdateStats::default();
        let (worker, local, ttl, dirty) = (self.worker, self.local, self.lane_ttl, self.dirty);
        let outcome = cas_update(kv, &self.key, MAX_CAS_ATTEMPTS, |bytes| {
            let mut record = decode_or_reset(bytes, &mut stats);
            let others = record.live_total_except(worker, now, ttl);
            let in_sync = record.value_of(worker).unwrap_or(0) == local;
            if !dirty && in_sync && local == 0 && stats.decode_resets == 0 {
                return Step::Keep(others);
            }
            record.upsert(worker, local, now, ttl);
            Step::Write(record.encode(), others)
        });
        let others = settle(outcome, &mut stats).unwrap_or(0);
        self.dirty = stats.deferred;
        (others + u64::from(local), stats)
    }

    /// In-flight across all workers, as this worker sees it now.
    pub fn total(&self, kv: &impl SharedKv, now: Timestamp) -> u64 {
        let others = match kv.get(&self.key) {
            Ok(Some((bytes, _))) => LaneRecord::decode(&bytes)
                .map(|r| r.live_total_except(self.worker, now, self.lane_ttl))
                .unwrap_or(0),
            _ => 0,
        };
        others + u64::from(self.local)
    }

    fn write_lane(&mut self, kv: &impl SharedKv, now: Timestamp) -> (u64, UpdateStats) {
        let mut stats = UpdateStats::default();
        let (worker, local, ttl) = (self.worker, self.local, self.lane_ttl);
        let outcome = cas_update(kv, &self.key, MAX_CAS_ATTEMPTS, |bytes| {
            let mut record = decode_or_reset(bytes, &mut stats);
            let others = record.live_total_except(worker, now, ttl);
            record.upsert(worker, local, now, ttl);
            Step::Write(record.encode(), others)
        });
        let others = settle(outcome, &mut stats).unwrap_or(0);
        self.dirty = stats.deferred;
        (others + u64::from(local), stats)
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

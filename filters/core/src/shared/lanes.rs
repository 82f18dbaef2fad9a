//! A record of per-worker lanes, and its binary encoding.
//!
//! A lane is one worker's count for one priority class (class 0 where the
//! count has no classes). Encoding, little-endian:
//!
//! ```text
//! byte 0      format version (2)
//! byte 1      record kind (1 = lanes)
//! bytes 2..4  lane count n (u16), at most MAX_LANES
//! then n x 21 bytes: worker id (u64), class (u8), value (u32),
//!                    heartbeat in ms since the epoch (u64)
//! ```
//! Version 1 (20-byte lanes without the class byte, written by earlier
//! modules while a new one loads) decodes as class 0. A value that fails to
//! decode (another version, truncated, corrupt) is reported as a
//! [`DecodeError`]; callers count it and start a fresh record.

use crate::time::Timestamp;
use std::time::Duration;

const FORMAT_VERSION: u8 = 2;
const FORMAT_VERSION_CLASSLESS: u8 = 1;
const KIND_LANES: u8 = 1;
const HEADER_LEN: usize = 4;
const LANE_LEN: usize = 21;
const CLASSLESS_LANE_LEN: usize = 20;

/// Most lanes a record holds. Each Envoy worker's VM (per root context) owns
/// one lane per class it has in flight; past the cap, the lane with the
/// oldest heartbeat is evicted.
pub const MAX_LANES: usize = 1024;

/// Why bytes in shared data are not a lane record Sluice can read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    Empty,
    UnknownVersion(u8),
    WrongKind(u8),
    BadLength { declared_lanes: usize, bytes: usize },
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::Empty => write!(f, "empty value"),
            DecodeError::UnknownVersion(v) => write!(f, "unknown format version {v}"),
            DecodeError::WrongKind(k) => write!(f, "record kind {k} is not a lane record"),
            DecodeError::BadLength {
                declared_lanes,
                bytes,
            } => write!(f, "{declared_lanes} lanes declared in {bytes} bytes"),
        }
    }
}

/// One worker's share of a record, for one class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lane {
    pub worker: u64,
    pub class: u8,
    pub value: u32,
    pub heartbeat_ms: u64,
}

/// The lanes of one record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LaneRecord {
    lanes: Vec<Lane>,
}

impl LaneRecord {
    pub fn lanes(&self) -> &[Lane] {
        &self.lanes
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let [version, kind, n0, n1, rest @ ..] = bytes else {
            return Err(if bytes.is_empty() {
                DecodeError::Empty
            } else {
                DecodeError::BadLength {
                    declared_lanes: 0,
                    bytes: bytes.len(),
                }
            });
        };
        let lane_len = match *version {
            FORMAT_VERSION => LANE_LEN,
            FORMAT_VERSION_CLASSLESS => CLASSLESS_LANE_LEN,
            other => return Err(DecodeError::UnknownVersion(other)),
        };
        if *kind != KIND_LANES {
            return Err(DecodeError::WrongKind(*kind));
        }
        let n = usize::from(u16::from_le_bytes([*n0, *n1]));
        if n > MAX_LANES || rest.len() != n * lane_len {
            return Err(DecodeError::BadLength {
                declared_lanes: n,
                bytes: bytes.len(),
            });
        }
        let lanes = rest
            .chunks_exact(lane_len)
            .map(|c| {
                // The class byte, when present, follows the worker id.
                let (class, v) = if lane_len == LANE_LEN {
                    (c[8], 9)
                } else {
                    (0, 8)
                };
                Lane {
                    worker: u64::from_le_bytes(le8(&c[0..8])),
                    class,
                    value: u32::from_le_bytes([c[v], c[v + 1], c[v + 2], c[v + 3]]),
                    heartbeat_ms: u64::from_le_bytes(le8(&c[v + 4..v + 12])),
                }
            })
            .collect();
        Ok(LaneRecord { lanes })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.lanes.len() * LANE_LEN);
        out.push(FORMAT_VERSION);
        out.push(KIND_LANES);
        out.extend_from_slice(&(self.lanes.len() as u16).to_le_bytes());
        for lane in &self.lanes {
            out.extend_from_slice(&lane.worker.to_le_bytes());
            out.push(lane.class);
            out.extend_from_slice(&lane.value.to_le_bytes());
            out.extend_from_slice(&lane.heartbeat_ms.to_le_bytes());
        }
        out
    }

    /// The value of `worker`'s lane for `class`, if present.
    pub fn value_of(&self, worker: u64, class: u8) -> Option<u32> {
        self.lanes
            .iter()
            .find(|l| l.worker == worker && l.class == class)
            .map(|l| l.value)
    }

    /// Adds the live lanes' values, leaving out `except`'s, to `by_class`
    /// (a class past its end counts in its last entry).
    pub fn add_live_by_class_except(
        &self,
        except: u64,
        now: Timestamp,
        ttl: Duration,
        by_class: &mut [u64],
    ) {
        let Some(last) = by_class.len().checked_sub(1) else {
            return;
        };
        for l in self.lanes.iter() {
            if l.worker != except && is_live(l, now, ttl) {
                by_class[usize::from(l.class).min(last)] += u64::from(l.value);
            }
        }
    }

    /// Sum of the live lanes' values, leaving out `except`'s lane: a lane is
    /// live if its heartbeat is within `ttl` of `now`.
    pub fn live_total_except(&self, except: u64, now: Timestamp, ttl: Duration) -> u64 {
        self.lanes
            .iter()
            .filter(|l| l.worker != except && is_live(l, now, ttl))
            .map(|l| u64::from(l.value))
            .sum()
    }

    /// Sets `worker`'s lane for `class` to `value` with a fresh heartbeat,
    /// and drops expired lanes and lanes at zero (a missing lane counts as
    /// zero).
    pub fn upsert(&mut self, worker: u64, class: u8, value: u32, now: Timestamp, ttl: Duration) {
        self.lanes.retain(|l| {
            !(l.worker == worker && l.class == class) && l.value != 0 && is_live(l, now, ttl)
        });
        if value == 0 {
            return;
        }
        if self.lanes.len() >= MAX_LANES {
            if let Some(oldest) = self
                .lanes
                .iter()
                .enumerate()
                .min_by_key(|(_, l)| l.heartbeat_ms)
                .map(|(i, _)| i)
            {
                self.lanes.swap_remove(oldest);
            }
        }
        self.lanes.push(Lane {
            worker,
            class,
            value,
            heartbeat_ms: now.as_millis(),
        });
    }
}

fn is_live(lane: &Lane, now: Timestamp, ttl: Duration) -> bool {
    let age_ms = now.as_millis().saturating_sub(lane.heartbeat_ms);
    u128::from(age_ms) <= ttl.as_millis()
}

fn le8(s: &[u8]) -> [u8; 8] {
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TTL: Duration = Duration::from_secs(5);

    #[test]
    fn round_trip_and_totals() {
        let now = Timestamp::from_millis(10_000);
        let mut r = LaneRecord::default();
        r.upsert(1, 0, 3, now, TTL);
        r.upsert(2, 0, 4, now, TTL);
        r.upsert(1, 0, 5, now, TTL);
        let back = LaneRecord::decode(&r.encode()).expect("decodes");
        assert_eq!(back, r);
        assert_eq!(back.value_of(1, 0), Some(5));
        assert_eq!(back.live_total_except(0, now, TTL), 9);
        assert_eq!(back.live_total_except(2, now, TTL), 5);
    }

    #[test]
    fn expired_lanes_stop_counting_and_are_dropped() {
        let mut r = LaneRecord::default();
        r.upsert(1, 0, 3, Timestamp::from_millis(1_000), TTL);
        let later = Timestamp::from_millis(1_000 + 5_001);
        assert_eq!(r.live_total_except(0, later, TTL), 0);
        r.upsert(2, 0, 1, later, TTL);
        assert_eq!(r.lanes().len(), 1);
    }

    #[test]
    fn zero_lanes_are_not_stored() {
        let now = Timestamp::from_millis(1);
        let mut r = LaneRecord::default();
        r.upsert(1, 0, 1, now, TTL);
        r.upsert(1, 0, 0, now, TTL);
        assert!(r.lanes().is_empty());
    }

    #[test]
    fn bad_bytes_are_errors() {
        assert_eq!(LaneRecord::decode(&[]), Err(DecodeError::Empty));
        assert_eq!(
            LaneRecord::decode(&[9, 1, 0, 0]),
            Err(DecodeError::UnknownVersion(9))
        );
        assert_eq!(
            LaneRecord::decode(&[2, 7, 0, 0]),
            Err(DecodeError::WrongKind(7))
        );
        assert!(matches!(
            LaneRecord::decode(&[2, 1, 2, 0, 1, 2, 3]),
            Err(DecodeError::BadLength { .. })
        ));
    }

    #[test]
    fn lane_cap_evicts_the_oldest() {
        let mut r = LaneRecord::default();
        for w in 0..MAX_LANES as u64 {
            r.upsert(w + 1, 0, 1, Timestamp::from_millis(1_000 + w), TTL);
        }
        r.upsert(9_999, 0, 1, Timestamp::from_millis(2_000), TTL);
        assert_eq!(r.lanes().len(), MAX_LANES);
        assert_eq!(r.value_of(1, 0), None, "oldest lane evicted");
        assert_eq!(r.value_of(9_999, 0), Some(1));
    }

    #[test]
    fn classes_count_apart_and_a_version_1_record_reads_as_class_0() {
        let now = Timestamp::from_millis(10_000);
        let mut r = LaneRecord::default();
        r.upsert(1, 0, 2, now, TTL);
        r.upsert(1, 2, 5, now, TTL);
        r.upsert(2, 1, 3, now, TTL);
        let back = LaneRecord::decode(&r.encode()).expect("decodes");
        assert_eq!(back, r);
        assert_eq!(back.value_of(1, 2), Some(5));
        assert_eq!(back.live_total_except(0, now, TTL), 10);
        let mut by_class = [0u64; 2];
        back.add_live_by_class_except(2, now, TTL, &mut by_class);
        assert_eq!(by_class, [2, 5], "class 2 counts in the last entry");

        let mut v1 = vec![1, 1, 1, 0];
        v1.extend_from_slice(&7u64.to_le_bytes());
        v1.extend_from_slice(&4u32.to_le_bytes());
        v1.extend_from_slice(&now.as_millis().to_le_bytes());
        let old = LaneRecord::decode(&v1).expect("version 1 decodes");
        assert_eq!(old.value_of(7, 0), Some(4));
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = LaneRecord::decode(&bytes);
        }
    }
}

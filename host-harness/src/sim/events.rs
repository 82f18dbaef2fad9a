//! The event queue: earliest time first, then first inserted.
//!
//! Most events are scheduled at non-decreasing times (arrivals, and every
//! route timeout at `now + timeout`), and route timeouts are most of the
//! queue while they wait. Those go to a FIFO lane that costs O(1) per event;
//! the rest go to a binary heap. `pop` takes the earlier of the two heads by
//! (time, insertion order), so the order is exactly that of one heap.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};
use std::time::Duration;

struct Entry<E> {
    at: u64,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    /// Reversed, so the max-heap pops the earliest.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// Events by virtual time; ties keep insertion order, which keeps a replay
/// deterministic.
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    /// Entries in (time, insertion) order.
    fifo: VecDeque<Entry<E>>,
    seq: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            fifo: VecDeque::new(),
            seq: 0,
        }
    }
}

impl<E> std::fmt::Debug for EventQueue<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventQueue")
            .field("len", &self.len())
            .finish()
    }
}

fn nanos(t: Duration) -> u64 {
    u64::try_from(t.as_nanos()).unwrap_or(u64::MAX)
}

impl<E> EventQueue<E> {
    pub fn push(&mut self, at: Duration, event: E) {
        self.seq += 1;
        let entry = Entry {
            at: nanos(at),
            seq: self.seq,
            event,
        };
        if self.fifo.back().is_none_or(|b| b.at <= entry.at) {
            self.fifo.push_back(entry);
        } else {
            self.heap.push(entry);
        }
    }

    /// True if the FIFO lane's head comes before the heap's.
    fn fifo_first(&self) -> Option<bool> {
        match (self.fifo.front(), self.heap.peek()) {
            (None, None) => None,
            (Some(_), None) => Some(true),
            (None, Some(_)) => Some(false),
            (Some(f), Some(h)) => Some((f.at, f.seq) < (h.at, h.seq)),
        }
    }

    pub fn pop(&mut self) -> Option<(Duration, E)> {
        let e = if self.fifo_first()? {
            self.fifo.pop_front()?
        } else {
            self.heap.pop()?
        };
        Some((Duration::from_nanos(e.at), e.event))
    }

    pub fn peek_time(&self) -> Option<Duration> {
        let at = if self.fifo_first()? {
            self.fifo.front()?.at
        } else {
            self.heap.peek()?.at
        };
        Some(Duration::from_nanos(at))
    }

    pub fn len(&self) -> usize {
        self.heap.len() + self.fifo.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty() && self.fifo.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_then_insertion_order() {
        let mut q = EventQueue::default();
        q.push(Duration::from_millis(5), "b");
        q.push(Duration::from_millis(1), "a");
        q.push(Duration::from_millis(5), "c");
        let order: Vec<&str> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, vec!["a", "b", "c"]);
    }

    #[test]
    fn the_two_lanes_pop_in_one_order() {
        // Pseudo-random times, many ties: the result must equal a stable
        // sort by time.
        let mut q = EventQueue::default();
        let mut x = 7u64;
        let mut pushed = Vec::new();
        for i in 0..2000u32 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let t = if i % 3 == 0 {
                u64::from(i)
            } else {
                (x >> 33) % 500
            };
            q.push(Duration::from_nanos(t), i);
            pushed.push((t, i));
            if i % 7 == 0 {
                // Interleave pops, as the simulation does.
                let (at, e) = q.pop().expect("non-empty");
                let min = *pushed.iter().min().expect("non-empty");
                assert_eq!((nanos(at), e), min);
                pushed.retain(|p| *p != min);
            }
        }
        let rest: Vec<(u64, u32)> =
            std::iter::from_fn(|| q.pop().map(|(t, e)| (nanos(t), e))).collect();
        pushed.sort();
        assert_eq!(rest, pushed);
    }
}

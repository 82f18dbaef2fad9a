//! A FIFO admission gate with a changeable capacity.

use std::collections::VecDeque;
use std::sync::Mutex;
use tokio::sync::oneshot;

#[derive(Debug, Default)]
pub(crate) struct Gate {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    busy: usize,
    waiters: VecDeque<oneshot::Sender<()>>,
}

/// Why a request was not let through.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct QueueFull;

impl Gate {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for a slot. `capacity == 0` means unlimited; `queue_limit`
    /// bounds how many may wait.
    pub(crate) async fn acquire(
        &self,
        capacity: usize,
        queue_limit: Option<usize>,
    ) -> Result<(), QueueFull> {
        let rx = {
            let mut g = self.lock();
            if capacity == 0 || g.busy < capacity {
                g.busy += 1;
                return Ok(());
            }
            g.waiters.retain(|w| !w.is_closed());
            if queue_limit.is_some_and(|limit| g.waiters.len() >= limit) {
                return Err(QueueFull);
            }
            let (tx, rx) = oneshot::channel();
            g.waiters.push_back(tx);
            rx
        };
        // The slot is handed over by `release` without decrementing `busy`.
        // If this future is dropped (the client went away) after a slot was
        // handed over but before it was seen, the guard gives the slot back.
        let mut waiting = Waiting {
            gate: self,
            capacity,
            rx: Some(rx),
        };
        let rx = waiting.rx.as_mut().ok_or(QueueFull)?;
        let result = rx.await.map_err(|_| QueueFull);
        waiting.rx = None;
        result
    }

    /// Frees a slot, handing it to the oldest live waiter if the capacity
    /// (which may have shrunk) allows.
    pub(crate) fn release(&self, capacity: usize) {
        let mut g = self.lock();
        if capacity == 0 || g.busy <= capacity {
            while let Some(w) = g.waiters.pop_front() {
                if w.send(()).is_ok() {
                    return;
                }
            }
        }
        g.busy = g.busy.saturating_sub(1);
    }

    /// Lets waiters in after the capacity grew.
    pub(crate) fn wake(&self, capacity: usize) {
        let mut g = self.lock();
        while capacity == 0 || g.busy < capacity {
            let Some(w) = g.waiters.pop_front() else {
                break;
            };
            if w.send(()).is_ok() {
                g.busy += 1;
            }
        }
    }

    pub(crate) fn busy_and_queued(&self) -> (usize, usize) {
        let g = self.lock();
        (g.busy, g.waiters.iter().filter(|w| !w.is_closed()).count())
    }
}

struct Waiting<'a> {
    gate: &'a Gate,
    capacity: usize,
    rx: Option<oneshot::Receiver<()>>,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if let Some(mut rx) = self.rx.take() {
            rx.close();
            if rx.try_recv().is_ok() {
                self.gate.release(self.capacity);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fifo_with_capacity_and_queue_limit() {
        let gate = Gate::default();
        gate.acquire(1, Some(1)).await.expect("first slot");
        let waiter = {
            let gate: &'static Gate = Box::leak(Box::new(Gate::default()));
            gate.acquire(1, None).await.expect("slot");
            let w = tokio::spawn(async move { gate.acquire(1, None).await });
            tokio::task::yield_now().await;
            assert_eq!(gate.busy_and_queued(), (1, 1));
            gate.release(1);
            w
        };
        assert_eq!(waiter.await.expect("join"), Ok(()));
        // Capacity 1 busy, one waiting allowed, the next is refused.
        let gate: &'static Gate = Box::leak(Box::new(gate));
        let _w = tokio::spawn(async move { gate.acquire(1, Some(1)).await });
        tokio::task::yield_now().await;
        assert_eq!(gate.acquire(1, Some(1)).await, Err(QueueFull));
    }

    #[tokio::test]
    async fn a_dropped_waiter_does_not_leak_its_slot() {
        let gate: &'static Gate = Box::leak(Box::new(Gate::default()));
        gate.acquire(1, None).await.expect("slot");
        let w = tokio::spawn(async move { gate.acquire(1, None).await });
        tokio::task::yield_now().await;
        w.abort();
        let _ = w.await;
        gate.release(1);
        assert_eq!(gate.busy_and_queued(), (0, 0));
    }
}

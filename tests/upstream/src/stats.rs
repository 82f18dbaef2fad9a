//! What the upstream saw.

use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters since start, and current load.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Requests received (excluding `/__upstream/...`).
    pub requests: u64,
    /// Responses with status 2xx.
    pub ok: u64,
    /// Responses with status 5xx chosen by `error_rate` or `x-upstream-status`.
    pub errors: u64,
    /// Requests refused with 503 because the queue was full.
    pub rejected: u64,
    /// Requests whose client went away before the response.
    pub cancelled: u64,
    /// Requests that asked for a fault (`x-upstream-fault`) and got it.
    #[serde(default)]
    pub faults: u64,
    /// Requests being served now.
    pub in_service: u64,
    /// Requests waiting now.
    pub queued: u64,
    /// Most requests ever served at once.
    pub max_in_service: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub requests: AtomicU64,
    pub ok: AtomicU64,
    pub errors: AtomicU64,
    pub rejected: AtomicU64,
    pub cancelled: AtomicU64,
    pub faults: AtomicU64,
    pub in_service: AtomicU64,
    pub max_in_service: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn enter_service(&self) {
        let now = self.in_service.fetch_add(1, Ordering::Relaxed) + 1;
        self.max_in_service.fetch_max(now, Ordering::Relaxed);
    }

    pub(crate) fn leave_service(&self) {
        self.in_service.fetch_sub(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self, queued: u64) -> Stats {
        let l = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Stats {
            requests: l(&self.requests),
            ok: l(&self.ok),
            errors: l(&self.errors),
            rejected: l(&self.rejected),
            cancelled: l(&self.cancelled),
            faults: l(&self.faults),
            in_service: l(&self.in_service),
            queued,
            max_in_service: l(&self.max_in_service),
        }
    }
}

//! One destination's shared records as this worker holds them: the
//! in-flight lanes and, for an adaptive limit, the limit. The top-level
//! destination is index 0; each configured route adds one.

use sluice_core::config::LimitConfig;
use sluice_core::random::SplitMix64;
use sluice_core::shared::{keys, SharedInflight, SharedLimit};
use sluice_core::throttle::initial_limit;
use std::cell::RefCell;
use std::time::Duration;

/// The adaptive limit and the random draws its probes are jittered with.
pub struct Adaptive {
    pub limit: SharedLimit,
    pub random: SplitMix64,
}

pub struct Destination {
    pub inflight: RefCell<SharedInflight>,
    pub adaptive: Option<RefCell<Adaptive>>,
    static_limit: u32,
}

impl Destination {
    pub fn new(name: &str, limit: &LimitConfig, worker_id: u64, tick: Duration) -> Self {
        let adaptive = match limit {
            LimitConfig::Static { .. } => None,
            LimitConfig::Adaptive(a) => Some(RefCell::new(Adaptive {
                limit: SharedLimit::new(
                    keys::limit(name),
                    a.params.clone(),
                    a.window,
                    a.percentile,
                ),
                random: SplitMix64::new(worker_id ^ 0x5EED),
            })),
        };
        Destination {
            inflight: RefCell::new(SharedInflight::new(
                keys::inflight(name),
                worker_id,
                keys::lane_ttl(tick),
            )),
            adaptive,
            static_limit: initial_limit(limit),
        }
    }

    /// The configured limit: the static one, or the adaptive limit as of
    /// this worker's last flush.
    pub fn limit(&self) -> u32 {
        match &self.adaptive {
            Some(a) => a.borrow().limit.limit(),
            None => self.static_limit,
        }
    }
}

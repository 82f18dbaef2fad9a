//! One destination's shared records as this worker holds them: the
//! in-flight lanes, for an adaptive limit the limit, and with a per-tenant
//! cap the tenant buckets' in-flight lanes. The top-level destination is
//! index 0; each configured route adds one.

use sluice_core::config::LimitConfig;
use sluice_core::random::SplitMix64;
use sluice_core::shared::{keys, SharedInflight, SharedKv, SharedLimit, UpdateStats};
use sluice_core::tenant::TENANT_BUCKETS;
use sluice_core::throttle::initial_limit;
use sluice_core::time::Timestamp;
use std::cell::{RefCell, RefMut};
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
    name: String,
    worker_id: u64,
    lane_ttl: Duration,
    /// Per-tenant in-flight records, opened on a bucket's first request.
    tenants: RefCell<Vec<Option<SharedInflight>>>,
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
            name: name.to_string(),
            worker_id,
            lane_ttl: keys::lane_ttl(tick),
            tenants: RefCell::new(Vec::new()),
        }
    }

    /// The in-flight record of tenant bucket `bucket`, opened (and created
    /// empty in shared data if absent) on first use.
    pub fn tenant(&self, bucket: usize, kv: &impl SharedKv) -> RefMut<'_, SharedInflight> {
        let mut tenants = self.tenants.borrow_mut();
        if tenants.is_empty() {
            tenants.resize_with(TENANT_BUCKETS, || None);
        }
        RefMut::map(tenants, |t| {
            t[bucket % TENANT_BUCKETS].get_or_insert_with(|| {
                let record = SharedInflight::new(
                    keys::tenant_inflight(&self.name, bucket),
                    self.worker_id,
                    self.lane_ttl,
                );
                record.create_record(kv);
                record
            })
        })
    }

    /// Tick housekeeping of the open tenant records: heartbeats and lane
    /// repair, as for the destination's own record; `each` sees what each
    /// update cost.
    pub fn tenant_heartbeats(
        &self,
        kv: &impl SharedKv,
        now: Timestamp,
        mut each: impl FnMut(&UpdateStats),
    ) {
        for record in self.tenants.borrow_mut().iter_mut().flatten() {
            each(&record.heartbeat(kv, now).1);
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

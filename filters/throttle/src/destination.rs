//! One destination's shared records as this worker holds them: the
//! in-flight lanes, for an adaptive limit the limit, and with a per-tenant
//! cap the tenant buckets' in-flight lanes. The top-level destination is
//! index 0; each configured route adds one.

use sluice_core::config::{Admission, LimitConfig};
use sluice_core::random::SplitMix64;
use sluice_core::shared::{keys, SharedDemand, SharedInflight, SharedKv, SharedLimit, UpdateStats};
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

/// What a probe of the adaptive limit means for one class's admission.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeRoom {
    /// No probe (or no strict admission): the limit in force applies.
    NoProbe,
    /// The probe protects the class: it is admitted against this limit.
    Protected(u32),
    /// The probe holds the class under the probe's own limit (`min_limit`),
    /// with no slots reserved inside it: the protected classes above are
    /// admitted against their own room.
    Held,
}

pub struct Destination {
    pub inflight: RefCell<SharedInflight>,
    pub adaptive: Option<RefCell<Adaptive>>,
    /// Per-class demand, under strict priority admission.
    pub demand: Option<RefCell<SharedDemand>>,
    static_limit: u32,
    name: String,
    worker_id: u64,
    lane_ttl: Duration,
    /// Per-tenant in-flight records, opened on a bucket's first request.
    tenants: RefCell<Vec<Option<SharedInflight>>>,
}

impl Destination {
    pub fn new(
        name: &str,
        limit: &LimitConfig,
        admission: &Admission,
        classes: usize,
        worker_id: u64,
        tick: Duration,
    ) -> Self {
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
        let demand = admission.strict.then(|| {
            RefCell::new(SharedDemand::new(
                keys::demand(name),
                classes,
                admission.window,
                admission.headroom_tail,
            ))
        });
        Destination {
            demand,
            inflight: RefCell::new(SharedInflight::with_classes(
                keys::inflight(name),
                worker_id,
                keys::lane_ttl(tick),
                classes,
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

    /// The slots class `class` leaves free for the classes above it when the
    /// lower classes fill the in flight to `fill` (0 without strict
    /// admission or before demand is measured; infinite when it is
    /// refused outright).
    pub fn reserved_above(&self, class: usize, fill: u32) -> f64 {
        self.demand
            .as_ref()
            .map_or(0.0, |d| d.borrow().headroom_above(class, fill))
    }

    /// The limit of the top class when the lowest class admitted fills the
    /// in flight to `fill`: under an adaptive limit, `fill` is the limit
    /// and the headroom that class leaves for those above rides on it; a
    /// static limit is the top class's, the headroom coming out of it.
    pub fn top_limit(&self, fill: u32) -> u32 {
        match (&self.adaptive, &self.demand) {
            (Some(_), Some(d)) => fill.saturating_add(d.borrow().spare(fill).ceil() as u32),
            _ => fill,
        }
    }

    /// Where a probe of the adaptive limit leaves class `class` (of
    /// `classes`, `limit::gradient::ProbeLevel`).
    ///
    /// A protected class is admitted against the limit its demand needs,
    /// still strictly by priority: the lowest protected class `p` is
    /// admitted while its own in flight is below `L − R_p`
    /// (`limit::reservation`), and its in flight is about Poisson with mean
    /// `D_p` (its demand), so `L = R_p + D_p + z√D_p`, which also covers the
    /// total of the protected classes (`R_{p+1} ≤ R_p + D_p + z√D_p`, the
    /// square root being subadditive). At least the probe's limit and its carry (the
    /// in flight when it began or tightened: the protected classes are not
    /// refused while earlier requests drain), at most the limit the probe
    /// will resume at, and that limit when every class is protected or
    /// until demand is measured over a whole window.
    pub fn probe_room(&self, class: usize, classes: usize) -> ProbeRoom {
        let (Some(a), Some(demand)) = (&self.adaptive, &self.demand) else {
            return ProbeRoom::NoProbe;
        };
        let a = a.borrow();
        let Some(probe) = a.limit.probe() else {
            return ProbeRoom::NoProbe;
        };
        let protected = probe.level.protected_classes(classes);
        if class >= protected {
            return ProbeRoom::Held;
        }
        let demand = demand.borrow();
        // Protecting every class holds nothing back: the start-up probe
        // admits up to the limit it resumes at, as tracking would; so does
        // a probe before demand rests on a whole window.
        let need = if protected >= classes || !demand.settled() {
            probe.resume
        } else {
            let lowest = protected - 1;
            (demand.reserved_above(lowest) + demand.quantile_of(lowest)).ceil() as u32
        };
        let need = need.max(probe.carry).min(self.top_limit(probe.resume));
        ProbeRoom::Protected(a.limit.limit().max(need))
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

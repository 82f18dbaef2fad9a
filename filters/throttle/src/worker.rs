//! What one VM (one Envoy worker thread) keeps for a configured throttle,
//! shared by the root context and its streams.

use crate::destination::{Adaptive, Destination, ProbeRoom};
use crate::metrics::{self, Layout};
use sluice_core::config::ThrottleConfig;
use sluice_core::decision::ShedReason;
use sluice_core::limit::gradient::LimitReason;
use sluice_core::limit::tuner::{Tuned, TunerMove};
use sluice_core::priority::{ClassId, ClassSource};
use sluice_core::random::Random;
use sluice_core::random::SplitMix64;
use sluice_core::request::RequestView;
use sluice_core::shared::{keys, Acquire, Gate, SharedSuccess, SharedTuner, UpdateStats};
use sluice_core::throttle::Throttle;
use sluice_core::time::Timestamp;
use sluice_glue::host::{self, EnvoySharedData, RequestHeaders};
use sluice_glue::log;
use sluice_glue::metrics::Metrics;
use std::cell::RefCell;
use std::time::Duration;

/// The SLO tuner and the random draws its evaluations are jittered with.
struct Tuner {
    shared: SharedTuner,
    random: SplitMix64,
}

pub struct Worker {
    throttle: Throttle,
    /// The top-level destination (0), then one per configured route.
    destinations: Vec<Destination>,
    success: Option<RefCell<SharedSuccess>>,
    tuner: Option<RefCell<Tuner>>,
    /// Draws for `enforce_percent` and success-rate throttling.
    random: RefCell<SplitMix64>,
    metrics: Metrics,
    layout: Layout,
}

/// The slots a forwarded request holds until its stream ends.
#[derive(Clone, Copy, Debug, Default)]
pub struct Held {
    pub destination: usize,
    /// The class whose in-flight lane the request counts in.
    pub class: usize,
    /// The tenant bucket whose slot is held, under a per-tenant cap.
    pub tenant: Option<usize>,
    /// Admitted with fewer than the adaptive limit's `min_limit` in flight:
    /// its latency is a sample of the service's own.
    pub low_load: bool,
}

/// What happened to a request at its headers.
pub enum Admission {
    /// Forwarded; holds a slot until the stream ends.
    Admitted,
    /// Refused with this reason; no slot held.
    Shed(ShedReason),
    /// The policy would shed it for this reason, but the decision is not
    /// enforced (shadow mode or `enforce_percent`): forwarded, holding a
    /// slot, with the decision in a request header.
    Shadow(ShedReason),
}

impl Worker {
    pub fn new(config: ThrottleConfig, worker_id: u64) -> Self {
        let routes: Vec<&str> = config
            .routes
            .iter()
            .map(|r| r.destination.as_str())
            .collect();
        let (table, layout) = metrics::table(&config.classes, &routes);
        let (metrics, refused) = Metrics::define(&table);
        for name in refused {
            log::warn(|| format!("the host refused to define metric {name}"));
        }
        let destinations: Vec<Destination> = config
            .destinations()
            .map(|(name, limit)| {
                Destination::new(
                    name,
                    limit,
                    &config.admission,
                    config.classes.len(),
                    worker_id,
                    config.tick,
                )
            })
            .collect();
        let success = config.success_rate.as_ref().map(|p| {
            RefCell::new(SharedSuccess::new(
                keys::success(&config.destination),
                p.clone(),
                config.classes.len(),
            ))
        });
        let tuner = config.slo.as_ref().map(|p| {
            RefCell::new(Tuner {
                shared: SharedTuner::new(keys::tuner(&config.destination), p.clone()),
                random: SplitMix64::new(worker_id ^ 0x7E4E),
            })
        });
        let throttle = Throttle::new(config);
        for (d, dest) in destinations.iter().enumerate() {
            dest.inflight.borrow().create_record(&EnvoySharedData);
            metrics.set(layout.limit(d), u64::from(dest.limit()));
        }
        Worker {
            throttle,
            destinations,
            success,
            tuner,
            random: RefCell::new(SplitMix64::new(worker_id)),
            metrics,
            layout,
        }
    }

    /// The top-level destination, whose records success-rate throttling
    /// and the SLO tuner read.
    fn main(&self) -> &Destination {
        &self.destinations[0]
    }

    /// The SLO tuner's values for destination `d` as of this worker's last
    /// sync: its cap applies to the top-level limit only, its share scale
    /// to every destination.
    fn tuned(&self, d: usize) -> Option<Tuned> {
        let tuned = self.tuner.as_ref().map(|t| t.borrow().shared.tuned())?;
        Some(if d == 0 {
            tuned
        } else {
            Tuned {
                max_limit: f64::INFINITY,
                ..tuned
            }
        })
    }

    /// The top-level limit in force: the configured one under the tuner's
    /// cap.
    fn limit_in_force(&self) -> u32 {
        let limit = self.main().limit();
        self.tuned(0).map_or(limit, |t| t.cap(limit))
    }

    pub fn tick_period(&self) -> Duration {
        self.throttle.config().tick
    }

    /// Classifies the current request (its steering headers only from a
    /// trusted source), finds its destination, and admits or sheds it
    /// against the class threshold and then its tenant's cap. `now` is the
    /// request's arrival, read once per request.
    pub fn admit(&self, now: Timestamp) -> (ClassId, Held, Admission) {
        let trusted = self.throttle.trusted(&RequestHeaders);
        if !trusted {
            self.distrust_steering_headers();
        }
        let (class, source) = self.throttle.classify_as(&RequestHeaders, trusted);
        let d = self.throttle.destination_of(&RequestHeaders);
        if source == ClassSource::UnknownValue {
            self.metrics.add(self.layout.unknown_priority(), 1);
        }
        let (class, admission, low_load) = self.admit_to(class, d, now);
        let mut held = Held {
            destination: d,
            class: class.index(),
            tenant: None,
            low_load,
        };
        let tenant = match admission {
            Admission::Shed(_) => None,
            _ => self.throttle.tenant_of(&RequestHeaders, trusted),
        };
        let admission = match tenant {
            Some(bucket) => self.admit_tenant(class, &mut held, bucket, admission, now),
            None => admission,
        };
        if let Admission::Admitted = admission {
            // Counted once the tenant cap, too, has let the request in.
            self.metrics.add(self.layout.admitted(class), 1);
        }
        (class, held, admission)
    }

    /// A request from an untrusted source: its steering headers (priority,
    /// tenant) do not count; each one present is counted and, with
    /// `trust.untrusted: strip`, removed before the request goes upstream.
    fn distrust_steering_headers(&self) {
        for name in self.throttle.steering_headers() {
            if RequestHeaders.header(name).is_none() {
                continue;
            }
            self.metrics.add(self.layout.untrusted_steering(), 1);
            if self.throttle.strips_untrusted() {
                if let Err(status) = host::remove_request_header(name) {
                    log::warn(|| {
                        format!("removing {name} refused by the host: status {}", status.0)
                    });
                }
            }
            log::debug(|| format!("untrusted source: {name} ignored"));
        }
    }

    /// Counts a forwarded request against its tenant's cap. A request the
    /// limit admitted but whose tenant holds its share already is shed with
    /// `tenant_cap` (its destination slot returned); an unenforced decision
    /// still takes the tenant's slot, so the count stays the real load.
    fn admit_tenant(
        &self,
        class: ClassId,
        held: &mut Held,
        bucket: usize,
        admission: Admission,
        now: Timestamp,
    ) -> Admission {
        let d = held.destination;
        let dest = &self.destinations[d];
        let threshold = match admission {
            Admission::Admitted => self.throttle.tenant_threshold(dest.limit()),
            _ => u32::MAX,
        };
        let (acquire, stats) =
            dest.tenant(bucket, &EnvoySharedData)
                .try_acquire(&EnvoySharedData, now, threshold);
        self.record_update(&stats);
        let inflight = match acquire {
            Acquire::Admitted { .. } => {
                held.tenant = Some(bucket);
                return admission;
            }
            Acquire::Full { inflight, .. } => inflight,
        };
        let reason = ShedReason::TenantCap;
        if !self.throttle.enforce(&mut *self.random.borrow_mut()) {
            let (_, stats) =
                dest.tenant(bucket, &EnvoySharedData)
                    .try_acquire(&EnvoySharedData, now, u32::MAX);
            self.record_update(&stats);
            held.tenant = Some(bucket);
            self.metrics.add(self.layout.shadow_shed(class, reason), 1);
            return Admission::Shadow(reason);
        }
        let destination_only = Held {
            destination: d,
            class: class.index(),
            ..Held::default()
        };
        self.release(&destination_only, None, now);
        self.metrics.add(self.layout.shed(class, reason), 1);
        log::debug(|| {
            format!(
                "shed class={} reason={reason} tenant_bucket={bucket} tenant_inflight={inflight} threshold={threshold}",
                self.throttle.config().classes.name(class),
            )
        });
        Admission::Shed(reason)
    }

    /// Admits or sheds a request of `class` at destination `d`; the flag
    /// says whether an admitted request is a low-load one.
    fn admit_to(&self, class: ClassId, d: usize, now: Timestamp) -> (ClassId, Admission, bool) {
        let dest = &self.destinations[d];
        if let Some(demand) = &dest.demand {
            let mut demand = demand.borrow_mut();
            demand.record_offered(class.index());
            let local = dest.inflight.borrow().local();
            if let Some(stats) = demand.flush_while_unsettled(&EnvoySharedData, now, local) {
                self.record_update(&stats);
            }
        }
        if let Some(s) = &self.success {
            let p = {
                let mut s = s.borrow_mut();
                s.record_request(class.index());
                s.reject_probability(class.index())
            };
            if p > 0.0 && self.random.borrow_mut().next_unit() < p {
                let reason = ShedReason::SuccessRate;
                if !self.throttle.enforce(&mut *self.random.borrow_mut()) {
                    return (class, self.forward_unenforced(class, d, reason, now), false);
                }
                self.metrics.add(self.layout.shed(class, reason), 1);
                log::debug(|| {
                    format!(
                        "shed class={} reason={} reject_probability={}‰",
                        self.throttle.config().classes.name(class),
                        reason,
                        (p * 1000.0) as u32
                    )
                });
                return (class, Admission::Shed(reason), false);
            }
        }
        let tuned = self.tuned(d);
        let classes = self.throttle.config().classes.len();
        // A class a probe protects is admitted against the limit its demand
        // needs, still strictly by priority; a class it holds gets the
        // probe's limit with nothing reserved inside it
        // (`Destination::probe_room`).
        let class_gate = |c: ClassId, fill: u32| {
            let room = dest.probe_room(c.index(), classes);
            let limit = match room {
                ProbeRoom::Protected(p) => p.max(dest.top_limit(fill)),
                // A held class gets the probe's limit, nothing above it.
                ProbeRoom::Held => fill,
                _ => dest.top_limit(fill),
            };
            let reserved = match room {
                ProbeRoom::Held => 0.0,
                // The protected classes fill up to the probe's room.
                ProbeRoom::Protected(p) => dest.reserved_above(c.index(), p),
                _ => {
                    // Under the SLO tuner's cap, the lowest class fills to
                    // the capped limit less the headroom.
                    let top = dest.top_limit(fill);
                    let capped = tuned.as_ref().map_or(top, |t| t.cap(top));
                    let fill = fill.min(capped.saturating_sub(top - fill));
                    dest.reserved_above(c.index(), fill)
                }
            };
            let gate = self
                .throttle
                .admission_gate(limit, c, tuned.as_ref(), reserved);
            (gate, room, reserved)
        };
        let next = self.throttle.config().classes.ids().nth(class.index() + 1);
        let (_, room, _) = class_gate(class, 0);
        // Under an adaptive limit, the classes below count only up to the
        // room their own gate gives them now (`Gate::below_room`): when the
        // limit falls or the load above rises, what they were admitted
        // earlier drains without refusing a higher class meanwhile. A
        // static limit is the operator's hard cap and counts everything.
        let gate_at = |limit: u32| {
            let (mut gate, _, _) = class_gate(class, limit);
            if let (Some(next), Some(_)) = (next, &dest.adaptive) {
                gate.below_room = class_gate(next, limit).0.room();
            }
            gate
        };
        let mut limit = dest.limit();
        let mut gate = gate_at(limit);
        let (mut acquire, stats) = dest
            .inflight
            .borrow_mut()
            .acquire(&EnvoySharedData, now, gate);
        self.record_update(&stats);
        // A refusal is decided on the limit in force now, not as of this
        // worker's last flush (`SharedLimit::refresh`).
        if let (Acquire::Full { .. }, Some(a)) = (acquire, &dest.adaptive) {
            let fresh = a.borrow_mut().limit.refresh(&EnvoySharedData);
            let fresh_gate = gate_at(fresh);
            if fresh_gate.total > gate.total || fresh_gate.class_and_below > gate.class_and_below {
                limit = fresh;
                gate = fresh_gate;
                let (again, stats) =
                    dest.inflight
                        .borrow_mut()
                        .acquire(&EnvoySharedData, now, gate);
                self.record_update(&stats);
                acquire = again;
            }
        }
        match acquire {
            Acquire::Admitted { inflight_before } => {
                if let Some(demand) = &dest.demand {
                    demand.borrow_mut().record_admitted();
                }
                let mut low_load = false;
                if let Some(a) = &dest.adaptive {
                    let mut a = a.borrow_mut();
                    a.limit.observe_inflight(inflight_before + 1);
                    low_load = a.limit.is_low_load(inflight_before);
                }
                self.metrics
                    .set(self.layout.inflight(d), inflight_before + 1);
                (class, Admission::Admitted, low_load)
            }
            Acquire::Full {
                inflight,
                counted,
                class_and_below,
                below,
            } => {
                let reserved = class_gate(class, limit).2;
                if below > 0 {
                    if let Some(demand) = &dest.demand {
                        demand.borrow_mut().record_inversion();
                    }
                }
                let reason = match tuned {
                    Some(_) => self.throttle.shed_reason(
                        dest.top_limit(limit),
                        class,
                        (counted, class_and_below),
                        reserved,
                    ),
                    None => ShedReason::ConcurrencyLimit,
                };
                if !self.throttle.enforce(&mut *self.random.borrow_mut()) {
                    return (class, self.forward_unenforced(class, d, reason, now), false);
                }
                self.metrics.add(self.layout.shed(class, reason), 1);
                self.metrics.set(self.layout.inflight(d), inflight);
                if let Some(a) = &dest.adaptive {
                    let protected = matches!(room, ProbeRoom::Protected(_));
                    a.borrow_mut().limit.observe_shed(protected);
                }
                log::debug(|| {
                    // Whole slots: the log needs no float formatting.
                    format!(
                        "shed class={} reason={} inflight={} counted={} threshold={} limit={} headroom={}",
                        self.throttle.config().classes.name(class),
                        reason,
                        inflight,
                        counted,
                        gate.total,
                        dest.top_limit(limit),
                        reserved.ceil() as u64
                    )
                });
                (class, Admission::Shed(reason), false)
            }
        }
    }

    /// Forwards a request the policy would shed: it takes a slot like any
    /// forwarded request (the in-flight count stays the real load), and the
    /// decision is counted and logged.
    fn forward_unenforced(
        &self,
        class: ClassId,
        d: usize,
        reason: ShedReason,
        now: Timestamp,
    ) -> Admission {
        let (acquire, stats) = self.destinations[d].inflight.borrow_mut().acquire(
            &EnvoySharedData,
            now,
            Gate::unbounded(class.index()),
        );
        self.record_update(&stats);
        if let Acquire::Admitted { inflight_before } = acquire {
            self.metrics
                .set(self.layout.inflight(d), inflight_before + 1);
        }
        self.metrics.add(self.layout.shadow_shed(class, reason), 1);
        log::debug(|| {
            format!(
                "shadow shed class={} reason={} (not enforced)",
                self.throttle.config().classes.name(class),
                reason
            )
        });
        Admission::Shadow(reason)
    }

    /// The header value recording an unenforced decision.
    pub fn shadow_header(&self, class: ClassId, reason: ShedReason) -> (&str, String) {
        let config = self.throttle.config();
        (
            config.shadow_header.as_str(),
            format!(
                "shed; class={}; reason={}",
                config.classes.name(class),
                reason
            ),
        )
    }

    /// Sends the configured local reply for a shed request.
    pub fn reply_shed(&self, reason: ShedReason) {
        if let Err(status) = sluice_glue::reply::send_shed(
            &self.throttle.config().shed_response,
            "throttle",
            reason.as_str(),
        ) {
            log::warn(|| format!("local reply refused by the host: status {}", status.0));
        }
    }

    /// True if success-rate throttling or the tuner's error-rate target is
    /// on: only then is a response's status worth reading.
    pub fn reads_status(&self) -> bool {
        self.success.is_some()
            || self
                .tuner
                .as_ref()
                .is_some_and(|t| t.borrow().shared.counts_errors())
    }

    /// The service answered a forwarded request of `class` with `status`.
    /// A 5xx or 429 is a failure, anything else an accept.
    pub fn record_answer(&self, class: ClassId, status: u16) {
        let failed = status >= 500 || status == 429;
        if let (Some(s), false) = (&self.success, failed) {
            s.borrow_mut().record_accept(class.index());
        }
        if let Some(t) = &self.tuner {
            t.borrow_mut().shared.record_answer(failed);
        }
    }

    /// Frees one admitted request's slots; `latency` (from admission to the
    /// end of the response) feeds the adaptive limit and the demand
    /// estimate when the stream completed.
    pub fn release(&self, held: &Held, latency: Option<(Duration, Timestamp)>, now: Timestamp) {
        let d = held.destination;
        let Some(dest) = self.destinations.get(d) else {
            return;
        };
        if let Some(bucket) = held.tenant {
            let (_, stats) = dest
                .tenant(bucket, &EnvoySharedData)
                .release(&EnvoySharedData, now);
            self.record_update(&stats);
        }
        if let (Some(a), Some((l, admitted_at))) = (&dest.adaptive, latency) {
            a.borrow_mut()
                .limit
                .record_latency(l, admitted_at, held.low_load);
        }
        if let (Some(demand), Some((l, _))) = (&dest.demand, latency) {
            demand.borrow_mut().record_completion(l);
        }
        let (total, stats) =
            dest.inflight
                .borrow_mut()
                .release_class(&EnvoySharedData, now, held.class);
        self.record_update(&stats);
        self.metrics.set(self.layout.inflight(d), total);
    }

    /// Housekeeping: heartbeat and lane repair, limits, gauges.
    pub fn tick(&self) {
        let now = host::now();
        for (d, dest) in self.destinations.iter().enumerate() {
            let (total, stats) = dest.inflight.borrow_mut().heartbeat(&EnvoySharedData, now);
            self.record_update(&stats);
            dest.tenant_heartbeats(&EnvoySharedData, now, |s| self.record_update(s));
            self.metrics.set(self.layout.inflight(d), total);
            if let Some(a) = &dest.adaptive {
                self.flush_adaptive(d, &mut a.borrow_mut());
            }
            if let Some(demand) = &dest.demand {
                let local = dest.inflight.borrow().local();
                let stats = demand.borrow_mut().flush(&EnvoySharedData, now, local);
                self.record_update(&stats);
            }
            if d > 0 {
                self.metrics
                    .set(self.layout.limit(d), u64::from(dest.limit()));
            }
        }
        if let Some(t) = &self.tuner {
            // Read before borrowing the tuner: the limit in force reads it.
            let limit = self.limit_in_force();
            self.sync_tuner(&mut t.borrow_mut(), limit);
        }
        if let Some(s) = &self.success {
            let mut s = s.borrow_mut();
            if let Some(k) = self.tuned(0).and_then(|t| t.aggression) {
                s.set_aggression(k);
            }
            let stats = s.flush(&EnvoySharedData, host::now());
            self.record_update(&stats);
        }
        self.metrics
            .set(self.layout.limit(0), u64::from(self.limit_in_force()));
    }

    /// Merges this worker's answer counts into the tuner's record; the sync
    /// that finds an evaluation due moves the knobs and logs why.
    fn sync_tuner(&self, t: &mut Tuner, limit: u32) {
        let latency = self.main().adaptive.as_ref().and_then(|a| {
            let a = a.borrow();
            a.limit
                .record()
                .map(|r| r.last_rtt)
                .filter(|l| !l.is_zero())
        });
        let Tuner { shared, random } = t;
        let sync = shared.sync(
            &EnvoySharedData,
            host::now(),
            (latency, Some(limit)),
            random,
        );
        self.record_update(&sync.stats);
        let tuned = shared.tuned();
        let permille = |v: f64| (v * 1000.0) as u64;
        if tuned.max_limit.is_finite() {
            self.metrics
                .set(self.layout.tuner_max_limit(), tuned.max_limit as u64);
        }
        self.metrics
            .set(self.layout.tuner_share_scale(), permille(tuned.share_scale));
        if let Some(k) = tuned.aggression {
            self.metrics
                .set(self.layout.tuner_aggression(), permille(k));
        }
        let Some((step, seen)) = sync.evaluated else {
            return;
        };
        if let Some(counter) = self.layout.tuner_move(step) {
            self.metrics.add(counter, 1);
        }
        // Integers only: float formatting would add ~18 KB to the module.
        let cap = |v: f64| if v.is_finite() { v as u64 } else { u64::MAX };
        let describe = || {
            let before = sync.before;
            format!(
                "slo tuner: {} (latency {} ms, errors {}‰): max_limit {} -> {}, share_scale {}‰ -> {}‰, aggression {}‰ -> {}‰",
                step.as_str(),
                seen.latency.map_or(0, |l| l.as_millis()),
                seen.error_rate.map_or(0, permille),
                cap(before.max_limit),
                cap(tuned.max_limit),
                permille(before.share_scale),
                permille(tuned.share_scale),
                before.aggression.map_or(0, permille),
                tuned.aggression.map_or(0, permille),
            )
        };
        match step {
            TunerMove::Tighten(_) | TunerMove::Relax => log::info(describe),
            TunerMove::Hold | TunerMove::Cooldown => log::debug(describe),
        }
    }

    /// Merges this worker's latencies into the shared window; the flush
    /// that closes a window moves the limit and says why at debug level.
    fn flush_adaptive(&self, d: usize, a: &mut Adaptive) {
        let before = a.limit.limit();
        let Adaptive { limit, random } = a;
        let flush = limit.flush(&EnvoySharedData, host::now(), random);
        self.record_update(&flush.stats);
        match limit.record() {
            Some(rec) if d == 0 => {
                self.metrics
                    .set(self.layout.latency_ms(), rec.last_rtt.as_millis() as u64);
                let min_rtt = rec.state.min_rtt.map_or(0, |d| d.as_millis() as u64);
                self.metrics.set(self.layout.min_rtt_ms(), min_rtt);
            }
            _ => {}
        }
        if let Some(reason) = flush.closed {
            log::debug(|| {
                let why = match reason {
                    LimitReason::ProbingMinRtt => "probing min_rtt".to_string(),
                    LimitReason::MinRttMeasured => "min_rtt measured".to_string(),
                    // Per mille: float formatting would add ~20 KB to the module.
                    LimitReason::Gradient(g) => format!("gradient {}‰", (g * 1000.0) as u32),
                    LimitReason::AppLimited => "app-limited, no growth".to_string(),
                    LimitReason::TooFewSamples => "too few samples".to_string(),
                };
                let name = self
                    .throttle
                    .config()
                    .destinations()
                    .nth(d)
                    .map_or("", |x| x.0);
                format!("limit of {name} {} -> {} ({why})", before, flush.limit)
            });
        }
    }

    fn record_update(&self, stats: &UpdateStats) {
        self.metrics
            .record_shared_data(self.layout.shared_data(), stats, || {
                self.throttle.config().destination.clone()
            });
    }
}

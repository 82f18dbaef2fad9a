//! What one VM (one Envoy worker thread) keeps for a configured throttle,
//! shared by the root context and its streams.

use crate::metrics::{self, Layout};
use sluice_core::config::{LimitConfig, ThrottleConfig};
use sluice_core::decision::ShedReason;
use sluice_core::limit::gradient::LimitReason;
use sluice_core::priority::{ClassId, ClassSource};
use sluice_core::random::Random;
use sluice_core::random::SplitMix64;
use sluice_core::shared::{Acquire, SharedInflight, SharedLimit, SharedSuccess, UpdateStats};
use sluice_core::throttle::Throttle;
use sluice_core::time::Timestamp;
use sluice_glue::host::{self, EnvoySharedData, RequestHeaders};
use sluice_glue::log;
use sluice_glue::metrics::Metrics;
use std::cell::RefCell;
use std::time::Duration;

/// Shared-data key of a destination's in-flight record. The version in the
/// key lets a new record format live beside the old during an upgrade.
pub fn inflight_key(destination: &str) -> String {
    format!("sluice.v1.inflight.{destination}")
}

/// How long a lane counts without a heartbeat: four ticks, at least 2 s, so
/// one late tick never drops a live worker's requests from the count.
/// Shared-data key of a destination's adaptive-limit record.
pub fn limit_key(destination: &str) -> String {
    format!("sluice.v1.limit.{destination}")
}

/// Shared-data key of a destination's success counts.
pub fn success_key(destination: &str) -> String {
    format!("sluice.v1.success.{destination}")
}

/// The adaptive limit and the random draws its probes are jittered with.
struct Adaptive {
    limit: SharedLimit,
    random: SplitMix64,
}

pub fn lane_ttl(tick: Duration) -> Duration {
    (tick * 4).max(Duration::from_secs(2))
}

pub struct Worker {
    throttle: Throttle,
    inflight: RefCell<SharedInflight>,
    adaptive: Option<RefCell<Adaptive>>,
    success: Option<RefCell<SharedSuccess>>,
    /// Draws for `enforce_percent` and success-rate throttling.
    random: RefCell<SplitMix64>,
    metrics: Metrics,
    layout: Layout,
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
        let (table, layout) = metrics::table(&config.classes);
        let (metrics, refused) = Metrics::define(&table);
        for name in refused {
            log::warn(|| format!("the host refused to define metric {name}"));
        }
        let inflight = SharedInflight::new(
            inflight_key(&config.destination),
            worker_id,
            lane_ttl(config.tick),
        );
        let adaptive = match &config.limit {
            LimitConfig::Static { .. } => None,
            LimitConfig::Adaptive(a) => Some(RefCell::new(Adaptive {
                limit: SharedLimit::new(
                    limit_key(&config.destination),
                    a.params.clone(),
                    a.window,
                    a.percentile,
                ),
                random: SplitMix64::new(worker_id ^ 0x5EED),
            })),
        };
        let success = config.success_rate.as_ref().map(|p| {
            RefCell::new(SharedSuccess::new(
                success_key(&config.destination),
                p.clone(),
                config.classes.len(),
            ))
        });
        let throttle = Throttle::new(config);
        metrics.set(layout.limit(), u64::from(throttle.limit()));
        Worker {
            throttle,
            inflight: RefCell::new(inflight),
            adaptive,
            success,
            random: RefCell::new(SplitMix64::new(worker_id)),
            metrics,
            layout,
        }
    }

    /// The limit in force: the static one, or the adaptive limit as of this
    /// worker's last flush.
    pub fn limit(&self) -> u32 {
        match &self.adaptive {
            Some(a) => a.borrow().limit.limit(),
            None => self.throttle.limit(),
        }
    }

    pub fn tick_period(&self) -> Duration {
        self.throttle.config().tick
    }

    /// Classifies the current request and admits or sheds it.
    pub fn admit(&self) -> (ClassId, Admission) {
        let (class, source) = self.throttle.classify(&RequestHeaders);
        if source == ClassSource::UnknownValue {
            self.metrics.add(self.layout.unknown_priority(), 1);
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
                    return (class, self.forward_unenforced(class, reason));
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
                return (class, Admission::Shed(reason));
            }
        }
        let limit = self.limit();
        let threshold = self.throttle.threshold_at(limit, class);
        let (acquire, stats) =
            self.inflight
                .borrow_mut()
                .try_acquire(&EnvoySharedData, host::now(), threshold);
        self.record_update(&stats);
        match acquire {
            Acquire::Admitted { inflight_before } => {
                if let Some(a) = &self.adaptive {
                    a.borrow_mut().limit.observe_inflight(inflight_before + 1);
                }
                self.metrics.add(self.layout.admitted(class), 1);
                self.metrics
                    .set(self.layout.inflight(), inflight_before + 1);
                (class, Admission::Admitted)
            }
            Acquire::Full { inflight } => {
                let reason = ShedReason::ConcurrencyLimit;
                if !self.throttle.enforce(&mut *self.random.borrow_mut()) {
                    return (class, self.forward_unenforced(class, reason));
                }
                self.metrics.add(self.layout.shed(class, reason), 1);
                self.metrics.set(self.layout.inflight(), inflight);
                if let Some(a) = &self.adaptive {
                    a.borrow_mut().limit.observe_shed();
                }
                log::debug(|| {
                    format!(
                        "shed class={} reason={} inflight={} threshold={} limit={}",
                        self.throttle.config().classes.name(class),
                        reason,
                        inflight,
                        threshold,
                        limit
                    )
                });
                (class, Admission::Shed(reason))
            }
        }
    }

    /// Forwards a request the policy would shed: it takes a slot like any
    /// forwarded request (the in-flight count stays the real load), and the
    /// decision is counted and logged.
    fn forward_unenforced(&self, class: ClassId, reason: ShedReason) -> Admission {
        let (acquire, stats) =
            self.inflight
                .borrow_mut()
                .try_acquire(&EnvoySharedData, host::now(), u32::MAX);
        self.record_update(&stats);
        if let Acquire::Admitted { inflight_before } = acquire {
            self.metrics
                .set(self.layout.inflight(), inflight_before + 1);
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

    /// True if success-rate throttling is on (only then is a response's
    /// status worth reading).
    pub fn tracks_success(&self) -> bool {
        self.success.is_some()
    }

    /// The service answered a forwarded request of `class` without failing
    /// (for success-rate throttling).
    pub fn record_accept(&self, class: ClassId) {
        if let Some(s) = &self.success {
            s.borrow_mut().record_accept(class.index());
        }
    }

    /// Frees one admitted request's slot; `latency` (from admission to the
    /// end of the response) feeds the adaptive limit when the stream
    /// completed.
    pub fn release(&self, latency: Option<(Duration, Timestamp)>) {
        if let (Some(a), Some((l, admitted_at))) = (&self.adaptive, latency) {
            a.borrow_mut().limit.record_latency(l, admitted_at);
        }
        let (total, stats) = self
            .inflight
            .borrow_mut()
            .release(&EnvoySharedData, host::now());
        self.record_update(&stats);
        self.metrics.set(self.layout.inflight(), total);
    }

    /// Housekeeping: heartbeat and lane repair, gauges.
    pub fn tick(&self) {
        let (total, stats) = self
            .inflight
            .borrow_mut()
            .heartbeat(&EnvoySharedData, host::now());
        self.record_update(&stats);
        self.metrics.set(self.layout.inflight(), total);
        if let Some(a) = &self.adaptive {
            self.flush_adaptive(&mut a.borrow_mut());
        }
        if let Some(s) = &self.success {
            let stats = s.borrow_mut().flush(&EnvoySharedData, host::now());
            self.record_update(&stats);
        }
        self.metrics
            .set(self.layout.limit(), u64::from(self.limit()));
    }

    /// Merges this worker's latencies into the shared window; the flush
    /// that closes a window moves the limit and says why at debug level.
    fn flush_adaptive(&self, a: &mut Adaptive) {
        let before = a.limit.limit();
        let Adaptive { limit, random } = a;
        let flush = limit.flush(&EnvoySharedData, host::now(), random);
        self.record_update(&flush.stats);
        if let Some(rec) = limit.record() {
            self.metrics
                .set(self.layout.latency_ms(), rec.last_rtt.as_millis() as u64);
            let min_rtt = rec.state.min_rtt.map_or(0, |d| d.as_millis() as u64);
            self.metrics.set(self.layout.min_rtt_ms(), min_rtt);
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
                format!("limit {} -> {} ({why})", before, flush.limit)
            });
        }
    }

    fn record_update(&self, stats: &UpdateStats) {
        if stats.cas_retries > 0 {
            self.metrics
                .add(self.layout.cas_retries(), i64::from(stats.cas_retries));
        }
        if stats.decode_resets > 0 {
            self.metrics
                .add(self.layout.decode_resets(), i64::from(stats.decode_resets));
            log::warn(|| {
                format!(
                    "shared record {} did not decode; reset it",
                    self.inflight.borrow().key()
                )
            });
        }
        if stats.deferred {
            self.metrics.add(self.layout.deferred_writes(), 1);
        }
    }
}

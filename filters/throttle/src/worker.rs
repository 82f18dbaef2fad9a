//! What one VM (one Envoy worker thread) keeps for a configured throttle,
//! shared by the root context and its streams.

use crate::metrics::{self, Layout};
use sluice_core::config::ThrottleConfig;
use sluice_core::decision::ShedReason;
use sluice_core::priority::{ClassId, ClassSource};
use sluice_core::shared::{Acquire, SharedInflight, UpdateStats};
use sluice_core::throttle::Throttle;
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
pub fn lane_ttl(tick: Duration) -> Duration {
    (tick * 4).max(Duration::from_secs(2))
}

pub struct Worker {
    throttle: Throttle,
    inflight: RefCell<SharedInflight>,
    metrics: Metrics,
    layout: Layout,
}

/// What happened to a request at its headers.
pub enum Admission {
    /// Forwarded; holds a slot until the stream ends.
    Admitted,
    /// Refused with this reason; no slot held.
    Shed(ShedReason),
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
        let throttle = Throttle::new(config);
        metrics.set(layout.limit(), u64::from(throttle.limit()));
        Worker {
            throttle,
            inflight: RefCell::new(inflight),
            metrics,
            layout,
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
        let threshold = self.throttle.threshold(class);
        let (acquire, stats) =
            self.inflight
                .borrow_mut()
                .try_acquire(&EnvoySharedData, host::now(), threshold);
        self.record_update(&stats);
        match acquire {
            Acquire::Admitted { inflight_before } => {
                self.metrics.add(self.layout.admitted(class), 1);
                self.metrics
                    .set(self.layout.inflight(), inflight_before + 1);
                (class, Admission::Admitted)
            }
            Acquire::Full { inflight } => {
                let reason = ShedReason::ConcurrencyLimit;
                self.metrics.add(self.layout.shed(class, reason), 1);
                self.metrics.set(self.layout.inflight(), inflight);
                log::debug(|| {
                    format!(
                        "shed class={} reason={} inflight={} threshold={} limit={}",
                        self.throttle.config().classes.name(class),
                        reason,
                        inflight,
                        threshold,
                        self.throttle.limit()
                    )
                });
                (class, Admission::Shed(reason))
            }
        }
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

    /// Frees one admitted request's slot.
    pub fn release(&self) {
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
        self.metrics
            .set(self.layout.limit(), u64::from(self.throttle.limit()));
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

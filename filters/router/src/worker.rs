//! What one VM (one Envoy worker thread) keeps for a configured router,
//! shared by the root context and its streams.

use crate::metrics::{self, Layout};
use sluice_core::config::{Mode, RouterConfig};
use sluice_core::random::SplitMix64;
use sluice_core::route::{ClusterView, Decision};
use sluice_core::shared::{
    keys, Acquire, AdaptiveRecord, SharedDestination, SharedInflight, SharedKv, UpdateStats,
};
use sluice_core::time::Timestamp;
use sluice_glue::host::{self, EnvoySharedData, RequestHeaders};
use sluice_glue::log;
use sluice_glue::metrics::Metrics;
use std::borrow::Cow;
use std::cell::RefCell;
use std::time::Duration;

/// One configured cluster's live state in this worker.
struct Cluster {
    inflight: SharedInflight,
    stats: SharedDestination,
    /// The throttle's in-flight record for this cluster, read for spillover
    /// (a reader: it never holds a lane).
    throttle: Option<(SharedInflight, String)>,
}

pub struct Worker {
    config: RouterConfig,
    clusters: Vec<RefCell<Cluster>>,
    /// What choices see, refreshed on tick and by this worker's own
    /// admissions.
    views: RefCell<Vec<ClusterView>>,
    random: RefCell<SplitMix64>,
    metrics: Metrics,
    layout: Layout,
}

/// A routed request that holds an in-flight slot of `cluster`.
#[derive(Clone, Copy, Debug)]
pub struct Routed {
    pub decision: Decision,
    pub started: Timestamp,
    /// The slot is held (enforce mode); shadow decisions hold none.
    pub holds_slot: bool,
}

impl Worker {
    pub fn new(config: RouterConfig, worker_id: u64) -> Self {
        let (table, layout) = metrics::table(&config.clusters);
        let (metrics, refused) = Metrics::define(&table);
        for name in refused {
            log::warn(|| format!("the host refused to define metric {name}"));
        }
        let ttl = keys::lane_ttl(config.tick);
        let clusters = config
            .clusters
            .iter()
            .map(|c| {
                let inflight = SharedInflight::new(keys::cluster_inflight(&c.name), worker_id, ttl);
                inflight.create_record(&EnvoySharedData);
                RefCell::new(Cluster {
                    inflight,
                    stats: SharedDestination::new(keys::cluster_stats(&c.name)),
                    throttle: c.throttle_destination.as_ref().map(|d| {
                        // Worker id 0 is never a live lane: this handle reads
                        // the throttle's total and writes nothing.
                        (
                            SharedInflight::new(keys::inflight(d), 0, ttl),
                            keys::limit(d),
                        )
                    }),
                })
            })
            .collect();
        let views = RefCell::new(vec![ClusterView::default(); config.clusters.len()]);
        Worker {
            config,
            clusters,
            views,
            random: RefCell::new(SplitMix64::new(worker_id)),
            metrics,
            layout,
        }
    }

    pub fn tick_period(&self) -> Duration {
        self.config.tick
    }

    /// Decides the current request's cluster, counts the decision, and in
    /// enforce mode takes an in-flight slot of that cluster. Returns the
    /// header to set on the upstream request.
    pub fn route(&self) -> (Routed, (&str, Cow<'_, str>)) {
        let now = host::now();
        let decision = {
            let views = self.views.borrow();
            self.config
                .router
                .decide(&RequestHeaders, &views, now, &mut *self.random.borrow_mut())
        };
        let name = &self.config.clusters[decision.cluster].name;
        // The reason's text is built only when something reads it.
        let reason = || self.config.router.reason_text(&decision);
        log::debug(|| format!("route {name} ({})", reason()));
        if self.config.mode == Mode::Shadow {
            self.metrics.add(
                self.layout
                    .shadow_decision(decision.cluster, decision.reason),
                1,
            );
            let header = (
                self.config.shadow_header.as_str(),
                Cow::Owned(format!("{name}; reason={}", reason())),
            );
            let routed = Routed {
                decision,
                started: now,
                holds_slot: false,
            };
            return (routed, header);
        }
        self.metrics
            .add(self.layout.decision(decision.cluster, decision.reason), 1);
        let total = {
            let mut c = self.clusters[decision.cluster].borrow_mut();
            let (acquire, stats) = c.inflight.try_acquire(&EnvoySharedData, now, u32::MAX);
            self.record_update(&stats, c.inflight.key());
            match acquire {
                Acquire::Admitted { inflight_before } => inflight_before + 1,
                Acquire::Full { inflight, .. } => inflight,
            }
        };
        if let Some(v) = self.views.borrow_mut().get_mut(decision.cluster) {
            v.inflight = total;
        }
        let routed = Routed {
            decision,
            started: now,
            holds_slot: true,
        };
        (
            routed,
            (
                self.config.destination_header.as_str(),
                Cow::Borrowed(name.as_str()),
            ),
        )
    }

    /// The response headers to add: the decision header and, after a write
    /// on a `session` route, the read-your-writes cookie.
    pub fn response_headers(&self, routed: &Routed) -> Vec<(&str, String)> {
        let mut out = Vec::new();
        if let Some(h) = &self.config.decision_header {
            let d = &routed.decision;
            out.push((
                h.as_str(),
                format!(
                    "{}; reason={}",
                    self.config.clusters[d.cluster].name,
                    self.config.router.reason_text(d)
                ),
            ));
        }
        if routed.decision.pin_session && self.config.mode == Mode::Enforce {
            out.push(("set-cookie", self.config.router.pin_cookie(host::now())));
        }
        out
    }

    /// The end of a routed stream: frees its slot, and if the stream
    /// completed, records its latency and outcome (`status`: `None` for no
    /// response, a failure) for the cluster. In shadow mode the request
    /// went where Envoy's own route sent it: its outcome is recorded for
    /// that cluster (`cluster`), if it is one of the router's.
    pub fn finish(&self, routed: &Routed, completed: Option<(Option<u16>, Option<Vec<u8>>)>) {
        let now = host::now();
        let target = if routed.holds_slot {
            Some(routed.decision.cluster)
        } else {
            completed.as_ref().and_then(|(_, actual)| {
                let actual = actual.as_deref()?;
                self.config
                    .clusters
                    .iter()
                    .position(|c| c.name.as_bytes() == actual)
            })
        };
        let Some(cluster) = target else {
            return;
        };
        let mut c = self.clusters[cluster].borrow_mut();
        if let Some((status, _)) = completed {
            let failed = status.is_none_or(|s| s >= 500);
            c.stats.record(now.saturating_since(routed.started), failed);
        }
        if routed.holds_slot {
            let (total, stats) = c.inflight.release(&EnvoySharedData, now);
            self.record_update(&stats, c.inflight.key());
            if let Some(v) = self.views.borrow_mut().get_mut(cluster) {
                v.inflight = total;
            }
        }
    }

    /// Housekeeping: heartbeats, stats merges, outlier states, spillover
    /// state, gauges.
    pub fn tick(&self) {
        let now = host::now();
        let mut views = self.views.borrow_mut();
        for (i, cell) in self.clusters.iter().enumerate() {
            let mut c = cell.borrow_mut();
            let (inflight, stats) = c.inflight.heartbeat(&EnvoySharedData, now);
            self.record_update(&stats, c.inflight.key());
            let sync = c.stats.sync(
                &EnvoySharedData,
                now,
                self.config.ewma_alpha,
                &self.config.outlier,
            );
            self.record_update(&sync.stats, c.stats.key());
            let rec = *c.stats.view();
            let near_limit = c
                .throttle
                .as_ref()
                .is_some_and(|(t, limit_key)| self.near_limit(i, t, limit_key, now));
            views[i] = ClusterView {
                latency: rec.latency,
                inflight,
                avoided: rec.avoided,
                near_limit,
            };
            let name = &self.config.clusters[i].name;
            if let Some(avoided) = sync.shifted {
                self.metrics.add(self.layout.shift(i, avoided), 1);
                log::info(|| {
                    format!(
                        "cluster {name} {} (latency {} ms, errors {}‰)",
                        if avoided {
                            "avoided as an outlier"
                        } else {
                            "back in rotation"
                        },
                        (rec.latency * 1000.0) as u64,
                        (rec.errors * 1000.0) as u64
                    )
                });
            }
            self.metrics
                .set(self.layout.latency_ms(i), (rec.latency * 1000.0) as u64);
            self.metrics
                .set(self.layout.error_permille(i), (rec.errors * 1000.0) as u64);
            self.metrics.set(self.layout.inflight(i), inflight);
            self.metrics
                .set(self.layout.avoided(i), u64::from(rec.avoided));
        }
    }

    /// Whether the throttle's in-flight count for cluster `i` has reached
    /// `spill_at` of its limit: the throttle's adaptive limit if it keeps
    /// one, else the configured `limit`.
    fn near_limit(
        &self,
        i: usize,
        throttle: &SharedInflight,
        limit_key: &str,
        now: Timestamp,
    ) -> bool {
        let adaptive = match EnvoySharedData.get(limit_key) {
            Ok(Some((bytes, _))) => AdaptiveRecord::decode(&bytes).map(|r| r.state.current()),
            _ => None,
        };
        let Some(limit) = adaptive.or(self.config.clusters[i].limit) else {
            return false;
        };
        let inflight = throttle.total(&EnvoySharedData, now) as f64;
        inflight >= self.config.spill_at * f64::from(limit)
    }

    fn record_update(&self, stats: &UpdateStats, key: &str) {
        self.metrics
            .record_shared_data(self.layout.shared_data(), stats, || key.to_string());
    }
}

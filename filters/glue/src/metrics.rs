//! Metrics defined from a table at configure time.
//!
//! A filter lists its metrics once (kind and full name); [`Metrics::define`]
//! asks the host for an id per entry. Envoy gives the same stat to every VM
//! that defines the same name, so counters incremented on different worker
//! threads add up in `/stats`. A metric the host refused is skipped, never a
//! trap: metrics must not take traffic down.

use crate::hostcalls::{self, MetricKind};
use crate::log;
use sluice_core::shared::UpdateStats;

/// One metric to define.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricDef {
    pub kind: MetricKind,
    pub name: String,
}

impl MetricDef {
    pub fn counter(name: impl Into<String>) -> Self {
        MetricDef {
            kind: MetricKind::Counter,
            name: name.into(),
        }
    }

    pub fn gauge(name: impl Into<String>) -> Self {
        MetricDef {
            kind: MetricKind::Gauge,
            name: name.into(),
        }
    }
}

/// Host ids of a defined table, indexed like the table.
#[derive(Clone, Debug, Default)]
pub struct Metrics {
    ids: Vec<Option<u32>>,
}

impl Metrics {
    /// Defines every metric of `table`; returns the ids and the names the
    /// host refused.
    pub fn define(table: &[MetricDef]) -> (Metrics, Vec<String>) {
        let mut refused = Vec::new();
        let ids = table
            .iter()
            .map(|def| match hostcalls::define_metric(def.kind, &def.name) {
                Ok(id) => Some(id),
                Err(_) => {
                    refused.push(def.name.clone());
                    None
                }
            })
            .collect();
        (Metrics { ids }, refused)
    }

    /// Adds `by` to the counter or gauge at `index` of the table.
    pub fn add(&self, index: usize, by: i64) {
        if let Some(Some(id)) = self.ids.get(index) {
            let _ = hostcalls::increment_metric(*id, by);
        }
    }

    /// Sets the gauge at `index` of the table.
    pub fn set(&self, index: usize, value: u64) {
        if let Some(Some(id)) = self.ids.get(index) {
            let _ = hostcalls::record_metric(*id, value);
        }
    }
}

/// The three shared-data health counters a filter defines as consecutive
/// entries of its table: `<prefix>.shared_data.{cas_retries, decode_resets,
/// deferred_writes}`.
pub fn shared_data_counters(prefix: &str) -> [MetricDef; 3] {
    ["cas_retries", "decode_resets", "deferred_writes"]
        .map(|c| MetricDef::counter(format!("{prefix}.shared_data.{c}")))
}

impl Metrics {
    /// Counts what a shared-data update went through, into the counters
    /// [`shared_data_counters`] defined at `first`; a record that had to be
    /// reset is also logged, naming it (`record`).
    pub fn record_shared_data(
        &self,
        first: usize,
        stats: &UpdateStats,
        record: impl FnOnce() -> String,
    ) {
        if stats.cas_retries > 0 {
            self.add(first, i64::from(stats.cas_retries));
        }
        if stats.decode_resets > 0 {
            self.add(first + 1, i64::from(stats.decode_resets));
            log::warn(|| format!("shared record {} did not decode; reset it", record()));
        }
        if stats.deferred {
            self.add(first + 2, 1);
        }
    }
}

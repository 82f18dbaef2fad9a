//! The scenario file's schema.

use super::assertions::AssertionSpec;
use crate::sim::config::{Balance, CallTarget, FailurePolicy};
use crate::sim::upstream::ClusterSpec;
use serde::Deserialize;
use sluice_traffic::generator::GeneratorSpec;
use sluice_traffic::trace::TraceSpec;
use sluice_traffic::Dur;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub seed: u64,
    pub duration: Dur,
    #[serde(default = "one_second")]
    pub interval: Dur,
    /// Envoy worker threads (`--concurrency`).
    #[serde(default = "two")]
    pub workers: u32,
    #[serde(default)]
    pub balance: Balance,
    /// The HTTP filter chain, in order.
    pub filters: Vec<FilterSpec>,
    pub route: RouteSpec,
    pub upstreams: BTreeMap<String, ClusterSpec>,
    pub traffic: Vec<TrafficSource>,
    /// Scripted answers for `http_call` / `grpc_call`, by cluster.
    #[serde(default)]
    pub call_targets: BTreeMap<String, CallTarget>,
    #[serde(default)]
    pub report: ReportSpec,
    #[serde(default)]
    pub vm: VmSpecYaml,
    #[serde(default)]
    pub assertions: Vec<AssertionSpec>,
}

fn one_second() -> Dur {
    Dur(Duration::from_secs(1))
}

fn two() -> u32 {
    2
}

/// One wasm filter, as Envoy's `envoy.filters.http.wasm` config names it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterSpec {
    /// Plugin name (`config.name`).
    pub name: String,
    /// Path to the `.wasm`; relative paths are relative to the scenario
    /// file; `${VAR}` and `${VAR:-default}` are expanded from the environment.
    pub module: String,
    /// `config.root_id`; defaults to the name.
    #[serde(default)]
    pub root_id: Option<String>,
    /// `vm_config.vm_id`; VMs with the same id share shared data.
    #[serde(default)]
    pub vm_id: String,
    #[serde(default)]
    pub failure_policy: FailurePolicy,
    /// The plugin configuration: a JSON object (passed as its JSON text) or a
    /// string (passed as is).
    #[serde(default)]
    pub configuration: Option<serde_json::Value>,
    #[serde(default)]
    pub vm_configuration: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSpec {
    #[serde(default = "default_route")]
    pub name: String,
    /// The cluster requests go to unless `cluster_header` names another.
    pub cluster: String,
    #[serde(default)]
    pub cluster_header: Option<String>,
    #[serde(default = "fifteen_seconds")]
    pub timeout: Dur,
}

fn default_route() -> String {
    "default".into()
}

fn fifteen_seconds() -> Dur {
    Dur(Duration::from_secs(15))
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum TrafficSource {
    Generator(GeneratorSpec),
    Trace(TraceSpec),
}

/// How requests are grouped in the report.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportSpec {
    /// Priority classes, most important first.
    pub classes: Vec<String>,
    /// Request header naming the class.
    pub class_header: String,
    pub default_class: String,
    /// Local-reply header naming why a request was shed.
    pub shed_reason_header: String,
}

impl Default for ReportSpec {
    fn default() -> Self {
        ReportSpec {
            classes: vec!["critical".into(), "default".into(), "sheddable".into()],
            class_header: "x-sluice-priority".into(),
            default_class: "default".into(),
            shed_reason_header: "x-sluice-shed-reason".into(),
        }
    }
}

/// Limits on guests.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VmSpecYaml {
    pub memory_limit_mb: u32,
    /// Wall-clock time one callback may run before it is interrupted.
    pub callback_deadline: Dur,
    /// Level `proxy_get_log_level` reports and the lowest kept in the report.
    pub log_level: LogLevel,
    /// Print guest logs to stderr as they happen.
    pub echo_logs: bool,
    /// After a VM failure with `fail_reload`, how long before the next reload.
    pub reload_backoff: Dur,
}

impl Default for VmSpecYaml {
    fn default() -> Self {
        VmSpecYaml {
            memory_limit_mb: 256,
            callback_deadline: Dur(Duration::from_secs(1)),
            log_level: LogLevel::Info,
            echo_logs: false,
            reload_backoff: Dur(Duration::from_secs(1)),
        }
    }
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Critical,
}

impl LogLevel {
    pub fn abi(self) -> u32 {
        self as u32
    }
}

//! A simulation's inputs, validated (the scenario module builds them).

use super::upstream::ClusterSpec;
use crate::vm::LoadedModule;
use serde::Deserialize;
use sluice_traffic::Dur;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// How requests are spread over workers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Balance {
    /// Like Envoy's exact connection balance, one request per connection.
    #[default]
    RoundRobin,
    /// Like the kernel's reuse-port hashing: uniformly at random (seeded).
    Random,
}

/// Envoy's `failure_policy` for a plugin whose VM failed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailurePolicy {
    /// Requests pass the failed plugin untouched.
    FailOpen,
    /// Requests are refused with 503.
    #[default]
    FailClosed,
    /// A new VM is started for the next request (after a backoff); until
    /// then requests are refused as with fail_closed.
    FailReload,
}

/// One filter of the chain.
#[derive(Clone, Debug)]
pub struct PluginConfig {
    pub name: String,
    pub root_id: String,
    pub vm_id: String,
    pub module: Arc<LoadedModule>,
    pub configuration: Arc<[u8]>,
    pub vm_configuration: Arc<[u8]>,
    pub failure_policy: FailurePolicy,
}

/// The route every request takes.
#[derive(Clone, Debug)]
pub struct RouteConfig {
    pub name: String,
    /// Default cluster.
    pub cluster: String,
    /// If set, a request header that names the cluster (Envoy's
    /// `cluster_header`), read after the filters ran.
    pub cluster_header: Option<String>,
    pub timeout: Duration,
}

/// A scripted answer for `http_call` / `grpc_call` to a cluster.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CallTarget {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    pub body: String,
    pub delay: Dur,
    /// gRPC status code for `grpc_call`.
    pub grpc_status: u32,
    pub grpc_message: String,
}

/// How requests are put in classes for the report.
#[derive(Clone, Debug)]
pub struct ClassConfig {
    pub header: String,
    pub names: Vec<String>,
    pub default: usize,
    /// Local-reply header that names the shed reason.
    pub shed_reason_header: String,
}

impl ClassConfig {
    pub fn classify(&self, value: Option<&str>) -> usize {
        value
            .and_then(|v| {
                let v = v.trim();
                self.names.iter().position(|n| n.eq_ignore_ascii_case(v))
            })
            .unwrap_or(self.default)
    }
}

/// Limits on guests.
#[derive(Clone, Debug)]
pub struct VmConfig {
    pub memory_limit_bytes: usize,
    pub callback_deadline: Duration,
    pub log_level: u32,
    pub echo_logs: bool,
    pub reload_backoff: Duration,
}

/// Everything a simulation runs from.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub name: String,
    pub description: String,
    pub seed: u64,
    pub duration: Duration,
    pub interval: Duration,
    pub workers: u32,
    pub balance: Balance,
    pub plugins: Vec<PluginConfig>,
    pub route: RouteConfig,
    pub clusters: Vec<(String, ClusterSpec)>,
    pub targets: BTreeMap<String, CallTarget>,
    pub classes: ClassConfig,
    pub vm: VmConfig,
    /// Keep every request's [`super::exchange::Exchange`] in the result.
    pub record_exchanges: bool,
}

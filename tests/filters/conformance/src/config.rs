//! The plugin configuration.
//!
//! ```json
//! {"role": "primary", "callout_cluster": "local_app",
//!  "queue_vm_id": "conformance", "tick_ms": 50}
//! ```
//! Every key is optional; unknown keys are refused.

use serde::Deserialize;
use std::time::Duration;

/// Name of the shared queue the primary registers and enqueues to.
pub const QUEUE: &str = "conformance.events";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    #[default]
    Primary,
    Observer,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub role: Role,
    /// Cluster that `x-conformance-callout` calls.
    pub callout_cluster: String,
    /// The `vm_id` the queue is resolved under (the plugin's own vm_id).
    pub queue_vm_id: String,
    /// Tick period of the primary's root context.
    pub tick_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            role: Role::Primary,
            callout_cluster: "local_app".into(),
            queue_vm_id: "conformance".into(),
            tick_ms: 50,
        }
    }
}

impl Config {
    /// Parses the plugin configuration; empty means all defaults.
    pub fn parse(bytes: &[u8]) -> Result<Config, String> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Config::default());
        }
        let config: Config = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if config.tick_ms == 0 {
            return Err("tick_ms must be at least 1".into());
        }
        Ok(config)
    }

    pub fn tick(&self) -> Duration {
        Duration::from_millis(self.tick_ms)
    }
}

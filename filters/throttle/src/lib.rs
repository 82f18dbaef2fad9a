//! # sluice_throttle.wasm
//!
//! Wires proxy-wasm's root and HTTP contexts to the core's throttle. See this
//! crate's README for the configuration keys and the stats table.
//!
//! - [`root::ThrottleRoot`]: reads and validates the plugin configuration,
//!   defines metrics, ticks (lane heartbeat, gauges).
//! - [`stream::ThrottleStream`]: classifies each request, admits or sheds it
//!   against the in-flight count shared by all workers, and releases its slot
//!   when the stream ends, however it ends.

// A filter must never trap: no unwrap outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod destination;
mod metrics;
mod root;
mod stream;
mod worker;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(proxy_wasm::types::LogLevel::Trace);
    proxy_wasm::set_root_context(|context_id| Box::new(root::ThrottleRoot::new(context_id)));
}}

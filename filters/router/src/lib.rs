//! # sluice_router.wasm
//!
//! Wires proxy-wasm's root and HTTP contexts to the core's router. See this
//! crate's README for the configuration keys, the cost formula and the
//! stats table.
//!
//! - [`root::RouterRoot`]: reads and validates the plugin configuration,
//!   defines metrics, ticks (cluster stats, outlier states, spillover).
//! - [`stream::RouterStream`]: decides each request's cluster and writes it
//!   into the destination header; on the response, adds the decision header
//!   and the read-your-writes cookie; at the end, records the latency and
//!   the outcome for the cluster.

// A filter must never trap: no unwrap outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod metrics;
mod root;
mod stream;
mod worker;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(proxy_wasm::types::LogLevel::Trace);
    proxy_wasm::set_root_context(|context_id| Box::new(root::RouterRoot::new(context_id)));
}}

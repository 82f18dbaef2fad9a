//! # sluice_conformance.wasm (test only)
//!
//! A filter written the way a third party would write one (the proxy-wasm
//! Rust SDK directly, no Sluice crates) that touches every host feature a
//! filter commonly uses, each driven by a request header and each leaving an
//! outcome a client can see: a response header, a local reply, or a metric.
//! The differential tests run the same requests through real Envoy and
//! through the harness and compare those outcomes.
//!
//! Two roles, chosen by the plugin configuration (`{"role": ...}`):
//!
//! - `primary` (the default) does the work below.
//! - `observer`, placed after the primary in the chain, reports in
//!   `x-conformance-observed` the `x-conformance-*` request headers it saw,
//!   which are the headers the primary left for the upstream.
//!
//! What the primary does, by request header:
//!
//! | request header | effect | outcome |
//! | --- | --- | --- |
//! | (always) | adds `x-conformance-added`, removes `x-conformance-strip`, rewrites `x-conformance-replace` | `x-conformance-observed` |
//! | (always) | on the response: sets `x-conformance-saw-status`, adds `x-conformance-multi` twice | response headers |
//! | `x-conformance-counter: K` | compare-and-swap increment of shared-data key `conformance.counter.K` | `x-conformance-counter: K=N` |
//! | `x-conformance-enqueue: V` | resolves the queue `conformance.events` and enqueues `V`; `on_queue_ready` dequeues and counts | `x-conformance-enqueue`, `x-conformance-dequeued`, metric |
//! | `x-conformance-wait-tick: 1` | pauses the request; the next `on_tick` resumes it | `x-conformance-resumed: tick`, metric |
//! | `x-conformance-callout: S` | `http_call` to the configured cluster asking for status `S`; the request waits for the answer | request header `x-conformance-callout-status` (seen by the observer), response header `x-conformance-callout` |
//! | `x-conformance-callout-then: reply` | with a callout: answer locally with the callout's status instead of resuming | local reply |
//! | `x-conformance-local: S` | local reply `S` with custom headers and body | local reply |
//! | `x-conformance-body: echo` | buffers the request body and answers locally with its length and hash | local reply |
//! | `x-conformance-rewrite-body: 1` | replaces the response body | body, `x-conformance-rewritten` |
//! | `x-conformance-hide-upstream: 1` | removes `x-upstream-name` from the response | response headers |
//!
//! Any request body is buffered to its end and recorded in the histogram
//! `conformance.request_body_bytes` and the gauge `conformance.last_body_bytes`.
//! `on_log` counts responses by status class. Everything is deterministic for
//! requests sent one after another, except the tick gauge `conformance.ticks`,
//! which counts how long the process has been up.

mod config;
mod metrics;
mod observer;
mod primary;
mod root;
mod shared;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(proxy_wasm::types::LogLevel::Info);
    proxy_wasm::set_root_context(|_| Box::new(root::ConformanceRoot::default()));
}}

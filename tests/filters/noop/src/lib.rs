//! # sluice_noop.wasm (benchmark baseline only)
//!
//! A proxy-wasm filter written with the SDK alone that does nothing: every
//! callback keeps its default (continue). `cargo xtask bench-envoy` runs it
//! as an arm so the table separates what Envoy's wasm plumbing costs per
//! request (a VM context per stream, a VM call per callback) from what
//! Sluice's work costs on top.

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{ContextType, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(NoopRoot) });
}}

struct NoopRoot;

impl Context for NoopRoot {}

impl RootContext for NoopRoot {
    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(NoopStream))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct NoopStream;

impl Context for NoopStream {}

impl HttpContext for NoopStream {}

//! # sluice-glue: proxy-wasm glue shared by the Sluice filters
//!
//! The filters' root and HTTP contexts are thin: they turn host callbacks into
//! calls on [`sluice_core`] and carry out its answers through this crate.
//!
//! - [`hostcalls`]: the proxy-wasm host calls Sluice uses, declared here so
//!   that every status the host can return becomes a `Result`. The SDK's own
//!   wrappers `panic!` on statuses they do not expect (and its string header
//!   getters `unwrap` UTF-8), which in a `panic = "abort"` module is a trap
//!   and, in Envoy, a failed VM. A filter must never trap on what a request
//!   or a host sends it.
//! - [`host`]: the host as the core's traits: [`host::EnvoySharedData`] is a
//!   [`sluice_core::shared::SharedKv`], [`host::RequestHeaders`] a
//!   [`sluice_core::request::RequestView`], [`host::now`] the clock.
//! - [`metrics`]: metrics declared once in a table and defined at configure.
//! - [`reply`]: local replies.
//! - [`log`]: logging that formats only when the level is enabled.
//!
//! Everything here is a one-to-one translation; policy lives in the core.

// A filter must never trap: no unwrap outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod host;
pub mod hostcalls;
pub mod log;
pub mod metrics;
mod pairs;
pub mod reply;

/// A random 64-bit value from the host's entropy (WASI `random_get`), used
/// to seed per-VM generators and worker ids. In the harness the entropy is
/// seeded, so a replay is deterministic.
pub fn host_entropy(fallback: u64) -> u64 {
    let mut buf = [0u8; 8];
    match getrandom::fill(&mut buf) {
        Ok(()) => u64::from_le_bytes(buf),
        Err(_) => fallback,
    }
}

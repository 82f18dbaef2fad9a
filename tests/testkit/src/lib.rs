//! # sluice-testkit
//!
//! Shared by the end-to-end tests, which run a real Envoy with real traffic
//! on loopback:
//!
//! - [`paths`]: where the repository, the built `.wasm` files and the Envoy
//!   binary are (`SLUICE_ENVOY` and `SLUICE_WASM_DIR` override).
//! - [`bootstrap`]: loads a bootstrap from `envoy-configs/` and rewrites it
//!   for a test: free ports, upstream addresses, plugin configuration.
//! - [`envoy`]: starts Envoy, waits until it is live, finds its listeners,
//!   reads its stats and log, and always stops it.
//! - [`client`]: an HTTP client with background requests and a closed-loop
//!   load driver that counts outcomes per label.
//! - [`replay`]: sends a trace's requests at their arrival offsets, as the
//!   harness replays them in virtual time.
//! - [`stats`]: Envoy's `/stats` text as a map.

pub mod bootstrap;
pub mod client;
pub mod envoy;
pub mod paths;
pub mod replay;
pub mod stats;

pub use sluice_test_upstream::{Behaviour, Upstream};

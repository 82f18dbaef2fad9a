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
//! - [`lds`]: an Envoy whose listeners come from a file (file-based LDS),
//!   for pushing new configurations to a running Envoy.
//! - [`plugin`]: edits to one wasm plugin in a bootstrap (failure policy,
//!   module file).
//! - [`client`]: an HTTP client with background requests and a closed-loop
//!   load driver that counts outcomes per label.
//! - [`connection`]: one HTTP/1.1 connection held open across requests, and
//!   how the server ended it.
//! - [`replay`]: sends a trace's requests at their arrival offsets, as the
//!   harness replays them in virtual time.
//! - [`stats`]: Envoy's `/stats` text as a map.
//! - [`soak`]: a long run of mixed traffic through both filters, with
//!   Envoy's memory and stats sampled and checked.
//! - [`trap`]: the test-only trapping throttle module, for failure-policy tests.

pub mod bootstrap;
pub mod client;
pub mod connection;
pub mod envoy;
pub mod lds;
pub mod paths;
pub mod plugin;
pub mod replay;
pub mod soak;
pub mod stats;
pub mod trap;

pub use sluice_test_upstream::{Behaviour, Upstream};

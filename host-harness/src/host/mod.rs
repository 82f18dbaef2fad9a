//! Host-side state: what Envoy keeps for a wasm VM and what VMs share.
//!
//! - [`state::HostState`]: per VM (one `Store` each): contexts, the callback
//!   in progress, actions deferred until it returns.
//! - [`shared::SharedStore`]: shared data and shared queues, one per
//!   simulated Envoy process, visible to every VM.
//! - [`metrics::MetricStore`]: stats by name, shared by every VM (Envoy
//!   gives all VMs that define a name the same stat).
//! - [`stream::StreamState`]: one HTTP stream's header maps, bodies and
//!   properties as one filter sees them.

pub mod clock;
pub mod log;
pub mod metrics;
pub mod pairs;
pub mod shared;
pub mod state;
pub mod stream;

//! # sluice-test-upstream
//!
//! An HTTP/1.1 server for tests and benchmarks that behaves like a service
//! with finite capacity: at most `capacity` requests are served at once, the
//! rest wait in a FIFO queue (so latency grows with load, as it does in a real
//! overloaded service), each takes `service_ms` (± `jitter`), and a fraction
//! `error_rate` is answered with 500. Everything can be changed while it runs.
//!
//! - `GET /__upstream/stats`: counters as JSON ([`Stats`]).
//! - `POST /__upstream/behaviour`: a JSON object whose keys replace the
//!   current [`Behaviour`]'s (e.g. `{"service_ms": 200}`).
//! - Any other request is served. Per-request overrides: `x-upstream-delay-ms`
//!   (service time of this request) and `x-upstream-status` (its status).
//!
//! Responses carry `x-upstream-name` so routing tests can see who answered.

mod gate;
mod server;
mod stats;

pub use server::{Behaviour, Upstream};
pub use stats::Stats;

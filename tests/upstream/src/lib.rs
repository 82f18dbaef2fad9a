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
//!   (service time of this request), `x-upstream-status` (its status) and
//!   `x-upstream-fault` (`close`: drop the connection without answering;
//!   `abort-body`: send the head and part of the body, then drop it).
//!
//! Responses carry `x-upstream-name` so routing tests can see who answered,
//! and with `x-upstream-echo: a,b` the request headers `a` and `b` as they
//! arrived (`x-upstream-echo-a`, ...), so tests can see what a filter removed.

mod fault;
mod gate;
mod server;
mod stats;

pub use server::{Behaviour, Upstream};
pub use stats::Stats;

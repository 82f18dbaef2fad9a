//! # sluice-traffic
//!
//! Requests for the harness to replay, each with its arrival time in virtual
//! time ([`RequestSpec`]). Sources:
//!
//! - generators ([`generator`]): a rate shape ([`shape::RateShape`]: constant,
//!   step, ramp, spike, periodic) and a weighted request mix ([`mix`]),
//!   arrivals drawn as a Poisson process with a seed;
//! - traces ([`trace`]): Sluice's JSON lines, Envoy JSON access logs, and
//!   Common/Combined Log Format access logs (Apache, NGINX), with their real
//!   arrival times.
//!
//! [`merge`] interleaves several sources by arrival time. Generators are
//! lazy and deterministic for a seed ([`rng`] is the crate's own SplitMix64,
//! so a seed means the same traffic on every platform and version). Every
//! configuration type deserializes from the scenario file and refuses unknown
//! fields; every error ([`TrafficError`]) names the place (`traffic[2].rate`,
//! `traces/day1.log:17`) and the problem.

pub mod duration;
pub mod error;
pub mod generator;
mod http;
pub mod merge;
pub mod mix;
pub mod request;
pub mod rng;
pub mod shape;
pub mod trace;
mod weighted;

pub use duration::Dur;
pub use error::TrafficError;
pub use request::{Recorded, RequestSpec};

//! Scenario files: what to replay and what to expect.
//!
//! A scenario (YAML or JSON) names the filter chain (modules by path and
//! their plugin configurations), the workers, the route and upstream
//! clusters, the traffic (generators and traces), scripted targets for
//! `http_call`/`grpc_call`, the duration and seed, and SLO assertions. A bad
//! scenario is refused with the file, the field and the problem.

pub mod assertions;
pub mod load;
pub mod spec;

pub use load::{load, Loaded};
pub use spec::ScenarioSpec;

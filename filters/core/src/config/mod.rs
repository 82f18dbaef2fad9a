//! Plugin configuration: raw JSON types, validated into domain types.
//!
//! Each section is read from the parsed JSON by a function that checks types,
//! fills defaults, refuses unknown keys and validates values (`json::Object`),
//! producing the validated type the policy uses. Reading stops at the first
//! problem and returns a [`ConfigError`] naming the field; nothing is applied
//! unless the whole document is valid.

mod adaptive;
mod admission;
mod classes;
mod error;
mod json;
mod router;
mod rules;
mod shed;
mod slo;
mod throttle;
mod trust;
mod validate;
mod value;

pub use adaptive::AdaptiveLimit;
pub use admission::Admission;
pub use error::ConfigError;
pub use router::{ClusterConfig, OutlierParams, RouterConfig, MAX_CLUSTERS, MAX_ROUTE_RULES};
pub use rules::MAX_RULES;
pub use shed::ShedResponse;
pub use throttle::{LimitConfig, Mode, RouteLimit, ThrottleConfig, MAX_ROUTES};

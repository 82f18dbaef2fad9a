//! Plugin configuration: raw JSON types, validated into domain types.
//!
//! Every section has a `Raw*` type that serde decodes with
//! `deny_unknown_fields`, and a validated type the policy uses. Decoding and
//! validation stop at the first problem and return a [`ConfigError`] naming the
//! field; nothing is applied unless the whole document is valid.

mod adaptive;
mod classes;
mod error;
pub mod json;
mod shed;
mod throttle;
mod validate;

pub use adaptive::AdaptiveLimit;
pub use error::ConfigError;
pub use shed::ShedResponse;
pub use throttle::{LimitConfig, Mode, ThrottleConfig};

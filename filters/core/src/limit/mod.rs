//! Concurrency limits and how they are divided among priority classes.

pub mod gradient;
mod headroom;
pub mod latency;
pub mod reservation;
pub mod success_rate;
pub mod tuner;

pub use headroom::class_threshold;

/// `value` held within `[min, max]` (`min` for NaN). Unlike `f64::clamp`,
/// which asserts `min <= max` and so links `core::fmt`'s float formatting
/// (about 14 KB of every module) for its panic message, it cannot panic.
pub fn within(value: f64, min: f64, max: f64) -> f64 {
    value.max(min).min(max)
}

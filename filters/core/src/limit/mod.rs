//! Concurrency limits and how they are divided among priority classes.

pub mod gradient;
mod headroom;
pub mod latency;
pub mod success_rate;
pub mod tuner;

pub use headroom::class_threshold;

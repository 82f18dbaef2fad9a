//! Concurrency limits and how they are divided among priority classes.

mod headroom;

pub use headroom::class_threshold;

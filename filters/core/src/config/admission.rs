//! The `admission` key: how the limit is divided among priority classes.
//!
//! ```json
//! {"admission": {"priority": "strict", "headroom_tail": 0.001, "window_ms": 1000}}
//! ```
//! - `priority`: `strict` (the default) keeps, below each class, the slots
//!   the classes above it are measured to need (`limit::reservation`), with
//!   each class's `share` as a cap; `shares` admits each class up to its
//!   share of the limit and nothing else (the behaviour before strict
//!   admission).
//! - `headroom_tail`: how often a class above may find the limit full,
//!   in [0.000001, 0.5]: the headroom below it is sized for that
//!   (`limit::reservation::ladder_headroom`).
//! - `window_ms`: how long per-class demand is counted before it rolls
//!   (the estimate spans the last whole window and the current one).

use super::adaptive;
use super::error::ConfigError;
use super::json::Object;
use std::time::Duration;

/// A validated `admission` section.
#[derive(Clone, Debug, PartialEq)]
pub struct Admission {
    /// True for strict priority, false for fixed shares only.
    pub strict: bool,
    pub headroom_tail: f64,
    pub window: Duration,
}

pub(crate) fn read(mut raw: Object<'_>, tick: Duration) -> Result<Admission, ConfigError> {
    let strict = raw.choice("priority", &["strict", "shares"], 0)? == 0;
    let headroom_tail = raw.f64_in("headroom_tail", 0.001, 0.000_001, 0.5)?;
    let window = adaptive::window(&mut raw, "window_ms", 1000, 60_000, tick)?;
    raw.finish()?;
    Ok(Admission {
        strict,
        headroom_tail,
        window,
    })
}

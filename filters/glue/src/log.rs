//! Logging through the host, formatting only when the level is enabled.
//!
//! Messages go to Envoy's `wasm` log component, prefixed by Envoy with the
//! plugin name and root id.

use crate::hostcalls::{self, LogLevel};

/// True if the host would print a message at `level`.
pub fn enabled(level: LogLevel) -> bool {
    hostcalls::log_level()
        .map(|host| host <= level as u32)
        .unwrap_or(true)
}

pub fn log(level: LogLevel, message: impl FnOnce() -> String) {
    if enabled(level) {
        hostcalls::log(level, &message());
    }
}

pub fn debug(message: impl FnOnce() -> String) {
    log(LogLevel::Debug, message)
}

pub fn info(message: impl FnOnce() -> String) {
    log(LogLevel::Info, message)
}

pub fn warn(message: impl FnOnce() -> String) {
    log(LogLevel::Warn, message)
}

/// Errors are always formatted: they are rare and must not be lost.
pub fn error(message: &str) {
    hostcalls::log(LogLevel::Error, message);
}

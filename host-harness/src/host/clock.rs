//! Virtual time, shared by the simulation, the proxy-wasm clock and WASI.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Wall-clock time at virtual time zero: 2026-01-01T00:00:00Z. Fixed so
/// that a replay is identical from run to run.
pub const EPOCH_NANOS: u64 = 1_767_225_600 * 1_000_000_000;

/// The simulation's clock. Cloning shares it.
#[derive(Clone, Debug, Default)]
pub struct VirtualClock {
    nanos: Arc<AtomicU64>,
}

impl VirtualClock {
    pub fn new() -> Self {
        Self::default()
    }

    /// Virtual time since the scenario start.
    pub fn now(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::Relaxed))
    }

    pub fn set(&self, t: Duration) {
        self.nanos.store(
            u64::try_from(t.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// Wall-clock nanoseconds since the Unix epoch, as proxy-wasm reports it.
    pub fn wall_nanos(&self) -> u64 {
        EPOCH_NANOS.saturating_add(self.nanos.load(Ordering::Relaxed))
    }
}

/// WASI's wall clock, reading virtual time.
#[derive(Debug)]
pub struct WasiWall(pub VirtualClock);

impl wasmtime_wasi::HostWallClock for WasiWall {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(1)
    }
    fn now(&self) -> Duration {
        Duration::from_nanos(self.0.wall_nanos())
    }
}

/// WASI's monotonic clock, reading virtual time.
#[derive(Debug)]
pub struct WasiMonotonic(pub VirtualClock);

impl wasmtime_wasi::HostMonotonicClock for WasiMonotonic {
    fn resolution(&self) -> u64 {
        1
    }
    fn now(&self) -> u64 {
        u64::try_from(self.0.now().as_nanos()).unwrap_or(u64::MAX)
    }
}

//! `proxy_get_current_time_nanoseconds`, `proxy_set_tick_period_milliseconds`.
//!
//! Time is virtual: the simulation's clock, offset to a fixed wall-clock
//! epoch. A tick period belongs to the root context of the calling context
//! (one timer per root context per worker); the simulation re-arms it after
//! each `on_tick` returns.

use super::memory::{write_u64, HostCaller};
use super::status::{finish, HostError, BAD_ARGUMENT};
use crate::host::state::{Deferred, HostState};
use std::time::Duration;
use wasmtime::Linker;

pub fn add(linker: &mut Linker<HostState>) -> anyhow::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_get_current_time_nanoseconds",
        |mut c: HostCaller<'_>, ptr: u32| -> wasmtime::Result<u32> {
            let now = c.data().clock.wall_nanos();
            finish(write_u64(&mut c, ptr, now))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_tick_period_milliseconds",
        |mut c: HostCaller<'_>, period_ms: u32| -> wasmtime::Result<u32> {
            let s = c.data_mut();
            finish((|| {
                let root = s
                    .active_root_index()
                    .ok_or(HostError::Status(BAD_ARGUMENT))?;
                if let Some(r) = s.roots.get_mut(root) {
                    r.tick_period = Duration::from_millis(u64::from(period_ms));
                }
                s.deferred.push(Deferred::TickPeriod { root_index: root });
                Ok(())
            })())
        },
    )?;
    Ok(())
}

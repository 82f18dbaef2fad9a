//! `proxy_log`, `proxy_get_log_level`.

use super::memory::{read_string, write_u32, HostCaller};
use super::status::{finish, HostError, BAD_ARGUMENT};
use crate::host::log::LogLine;
use crate::host::state::HostState;
use wasmtime::Linker;

pub fn add(linker: &mut Linker<HostState>) -> anyhow::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_log",
        |mut c: HostCaller<'_>, level: u32, ptr: u32, len: u32| -> wasmtime::Result<u32> {
            finish((|| {
                if level > 5 {
                    return Err(HostError::Status(BAD_ARGUMENT));
                }
                let message = read_string(&mut c, ptr, len)?;
                let s = c.data();
                let plugin = s
                    .active_root_index()
                    .and_then(|i| s.roots.get(i))
                    .map_or_else(|| s.vm_id.clone(), |r| r.name.clone());
                let line = LogLine {
                    at: s.clock.now(),
                    worker: s.vm.worker,
                    plugin,
                    level,
                    message,
                };
                s.lock_log().push(line);
                Ok(())
            })())
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_log_level",
        |mut c: HostCaller<'_>, ptr: u32| -> wasmtime::Result<u32> {
            let level = c.data().log_level;
            finish(write_u32(&mut c, ptr, level))
        },
    )?;
    Ok(())
}

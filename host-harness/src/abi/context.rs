//! `proxy_set_effective_context`, `proxy_done`, `proxy_get_status`.

use super::memory::{copy_out, write_u32, HostCaller};
use super::status::{finish, HostError, BAD_ARGUMENT};
use crate::host::state::{Deferred, HostState};
use wasmtime::Linker;

pub fn add(linker: &mut Linker<HostState>) -> anyhow::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_set_effective_context",
        |mut c: HostCaller<'_>, id: u32| -> wasmtime::Result<u32> {
            let s = c.data_mut();
            finish(if s.contexts.contains_key(&id) {
                s.effective_context_id = id;
                Ok(())
            } else {
                s.refused("proxy_set_effective_context");
                Err(HostError::Status(BAD_ARGUMENT))
            })
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_done",
        |mut c: HostCaller<'_>| -> wasmtime::Result<u32> {
            let s = c.data_mut();
            let context_id = s.active_context();
            s.deferred.push(Deferred::Done { context_id });
            finish(Ok(()))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_status",
        |mut c: HostCaller<'_>, cp: u32, mpp: u32, msp: u32| -> wasmtime::Result<u32> {
            finish((|| -> Result<(), HostError> {
                let (code, message) = c.data().status.clone();
                write_u32(&mut c, cp, code)?;
                copy_out(&mut c, &message, mpp, msp)
            })())
        },
    )?;
    Ok(())
}

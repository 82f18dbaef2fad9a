//! Shared queues: register, resolve, enqueue, dequeue. `on_queue_ready` is
//! delivered to the last registrant, on its own worker, after the enqueuing
//! callback returns.

use super::memory::{copy_out, read, read_string, write_u32, HostCaller};
use super::status::{finish, HostError, BAD_ARGUMENT, EMPTY, NOT_FOUND};
use crate::host::shared::{Registrant, SharedError};
use crate::host::state::{Deferred, HostState};
use wasmtime::Linker;

fn status(e: SharedError) -> HostError {
    HostError::Status(match e {
        SharedError::Empty => EMPTY,
        _ => NOT_FOUND,
    })
}

pub fn add(linker: &mut Linker<HostState>) -> anyhow::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_register_shared_queue",
        |mut c: HostCaller<'_>, np: u32, ns: u32, tp: u32| -> wasmtime::Result<u32> {
            finish((|| {
                let name = read(&mut c, np, ns)?;
                let s = c.data();
                let root = s
                    .active_root_index()
                    .and_then(|i| s.roots.get(i))
                    .ok_or(HostError::Status(BAD_ARGUMENT))?;
                let registrant = Registrant {
                    vm: s.vm,
                    root_context_id: root.context_id,
                };
                let token = s.lock_shared().register_queue(&s.vm_id, &name, registrant);
                write_u32(&mut c, tp, token)
            })())
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_resolve_shared_queue",
        |mut c: HostCaller<'_>,
         vp: u32,
         vs: u32,
         np: u32,
         ns: u32,
         tp: u32|
         -> wasmtime::Result<u32> {
            finish((|| {
                let vm_id = read_string(&mut c, vp, vs)?;
                let name = read(&mut c, np, ns)?;
                let s = c.data();
                let vm_id = if vm_id.is_empty() {
                    s.vm_id.clone()
                } else {
                    vm_id
                };
                let token = s
                    .lock_shared()
                    .resolve_queue(&vm_id, &name)
                    .map_err(status)?;
                write_u32(&mut c, tp, token)
            })())
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_enqueue_shared_queue",
        |mut c: HostCaller<'_>, token: u32, dp: u32, ds: u32| -> wasmtime::Result<u32> {
            finish((|| {
                let data = read(&mut c, dp, ds)?;
                let s = c.data_mut();
                let registrant = s.lock_shared().enqueue(token, &data).map_err(status)?;
                s.deferred.push(Deferred::QueueReady { registrant, token });
                Ok(())
            })())
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_dequeue_shared_queue",
        |mut c: HostCaller<'_>, token: u32, dpp: u32, dsp: u32| -> wasmtime::Result<u32> {
            finish((|| {
                let item = c.data().lock_shared().dequeue(token).map_err(status)?;
                copy_out(&mut c, &item, dpp, dsp)
            })())
        },
    )?;
    Ok(())
}

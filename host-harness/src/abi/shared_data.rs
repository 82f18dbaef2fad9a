//! `proxy_get_shared_data`, `proxy_set_shared_data`, scoped to the VM's
//! `vm_id` (see [`crate::host::shared`]).

use super::memory::{copy_out, read, write_u32, HostCaller};
use super::status::{finish, HostError, CAS_MISMATCH, NOT_FOUND};
use crate::host::shared::SharedError;
use crate::host::state::HostState;
use wasmtime::Linker;

pub fn add(linker: &mut Linker<HostState>) -> anyhow::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_get_shared_data",
        |mut c: HostCaller<'_>,
         kp: u32,
         ks: u32,
         vpp: u32,
         vsp: u32,
         cp: u32|
         -> wasmtime::Result<u32> {
            finish((|| {
                let key = read(&mut c, kp, ks)?;
                let s = c.data();
                let (value, cas) = s
                    .lock_shared()
                    .get(&s.vm_id, &key)
                    .map_err(|_| HostError::Status(NOT_FOUND))?;
                copy_out(&mut c, &value, vpp, vsp)?;
                write_u32(&mut c, cp, cas)
            })())
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_shared_data",
        |mut c: HostCaller<'_>,
         kp: u32,
         ks: u32,
         vp: u32,
         vs: u32,
         cas: u32|
         -> wasmtime::Result<u32> {
            finish((|| {
                let key = read(&mut c, kp, ks)?;
                let value = read(&mut c, vp, vs)?;
                let s = c.data();
                s.lock_shared()
                    .set(&s.vm_id, &key, &value, cas)
                    .map_err(|e| match e {
                        SharedError::CasMismatch => HostError::Status(CAS_MISMATCH),
                        _ => HostError::Status(NOT_FOUND),
                    })
            })())
        },
    )?;
    Ok(())
}

//! Buffers: bodies, configurations, call responses, call data.
//!
//! Buffer types: 0 request body, 1 response body, 2/3 downstream/upstream
//! data (network filters; not modelled: `NotFound`), 4 `http_call` response
//! body, 5 gRPC receive buffer, 6 VM configuration (in `on_vm_start`),
//! 7 plugin configuration (in `on_configure`), 8 call data (foreign function
//! arguments). A buffer not available in the current callback is `NotFound`,
//! as in proxy-wasm-cpp-host.

use super::memory::{copy_out, read, write_u32, HostCaller};
use super::status::{finish, HostError, BAD_ARGUMENT, NOT_FOUND, UNIMPLEMENTED};
use crate::host::state::{Callback, HostState};
use wasmtime::Linker;

const MAX_BUFFER_TYPE: u32 = 8;

/// A copy of buffer `t` as the active context sees it.
fn snapshot(s: &HostState, t: u32) -> Result<Vec<u8>, HostError> {
    if t > MAX_BUFFER_TYPE {
        return Err(HostError::Status(BAD_ARGUMENT));
    }
    let not_found = HostError::Status(NOT_FOUND);
    match t {
        0 | 1 => {
            let h = s.active_http().ok_or(not_found)?;
            let d = h.stream.lock();
            match (t, h.access.request_body, h.access.response_body) {
                (0, true, _) => Ok(d.request_body.clone()),
                (1, _, true) => Ok(d.response_body.clone()),
                _ => Err(HostError::Status(NOT_FOUND)),
            }
        }
        4 | 5 => s
            .call_response
            .as_ref()
            .map(|r| r.body.clone())
            .ok_or(not_found),
        6 if s.callback == Callback::VmStart => Ok(s.vm_configuration.to_vec()),
        7 if s.callback == Callback::Configure => s
            .active_root_index()
            .and_then(|i| s.roots.get(i))
            .map(|r| r.configuration.to_vec())
            .ok_or(not_found),
        8 if s.callback == Callback::ForeignFunction => Ok(s.call_data.clone()),
        _ => Err(not_found),
    }
}

pub fn add(linker: &mut Linker<HostState>) -> anyhow::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_get_buffer_bytes",
        |mut c: HostCaller<'_>,
         t: u32,
         start: u32,
         len: u32,
         pp: u32,
         sp: u32|
         -> wasmtime::Result<u32> {
            finish((|| {
                let buf = snapshot(c.data(), t)?;
                // proxy-wasm-cpp-host adds start and length as 64-bit words,
                // so a length of u32::MAX from any start means "to the end".
                let (start, len) = (start as usize, len as usize);
                let slice = if start >= buf.len() {
                    &[][..]
                } else {
                    &buf[start..start.saturating_add(len).min(buf.len())]
                };
                if slice.is_empty() {
                    write_u32(&mut c, pp, 0)?;
                    return write_u32(&mut c, sp, 0);
                }
                copy_out(&mut c, slice, pp, sp)
            })())
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_buffer_status",
        |mut c: HostCaller<'_>, t: u32, lp: u32, fp: u32| -> wasmtime::Result<u32> {
            finish((|| {
                let len = snapshot(c.data(), t)?.len();
                write_u32(&mut c, lp, len as u32)?;
                write_u32(&mut c, fp, 0)
            })())
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_buffer_bytes",
        |mut c: HostCaller<'_>,
         t: u32,
         start: u32,
         len: u32,
         dp: u32,
         ds: u32|
         -> wasmtime::Result<u32> {
            finish((|| {
                snapshot(c.data(), t)?;
                if t != 0 && t != 1 {
                    // Configurations and call responses are read-only.
                    return Err(HostError::Status(UNIMPLEMENTED));
                }
                let data = read(&mut c, dp, ds)?;
                let h = c.data().active_http().ok_or(HostError::Status(NOT_FOUND))?;
                let mut d = h.stream.lock();
                let body = if t == 0 {
                    &mut d.request_body
                } else {
                    &mut d.response_body
                };
                // Envoy's semantics: start 0 drains `len` bytes and prepends;
                // start at or past the end appends; anything else is refused.
                if start == 0 {
                    let drain = (len as usize).min(body.len());
                    body.drain(..drain);
                    body.splice(0..0, data);
                    Ok(())
                } else if start as usize >= body.len() {
                    body.extend_from_slice(&data);
                    Ok(())
                } else {
                    Err(HostError::Status(BAD_ARGUMENT))
                }
            })())
        },
    )?;
    Ok(())
}

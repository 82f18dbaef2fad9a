//! `proxy_call_foreign_function`. Envoy registers a handful of foreign
//! functions; the harness models `clear_route_cache` (which marks the route
//! for recomputation) and answers `NotFound` for the rest, as Envoy does for
//! an unknown name.

use super::memory::{read, read_string, write_u32, HostCaller};
use super::status::{finish, HostError, NOT_FOUND};
use crate::host::state::HostState;
use wasmtime::Linker;

pub fn add(linker: &mut Linker<HostState>) -> anyhow::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_call_foreign_function",
        |mut c: HostCaller<'_>,
         np: u32,
         ns: u32,
         ap: u32,
         asz: u32,
         rp: u32,
         rsp: u32|
         -> wasmtime::Result<u32> {
            finish((|| {
                let name = read_string(&mut c, np, ns)?;
                read(&mut c, ap, asz)?;
                match name.as_str() {
                    "clear_route_cache" => {
                        if let Some(h) = c.data_mut().active_http_mut() {
                            h.stream.lock().request_headers_modified = true;
                        }
                        if rp != 0 {
                            write_u32(&mut c, rp, 0)?;
                        }
                        if rsp != 0 {
                            write_u32(&mut c, rsp, 0)?;
                        }
                        Ok(())
                    }
                    _ => Err(HostError::Status(NOT_FOUND)),
                }
            })())
        },
    )?;
    Ok(())
}

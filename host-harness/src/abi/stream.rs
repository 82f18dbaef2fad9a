//! Stream control: `proxy_continue_stream`, `proxy_close_stream`,
//! `proxy_send_local_response`, and the ABI 0.2.0 names
//! `proxy_continue_request`, `proxy_continue_response`,
//! `proxy_clear_route_cache`. All take effect after the current callback
//! returns, as in Envoy.

use super::memory::{read, HostCaller};
use super::status::{finish, HostError, BAD_ARGUMENT, NOT_FOUND};
use crate::host::pairs;
use crate::host::state::{Deferred, HostState};
use wasmtime::Linker;

/// `WasmStreamType::MAX`: request, response, downstream, upstream.
const MAX_STREAM_TYPE: u32 = 3;

fn defer_continue(s: &mut HostState, stream: u32, close: bool) -> Result<(), HostError> {
    if stream > MAX_STREAM_TYPE {
        return Err(HostError::Status(BAD_ARGUMENT));
    }
    let context_id = s.active_context();
    if s.active_http().is_none() {
        return Err(HostError::Status(NOT_FOUND));
    }
    s.deferred.push(if close {
        Deferred::Close { context_id, stream }
    } else {
        Deferred::Continue { context_id, stream }
    });
    Ok(())
}

pub fn add(linker: &mut Linker<HostState>) -> anyhow::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_continue_stream",
        |mut c: HostCaller<'_>, t: u32| -> wasmtime::Result<u32> {
            finish(defer_continue(c.data_mut(), t, false))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_close_stream",
        |mut c: HostCaller<'_>, t: u32| -> wasmtime::Result<u32> {
            finish(defer_continue(c.data_mut(), t, true))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_continue_request",
        |mut c: HostCaller<'_>| -> wasmtime::Result<u32> {
            finish(defer_continue(c.data_mut(), 0, false))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_continue_response",
        |mut c: HostCaller<'_>| -> wasmtime::Result<u32> {
            finish(defer_continue(c.data_mut(), 1, false))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_clear_route_cache",
        |mut c: HostCaller<'_>| -> wasmtime::Result<u32> {
            finish(match c.data_mut().active_http_mut() {
                Some(h) => {
                    h.stream.lock().request_headers_modified = true;
                    Ok(())
                }
                None => Err(HostError::Status(NOT_FOUND)),
            })
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_send_local_response",
        |mut c: HostCaller<'_>,
         status: u32,
         dp: u32,
         ds: u32,
         bp: u32,
         bs: u32,
         hp: u32,
         hs: u32,
         grpc_status: i32|
         -> wasmtime::Result<u32> {
            finish((|| {
                let details = String::from_utf8_lossy(&read(&mut c, dp, ds)?).into_owned();
                let body = read(&mut c, bp, bs)?;
                let headers = pairs::deserialize(&read(&mut c, hp, hs)?).unwrap_or_default();
                let s = c.data_mut();
                let context_id = s.active_context();
                let h = s.active_http_mut().ok_or(HostError::Status(NOT_FOUND))?;
                if h.local_reply_sent {
                    // Envoy holds the first local reply and refuses another.
                    return Err(HostError::Status(BAD_ARGUMENT));
                }
                h.local_reply_sent = true;
                s.deferred.push(Deferred::LocalReply {
                    context_id,
                    status,
                    details,
                    body,
                    headers,
                    grpc_status,
                });
                Ok(())
            })())
        },
    )?;
    Ok(())
}

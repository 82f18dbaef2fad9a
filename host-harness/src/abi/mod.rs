//! The proxy-wasm ABI (0.2.1 and 0.2.0) as host functions, split by area.
//!
//! Every function reads guest memory through [`memory`], which checks bounds,
//! and answers with a proxy-wasm status: a bad pointer is
//! `InvalidMemoryAccess`, a bad id or a map not available in the current
//! callback is `BadArgument` or `NotFound` as Envoy answers, something the
//! harness does not model is `Unimplemented`. A host function never panics
//! on what a guest passes; the only error it raises is a trap of the guest's
//! own allocator while the host hands it a buffer.

pub mod buffers;
pub mod calls;
pub mod context;
pub mod foreign;
pub mod headers;
pub mod logging;
pub mod memory;
pub mod metrics;
pub mod properties;
pub mod queues;
pub mod shared_data;
pub mod status;
pub mod stream;
pub mod time;

use crate::host::state::HostState;
use wasmtime::Linker;

/// Adds every `env` import and WASI preview 1 to `linker`.
pub fn add_to_linker(linker: &mut Linker<HostState>) -> anyhow::Result<()> {
    logging::add(linker)?;
    time::add(linker)?;
    headers::add(linker)?;
    buffers::add(linker)?;
    properties::add(linker)?;
    shared_data::add(linker)?;
    queues::add(linker)?;
    metrics::add(linker)?;
    calls::add(linker)?;
    stream::add(linker)?;
    context::add(linker)?;
    foreign::add(linker)?;
    // Emscripten-built modules import these; Envoy provides them as no-ops.
    linker.func_wrap("env", "pthread_equal", |a: u32, b: u32| -> u32 {
        u32::from(a == b)
    })?;
    linker.func_wrap("env", "emscripten_notify_memory_growth", |_: u32| {})?;
    wasmtime_wasi::p1::add_to_linker_sync(linker, |s: &mut HostState| &mut s.wasi)?;
    Ok(())
}

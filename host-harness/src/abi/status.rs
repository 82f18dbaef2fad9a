//! proxy-wasm status codes (the ABI's `WasmResult`).

pub const OK: u32 = 0;
pub const NOT_FOUND: u32 = 1;
pub const BAD_ARGUMENT: u32 = 2;
pub const SERIALIZATION_FAILURE: u32 = 3;
pub const INVALID_MEMORY_ACCESS: u32 = 6;
pub const EMPTY: u32 = 7;
pub const CAS_MISMATCH: u32 = 8;
pub const INTERNAL_FAILURE: u32 = 10;
pub const UNIMPLEMENTED: u32 = 12;

/// Why a host call did not succeed: a status for the guest, or a trap.
#[derive(Debug)]
pub enum HostError {
    Status(u32),
    Trap(wasmtime::Error),
}

impl From<u32> for HostError {
    fn from(s: u32) -> Self {
        HostError::Status(s)
    }
}

/// Turns a host call's outcome into what the guest receives.
pub fn finish(r: Result<(), HostError>) -> wasmtime::Result<u32> {
    match r {
        Ok(()) => Ok(OK),
        Err(HostError::Status(s)) => Ok(s),
        Err(HostError::Trap(e)) => Err(e),
    }
}

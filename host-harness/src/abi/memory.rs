//! Guest memory access with bounds checks, and handing buffers to the guest.
//!
//! Buffers returned to a guest are allocated by the guest itself, with its
//! exported `malloc` or `proxy_on_memory_allocate` (Envoy prefers `malloc`),
//! and their address and size are written where the guest asked.

use super::status::{HostError, INVALID_MEMORY_ACCESS};
use crate::host::state::{Callback, HostState};
use wasmtime::Caller;

pub type HostCaller<'a> = Caller<'a, HostState>;

fn range(ptr: u32, len: u32, size: usize) -> Result<std::ops::Range<usize>, HostError> {
    let start = ptr as usize;
    let end = start
        .checked_add(len as usize)
        .ok_or(HostError::Status(INVALID_MEMORY_ACCESS))?;
    if end > size {
        return Err(HostError::Status(INVALID_MEMORY_ACCESS));
    }
    Ok(start..end)
}

/// Copies `len` bytes at `ptr` out of guest memory.
pub fn read(caller: &mut HostCaller<'_>, ptr: u32, len: u32) -> Result<Vec<u8>, HostError> {
    let mem = caller
        .data()
        .guest
        .as_ref()
        .map(|g| g.memory)
        .ok_or(HostError::Status(INVALID_MEMORY_ACCESS))?;
    let data = mem.data(&*caller);
    let r = range(ptr, len, data.len())?;
    Ok(data[r].to_vec())
}

/// Reads a UTF-8 string (lossily: names from a guest may be anything).
pub fn read_string(caller: &mut HostCaller<'_>, ptr: u32, len: u32) -> Result<String, HostError> {
    Ok(String::from_utf8_lossy(&read(caller, ptr, len)?).into_owned())
}

/// Writes `bytes` at `ptr`.
pub fn write(caller: &mut HostCaller<'_>, ptr: u32, bytes: &[u8]) -> Result<(), HostError> {
    let mem = caller
        .data()
        .guest
        .as_ref()
        .map(|g| g.memory)
        .ok_or(HostError::Status(INVALID_MEMORY_ACCESS))?;
    let data = mem.data_mut(&mut *caller);
    let r = range(ptr, bytes.len() as u32, data.len())?;
    data[r].copy_from_slice(bytes);
    Ok(())
}

pub fn write_u32(caller: &mut HostCaller<'_>, ptr: u32, v: u32) -> Result<(), HostError> {
    write(caller, ptr, &v.to_le_bytes())
}

pub fn write_u64(caller: &mut HostCaller<'_>, ptr: u32, v: u64) -> Result<(), HostError> {
    write(caller, ptr, &v.to_le_bytes())
}

/// Allocates `bytes.len()` bytes in the guest, copies `bytes` there, and
/// writes the address to `ptr_ptr` and the size to `size_ptr`.
pub fn copy_out(
    caller: &mut HostCaller<'_>,
    bytes: &[u8],
    ptr_ptr: u32,
    size_ptr: u32,
) -> Result<(), HostError> {
    let len = u32::try_from(bytes.len()).map_err(|_| HostError::Status(INVALID_MEMORY_ACCESS))?;
    // Check the out-pointers before allocating, so a bad pointer leaks nothing.
    let size = caller
        .data()
        .guest
        .as_ref()
        .map(|g| g.memory.data_size(&*caller))
        .ok_or(HostError::Status(INVALID_MEMORY_ACCESS))?;
    range(ptr_ptr, 4, size)?;
    range(size_ptr, 4, size)?;
    let addr = allocate(caller, len)?;
    if len > 0 {
        write(caller, addr, bytes)?;
    }
    write_u32(caller, ptr_ptr, addr)?;
    write_u32(caller, size_ptr, len)
}

/// Calls the guest's allocator. The callback in progress is remembered so
/// that a trap inside the allocator is reported against the right place.
pub fn allocate(caller: &mut HostCaller<'_>, len: u32) -> Result<u32, HostError> {
    let alloc = caller
        .data()
        .guest
        .as_ref()
        .map(|g| g.alloc.clone())
        .ok_or(HostError::Status(INVALID_MEMORY_ACCESS))?;
    let outer = caller.data().callback;
    caller.data_mut().callback = Callback::MemoryAllocate;
    let r = alloc.call(&mut *caller, len);
    caller.data_mut().callback = outer;
    let addr = r.map_err(HostError::Trap)?;
    if addr == 0 && len > 0 {
        return Err(HostError::Status(INVALID_MEMORY_ACCESS));
    }
    Ok(addr)
}

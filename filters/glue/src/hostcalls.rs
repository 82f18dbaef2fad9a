//! The proxy-wasm host calls Sluice uses, with every status mapped to a
//! `Result`.
//!
//! These are the same `env` imports the proxy-wasm SDK declares (ABI 0.2.1),
//! declared again here with `u32` statuses: the SDK's wrappers `panic!` on
//! statuses they do not expect and return the status as a Rust enum, which is
//! undefined behaviour for a value the enum does not list. Memory the host
//! returns was allocated through the SDK's exported `proxy_on_memory_allocate`
//! (a `Vec<u8>` of capacity `size`, forgotten), so it is taken back with
//! `Vec::from_raw_parts(ptr, size, size)` exactly as the SDK does.
#![allow(unsafe_code)]
#![allow(clashing_extern_declarations)] // the SDK declares these with enum-typed statuses

use std::ptr::{null, null_mut};

/// A proxy-wasm status other than `Ok`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status(pub u32);

impl Status {
    pub const NOT_FOUND: Status = Status(1);
    pub const BAD_ARGUMENT: Status = Status(2);
    pub const CAS_MISMATCH: Status = Status(8);
    pub const UNIMPLEMENTED: Status = Status(12);
}

/// Header maps (`proxy_wasm::types::MapType` values).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum MapType {
    RequestHeaders = 0,
    ResponseHeaders = 2,
}

/// Buffers (`proxy_wasm::types::BufferType` values).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum BufferType {
    VmConfiguration = 6,
    PluginConfiguration = 7,
}

/// Metric kinds (`proxy_wasm::types::MetricType` values).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum MetricKind {
    Counter = 0,
    Gauge = 1,
    Histogram = 2,
}

/// Log levels (`proxy_wasm::types::LogLevel` values).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u32)]
pub enum LogLevel {
    Trace = 0,
    Debug = 1,
    Info = 2,
    Warn = 3,
    Error = 4,
    Critical = 5,
}

#[link(wasm_import_module = "env")]
extern "C" {
    fn proxy_log(level: u32, message_data: *const u8, message_size: usize) -> u32;
    fn proxy_get_log_level(return_level: *mut u32) -> u32;
    fn proxy_get_current_time_nanoseconds(return_time: *mut u64) -> u32;
    fn proxy_get_buffer_bytes(
        buffer_type: u32,
        start: usize,
        max_size: usize,
        return_buffer_data: *mut *mut u8,
        return_buffer_size: *mut usize,
    ) -> u32;
    fn proxy_get_header_map_value(
        map_type: u32,
        key_data: *const u8,
        key_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
    ) -> u32;
    fn proxy_add_header_map_value(
        map_type: u32,
        key_data: *const u8,
        key_size: usize,
        value_data: *const u8,
        value_size: usize,
    ) -> u32;
    fn proxy_replace_header_map_value(
        map_type: u32,
        key_data: *const u8,
        key_size: usize,
        value_data: *const u8,
        value_size: usize,
    ) -> u32;
    fn proxy_remove_header_map_value(map_type: u32, key_data: *const u8, key_size: usize) -> u32;
    fn proxy_get_property(
        path_data: *const u8,
        path_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
    ) -> u32;
    fn proxy_get_shared_data(
        key_data: *const u8,
        key_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
        return_cas: *mut u32,
    ) -> u32;
    fn proxy_set_shared_data(
        key_data: *const u8,
        key_size: usize,
        value_data: *const u8,
        value_size: usize,
        cas: u32,
    ) -> u32;
    fn proxy_send_local_response(
        status_code: u32,
        status_code_details_data: *const u8,
        status_code_details_size: usize,
        body_data: *const u8,
        body_size: usize,
        headers_data: *const u8,
        headers_size: usize,
        grpc_status: i32,
    ) -> u32;
    fn proxy_define_metric(
        metric_type: u32,
        name_data: *const u8,
        name_size: usize,
        return_id: *mut u32,
    ) -> u32;
    fn proxy_increment_metric(metric_id: u32, offset: i64) -> u32;
    fn proxy_record_metric(metric_id: u32, value: u64) -> u32;
}

fn check(status: u32) -> Result<(), Status> {
    if status == 0 {
        Ok(())
    } else {
        Err(Status(status))
    }
}

/// Takes ownership of a buffer the host allocated in guest memory.
///
/// # Safety
/// `data`/`size` must come from a host call that allocated them with
/// `proxy_on_memory_allocate(size)`, or `data` must be null.
unsafe fn take_buffer(data: *mut u8, size: usize) -> Vec<u8> {
    if data.is_null() {
        Vec::new()
    } else {
        // SAFETY: per the contract above, `data` is a forgotten Vec<u8> of
        // capacity `size` produced by the SDK's allocator.
        unsafe { Vec::from_raw_parts(data, size, size) }
    }
}

pub fn log(level: LogLevel, message: &str) {
    // SAFETY: pointer and length describe a live &str for the call.
    let _ = unsafe { proxy_log(level as u32, message.as_ptr(), message.len()) };
}

pub fn log_level() -> Result<u32, Status> {
    let mut level = 0u32;
    // SAFETY: the host writes one u32 through a valid pointer.
    check(unsafe { proxy_get_log_level(&mut level) })?;
    Ok(level)
}

pub fn current_time_nanos() -> Result<u64, Status> {
    let mut t = 0u64;
    // SAFETY: the host writes one u64 through a valid pointer.
    check(unsafe { proxy_get_current_time_nanoseconds(&mut t) })?;
    Ok(t)
}

pub fn buffer(buffer_type: BufferType, start: usize, max_size: usize) -> Result<Vec<u8>, Status> {
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: out-pointers are valid; the returned buffer is host-allocated.
    unsafe {
        check(proxy_get_buffer_bytes(
            buffer_type as u32,
            start,
            max_size,
            &mut data,
            &mut size,
        ))?;
        Ok(take_buffer(data, size))
    }
}

/// The value of header `key` in `map`; `Ok(None)` if absent.
pub fn header(map: MapType, key: &str) -> Result<Option<Vec<u8>>, Status> {
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: key is a live &str; out-pointers are valid.
    let status = unsafe {
        proxy_get_header_map_value(map as u32, key.as_ptr(), key.len(), &mut data, &mut size)
    };
    match check(status) {
        // SAFETY: on Ok the host allocated the value through our allocator.
        Ok(()) => Ok(Some(unsafe { take_buffer(data, size) })),
        Err(Status::NOT_FOUND) => Ok(None),
        Err(e) => Err(e),
    }
}

pub fn add_header(map: MapType, key: &str, value: &[u8]) -> Result<(), Status> {
    // SAFETY: key and value are live slices for the call.
    check(unsafe {
        proxy_add_header_map_value(
            map as u32,
            key.as_ptr(),
            key.len(),
            value.as_ptr(),
            value.len(),
        )
    })
}

pub fn replace_header(map: MapType, key: &str, value: &[u8]) -> Result<(), Status> {
    // SAFETY: key and value are live slices for the call.
    check(unsafe {
        proxy_replace_header_map_value(
            map as u32,
            key.as_ptr(),
            key.len(),
            value.as_ptr(),
            value.len(),
        )
    })
}

pub fn remove_header(map: MapType, key: &str) -> Result<(), Status> {
    // SAFETY: key is a live &str for the call.
    check(unsafe { proxy_remove_header_map_value(map as u32, key.as_ptr(), key.len()) })
}

/// A property by path (`["source", "address"]`); `Ok(None)` if absent.
pub fn property(path: &[&str]) -> Result<Option<Vec<u8>>, Status> {
    // Path segments are NUL-separated, as the SDK serializes them.
    let mut serialized = Vec::new();
    for (i, seg) in path.iter().enumerate() {
        if i > 0 {
            serialized.push(0);
        }
        serialized.extend_from_slice(seg.as_bytes());
    }
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: the path is a live buffer; out-pointers are valid.
    let status =
        unsafe { proxy_get_property(serialized.as_ptr(), serialized.len(), &mut data, &mut size) };
    match check(status) {
        // SAFETY: on Ok the host allocated the value through our allocator.
        Ok(()) => Ok(Some(unsafe { take_buffer(data, size) })),
        Err(Status::NOT_FOUND) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Shared data value and CAS token; `Ok(None)` if the key is absent.
pub fn shared_data(key: &str) -> Result<Option<(Vec<u8>, u32)>, Status> {
    let (mut data, mut size, mut cas) = (null_mut(), 0usize, 0u32);
    // SAFETY: key is a live &str; out-pointers are valid.
    let status =
        unsafe { proxy_get_shared_data(key.as_ptr(), key.len(), &mut data, &mut size, &mut cas) };
    match check(status) {
        // SAFETY: on Ok the host allocated the value through our allocator.
        Ok(()) => Ok(Some((unsafe { take_buffer(data, size) }, cas))),
        Err(Status::NOT_FOUND) => Ok(None),
        Err(e) => Err(e),
    }
}

pub fn set_shared_data(key: &str, value: &[u8], cas: u32) -> Result<(), Status> {
    // SAFETY: key and value are live slices for the call.
    check(unsafe {
        proxy_set_shared_data(key.as_ptr(), key.len(), value.as_ptr(), value.len(), cas)
    })
}

/// Sends a local reply; it takes effect when the current callback returns.
/// `grpc_status` is -1 for a plain HTTP reply.
pub fn send_local_response(
    status: u32,
    details: &str,
    body: &[u8],
    headers: &[(&str, &[u8])],
    grpc_status: i32,
) -> Result<(), Status> {
    let serialized = crate::pairs::serialize(headers);
    // SAFETY: all pointers describe live buffers for the call.
    check(unsafe {
        proxy_send_local_response(
            status,
            details.as_ptr(),
            details.len(),
            if body.is_empty() {
                null()
            } else {
                body.as_ptr()
            },
            body.len(),
            serialized.as_ptr(),
            serialized.len(),
            grpc_status,
        )
    })
}

pub fn define_metric(kind: MetricKind, name: &str) -> Result<u32, Status> {
    let mut id = 0u32;
    // SAFETY: name is a live &str; the host writes one u32.
    check(unsafe { proxy_define_metric(kind as u32, name.as_ptr(), name.len(), &mut id) })?;
    Ok(id)
}

pub fn increment_metric(id: u32, offset: i64) -> Result<(), Status> {
    // SAFETY: no pointers.
    check(unsafe { proxy_increment_metric(id, offset) })
}

pub fn record_metric(id: u32, value: u64) -> Result<(), Status> {
    // SAFETY: no pointers.
    check(unsafe { proxy_record_metric(id, value) })
}

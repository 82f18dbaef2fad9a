//! Shared data counters and a body hash.

use proxy_wasm::hostcalls;
use proxy_wasm::types::Status;

/// Shared-data key of the count of items `on_queue_ready` dequeued.
pub const DEQUEUED_KEY: &str = "conformance.queue.dequeued";

/// Most compare-and-swap attempts before giving up.
const CAS_ATTEMPTS: usize = 16;

/// Reads a decimal counter (0 when absent or unreadable) and its CAS.
pub fn read_counter(key: &str) -> (u64, Option<u32>) {
    match hostcalls::get_shared_data(key) {
        Ok((value, cas)) => {
            let n = value
                .and_then(|v| String::from_utf8(v).ok())
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            (n, cas)
        }
        Err(_) => (0, None),
    }
}

/// Adds one to a decimal counter with compare-and-swap; the new value.
pub fn increment(key: &str) -> Result<u64, Status> {
    for _ in 0..CAS_ATTEMPTS {
        let (n, cas) = read_counter(key);
        let next = n + 1;
        match hostcalls::set_shared_data(key, Some(next.to_string().as_bytes()), cas) {
            Ok(()) => return Ok(next),
            Err(Status::CasMismatch) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(Status::CasMismatch)
}

/// FNV-1a (64-bit) of `bytes` (Fowler, Noll, Vo; the published constants).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

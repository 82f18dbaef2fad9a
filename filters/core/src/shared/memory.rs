//! An in-memory [`SharedKv`] with Envoy's semantics, for tests and models.

use super::kv::{KvError, SharedKv};
use std::collections::HashMap;
use std::sync::Mutex;

/// Shared data as proxy-wasm-cpp-host implements it: one global CAS counter
/// that starts at 1 and skips 0; every successful `set` stamps the key with
/// the next value; `set` with token 0 always succeeds. Thread-safe, so tests
/// can hammer one store from many real threads.
#[derive(Debug)]
pub struct MemoryKv {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    map: HashMap<String, (Vec<u8>, u32)>,
    next_cas: u32,
}

impl Default for MemoryKv {
    fn default() -> Self {
        MemoryKv {
            inner: Mutex::new(Inner {
                map: HashMap::new(),
                next_cas: 1,
            }),
        }
    }
}

impl MemoryKv {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock only happens in a failing test;
        // keep going with the data as it is.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Overwrites `key` unconditionally, as a foreign writer would.
    pub fn force(&self, key: &str, value: &[u8]) {
        let _ = self.set(key, value, 0);
    }
}

impl SharedKv for MemoryKv {
    fn get(&self, key: &str) -> Result<Option<(Vec<u8>, u32)>, KvError> {
        Ok(self.lock().map.get(key).cloned())
    }

    fn set(&self, key: &str, value: &[u8], cas: u32) -> Result<(), KvError> {
        let mut inner = self.lock();
        if let Some((_, current)) = inner.map.get(key) {
            if cas != 0 && cas != *current {
                return Err(KvError::CasMismatch);
            }
        }
        let stamp = inner.next_cas;
        inner.next_cas = inner.next_cas.wrapping_add(1).max(1);
        inner.map.insert(key.to_string(), (value.to_vec(), stamp));
        Ok(())
    }
}

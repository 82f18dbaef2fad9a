//! Shared data and shared queues, as proxy-wasm-cpp-host (Envoy) keeps them.
//!
//! Shared data is one key-value map per `vm_id` with a process-wide CAS
//! counter that starts at 1 and skips 0; a `set` whose CAS is 0 always wins.
//! A shared queue is named by `(vm_id, name)`; registering it again moves the
//! notifications to the new registrant (the last registrant is notified),
//! and `on_queue_ready` is delivered on the registrant's own worker.

use std::collections::{HashMap, VecDeque};

/// Identifies a VM in the simulation: which worker, which VM group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VmKey {
    /// `None` for the main-thread VM, `Some(n)` for worker `n`.
    pub worker: Option<u32>,
    /// Index of the VM group (plugins sharing module, vm_id and vm config).
    pub group: u32,
}

/// Where `on_queue_ready` goes when a queue gets an item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Registrant {
    pub vm: VmKey,
    pub root_context_id: u32,
}

#[derive(Debug)]
struct Queue {
    items: VecDeque<Vec<u8>>,
    registrant: Registrant,
}

/// Errors with their proxy-wasm meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SharedError {
    NotFound,
    CasMismatch,
    Empty,
}

/// One vm_id's shared data: key -> (value, cas).
type Entries = HashMap<Vec<u8>, (Vec<u8>, u32)>;

/// Shared data and queues of one simulated Envoy process.
#[derive(Debug)]
pub struct SharedStore {
    data: HashMap<String, Entries>,
    next_cas: u32,
    queues: Vec<Queue>,
    queue_tokens: HashMap<(String, Vec<u8>), u32>,
}

impl Default for SharedStore {
    fn default() -> Self {
        SharedStore {
            data: HashMap::new(),
            next_cas: 1,
            queues: Vec::new(),
            queue_tokens: HashMap::new(),
        }
    }
}

impl SharedStore {
    pub fn get(&self, vm_id: &str, key: &[u8]) -> Result<(Vec<u8>, u32), SharedError> {
        self.data
            .get(vm_id)
            .and_then(|m| m.get(key))
            .cloned()
            .ok_or(SharedError::NotFound)
    }

    pub fn set(
        &mut self,
        vm_id: &str,
        key: &[u8],
        value: &[u8],
        cas: u32,
    ) -> Result<(), SharedError> {
        let stamp = self.next_cas;
        let map = self.data.entry(vm_id.to_string()).or_default();
        match map.get_mut(key) {
            Some(entry) => {
                if cas != 0 && cas != entry.1 {
                    return Err(SharedError::CasMismatch);
                }
                entry.0.clear();
                entry.0.extend_from_slice(value);
                entry.1 = stamp;
            }
            None => {
                map.insert(key.to_vec(), (value.to_vec(), stamp));
            }
        }
        self.next_cas = self.next_cas.wrapping_add(1);
        if self.next_cas == 0 {
            self.next_cas = 1;
        }
        Ok(())
    }

    /// Number of keys under `vm_id` (for reports and soak checks).
    pub fn key_count(&self, vm_id: &str) -> usize {
        self.data.get(vm_id).map_or(0, HashMap::len)
    }

    /// Every key under `vm_id`, sorted.
    pub fn keys(&self, vm_id: &str) -> Vec<Vec<u8>> {
        let mut keys: Vec<Vec<u8>> = self
            .data
            .get(vm_id)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        keys.sort();
        keys
    }

    /// Registers (or re-registers) a queue; returns its token (never 0).
    pub fn register_queue(&mut self, vm_id: &str, name: &[u8], registrant: Registrant) -> u32 {
        let k = (vm_id.to_string(), name.to_vec());
        if let Some(&token) = self.queue_tokens.get(&k) {
            if let Some(q) = self.queues.get_mut(token as usize - 1) {
                q.registrant = registrant;
            }
            return token;
        }
        self.queues.push(Queue {
            items: VecDeque::new(),
            registrant,
        });
        let token = self.queues.len() as u32;
        self.queue_tokens.insert(k, token);
        token
    }

    pub fn resolve_queue(&self, vm_id: &str, name: &[u8]) -> Result<u32, SharedError> {
        self.queue_tokens
            .get(&(vm_id.to_string(), name.to_vec()))
            .copied()
            .ok_or(SharedError::NotFound)
    }

    /// Appends to a queue; returns whom to notify.
    pub fn enqueue(&mut self, token: u32, item: &[u8]) -> Result<Registrant, SharedError> {
        let q = self.queue_mut(token)?;
        q.items.push_back(item.to_vec());
        Ok(q.registrant)
    }

    pub fn dequeue(&mut self, token: u32) -> Result<Vec<u8>, SharedError> {
        self.queue_mut(token)?
            .items
            .pop_front()
            .ok_or(SharedError::Empty)
    }

    fn queue_mut(&mut self, token: u32) -> Result<&mut Queue, SharedError> {
        token
            .checked_sub(1)
            .and_then(|i| self.queues.get_mut(i as usize))
            .ok_or(SharedError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(worker: u32, root: u32) -> Registrant {
        Registrant {
            vm: VmKey {
                worker: Some(worker),
                group: 0,
            },
            root_context_id: root,
        }
    }

    #[test]
    fn cas_semantics_match_envoy() {
        let mut s = SharedStore::default();
        assert_eq!(s.get("vm", b"k"), Err(SharedError::NotFound));
        s.set("vm", b"k", b"a", 0).unwrap();
        let (v, cas) = s.get("vm", b"k").unwrap();
        assert_eq!((v.as_slice(), cas), (&b"a"[..], 1));
        s.set("vm", b"k", b"b", 0).unwrap(); // cas 0 always wins
        assert_eq!(s.set("vm", b"k", b"c", cas), Err(SharedError::CasMismatch));
        let (_, cas2) = s.get("vm", b"k").unwrap();
        s.set("vm", b"k", b"c", cas2).unwrap();
        assert_eq!(s.get("vm", b"k").unwrap().0, b"c");
        // Separate vm_ids do not see each other's data.
        assert_eq!(s.get("other", b"k"), Err(SharedError::NotFound));
    }

    #[test]
    fn last_registrant_is_notified() {
        let mut s = SharedStore::default();
        let t = s.register_queue("vm", b"q", reg(0, 1));
        assert_eq!(s.register_queue("vm", b"q", reg(1, 1)), t);
        assert_eq!(s.resolve_queue("vm", b"q"), Ok(t));
        assert_eq!(s.enqueue(t, b"x"), Ok(reg(1, 1)));
        assert_eq!(s.dequeue(t), Ok(b"x".to_vec()));
        assert_eq!(s.dequeue(t), Err(SharedError::Empty));
        assert_eq!(s.dequeue(99), Err(SharedError::NotFound));
        assert_eq!(s.enqueue(0, b"x"), Err(SharedError::NotFound));
    }
}

//! Shared stats: records in proxy-wasm shared data, updated with
//! compare-and-swap.
//!
//! Envoy keeps one shared-data map per `vm_id`, visible to every worker
//! thread's VM. A `get` returns a value and a CAS token; a `set` with a
//! non-zero token succeeds only if nobody has written the key since. A `set`
//! with token 0 always succeeds, and there is no create-if-absent, so two
//! workers can race to create a key and one write is overwritten.
//!
//! Sluice's records are therefore *state-based*: each worker owns a *lane* in
//! a record and writes its own absolute value there, never a delta. A lane
//! lost to a creation race, a crash or a corrupt record is rewritten from the
//! worker's own count at its next write or tick. Lanes carry a heartbeat; a
//! lane whose worker stopped refreshing it expires and stops counting, so a
//! dead VM cannot leak in-flight slots forever.

mod adaptive;
mod demand;
mod destination;
mod inflight;
pub mod keys;
mod kv;
mod lanes;
mod memory;
mod success;
mod tuner;

pub use adaptive::{AdaptiveRecord, Flush, Probe, SharedLimit};
pub use demand::{Completions, DemandRecord, SharedDemand};
pub use destination::{DestinationRecord, DestinationSync, SharedDestination};
pub use inflight::{Acquire, Gate, SharedInflight, UpdateStats};
pub use kv::{cas_update, CasOutcome, KvError, SharedKv, Step};
pub use lanes::{DecodeError, Lane, LaneRecord, MAX_LANES};
pub use memory::MemoryKv;
pub use success::{ClassWindow, SharedSuccess, SuccessRecord};
pub use tuner::{SharedTuner, TunerRecord, TunerSync};

//! # sluice-harness
//!
//! A wasmtime host of the proxy-wasm ABI that loads filters by path (it
//! never links a filter crate) and replays traffic against them in virtual
//! time. Core concepts:
//!
//! - [`abi`]: every `env` import of proxy-wasm ABI 0.2.1 and 0.2.0, split by
//!   area, with Envoy's semantics where the spec is loose; WASI preview 1
//!   comes from `wasmtime-wasi` with a virtual clock and seeded randomness.
//! - [`host`]: what Envoy keeps per VM and what VMs share (shared data,
//!   queues, stats).
//! - [`vm`]: one engine and linker per process, one compiled module per file,
//!   one `Store` per simulated VM; guests that trap or loop are stopped and
//!   reported with the callback they were in.
//! - [`sim`]: the discrete-event simulation: workers, filter chains, upstream
//!   clusters, timers, in virtual time.
//! - [`scenario`]: scenario files and SLO assertions.
//! - [`replay`]: scenario in, report out.
//! - [`sweep`]: one scenario template across a grid of workloads, judged
//!   cell by cell.

pub mod abi;
pub mod host;
pub mod inspect;
pub mod replay;
pub mod scenario;
pub mod sim;
pub mod sweep;
pub mod vm;

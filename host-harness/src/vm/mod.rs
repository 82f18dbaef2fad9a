//! Wasm VMs: one engine and linker per process, one compiled module per
//! file, one `Store` per simulated VM.
//!
//! - [`runtime::Runtime`]: the wasmtime `Engine` (with epoch interruption
//!   and an on-disk compilation cache) and the `Linker` holding the
//!   proxy-wasm ABI; built once, shared by every VM.
//! - [`module::LoadedModule`]: a `.wasm` file compiled once and pre-linked
//!   (`InstancePre`), so each further VM only instantiates.
//! - [`instance::Vm`]: one instance with its host state; calls guest
//!   callbacks, stops a guest that loops or traps, and remembers the failure
//!   with the callback it happened in.

pub mod exports;
pub mod failure;
pub mod instance;
pub mod module;
pub mod runtime;

pub use failure::{FailureKind, VmFailure};
pub use instance::{Vm, VmSpec};
pub use module::LoadedModule;
pub use runtime::{Runtime, RuntimeOptions};

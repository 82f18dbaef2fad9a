//! A VM that failed, and where.

use crate::host::state::Callback;
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// The guest trapped (unreachable, bad memory access, panic = abort...).
    Trap,
    /// The guest ran past its callback deadline (a loop that never ends).
    Interrupted,
    /// The guest asked for more memory than its limit.
    OutOfMemory,
    /// `on_vm_start` or `on_configure` returned false.
    ConfigureFailed,
    /// The module could not be instantiated or initialized.
    Instantiate,
}

impl FailureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Trap => "trap",
            FailureKind::Interrupted => "interrupted",
            FailureKind::OutOfMemory => "out_of_memory",
            FailureKind::ConfigureFailed => "configure_failed",
            FailureKind::Instantiate => "instantiate",
        }
    }
}

/// Why and where a VM failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmFailure {
    pub kind: FailureKind,
    pub callback: Callback,
    pub message: String,
}

impl VmFailure {
    /// Classifies an error returned by a guest call.
    pub fn from_error(callback: Callback, e: &anyhow::Error, memory_denied: bool) -> VmFailure {
        let kind = match e.downcast_ref::<wasmtime::Trap>() {
            Some(wasmtime::Trap::Interrupt) => FailureKind::Interrupted,
            _ if memory_denied => FailureKind::OutOfMemory,
            _ => FailureKind::Trap,
        };
        // The trap's own description first: it is the line reports show.
        let message = match e.downcast_ref::<wasmtime::Trap>() {
            Some(trap) => format!("{trap}\n{e:#}"),
            None => format!("{e:#}"),
        };
        VmFailure {
            kind,
            callback,
            message,
        }
    }
}

impl fmt::Display for VmFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let first = self.message.lines().next().unwrap_or("");
        write!(
            f,
            "{} in {}: {}",
            self.kind.as_str(),
            self.callback.export_name(),
            first
        )
    }
}

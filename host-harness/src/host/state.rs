//! The state of one VM (one wasmtime `Store`): what Envoy keeps per Wasm VM.

use super::clock::VirtualClock;
use super::log::LogSink;
use super::metrics::MetricStore;
use super::pairs::Pairs;
use super::shared::{Registrant, SharedStore, VmKey};
use super::stream::HttpContextState;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmtime::{Memory, StoreLimits, TypedFunc};

/// A guest callback, named as the export it calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Callback {
    None,
    Initialize,
    ContextCreate,
    VmStart,
    Configure,
    Tick,
    QueueReady,
    RequestHeaders,
    RequestBody,
    RequestTrailers,
    ResponseHeaders,
    ResponseBody,
    ResponseTrailers,
    Log,
    Done,
    Delete,
    HttpCallResponse,
    GrpcReceiveInitialMetadata,
    GrpcReceive,
    GrpcReceiveTrailingMetadata,
    GrpcClose,
    ForeignFunction,
    MemoryAllocate,
}

impl Callback {
    pub fn export_name(self) -> &'static str {
        match self {
            Callback::None => "(none)",
            Callback::Initialize => "_initialize",
            Callback::ContextCreate => "proxy_on_context_create",
            Callback::VmStart => "proxy_on_vm_start",
            Callback::Configure => "proxy_on_configure",
            Callback::Tick => "proxy_on_tick",
            Callback::QueueReady => "proxy_on_queue_ready",
            Callback::RequestHeaders => "proxy_on_request_headers",
            Callback::RequestBody => "proxy_on_request_body",
            Callback::RequestTrailers => "proxy_on_request_trailers",
            Callback::ResponseHeaders => "proxy_on_response_headers",
            Callback::ResponseBody => "proxy_on_response_body",
            Callback::ResponseTrailers => "proxy_on_response_trailers",
            Callback::Log => "proxy_on_log",
            Callback::Done => "proxy_on_done",
            Callback::Delete => "proxy_on_delete",
            Callback::HttpCallResponse => "proxy_on_http_call_response",
            Callback::GrpcReceiveInitialMetadata => "proxy_on_grpc_receive_initial_metadata",
            Callback::GrpcReceive => "proxy_on_grpc_receive",
            Callback::GrpcReceiveTrailingMetadata => "proxy_on_grpc_receive_trailing_metadata",
            Callback::GrpcClose => "proxy_on_grpc_close",
            Callback::ForeignFunction => "proxy_on_foreign_function",
            Callback::MemoryAllocate => "proxy_on_memory_allocate",
        }
    }
}

/// A plugin's root context in this VM.
#[derive(Clone, Debug)]
pub struct RootInfo {
    pub context_id: u32,
    /// Index of the plugin in the scenario's filter chain.
    pub plugin: usize,
    pub name: String,
    pub root_id: String,
    pub configuration: Arc<[u8]>,
    /// Set by `proxy_set_tick_period_milliseconds`; zero disables the timer.
    pub tick_period: Duration,
}

/// A context the VM knows about.
#[derive(Debug)]
pub enum ContextEntry {
    Root(usize),
    Http(HttpContextState),
}

/// An effect a guest asked for that takes effect when its callback returns
/// (as in Envoy, where local replies and resumes are deferred).
#[derive(Clone, Debug, PartialEq)]
pub enum Deferred {
    LocalReply {
        context_id: u32,
        status: u32,
        details: String,
        body: Vec<u8>,
        headers: Pairs,
        grpc_status: i32,
    },
    /// `proxy_continue_stream`: 0 = request, 1 = response.
    Continue {
        context_id: u32,
        stream: u32,
    },
    /// `proxy_close_stream`: reset the stream.
    Close {
        context_id: u32,
        stream: u32,
    },
    TickPeriod {
        root_index: usize,
    },
    QueueReady {
        registrant: Registrant,
        token: u32,
    },
    HttpCall(OutboundCall),
    GrpcCall(OutboundCall),
    /// `proxy_done` from a root context that deferred its shutdown.
    Done {
        context_id: u32,
    },
}

/// An `http_call` or `grpc_call` the guest dispatched.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboundCall {
    pub token: u32,
    pub root_context_id: u32,
    /// Cluster the call goes to.
    pub cluster: String,
    pub headers: Pairs,
    pub body: Vec<u8>,
    pub timeout: Duration,
}

/// What the host exposes during `on_http_call_response` / gRPC callbacks.
#[derive(Clone, Debug, Default)]
pub struct CallResponse {
    pub headers: Pairs,
    pub body: Vec<u8>,
    pub trailers: Pairs,
}

/// The guest's memory and allocator, resolved after instantiation.
#[derive(Clone)]
pub struct GuestMemory {
    pub memory: Memory,
    pub alloc: TypedFunc<u32, u32>,
}

impl std::fmt::Debug for GuestMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuestMemory").finish_non_exhaustive()
    }
}

/// Per-VM host state.
pub struct HostState {
    pub wasi: wasmtime_wasi::p1::WasiP1Ctx,
    pub limits: StoreLimits,
    /// Set when the memory limit refused a growth: a trap that follows is
    /// reported as out of memory.
    pub memory_denied: Arc<std::sync::atomic::AtomicBool>,
    pub vm: VmKey,
    pub vm_id: String,
    pub vm_configuration: Arc<[u8]>,
    pub clock: VirtualClock,
    pub shared: Arc<Mutex<SharedStore>>,
    pub metrics: Arc<Mutex<MetricStore>>,
    /// Per-VM metric id (index) to the process-wide stat.
    pub metric_ids: Vec<usize>,
    pub log: Arc<Mutex<LogSink>>,
    /// Level reported by `proxy_get_log_level`.
    pub log_level: u32,
    pub guest: Option<GuestMemory>,
    pub roots: Vec<RootInfo>,
    pub contexts: HashMap<u32, ContextEntry>,
    pub next_context_id: u32,
    /// The callback in progress, and its context.
    pub callback: Callback,
    pub context_id: u32,
    /// Context set by `proxy_set_effective_context` during this callback.
    pub effective_context_id: u32,
    pub deferred: Vec<Deferred>,
    pub next_token: u32,
    /// Outstanding outbound calls: token to root context.
    pub outbound: HashMap<u32, u32>,
    /// Clusters `http_call` may target.
    pub known_clusters: Arc<Vec<String>>,
    /// During call-response callbacks.
    pub call_response: Option<CallResponse>,
    /// Arguments of `proxy_on_foreign_function` (`CallData` buffer).
    pub call_data: Vec<u8>,
    /// `proxy_get_status`: code and message of the last call response.
    pub status: (u32, Vec<u8>),
    /// Host calls that a guest made with arguments the host refused, by name:
    /// a sign of a guest bug, shown in reports.
    pub refused_calls: HashMap<&'static str, u64>,
}

impl std::fmt::Debug for HostState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostState")
            .field("vm", &self.vm)
            .field("vm_id", &self.vm_id)
            .field("callback", &self.callback)
            .finish()
    }
}

impl wasmtime::ResourceLimiter for HostState {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let ok = self.limits.memory_growing(current, desired, maximum)?;
        if !ok {
            self.memory_denied
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(ok)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }
}

impl HostState {
    /// The context host calls act on: the effective context if one was set
    /// in this callback, else the callback's own.
    pub fn active_context(&self) -> u32 {
        if self.effective_context_id != 0 {
            self.effective_context_id
        } else {
            self.context_id
        }
    }

    /// The HTTP context host calls act on, if the active context is one.
    pub fn active_http(&self) -> Option<&HttpContextState> {
        match self.contexts.get(&self.active_context()) {
            Some(ContextEntry::Http(h)) => Some(h),
            _ => None,
        }
    }

    pub fn active_http_mut(&mut self) -> Option<&mut HttpContextState> {
        let id = self.active_context();
        match self.contexts.get_mut(&id) {
            Some(ContextEntry::Http(h)) => Some(h),
            _ => None,
        }
    }

    /// The root context the active context belongs to.
    pub fn active_root_index(&self) -> Option<usize> {
        match self.contexts.get(&self.active_context())? {
            ContextEntry::Root(i) => Some(*i),
            ContextEntry::Http(h) => self
                .roots
                .iter()
                .position(|r| r.context_id == h.root_context_id),
        }
    }

    pub fn refused(&mut self, call: &'static str) {
        *self.refused_calls.entry(call).or_default() += 1;
    }

    pub fn lock_shared(&self) -> std::sync::MutexGuard<'_, SharedStore> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn lock_metrics(&self) -> std::sync::MutexGuard<'_, MetricStore> {
        self.metrics.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn lock_log(&self) -> std::sync::MutexGuard<'_, LogSink> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }
}

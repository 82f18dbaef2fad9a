//! One VM: a `Store` with its host state and the guest's callbacks.

use super::exports::Exports;
use super::failure::{FailureKind, VmFailure};
use super::module::LoadedModule;
use super::runtime::EPOCH_PERIOD;
use crate::host::clock::{VirtualClock, WasiMonotonic, WasiWall};
use crate::host::log::LogSink;
use crate::host::metrics::MetricStore;
use crate::host::shared::{SharedStore, VmKey};
use crate::host::state::{Callback, ContextEntry, Deferred, GuestMemory, HostState, RootInfo};
use crate::host::stream::{Access, HttpContextState, SharedStream};
use rand::SeedableRng;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmtime::{Store, StoreLimitsBuilder};

/// A plugin to start as a root context in a VM.
#[derive(Clone, Debug)]
pub struct RootSpec {
    pub plugin: usize,
    pub name: String,
    pub root_id: String,
    pub configuration: Arc<[u8]>,
}

/// Everything a VM is created with.
#[derive(Clone, Debug)]
pub struct VmSpec {
    pub vm: VmKey,
    pub vm_id: String,
    pub vm_configuration: Arc<[u8]>,
    pub roots: Vec<RootSpec>,
    pub clock: VirtualClock,
    pub shared: Arc<Mutex<SharedStore>>,
    pub metrics: Arc<Mutex<MetricStore>>,
    pub log: Arc<Mutex<LogSink>>,
    pub log_level: u32,
    pub known_clusters: Arc<Vec<String>>,
    /// Seeds WASI randomness for this VM.
    pub seed: u64,
    pub memory_limit_bytes: usize,
    /// Wall-clock time a single callback may run before it is interrupted.
    pub callback_deadline: Duration,
}

/// What a headers/body/trailers callback asked of the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Continue,
    Pause,
}

impl Action {
    /// Envoy's filter statuses: 0 Continue, 2 ContinueAndEndStream; every
    /// other value stops iteration.
    fn from_abi(v: u32) -> Action {
        if v == 0 || v == 2 {
            Action::Continue
        } else {
            Action::Pause
        }
    }
}

pub struct Vm {
    store: Store<HostState>,
    exports: Exports,
    deadline_ticks: u64,
    failure: Option<VmFailure>,
    memory_denied: Arc<std::sync::atomic::AtomicBool>,
}

impl std::fmt::Debug for Vm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vm")
            .field("vm", &self.store.data().vm)
            .field("failure", &self.failure)
            .finish()
    }
}

fn instantiate_failure(e: anyhow::Error) -> VmFailure {
    VmFailure {
        kind: FailureKind::Instantiate,
        callback: Callback::None,
        message: format!("{e:#}"),
    }
}

impl Vm {
    /// Instantiates `module` and runs its `_initialize` (or `_start`).
    pub fn new(module: &LoadedModule, spec: &VmSpec) -> Result<Vm, VmFailure> {
        let wasi = wasmtime_wasi::WasiCtxBuilder::new()
            .wall_clock(WasiWall(spec.clock.clone()))
            .monotonic_clock(WasiMonotonic(spec.clock.clone()))
            .secure_random(rand::rngs::StdRng::seed_from_u64(spec.seed))
            .insecure_random(rand::rngs::StdRng::seed_from_u64(spec.seed ^ 0x5EED))
            .insecure_random_seed(u128::from(spec.seed))
            .build_p1();
        let roots = spec
            .roots
            .iter()
            .enumerate()
            .map(|(i, r)| RootInfo {
                context_id: i as u32 + 1,
                plugin: r.plugin,
                name: r.name.clone(),
                root_id: r.root_id.clone(),
                configuration: Arc::clone(&r.configuration),
                tick_period: Duration::ZERO,
            })
            .collect::<Vec<_>>();
        let mut contexts = HashMap::new();
        for (i, r) in roots.iter().enumerate() {
            contexts.insert(r.context_id, ContextEntry::Root(i));
        }
        let memory_denied = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let state = HostState {
            wasi,
            limits: StoreLimitsBuilder::new()
                .memory_size(spec.memory_limit_bytes)
                .instances(1)
                .build(),
            memory_denied: Arc::clone(&memory_denied),
            vm: spec.vm,
            vm_id: spec.vm_id.clone(),
            vm_configuration: Arc::clone(&spec.vm_configuration),
            clock: spec.clock.clone(),
            shared: Arc::clone(&spec.shared),
            metrics: Arc::clone(&spec.metrics),
            metric_ids: Vec::new(),
            log: Arc::clone(&spec.log),
            log_level: spec.log_level,
            guest: None,
            next_context_id: roots.len() as u32 + 1,
            roots,
            contexts,
            callback: Callback::Initialize,
            context_id: 0,
            effective_context_id: 0,
            deferred: Vec::new(),
            next_token: 0,
            outbound: HashMap::new(),
            known_clusters: Arc::clone(&spec.known_clusters),
            call_response: None,
            call_data: Vec::new(),
            status: (0, Vec::new()),
            refused_calls: HashMap::new(),
        };
        let mut store = Store::new(module.pre.module().engine(), state);
        store.limiter(|s| s);
        let deadline_ticks =
            (spec.callback_deadline.as_millis() / EPOCH_PERIOD.as_millis()).max(1) as u64;
        store.set_epoch_deadline(deadline_ticks);
        store.epoch_deadline_trap();
        let instance = module
            .pre
            .instantiate(&mut store)
            .map_err(|e| instantiate_failure(e.into()))?;
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or_else(|| instantiate_failure(anyhow::anyhow!("the module exports no memory")))?;
        let alloc = ["malloc", "proxy_on_memory_allocate"]
            .iter()
            .find_map(|n| instance.get_typed_func::<u32, u32>(&mut store, n).ok())
            .ok_or_else(|| {
                instantiate_failure(anyhow::anyhow!(
                    "the module exports neither malloc nor proxy_on_memory_allocate"
                ))
            })?;
        store.data_mut().guest = Some(GuestMemory { memory, alloc });
        let exports = Exports::resolve(&instance, &mut store).map_err(instantiate_failure)?;
        let mut vm = Vm {
            store,
            exports,
            deadline_ticks,
            failure: None,
            memory_denied,
        };
        if let Some(f) = vm.exports.initialize.clone() {
            vm.invoke(Callback::Initialize, 0, |s| f.call(s, ()))?;
        } else if let Some(f) = vm.exports.start.clone() {
            vm.invoke(Callback::Initialize, 0, |s| f.call(s, ()))?;
        }
        Ok(vm)
    }

    /// Creates each root context and runs `on_vm_start` and `on_configure`,
    /// in Envoy's order. A `false` from either fails the VM.
    pub fn start_roots(&mut self) -> Result<(), VmFailure> {
        let roots: Vec<(u32, usize)> = self
            .state()
            .roots
            .iter()
            .map(|r| (r.context_id, r.configuration.len()))
            .collect();
        let vm_config_len = self.state().vm_configuration.len() as u32;
        for (id, config_len) in roots {
            if let Some(f) = self.exports.context_create.clone() {
                self.invoke(Callback::ContextCreate, id, |s| f.call(s, (id, 0)))?;
            }
            if let Some(f) = self.exports.vm_start.clone() {
                let ok = self.invoke(Callback::VmStart, id, |s| f.call(s, (id, vm_config_len)))?;
                if ok == 0 {
                    return Err(self.fail(
                        Callback::VmStart,
                        FailureKind::ConfigureFailed,
                        "on_vm_start returned false",
                    ));
                }
            }
            if let Some(f) = self.exports.configure.clone() {
                let ok = self.invoke(Callback::Configure, id, |s| {
                    f.call(s, (id, config_len as u32))
                })?;
                if ok == 0 {
                    return Err(self.fail(
                        Callback::Configure,
                        FailureKind::ConfigureFailed,
                        "on_configure returned false",
                    ));
                }
            }
        }
        Ok(())
    }

    fn fail(&mut self, callback: Callback, kind: FailureKind, message: &str) -> VmFailure {
        let f = VmFailure {
            kind,
            callback,
            message: message.to_string(),
        };
        self.failure = Some(f.clone());
        f
    }

    /// Calls into the guest with `callback`'s context set, a fresh deadline,
    /// and failure bookkeeping.
    fn invoke<R>(
        &mut self,
        callback: Callback,
        context_id: u32,
        f: impl FnOnce(&mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> Result<R, VmFailure> {
        if let Some(failure) = &self.failure {
            return Err(failure.clone());
        }
        {
            let s = self.store.data_mut();
            s.callback = callback;
            s.context_id = context_id;
            s.effective_context_id = 0;
        }
        self.store.set_epoch_deadline(self.deadline_ticks);
        // A refused growth the guest survived in an earlier callback says
        // nothing about this one.
        self.memory_denied
            .store(false, std::sync::atomic::Ordering::Relaxed);
        let r = f(&mut self.store);
        {
            let s = self.store.data_mut();
            s.callback = Callback::None;
            s.context_id = 0;
            s.effective_context_id = 0;
        }
        r.map_err(|e| {
            let denied = self
                .memory_denied
                .load(std::sync::atomic::Ordering::Relaxed);
            let failure = VmFailure::from_error(callback, &e.into(), denied);
            self.failure = Some(failure.clone());
            failure
        })
    }

    pub fn failure(&self) -> Option<&VmFailure> {
        self.failure.as_ref()
    }

    pub fn state(&self) -> &HostState {
        self.store.data()
    }

    pub fn state_mut(&mut self) -> &mut HostState {
        self.store.data_mut()
    }

    /// Effects the guest asked for in the callbacks since the last call.
    pub fn take_deferred(&mut self) -> Vec<Deferred> {
        std::mem::take(&mut self.store.data_mut().deferred)
    }

    /// Creates an HTTP context under root `root_index` for `stream`.
    pub fn create_http_context(
        &mut self,
        root_index: usize,
        stream: SharedStream,
    ) -> Result<u32, VmFailure> {
        let root_id = self
            .state()
            .roots
            .get(root_index)
            .map(|r| r.context_id)
            .unwrap_or(1);
        let s = self.store.data_mut();
        let id = s.next_context_id;
        s.next_context_id += 1;
        s.contexts.insert(
            id,
            ContextEntry::Http(HttpContextState {
                root_context_id: root_id,
                stream,
                access: Access::NONE,
                local_reply_sent: false,
            }),
        );
        if let Some(f) = self.exports.context_create.clone() {
            self.invoke(Callback::ContextCreate, id, |s| f.call(s, (id, root_id)))?;
        }
        Ok(id)
    }

    pub fn set_access(&mut self, context_id: u32, access: Access) {
        if let Some(ContextEntry::Http(h)) = self.store.data_mut().contexts.get_mut(&context_id) {
            h.access = access;
        }
    }

    pub fn access(&self, context_id: u32) -> Access {
        match self.state().contexts.get(&context_id) {
            Some(ContextEntry::Http(h)) => h.access,
            _ => Access::NONE,
        }
    }

    pub fn request_headers(
        &mut self,
        id: u32,
        headers: u32,
        end_of_stream: bool,
    ) -> Result<Action, VmFailure> {
        match self.exports.request_headers.clone() {
            None => Ok(Action::Continue),
            Some(f) => self
                .invoke(Callback::RequestHeaders, id, |s| {
                    f.call(s, (id, headers, u32::from(end_of_stream)))
                })
                .map(Action::from_abi),
        }
    }

    pub fn request_body(
        &mut self,
        id: u32,
        size: u32,
        end_of_stream: bool,
    ) -> Result<Action, VmFailure> {
        match self.exports.request_body.clone() {
            None => Ok(Action::Continue),
            Some(f) => self
                .invoke(Callback::RequestBody, id, |s| {
                    f.call(s, (id, size, u32::from(end_of_stream)))
                })
                .map(Action::from_abi),
        }
    }

    pub fn response_headers(
        &mut self,
        id: u32,
        headers: u32,
        end_of_stream: bool,
    ) -> Result<Action, VmFailure> {
        match self.exports.response_headers.clone() {
            None => Ok(Action::Continue),
            Some(f) => self
                .invoke(Callback::ResponseHeaders, id, |s| {
                    f.call(s, (id, headers, u32::from(end_of_stream)))
                })
                .map(Action::from_abi),
        }
    }

    pub fn response_body(
        &mut self,
        id: u32,
        size: u32,
        end_of_stream: bool,
    ) -> Result<Action, VmFailure> {
        match self.exports.response_body.clone() {
            None => Ok(Action::Continue),
            Some(f) => self
                .invoke(Callback::ResponseBody, id, |s| {
                    f.call(s, (id, size, u32::from(end_of_stream)))
                })
                .map(Action::from_abi),
        }
    }

    /// `on_log` for a finished stream (maps readable as in the access-log
    /// phase).
    pub fn log(&mut self, id: u32) -> Result<(), VmFailure> {
        self.set_access(id, Access::LOG);
        let r = match self.exports.log.clone() {
            None => Ok(()),
            Some(f) => self.invoke(Callback::Log, id, |s| f.call(s, id)),
        };
        self.set_access(id, Access::NONE);
        r
    }

    /// `on_done` then `on_delete`; the context is forgotten afterwards even
    /// if the guest fails.
    pub fn end(&mut self, id: u32) -> Result<(), VmFailure> {
        self.set_access(id, Access::NONE);
        let mut result = match self.exports.done.clone() {
            None => Ok(()),
            Some(f) => self
                .invoke(Callback::Done, id, |s| f.call(s, id))
                .map(|_| ()),
        };
        if result.is_ok() {
            if let Some(f) = self.exports.delete.clone() {
                result = self.invoke(Callback::Delete, id, |s| f.call(s, id));
            }
        }
        self.store.data_mut().contexts.remove(&id);
        result
    }

    pub fn tick(&mut self, root_context_id: u32) -> Result<(), VmFailure> {
        match self.exports.tick.clone() {
            None => Ok(()),
            Some(f) => self.invoke(Callback::Tick, root_context_id, |s| {
                f.call(s, root_context_id)
            }),
        }
    }

    pub fn queue_ready(&mut self, root_context_id: u32, token: u32) -> Result<(), VmFailure> {
        match self.exports.queue_ready.clone() {
            None => Ok(()),
            Some(f) => self.invoke(Callback::QueueReady, root_context_id, |s| {
                f.call(s, (root_context_id, token))
            }),
        }
    }

    /// Delivers an `http_call` response (or its failure: no headers).
    pub fn http_call_response(
        &mut self,
        token: u32,
        response: crate::host::state::CallResponse,
    ) -> Result<(), VmFailure> {
        let Some(root) = self.store.data_mut().outbound.remove(&token) else {
            return Ok(());
        };
        let (h, b, t) = (
            response.headers.len() as u32,
            response.body.len() as u32,
            response.trailers.len() as u32,
        );
        self.store.data_mut().call_response = Some(response);
        let r = match self.exports.http_call_response.clone() {
            None => Ok(()),
            Some(f) => self.invoke(Callback::HttpCallResponse, root, |s| {
                f.call(s, (root, token, h, b, t))
            }),
        };
        self.store.data_mut().call_response = None;
        r
    }

    /// Delivers a unary gRPC response: the message, then the close with
    /// `status` (and `message` for `proxy_get_status`).
    pub fn grpc_response(
        &mut self,
        token: u32,
        status: u32,
        message: Vec<u8>,
        body: Vec<u8>,
    ) -> Result<(), VmFailure> {
        let Some(root) = self.store.data_mut().outbound.remove(&token) else {
            return Ok(());
        };
        if status == 0 && !body.is_empty() {
            let len = body.len() as u32;
            self.store.data_mut().call_response = Some(crate::host::state::CallResponse {
                body,
                ..Default::default()
            });
            let r = match self.exports.grpc_receive.clone() {
                None => Ok(()),
                Some(f) => self.invoke(Callback::GrpcReceive, root, |s| {
                    f.call(s, (root, token, len))
                }),
            };
            self.store.data_mut().call_response = None;
            r?;
        }
        self.store.data_mut().status = (status, message);
        match self.exports.grpc_close.clone() {
            None => Ok(()),
            Some(f) => self.invoke(Callback::GrpcClose, root, |s| {
                f.call(s, (root, token, status))
            }),
        }
    }

    /// Memory the guest uses now, in bytes.
    pub fn memory_bytes(&mut self) -> usize {
        match self.store.data().guest.clone() {
            Some(g) => g.memory.data_size(&self.store),
            None => 0,
        }
    }
}

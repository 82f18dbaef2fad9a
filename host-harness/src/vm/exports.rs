//! The guest's callbacks as typed functions. A callback a module does not
//! export is `None` and the host behaves as if it returned "continue", as
//! Envoy does; an export with the wrong signature is an error.

use crate::host::state::HostState;
use anyhow::{Context, Result};
use wasmtime::{Instance, Store, TypedFunc, WasmParams, WasmResults};

type F<P, R> = Option<TypedFunc<P, R>>;

pub struct Exports {
    pub context_create: F<(u32, u32), ()>,
    pub vm_start: F<(u32, u32), u32>,
    pub configure: F<(u32, u32), u32>,
    pub tick: F<u32, ()>,
    pub queue_ready: F<(u32, u32), ()>,
    pub request_headers: F<(u32, u32, u32), u32>,
    pub request_body: F<(u32, u32, u32), u32>,
    pub request_trailers: F<(u32, u32), u32>,
    pub response_headers: F<(u32, u32, u32), u32>,
    pub response_body: F<(u32, u32, u32), u32>,
    pub response_trailers: F<(u32, u32), u32>,
    pub log: F<u32, ()>,
    pub done: F<u32, u32>,
    pub delete: F<u32, ()>,
    pub http_call_response: F<(u32, u32, u32, u32, u32), ()>,
    pub grpc_receive_initial_metadata: F<(u32, u32, u32), ()>,
    pub grpc_receive: F<(u32, u32, u32), ()>,
    pub grpc_receive_trailing_metadata: F<(u32, u32, u32), ()>,
    pub grpc_close: F<(u32, u32, u32), ()>,
    pub foreign_function: F<(u32, u32, u32), ()>,
    pub initialize: F<(), ()>,
    pub start: F<(), ()>,
}

impl std::fmt::Debug for Exports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exports").finish_non_exhaustive()
    }
}

fn get<P: WasmParams, R: WasmResults>(
    instance: &Instance,
    store: &mut Store<HostState>,
    name: &str,
) -> Result<F<P, R>> {
    match instance.get_func(&mut *store, name) {
        None => Ok(None),
        Some(f) => f
            .typed::<P, R>(&*store)
            .map(Some)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("export {name} has an unexpected signature")),
    }
}

impl Exports {
    pub fn resolve(instance: &Instance, store: &mut Store<HostState>) -> Result<Exports> {
        Ok(Exports {
            context_create: get(instance, store, "proxy_on_context_create")?,
            vm_start: get(instance, store, "proxy_on_vm_start")?,
            configure: get(instance, store, "proxy_on_configure")?,
            tick: get(instance, store, "proxy_on_tick")?,
            queue_ready: get(instance, store, "proxy_on_queue_ready")?,
            request_headers: get(instance, store, "proxy_on_request_headers")?,
            request_body: get(instance, store, "proxy_on_request_body")?,
            request_trailers: get(instance, store, "proxy_on_request_trailers")?,
            response_headers: get(instance, store, "proxy_on_response_headers")?,
            response_body: get(instance, store, "proxy_on_response_body")?,
            response_trailers: get(instance, store, "proxy_on_response_trailers")?,
            log: get(instance, store, "proxy_on_log")?,
            done: get(instance, store, "proxy_on_done")?,
            delete: get(instance, store, "proxy_on_delete")?,
            http_call_response: get(instance, store, "proxy_on_http_call_response")?,
            grpc_receive_initial_metadata: get(
                instance,
                store,
                "proxy_on_grpc_receive_initial_metadata",
            )?,
            grpc_receive: get(instance, store, "proxy_on_grpc_receive")?,
            grpc_receive_trailing_metadata: get(
                instance,
                store,
                "proxy_on_grpc_receive_trailing_metadata",
            )?,
            grpc_close: get(instance, store, "proxy_on_grpc_close")?,
            foreign_function: get(instance, store, "proxy_on_foreign_function")?,
            initialize: get(instance, store, "_initialize")?,
            start: get(instance, store, "_start")?,
        })
    }
}

//! # sluice_probe.wasm (test only)
//!
//! Written the way a third party would write a filter (the proxy-wasm Rust
//! SDK directly, no Sluice crates), to observe a host's semantics:
//!
//! - every callback a stream receives, in order, with the status the host
//!   returned when the filter read `:path` from the request headers and
//!   `:status` from the response headers in that callback;
//! - the trace of a stream is kept in shared data under its `x-probe-id`
//!   and served back by `GET /__probe/trace/<id>`.
//!
//! Request headers that steer it: `x-probe-id` (name of the trace),
//! `x-probe-local-reply: <status>` (answer locally from
//! `on_http_request_headers`), `x-probe-pause: 1` (return Pause without a
//! reply, then resume from the next tick).
#![allow(unsafe_code)]

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};
use std::cell::RefCell;
use std::time::Duration;

#[link(wasm_import_module = "env")]
extern "C" {
    #[allow(clashing_extern_declarations)]
    fn proxy_get_header_map_value(
        map_type: u32,
        key_data: *const u8,
        key_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
    ) -> u32;
}

/// Status of reading `key` from map `map` (0 request headers, 2 response headers).
fn probe_map(map: u32, key: &str) -> u32 {
    let mut data: *mut u8 = std::ptr::null_mut();
    let mut size: usize = 0;
    // SAFETY: valid pointers; a returned buffer is owned by us and freed.
    unsafe {
        let status = proxy_get_header_map_value(map, key.as_ptr(), key.len(), &mut data, &mut size);
        if status == 0 && !data.is_null() {
            drop(Vec::from_raw_parts(data, size, size));
        }
        status
    }
}

thread_local! {
    static PAUSED: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
}

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Trace);
    proxy_wasm::set_root_context(|_| Box::new(ProbeRoot));
}}

struct ProbeRoot;

impl Context for ProbeRoot {}

impl RootContext for ProbeRoot {
    fn on_configure(&mut self, _: usize) -> bool {
        self.set_tick_period(Duration::from_millis(50));
        true
    }

    fn on_tick(&mut self) {
        let paused: Vec<u32> = PAUSED.with(|p| std::mem::take(&mut *p.borrow_mut()));
        for id in paused {
            if proxy_wasm::hostcalls::set_effective_context(id).is_ok() {
                let _ = proxy_wasm::hostcalls::resume_http_request();
            }
        }
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Probe {
            context_id,
            id: None,
            trace: String::new(),
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Probe {
    context_id: u32,
    id: Option<String>,
    trace: String,
}

impl Probe {
    fn note(&mut self, callback: &str) {
        let req = probe_map(0, ":path");
        let resp = probe_map(2, ":status");
        if !self.trace.is_empty() {
            self.trace.push(' ');
        }
        self.trace
            .push_str(&format!("{callback}(req={req},resp={resp})"));
        if let Some(id) = &self.id {
            let key = format!("probe.trace.{id}");
            let _ = proxy_wasm::hostcalls::set_shared_data(&key, Some(self.trace.as_bytes()), None);
        }
    }
}

impl Context for Probe {
    fn on_done(&mut self) -> bool {
        self.note("on_done");
        true
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        // on_delete: the SDK drops the context.
        self.note("on_delete");
    }
}

impl HttpContext for Probe {
    fn on_http_request_headers(&mut self, _: usize, _: bool) -> Action {
        if let Some(path) = self.get_http_request_header(":path") {
            if let Some(id) = path.strip_prefix("/__probe/trace/") {
                let key = format!("probe.trace.{id}");
                let trace = proxy_wasm::hostcalls::get_shared_data(&key)
                    .ok()
                    .and_then(|(v, _)| v)
                    .unwrap_or_default();
                self.send_http_response(200, vec![("x-probe", "trace")], Some(&trace));
                return Action::Pause;
            }
        }
        self.id = self.get_http_request_header("x-probe-id");
        self.note("on_request_headers");
        if let Some(status) = self
            .get_http_request_header("x-probe-local-reply")
            .and_then(|s| s.parse::<u32>().ok())
        {
            self.send_http_response(status, vec![("x-probe-local", "1")], Some(b"local\n"));
            return Action::Pause;
        }
        if self.get_http_request_header("x-probe-pause").is_some() {
            PAUSED.with(|p| p.borrow_mut().push(self.context_id));
            return Action::Pause;
        }
        Action::Continue
    }

    fn on_http_request_body(&mut self, _: usize, end: bool) -> Action {
        self.note(if end {
            "on_request_body_end"
        } else {
            "on_request_body"
        });
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _: usize, _: bool) -> Action {
        self.note("on_response_headers");
        Action::Continue
    }

    fn on_http_response_body(&mut self, _: usize, end: bool) -> Action {
        self.note(if end {
            "on_response_body_end"
        } else {
            "on_response_body"
        });
        Action::Continue
    }

    fn on_log(&mut self) {
        self.note("on_log");
    }
}

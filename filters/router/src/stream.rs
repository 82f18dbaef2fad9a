//! One HTTP stream: route at request headers, annotate the response, record
//! the outcome at the end.

use crate::worker::{Routed, Worker};
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action;
use sluice_glue::host;
use std::rc::Rc;

pub struct RouterStream {
    worker: Option<Rc<Worker>>,
    routed: Option<Routed>,
}

impl RouterStream {
    pub fn new(worker: Option<Rc<Worker>>) -> Self {
        RouterStream {
            worker,
            routed: None,
        }
    }

    /// Ends the stream's routing exactly once, whichever callback comes
    /// first; only a completed stream's outcome is recorded.
    fn finish(&mut self, completed: bool) {
        if let (Some(worker), Some(routed)) = (&self.worker, self.routed.take()) {
            let outcome = completed.then(|| {
                let actual = (!routed.holds_slot)
                    .then(|| host::property(&["xds", "cluster_name"]))
                    .flatten();
                (host::response_status(), actual)
            });
            worker.finish(&routed, outcome);
        }
    }
}

impl Context for RouterStream {
    fn on_done(&mut self) -> bool {
        self.finish(false);
        true
    }
}

impl HttpContext for RouterStream {
    fn on_http_request_headers(&mut self, _headers: usize, _end_of_stream: bool) -> Action {
        let Some(worker) = &self.worker else {
            return Action::Continue;
        };
        let (routed, (name, value)) = worker.route();
        // Envoy (ABI 0.2.1) clears the route cache when a filter changes a
        // request header, so the route's `cluster_header` sees this value.
        // Best effort: a host that refuses the header still forwards.
        let _ = host::set_request_header(name, &value);
        self.routed = Some(routed);
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _headers: usize, _end_of_stream: bool) -> Action {
        if let (Some(worker), Some(routed)) = (&self.worker, &self.routed) {
            for (name, value) in worker.response_headers(routed) {
                let _ = host::add_response_header(name, &value);
            }
        }
        Action::Continue
    }

    fn on_log(&mut self) {
        self.finish(true);
    }
}

impl Drop for RouterStream {
    /// Last resort: a context deleted without `on_log` or `on_done` still
    /// returns its slot.
    fn drop(&mut self) {
        self.finish(false);
    }
}

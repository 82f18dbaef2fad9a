//! One HTTP stream: admit or shed at request headers; release at the end.

use crate::worker::{Admission, Held, Worker};
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action;
use sluice_core::priority::ClassId;
use sluice_core::time::Timestamp;
use sluice_glue::host;
use std::rc::Rc;

pub struct ThrottleStream {
    worker: Option<Rc<Worker>>,
    /// When the request was admitted, while this stream holds an in-flight
    /// slot.
    admitted_at: Option<Timestamp>,
    /// The request's class, once classified.
    class: Option<ClassId>,
    /// The destination (and tenant) the request counts against.
    held: Held,
}

impl ThrottleStream {
    pub fn new(worker: Option<Rc<Worker>>) -> Self {
        ThrottleStream {
            worker,
            admitted_at: None,
            class: None,
            held: Held::default(),
        }
    }

    /// Frees the slot exactly once, whichever end-of-stream callback comes
    /// first (Envoy calls `on_log` for completed streams, and `on_done` for
    /// every stream including resets). Only a completed stream's latency is
    /// a sample for the adaptive limit.
    fn release(&mut self, completed: bool) {
        if let Some(admitted_at) = self.admitted_at.take() {
            if let Some(worker) = &self.worker {
                let now = host::now();
                let latency = completed.then(|| (now.saturating_since(admitted_at), admitted_at));
                worker.release(&self.held, latency, now);
            }
        }
    }
}

impl Context for ThrottleStream {
    fn on_done(&mut self) -> bool {
        self.release(false);
        true
    }
}

impl HttpContext for ThrottleStream {
    fn on_http_request_headers(&mut self, _headers: usize, _end_of_stream: bool) -> Action {
        // TEST-ONLY (feature `trap-on-marked-request`, off in the product
        // module): a marked request traps the VM, for the failure-policy
        // end-to-end tests. Before admission, so no slot is taken.
        #[cfg(feature = "trap-on-marked-request")]
        #[allow(clippy::panic)]
        if self
            .get_http_request_header("x-sluice-test-trap")
            .as_deref()
            == Some("1")
        {
            panic!("sluice_throttle: test trap (x-sluice-test-trap: 1)");
        }
        let Some(worker) = &self.worker else {
            return Action::Continue;
        };
        let now = host::now();
        let (class, held, admission) = worker.admit(now);
        self.class = Some(class);
        self.held = held;
        match (class, admission) {
            (_, Admission::Admitted) => {
                self.admitted_at = Some(now);
                Action::Continue
            }
            (_, Admission::Shed(reason)) => {
                worker.reply_shed(reason);
                Action::Pause
            }
            (class, Admission::Shadow(reason)) => {
                self.admitted_at = Some(now);
                let (name, value) = worker.shadow_header(class, reason);
                // Best effort: a host that refuses the header still forwards.
                let _ = host::set_request_header(name, &value);
                Action::Continue
            }
        }
    }

    fn on_log(&mut self) {
        // The answer to a forwarded request, for success-rate throttling
        // and the tuner's error rate.
        if let (Some(worker), Some(class), Some(_)) = (&self.worker, self.class, self.admitted_at) {
            // One host call and allocation per request: only when needed.
            if worker.reads_status() {
                if let Some(status) = host::response_status() {
                    worker.record_answer(class, status);
                }
            }
        }
        self.release(true);
    }
}

impl Drop for ThrottleStream {
    /// Last resort: a context deleted without `on_log` or `on_done` still
    /// returns its slot.
    fn drop(&mut self) {
        self.release(false);
    }
}

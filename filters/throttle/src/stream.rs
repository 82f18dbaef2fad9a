//! One HTTP stream: admit or shed at request headers; release at the end.

use crate::worker::{Admission, Worker};
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action;
use std::rc::Rc;

pub struct ThrottleStream {
    worker: Option<Rc<Worker>>,
    /// True while this stream holds an in-flight slot.
    holds_slot: bool,
}

impl ThrottleStream {
    pub fn new(worker: Option<Rc<Worker>>) -> Self {
        ThrottleStream {
            worker,
            holds_slot: false,
        }
    }

    /// Frees the slot exactly once, whichever end-of-stream callback comes
    /// first (Envoy calls `on_log` for completed streams, and `on_done` for
    /// every stream including resets).
    fn release(&mut self) {
        if std::mem::take(&mut self.holds_slot) {
            if let Some(worker) = &self.worker {
                worker.release();
            }
        }
    }
}

impl Context for ThrottleStream {
    fn on_done(&mut self) -> bool {
        self.release();
        true
    }
}

impl HttpContext for ThrottleStream {
    fn on_http_request_headers(&mut self, _headers: usize, _end_of_stream: bool) -> Action {
        let Some(worker) = &self.worker else {
            return Action::Continue;
        };
        match worker.admit() {
            (_, Admission::Admitted) => {
                self.holds_slot = true;
                Action::Continue
            }
            (_, Admission::Shed(reason)) => {
                worker.reply_shed(reason);
                Action::Pause
            }
        }
    }

    fn on_log(&mut self) {
        self.release();
    }
}

impl Drop for ThrottleStream {
    /// Last resort: a context deleted without `on_log` or `on_done` still
    /// returns its slot.
    fn drop(&mut self) {
        self.release();
    }
}

//! The root context: configuration, metrics, tick.

use crate::stream::RouterStream;
use crate::worker::Worker;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::ContextType;
use sluice_core::config::RouterConfig;
use sluice_glue::{host, log};
use std::rc::Rc;

pub struct RouterRoot {
    context_id: u32,
    worker: Option<Rc<Worker>>,
}

impl RouterRoot {
    pub fn new(context_id: u32) -> Self {
        RouterRoot {
            context_id,
            worker: None,
        }
    }
}

impl Context for RouterRoot {}

impl RootContext for RouterRoot {
    /// Validates the whole configuration before applying any of it; on error
    /// the log line names the field and Envoy refuses the configuration.
    fn on_configure(&mut self, _size: usize) -> bool {
        let bytes = host::plugin_configuration();
        match RouterConfig::from_json(&bytes) {
            Ok(config) => {
                let worker_id = sluice_glue::host_entropy(u64::from(self.context_id));
                let worker = Worker::new(config, worker_id);
                self.set_tick_period(worker.tick_period());
                log::info(|| "sluice_router configured".to_string());
                self.worker = Some(Rc::new(worker));
                true
            }
            Err(e) => {
                log::error(&format!("sluice_router: invalid plugin configuration {e}"));
                false
            }
        }
    }

    fn on_tick(&mut self) {
        if let Some(worker) = &self.worker {
            worker.tick();
        }
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(RouterStream::new(self.worker.clone())))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

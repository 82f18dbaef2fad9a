//! The root context: configuration, metrics, the queue, the tick.

use crate::config::{Config, Role, QUEUE};
use crate::metrics::{self, Metrics};
use crate::observer::Observer;
use crate::primary::Primary;
use crate::shared;
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{ContextType, LogLevel};
use std::cell::RefCell;
use std::rc::Rc;

/// What a configured plugin shares with its streams.
#[derive(Debug, Default)]
pub struct Plugin {
    pub config: Config,
    pub metrics: Metrics,
    /// Streams paused until the next tick, by context id.
    pub waiting_for_tick: RefCell<Vec<u32>>,
}

#[derive(Debug, Default)]
pub struct ConformanceRoot {
    plugin: Option<Rc<Plugin>>,
}

impl Context for ConformanceRoot {}

impl RootContext for ConformanceRoot {
    fn on_configure(&mut self, _size: usize) -> bool {
        let bytes = self.get_plugin_configuration().unwrap_or_default();
        let config = match Config::parse(&bytes) {
            Ok(c) => c,
            Err(e) => {
                let _ = hostcalls::log(
                    LogLevel::Error,
                    &format!("sluice_conformance: invalid plugin configuration: {e}"),
                );
                return false;
            }
        };
        let metrics = match config.role {
            Role::Primary => {
                if let Err(e) = hostcalls::register_shared_queue(QUEUE) {
                    let _ = hostcalls::log(LogLevel::Warn, &format!("register queue: {e:?}"));
                }
                self.set_tick_period(config.tick());
                Metrics::define()
            }
            Role::Observer => Metrics::default(),
        };
        self.plugin = Some(Rc::new(Plugin {
            config,
            metrics,
            waiting_for_tick: RefCell::new(Vec::new()),
        }));
        true
    }

    fn on_tick(&mut self) {
        let Some(plugin) = &self.plugin else { return };
        metrics::add(plugin.metrics.ticks, 1);
        let waiting = std::mem::take(&mut *plugin.waiting_for_tick.borrow_mut());
        for id in waiting {
            if hostcalls::set_effective_context(id).is_ok() {
                let _ = hostcalls::resume_http_request();
            }
        }
    }

    fn on_queue_ready(&mut self, queue_id: u32) {
        let Some(plugin) = &self.plugin else { return };
        while let Ok(Some(_item)) = hostcalls::dequeue_shared_queue(queue_id) {
            metrics::add(plugin.metrics.queue_items, 1);
            if let Err(e) = shared::increment(shared::DEQUEUED_KEY) {
                let _ = hostcalls::log(LogLevel::Warn, &format!("count dequeued: {e:?}"));
            }
        }
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        let plugin = self.plugin.clone().unwrap_or_default();
        Some(match plugin.config.role {
            Role::Primary => Box::new(Primary::new(context_id, plugin)),
            Role::Observer => Box::new(Observer::default()),
        })
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

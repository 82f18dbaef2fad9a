//! The engine, the linker, and the epoch ticker that interrupts guests.

use crate::abi;
use crate::host::state::HostState;
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::{Cache, CacheConfig, Config, Engine, Linker};

/// How often the epoch advances. A guest callback is interrupted after
/// `callback_deadline / EPOCH_PERIOD` epochs.
pub const EPOCH_PERIOD: Duration = Duration::from_millis(10);

#[derive(Clone, Debug, Default)]
pub struct RuntimeOptions {
    /// Directory for compiled modules; `None` disables the disk cache.
    pub cache_dir: Option<PathBuf>,
}

/// Shared by every VM of a run.
pub struct Runtime {
    pub engine: Engine,
    pub linker: Arc<Linker<HostState>>,
    stop: Arc<AtomicBool>,
    ticker: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").finish_non_exhaustive()
    }
}

impl Runtime {
    pub fn new(opts: &RuntimeOptions) -> Result<Runtime> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        config.cranelift_opt_level(wasmtime::OptLevel::Speed);
        if let Some(dir) = &opts.cache_dir {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating the module cache {}", dir.display()))?;
            let dir = dir.canonicalize()?;
            let mut cc = CacheConfig::new();
            cc.with_directory(dir);
            config.cache(Some(Cache::new(cc)?));
        }
        let engine = Engine::new(&config)?;
        let mut linker = Linker::new(&engine);
        abi::add_to_linker(&mut linker)?;
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = {
            let (engine, stop) = (engine.clone(), Arc::clone(&stop));
            std::thread::Builder::new()
                .name("sluice-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(EPOCH_PERIOD);
                        engine.increment_epoch();
                    }
                })?
        };
        Ok(Runtime {
            engine,
            linker: Arc::new(linker),
            stop,
            ticker: Some(ticker),
        })
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
    }
}

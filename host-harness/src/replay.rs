//! Scenario in, report out: `sluice replay`.

use crate::host::log::LogSink;
use crate::scenario;
use crate::sim::exchange::Exchange;
use crate::sim::World;
use crate::vm::Runtime;
use anyhow::{Context, Result};
use sluice_report::model::{ModuleInfo, Report, RunInfo, ScenarioInfo};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Clone, Debug, Default)]
pub struct ReplayOptions {
    /// Where to write `report.json` and `report.html`; `None` writes nothing.
    pub out_dir: Option<PathBuf>,
    /// Keep every request's exchange in [`Replay::exchanges`].
    pub keep_exchanges: bool,
    /// Show a progress line on stderr for long runs (when it is a terminal).
    pub progress: bool,
    /// Print guest log lines as they happen.
    pub echo_logs: bool,
    /// Write every request's exchange (JSON lines) to this file.
    pub exchanges_out: Option<PathBuf>,
}

/// What a replay produced.
#[derive(Debug)]
pub struct Replay {
    pub report: Report,
    pub json: Option<PathBuf>,
    pub html: Option<PathBuf>,
    /// Guest log lines kept (first ones), for inspection.
    pub log_lines: Vec<crate::host::log::LogLine>,
    /// Keys in shared data at the end, per vm_id.
    pub shared_keys: Vec<(String, usize)>,
    /// Every finished request (when asked for).
    pub exchanges: Vec<Exchange>,
    /// Filter metrics at the end: name and value.
    pub metrics: Vec<(String, i64)>,
}

/// Runs the scenario at `path`.
pub fn replay(path: &Path, runtime: &Runtime, opts: &ReplayOptions) -> Result<Replay> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading scenario {}", path.display()))?;
    replay_text(&text, path, runtime, opts)
}

/// Runs scenario `text` as if it were the file at `path`
/// ([`scenario::load::load_text`]).
pub fn replay_text(
    text: &str,
    path: &Path,
    runtime: &Runtime,
    opts: &ReplayOptions,
) -> Result<Replay> {
    let started = Instant::now();
    let loaded = scenario::load::load_text(text, path, runtime)?;
    let spec = loaded.spec.clone();
    let config = loaded.config.clone();
    let log = LogSink::new(
        config.vm.log_level,
        opts.echo_logs || config.vm.echo_logs,
        10_000,
    );
    let mut sim_config = loaded.config;
    sim_config.record_exchanges = opts.exchanges_out.is_some() || opts.keep_exchanges;
    let world = World::new(sim_config, loaded.traffic, log);
    if let Some(refusal) = world.refused_configuration() {
        anyhow::bail!("{}: {refusal}", path.display());
    }
    let show = opts.progress && std::io::stderr().is_terminal() && config.duration.as_secs() >= 30;
    let total = config.duration.as_secs_f64();
    let result = world.run(|t| {
        if show {
            let pct = t.as_secs_f64() / total * 100.0;
            eprint!(
                "\r  {} {:>5.1}% ({:.0}s of {:.0}s virtual)",
                spec.name,
                pct,
                t.as_secs_f64(),
                total
            );
        }
    });
    if show {
        eprintln!();
    }
    let classes = config.classes.names.clone();
    let clusters: Vec<String> = config.clusters.iter().map(|(n, _)| n.clone()).collect();
    let assertions = spec
        .assertions
        .iter()
        .map(|a| a.evaluate(&result.collector, &classes, &clusters, config.duration))
        .collect();
    let mut report = result.collector.finish();
    report.assertions = assertions;
    report.scenario = ScenarioInfo {
        name: spec.name.clone(),
        description: spec.description.clone(),
        seed: spec.seed,
        duration_s: config.duration.as_secs_f64(),
        interval_s: config.interval.as_secs_f64(),
        workers: config.workers,
        modules: config
            .plugins
            .iter()
            .map(|p| ModuleInfo {
                name: p.name.clone(),
                path: p.module.path.display().to_string(),
                sha256: p.module.sha256.clone(),
                size_bytes: p.module.size,
            })
            .collect(),
    };
    let wall = started.elapsed().as_secs_f64();
    report.run = RunInfo {
        wall_seconds: wall,
        simulated_requests: result.simulated_requests,
        speedup: config.duration.as_secs_f64() / wall.max(1e-9),
        harness_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    let (mut json, mut html) = (None, None);
    if let Some(dir) = &opts.out_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let j = dir.join("report.json");
        std::fs::write(&j, serde_json::to_vec_pretty(&report)?)?;
        let h = dir.join("report.html");
        std::fs::write(&h, sluice_report::html::render(&report))?;
        json = Some(j);
        html = Some(h);
    }
    let log_lines = result
        .log
        .lock()
        .map(|l| l.lines.clone())
        .unwrap_or_default();
    let shared_keys = {
        let s = result.shared.lock().unwrap_or_else(|e| e.into_inner());
        let mut ids: Vec<String> = config.plugins.iter().map(|p| p.vm_id.clone()).collect();
        ids.sort();
        ids.dedup();
        ids.into_iter()
            .map(|id| {
                let n = s.key_count(&id);
                (id, n)
            })
            .collect()
    };
    if let Some(path) = &opts.exchanges_out {
        let mut text = String::new();
        for e in &result.exchanges {
            text.push_str(&serde_json::to_string(e)?);
            text.push('\n');
        }
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    let metrics = {
        let m = result.metrics.lock().unwrap_or_else(|e| e.into_inner());
        m.all().iter().map(|d| (d.name.clone(), d.value)).collect()
    };
    Ok(Replay {
        exchanges: result.exchanges,
        metrics,
        report,
        json,
        html,
        log_lines,
        shared_keys,
    })
}

//! One scenario run through the harness and through real Envoy.

use super::compare::Outcome;
use anyhow::{anyhow, bail, Context, Result};
use sluice_harness::host::log::LogSink;
use sluice_harness::host::metrics::Metric;
use sluice_harness::scenario::spec::{ScenarioSpec, TrafficSource};
use sluice_harness::sim::World;
use sluice_harness::vm::{Runtime, RuntimeOptions};
use sluice_testkit::bootstrap::Bootstrap;
use sluice_testkit::envoy::{Envoy, Options};
use sluice_testkit::paths::repo_root;
use sluice_testkit::{replay, Upstream};
use sluice_traffic::RequestSpec;
use std::path::{Path, PathBuf};

/// A scenario under `tests/differential/`, read once for both sides.
#[derive(Debug)]
pub struct Scenario {
    pub path: PathBuf,
    pub spec: ScenarioSpec,
    /// The requests of its trace, in arrival order.
    pub requests: Vec<RequestSpec>,
}

impl Scenario {
    pub fn load(file: &str) -> Result<Scenario> {
        let path = repo_root().join("tests/differential").join(file);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let spec = sluice_harness::scenario::load::parse(&text, &path.display().to_string())?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let [TrafficSource::Trace(trace)] = spec.traffic.as_slice() else {
            bail!(
                "{}: a differential scenario replays exactly one trace",
                path.display()
            );
        };
        let requests = sluice_traffic::trace::load(trace, dir).map_err(|e| anyhow!("{e}"))?;
        Ok(Scenario {
            path,
            spec,
            requests,
        })
    }

    /// `METHOD /path` of each request, for the table.
    pub fn labels(&self) -> Vec<String> {
        self.requests
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }

    /// Each filter's name and plugin configuration text, as the harness
    /// passes it (a JSON object as its JSON text, a string as is).
    pub fn plugin_configs(&self) -> Result<Vec<(String, String)>> {
        self.spec
            .filters
            .iter()
            .map(|f| {
                let text = match &f.configuration {
                    None => String::new(),
                    Some(serde_json::Value::String(s)) => s.clone(),
                    Some(v) => serde_json::to_string(v)?,
                };
                Ok((f.name.clone(), text))
            })
            .collect()
    }
}

/// What the harness produced.
#[derive(Debug)]
pub struct HarnessRun {
    pub outcomes: Vec<Outcome>,
    pub metrics: Vec<Metric>,
}

/// Replays the scenario in the harness, recording every exchange.
pub fn harness(scenario: &Scenario) -> Result<HarnessRun> {
    let runtime = Runtime::new(&RuntimeOptions {
        cache_dir: Some(repo_root().join("target/sluice-cache")),
    })?;
    let loaded = sluice_harness::scenario::load(&scenario.path, &runtime)?;
    let mut config = loaded.config;
    config.record_exchanges = true;
    let log = LogSink::new(config.vm.log_level, false, 10_000);
    let world = World::new(config, loaded.traffic, log);
    if let Some(refusal) = world.refused_configuration() {
        bail!("the harness refused the configuration: {refusal}");
    }
    let result = world.run(|_| {});
    if !result.collector.vm_events.is_empty() {
        bail!("VM events in the harness: {:?}", result.collector.vm_events);
    }
    let outcomes = (0..scenario.requests.len() as u64)
        .map(|i| Outcome::from_exchange(result.exchanges.iter().find(|e| e.index == i)))
        .collect();
    let metrics = result
        .metrics
        .lock()
        .map_err(|_| anyhow!("metric store poisoned"))?
        .all()
        .to_vec();
    Ok(HarnessRun { outcomes, metrics })
}

/// Real Envoy with one worker, the scenario's plugin configurations, and the
/// test upstream named like the route's cluster (its bodies say `... from
/// <name>`, as the harness's simulated cluster's do).
pub fn start_envoy(scenario: &Scenario, bootstrap: Bootstrap) -> Result<(Envoy, Upstream, String)> {
    let cluster = &scenario.spec.route.cluster;
    let upstream = Upstream::start(cluster, Default::default())?;
    let mut bootstrap = bootstrap
        .for_test()?
        .cluster_endpoints(cluster, &[upstream.addr()])?;
    for (name, config) in scenario.plugin_configs()? {
        bootstrap = bootstrap.plugin_config(&name, &config)?;
    }
    let envoy = Envoy::start(
        &bootstrap,
        Options {
            concurrency: 1,
            ..Options::default()
        },
    )?;
    let url = format!("http://{}", envoy.listener("inbound")?);
    Ok((envoy, upstream, url))
}

/// Sends the scenario's requests through Envoy at their arrival times.
pub fn envoy_outcomes(scenario: &Scenario, url: &str) -> Result<Vec<Outcome>> {
    Ok(replay::replay(url, &scenario.requests)?
        .iter()
        .map(Outcome::from_reply)
        .collect())
}

//! Reading a scenario file and turning it into a simulation.

use super::spec::{ScenarioSpec, TrafficSource};
use crate::sim::config::{ClassConfig, PluginConfig, RouteConfig, SimConfig, VmConfig};
use crate::vm::{LoadedModule, Runtime};
use anyhow::{anyhow, bail, Context, Result};
use sluice_traffic::generator::Generator;
use sluice_traffic::RequestSpec;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A scenario ready to run.
pub struct Loaded {
    pub spec: ScenarioSpec,
    pub path: PathBuf,
    pub config: SimConfig,
    pub traffic: Box<dyn Iterator<Item = RequestSpec>>,
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Parses scenario text (YAML, of which JSON is a subset); errors name the
/// field path.
pub fn parse(text: &str, source: &str) -> Result<ScenarioSpec> {
    // Enums are written as one-key maps (`generator: {...}`, `steps: {...}`),
    // as in Envoy's and Kubernetes' YAML, not as YAML tags.
    let mut track = serde_path_to_error::Track::new();
    let de = serde_path_to_error::Deserializer::new(
        serde_yaml::Deserializer::from_str(text),
        &mut track,
    );
    serde_yaml::with::singleton_map_recursive::deserialize(de)
        .map_err(|e| anyhow!("{source}: at '{}': {e}", track.path()))
}

/// Expands `${VAR}` and `${VAR:-default}` from the environment.
pub fn expand_env(s: &str) -> Result<String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else {
            bail!("unclosed ${{ in '{s}'");
        };
        let inner = &rest[start + 2..start + end];
        let (name, default) = match inner.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (inner, None),
        };
        match (std::env::var(name).ok().filter(|v| !v.is_empty()), default) {
            (Some(v), _) => out.push_str(&v),
            (None, Some(d)) => out.push_str(d),
            (None, None) => bail!("environment variable {name} is not set (in '{s}')"),
        }
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn resolve(base: &Path, p: &str) -> Result<PathBuf> {
    let p = PathBuf::from(expand_env(p)?);
    Ok(if p.is_absolute() { p } else { base.join(p) })
}

/// Loads and validates `path`, compiling the filter modules with `runtime`.
pub fn load(path: &Path, runtime: &Runtime) -> Result<Loaded> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading scenario {}", path.display()))?;
    load_text(&text, path, runtime)
}

/// Loads and validates scenario `text` as if it were the file at `path`:
/// errors name `path`, and relative paths in it resolve from its folder.
/// `sluice sweep` runs scenarios it wrote from a template this way.
pub fn load_text(text: &str, path: &Path, runtime: &Runtime) -> Result<Loaded> {
    let spec = parse(text, &path.display().to_string())?;
    let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let place = |field: &str| format!("{}: {field}", path.display());

    if spec.workers == 0 || spec.workers > 256 {
        bail!("{}: must be between 1 and 256", place("workers"));
    }
    if spec.duration.0.is_zero() {
        bail!("{}: must be positive", place("duration"));
    }
    if spec.interval.0.is_zero() || spec.interval.0 > spec.duration.0 {
        bail!(
            "{}: must be positive and at most the duration",
            place("interval")
        );
    }
    if spec.filters.is_empty() {
        bail!("{}: at least one filter", place("filters"));
    }
    for (name, c) in &spec.upstreams {
        c.validate(&format!("upstreams.{name}"))
            .map_err(|e| anyhow!("{}: {e}", path.display()))?;
    }
    if !spec.upstreams.contains_key(&spec.route.cluster) {
        bail!(
            "{}: '{}' is not an upstream",
            place("route.cluster"),
            spec.route.cluster
        );
    }
    let classes = &spec.report.classes;
    let Some(default_class) = classes.iter().position(|c| *c == spec.report.default_class) else {
        bail!(
            "{}: '{}' is not one of report.classes",
            place("report.default_class"),
            spec.report.default_class
        );
    };
    let clusters: Vec<String> = spec.upstreams.keys().cloned().collect();
    for (i, a) in spec.assertions.iter().enumerate() {
        a.validate(&format!("assertions[{i}]"), classes, &clusters)
            .map_err(|e| anyhow!("{}: {e}", path.display()))?;
    }

    let mut modules: HashMap<PathBuf, Arc<LoadedModule>> = HashMap::new();
    let mut plugins = Vec::new();
    for (i, f) in spec.filters.iter().enumerate() {
        let module_path =
            resolve(&base, &f.module).with_context(|| place(&format!("filters[{i}].module")))?;
        let module = match modules.get(&module_path) {
            Some(m) => Arc::clone(m),
            None => {
                let m = Arc::new(
                    LoadedModule::load(runtime, &module_path)
                        .with_context(|| place(&format!("filters[{i}].module")))?,
                );
                modules.insert(module_path.clone(), Arc::clone(&m));
                m
            }
        };
        let configuration: Vec<u8> = match &f.configuration {
            None => Vec::new(),
            Some(serde_json::Value::String(s)) => s.clone().into_bytes(),
            Some(v) => serde_json::to_vec(v)?,
        };
        plugins.push(PluginConfig {
            name: f.name.clone(),
            root_id: f.root_id.clone().unwrap_or_else(|| f.name.clone()),
            vm_id: f.vm_id.clone(),
            module,
            configuration: configuration.into(),
            vm_configuration: f
                .vm_configuration
                .clone()
                .unwrap_or_default()
                .into_bytes()
                .into(),
            failure_policy: f.failure_policy,
        });
    }

    let horizon = spec.duration.0;
    let mut sources: Vec<Box<dyn Iterator<Item = RequestSpec>>> = Vec::new();
    for (i, t) in spec.traffic.iter().enumerate() {
        let at = format!("traffic[{i}]");
        match t {
            TrafficSource::Generator(g) => {
                let gen = Generator::new(g, &at).map_err(|e| anyhow!("{}: {e}", path.display()))?;
                let seed = spec.seed ^ (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                sources.push(Box::new(gen.arrivals(seed, horizon)));
            }
            TrafficSource::Trace(t) => {
                let requests = sluice_traffic::trace::load(t, &base)
                    .map_err(|e| anyhow!("{}: {at}: {e}", path.display()))?;
                sources.push(Box::new(requests.into_iter()));
            }
        }
    }
    let traffic = Box::new(sluice_traffic::merge::merge(sources));

    let config = SimConfig {
        name: spec.name.clone(),
        description: spec.description.clone(),
        seed: spec.seed,
        duration: spec.duration.0,
        interval: spec.interval.0,
        workers: spec.workers,
        balance: spec.balance,
        plugins,
        route: RouteConfig {
            name: spec.route.name.clone(),
            cluster: spec.route.cluster.clone(),
            cluster_header: spec.route.cluster_header.clone(),
            timeout: spec.route.timeout.0,
        },
        record_exchanges: false,
        clusters: spec
            .upstreams
            .iter()
            .map(|(n, c)| (n.clone(), c.clone()))
            .collect(),
        targets: spec.call_targets.clone(),
        classes: ClassConfig {
            header: spec.report.class_header.clone(),
            names: classes.clone(),
            default: default_class,
            shed_reason_header: spec.report.shed_reason_header.clone(),
        },
        vm: VmConfig {
            memory_limit_bytes: spec.vm.memory_limit_mb as usize * 1024 * 1024,
            callback_deadline: spec.vm.callback_deadline.0,
            log_level: spec.vm.log_level.abi(),
            echo_logs: spec.vm.echo_logs,
            reload_backoff: spec.vm.reload_backoff.0,
        },
    };
    Ok(Loaded {
        spec,
        path: path.to_path_buf(),
        config,
        traffic,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_expansion() {
        std::env::set_var("SLUICE_TEST_EXPAND", "/x");
        assert_eq!(
            expand_env("${SLUICE_TEST_EXPAND}/a.wasm").unwrap(),
            "/x/a.wasm"
        );
        assert_eq!(expand_env("${SLUICE_NOPE_NOT_SET:-d}/a").unwrap(), "d/a");
        assert!(expand_env("${SLUICE_NOPE_NOT_SET}").is_err());
        assert!(expand_env("${oops").is_err());
    }

    #[test]
    fn unknown_field_is_named_with_its_path() {
        let e = parse(
            "name: x\nduration: 1s\nfilters: []\nroute: {cluster: a, timout: 1s}\nupstreams: {}\ntraffic: []\n",
            "s.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("s.yaml") && e.contains("route") && e.contains("timout"),
            "{e}"
        );
    }
}
